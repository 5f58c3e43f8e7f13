/**
 * Test harness for plugin authors: starts a real Kassenwart host as a child process on 127.0.0.1 with a
 * fresh data folder, your plugin folder(s) loaded, a technician signed in, and helpers to call the API and
 * run actions to the end. No mocks: the host is the same program `kassenwart start` runs.
 *
 *   const host = await startTestHost({ pluginDirs: [myPluginDir], enable: ['my-target'] });
 *   const job = await host.runAction('backup.create');
 *   expect(job.state).to.equal('succeeded');
 *   await host.stop();
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Path of the `kassenwart` CLI entry (bin/kassenwart.js of this package). */
export const KASSENWART_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'kassenwart.js');

export interface TestHostOptions {
  /** Use this data folder (default: a new temp folder, removed by stop() unless `keepData`). */
  dataDir?: string;
  /** Extra plugin folders, each either one plugin or a folder of plugin folders. */
  pluginDirs?: string[];
  /** Plugin ids to enable before start (dependencies are pulled in). */
  enable?: string[];
  /** Plugin ids to disable before start (with their dependants). */
  disable?: string[];
  /** Settings to set before start: { pluginId: { key: value } } (validated like any write). */
  settings?: Record<string, Record<string, unknown>>;
  /** Extra environment for the host process. */
  env?: Record<string, string>;
  /** Keep the data folder after stop(). */
  keepData?: boolean;
  /** Technician credentials to create (default tech / a random password). */
  user?: { name: string; password: string };
  /** Extra CLI arguments for `start`. */
  args?: string[];
}

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A job as `GET /api/jobs/:id` returns it. */
export interface JobView {
  id: string;
  actionId: string;
  state: 'running' | 'succeeded' | 'warning' | 'info' | 'failed' | 'cancelled';
  percent?: number;
  message?: string;
  /** Set when the job succeeded or ended with a warning: the handler's message and `details`. */
  result?: { message?: string; details?: Record<string, unknown> };
  /**
   * Set when it failed or was cancelled. `details` are the thrown UserError's details, kept with the job (e.g.
   * "Backup an FTP": `{ results: TargetResult[], … }` when every tried target failed).
   */
  error?: { code: string; message: string; hint?: string; details?: Record<string, unknown> | unknown[] };
  [k: string]: unknown;
}

/** A signed-in session: requests carry its cookie, CSRF token and the host's Origin. */
export interface SessionClient {
  /** The signed-in user. */
  user: { name: string; role: 'operator' | 'technician' };
  /** A raw fetch in this session, e.g. for server-sent events. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Calls the API in this session; the body is parsed as JSON when it is JSON. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
}

/** Signs in over HTTP and returns a client for that session (throws unless the login answers 200). */
export async function signIn(url: string, name: string, password: string): Promise<SessionClient> {
  const login = await fetch(url + '/api/auth/login', {
    method: 'POST', headers: { 'content-type': 'application/json', origin: url }, body: JSON.stringify({ name, password }),
  });
  if (login.status !== 200) throw new Error(`login of ${name} failed: ${login.status} ${await login.text()}`);
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const { csrfToken, user } = (await login.json()) as { csrfToken: string; user: SessionClient['user'] };
  const withSession = (init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('cookie', cookie);
    headers.set('x-csrf-token', csrfToken);
    headers.set('origin', url);
    return { ...init, headers };
  };
  return {
    user,
    fetch: (path, init) => fetch(url + path, withSession(init)),
    async api(method, path, body) {
      const init = withSession({ method, body: body === undefined ? undefined : JSON.stringify(body) });
      if (body !== undefined) (init.headers as Headers).set('content-type', 'application/json');
      const res = await fetch(url + path, init);
      const text = await res.text();
      let parsed: any = text;
      try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
      return { status: res.status, body: parsed, headers: res.headers };
    },
  };
}

export interface TestHost {
  /** Base URL, e.g. http://127.0.0.1:39123 */
  url: string;
  dataDir: string;
  /** The running process (for kill -9 tests). */
  process: ChildProcess;
  /** Everything the host printed so far (stdout + stderr). */
  output(): string;
  /** A raw fetch as the signed-in technician (cookie, CSRF and Origin added), e.g. for server-sent events. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Calls the API as the signed-in technician (cookie and CSRF header added). */
  api<T = any>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>>;
  /** Creates a user with the CLI (unless it exists) and signs them in: a client acting as that user. */
  asUser(user: { name: string; password: string; role: 'operator' | 'technician' }): Promise<SessionClient>;
  /** Starts an action and waits until its job has finished; returns the final job. */
  runAction(actionId: string, params?: Record<string, unknown>, timeoutMs?: number): Promise<JobView>;
  /** Waits for a job to finish. */
  waitForJob(jobId: string, timeoutMs?: number): Promise<JobView>;
  /**
   * Runs the CLI against this data folder synchronously, e.g. ['settings', 'get', 'usb']. It blocks the test
   * process: a server running inside the test does not answer meanwhile — use cliAsync() then.
   */
  cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  /** Runs the CLI without blocking the test process. */
  cliAsync(args: string[], input?: string): Promise<{ status: number | null; stdout: string; stderr: string }>;
  /** SIGTERM and wait for exit (then remove the temp data folder unless kept). */
  stop(): Promise<void>;
  /** SIGKILL, no cleanup of the data folder. */
  kill(): Promise<void>;
  /** Start again on the same data folder (after stop/kill). */
  restart(): Promise<void>;
}

/** Hosts still running when the test process exits are killed with their process group. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) { try { process.kill(-c.pid!, 'SIGKILL'); } catch { /* gone */ } }
});

function runCli(dataDir: string, args: string[], env: Record<string, string> | undefined, input?: string) {
  const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], {
    input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Starts a host; see TestHostOptions. */
export async function startTestHost(options: TestHostOptions = {}): Promise<TestHost> {
  const ownData = !options.dataDir;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'kw-host-')));
  const user = options.user ?? { name: 'tech', password: 'Test-' + Math.random().toString(36).slice(2) + '!' };
  const env = { KASSENWART_LOG: 'warn', ...options.env };
  const must = (args: string[], input?: string) => {
    const r = runCli(dataDir, args, env, input);
    if (r.status !== 0) throw new Error(`kassenwart ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r;
  };
  for (const dir of options.pluginDirs ?? []) must(['plugins', 'add-folder', dir]);
  for (const id of options.disable ?? []) must(['plugins', 'disable', id, '--cascade']);
  for (const id of options.enable ?? []) must(['plugins', 'enable', id]);
  for (const [plugin, values] of Object.entries(options.settings ?? {})) {
    must(['settings', 'set', plugin, '--json-stdin'], JSON.stringify(values)); // secrets never on a command line
  }
  const existing = runCli(dataDir, ['users', 'list', '--json'], env);
  if (!existing.stdout.includes(`"${user.name}"`)) {
    must(['users', 'add', user.name, '--role', 'technician', '--password-stdin'], user.password + '\n');
  }

  let child!: ChildProcess;
  let out = '';
  let url = '';
  let session!: SessionClient;

  const launch = async () => {
    out = '';
    child = spawn(process.execPath, [KASSENWART_BIN, 'start', '--data', dataDir, '--port', '0', ...(options.args ?? [])], {
      env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    live.add(child);
    child.once('exit', () => live.delete(child));
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => { out += d; });
    child.stderr!.on('data', (d: string) => { out += d; });
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('host did not start within 60 s:\n' + out)), 60_000);
      const check = () => {
        const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) { clearTimeout(timer); child.stdout!.off('data', check); resolve(`http://127.0.0.1:${m[1]}`); }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`host exited with ${code}:\n${out}`)); });
    });
    session = await signIn(url, user.name, user.password);
  };
  await launch();

  const exited = () => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
  });

  const host: TestHost = {
    get url() { return url; },
    dataDir,
    get process() { return child; },
    output: () => out,
    fetch: (path, init) => session.fetch(path, init),
    api: (method, path, body) => session.api(method, path, body),
    async asUser(u) {
      const list = await host.cliAsync(['users', 'list', '--json']);
      if (!list.stdout.includes(`"${u.name}"`)) {
        const r = await host.cliAsync(['users', 'add', u.name, '--role', u.role, '--password-stdin'], u.password + '\n');
        if (r.status !== 0) throw new Error(`users add ${u.name} failed (${r.status}): ${r.stderr || r.stdout}`);
      }
      return signIn(url, u.name, u.password);
    },
    async waitForJob(jobId, timeoutMs = 300_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const r = await host.api<JobView>('GET', `/api/jobs/${jobId}`);
        if (r.status !== 200) throw new Error(`GET job ${jobId}: ${r.status} ${JSON.stringify(r.body)}`);
        if (r.body.state !== 'running') return r.body;
        if (Date.now() > end) throw new Error(`job ${jobId} still running after ${timeoutMs} ms`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    async runAction(actionId, params, timeoutMs) {
      const r = await host.api<{ job: JobView }>('POST', `/api/actions/${actionId}`, { params: params ?? {} });
      if (r.status !== 202) throw new Error(`start ${actionId}: ${r.status} ${JSON.stringify(r.body)}`);
      return host.waitForJob(r.body.job.id, timeoutMs);
    },
    cli: (args, input) => runCli(dataDir, args, env, input),
    cliAsync: (args, input) => new Promise((resolve) => {
      const c = spawn(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { env: { ...process.env, ...env } });
      let stdout = '';
      let stderr = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
      c.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
      c.once('exit', (status) => resolve({ status, stdout, stderr }));
      c.stdin.end(input ?? '');
    }),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited();
        clearTimeout(t);
      }
      if (ownData && !options.keepData) await rm(dataDir, { recursive: true, force: true });
    },
    async kill() {
      // the whole process group: the supervisor and the server it runs, like a power cut
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { child.kill('SIGKILL'); }
      await exited();
      await new Promise((r) => setTimeout(r, 200));
    },
    async restart() {
      await launch();
    },
  };
  return host;
}
