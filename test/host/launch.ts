import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { KASSENWART_BIN, signIn, type SessionClient } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A `kassenwart start` run by hand, for tests where the host may die and come back before a harness could sign
 * in (startTestHost signs in once, right after the first "läuft auf"). Real processes, real HTTP.
 */
export interface Launched {
  dataDir: string;
  url: string;
  proc: ChildProcess;
  output(): string;
  /** Waits until `re` appears in the output (after `from` characters), or throws after `ms`. */
  waitFor(re: RegExp, ms?: number, from?: number): Promise<RegExpExecArray>;
  /** Waits until the server answers HTTP at all (GET /api/auth/session). */
  answering(ms?: number): Promise<void>;
  /** Waits until GET /api/health answers 200 (the host serves and its start-up activations are through). */
  healthy(ms?: number): Promise<void>;
  /** A signed-in technician session (after healthy()). */
  session(): Promise<SessionClient>;
  cli(args: string[], input?: string): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<void>;
}

export async function launch(o: { pluginDirs: string[]; enable: string[]; env?: Record<string, string> }): Promise<Launched> {
  const dataDir = await tempDir('kw-launch-');
  const builtin = await tempDir('kw-launch-builtin-');
  const env = { ...process.env, KASSENWART_LOG: 'warn', KASSENWART_BUILTIN_DIR: builtin, ...o.env };
  const cli = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { input, encoding: 'utf8', env, timeout: 120_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };
  const must = (args: string[], input?: string) => {
    const r = cli(args, input);
    if (r.status !== 0) throw new Error(`kassenwart ${args.join(' ')}: ${r.status} ${r.stderr}`);
  };
  for (const d of o.pluginDirs) must(['plugins', 'add-folder', d]);
  for (const id of o.enable) must(['plugins', 'enable', id]);
  const password = 'Test-' + Math.random().toString(36).slice(2) + '!';
  must(['users', 'add', 'tech', '--role', 'technician', '--password-stdin'], password + '\n');

  const proc = spawn(process.execPath, [KASSENWART_BIN, 'start', '--data', dataDir, '--port', '0'], {
    env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const waitFor = async (re: RegExp, ms = 60_000, from = 0) => {
    const end = Date.now() + ms;
    for (;;) {
      const m = re.exec(out.slice(from));
      if (m) return m;
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`kassenwart start exited (${proc.exitCode ?? proc.signalCode}) waiting for ${re}:\n${out}`);
      if (Date.now() > end) throw new Error(`no ${re} within ${ms} ms:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  // the port from supervisor.json (the supervisor resolves --port 0 once): the server may answer before it
  // prints "läuft auf" (that line waits for the start-up activations)
  let port = 0;
  for (const end = Date.now() + 60_000; !port;) {
    port = await readFile(join(dataDir, 'supervisor.json'), 'utf8').then((t) => (JSON.parse(t) as { port: number }).port, () => 0);
    if (!port && (proc.exitCode !== null || Date.now() > end)) throw new Error(`no supervisor.json:\n${out}`);
    if (!port) await new Promise((r) => setTimeout(r, 50));
  }
  const url = `http://127.0.0.1:${port}`;
  const l: Launched = {
    dataDir, url, proc, output: () => out, waitFor, cli,
    async answering(ms = 90_000) {
      const end = Date.now() + ms;
      for (;;) {
        const status = await fetch(url + '/api/auth/session', { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
        if (status === 200) return;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`kassenwart start exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
        if (Date.now() > end) throw new Error(`no answer within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async healthy(ms = 90_000) {
      const end = Date.now() + ms;
      for (;;) {
        const status = await fetch(url + '/api/health', { signal: AbortSignal.timeout(5000) }).then((r) => r.status, () => 0);
        if (status === 200) return;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`kassenwart start exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
        if (Date.now() > end) throw new Error(`not healthy within ${ms} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    session: () => signIn(url, 'tech', password),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once('exit', r));
        try { process.kill(-proc.pid!, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(-proc.pid!, 'SIGKILL'); } catch { /* gone */ } }, 20_000);
        await gone;
        clearTimeout(t);
      }
      await removeDir(dataDir);
      await removeDir(builtin);
    },
  };
  return l;
}
