/**
 * The register adapter: how Kassenwart stops, starts and health-checks the register (Kassensoftware), where
 * its releases live and which POS database it uses — all from the technician's settings (section
 * "Updates → Kassensoftware").
 *
 * Install folder layout (like Kassenwart's own releases):
 *   <installDir>/releases/<version>/   an unpacked register release (its program, migrations/, checks/)
 *   <installDir>/current               symlink to "releases/<version>" = the version that runs
 * The start command / systemd unit runs the program from <installDir>/current.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, mkdirSync } from 'node:fs';
import { readlink, rename, symlink, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fsyncDir } from 'kassenwart/sdk';
import { commandLine, processesWithFileOpen } from './proc.js';

/** The technician's settings for the register. */
export interface RegisterSettings {
  installDir: string;
  /** systemd unit name (e.g. "kasse.service"); used when set, instead of the commands. */
  unit: string;
  startCommand: string;
  stopCommand: string;
  healthUrl: string;
  healthCommand: string;
  healthTimeoutSeconds: number;
  stopTimeoutSeconds: number;
  /** POS database path; empty = the backup plugin's "Pfad der Kassendatenbank". */
  databasePath: string;
}

/** Either a usable adapter, or why not ("nicht eingerichtet: …"). */
export type AdapterConfig = { ok: true; adapter: RegisterAdapter } | { ok: false; reason: string };

/** Checks the settings; lists every missing piece in German. */
export function configureRegister(s: RegisterSettings, fallbackDb: string, logDir: string): AdapterConfig {
  const missing: string[] = [];
  if (!s.installDir.trim()) missing.push('Installationsordner');
  if (!s.unit.trim() && !(s.startCommand.trim() && s.stopCommand.trim())) missing.push('systemd-Unit oder Start- und Stoppbefehl');
  if (!s.healthUrl.trim() && !s.healthCommand.trim()) missing.push('Funktionsprüfung (URL oder Befehl)');
  const db = s.databasePath.trim() || fallbackDb.trim();
  if (!db) missing.push('Kassendatenbank');
  if (missing.length) return { ok: false, reason: `nicht eingerichtet (es fehlt: ${missing.join(', ')})` };
  return { ok: true, adapter: new RegisterAdapter({ ...s, installDir: resolve(s.installDir.trim()), databasePath: resolve(db) }, logDir) };
}

export interface HealthResult { ok: boolean; why?: string }

export class RegisterAdapter {
  constructor(readonly s: RegisterSettings, private readonly logDir: string) {}

  get installDir(): string { return this.s.installDir; }
  get databasePath(): string { return this.s.databasePath; }
  releaseDir(version: string): string { return join(this.s.installDir, 'releases', version); }

  /** Version the `current` link points to, or null when nothing is installed. */
  async installedVersion(): Promise<string | null> {
    try { return basename(await readlink(join(this.s.installDir, 'current'))); } catch { return null; }
  }

  /** Points `current` at releases/<version> atomically (temp link renamed over it); null removes it. */
  async setCurrent(version: string | null): Promise<void> {
    const link = join(this.s.installDir, 'current');
    if (version === null) { await rm(link, { force: true }); await fsyncDir(this.s.installDir); return; }
    const tmp = `${link}.tmp-${process.pid}`;
    await rm(tmp, { force: true });
    await symlink(join('releases', version), tmp);
    await rename(tmp, link);
    await fsyncDir(this.s.installDir);
  }

  private env(version: string | null): NodeJS.ProcessEnv {
    return { ...process.env, KASSE_VERSION: version ?? '', KASSE_INSTALL_DIR: this.s.installDir, KASSE_DATABASE: this.s.databasePath };
  }

  /** Runs a shell command (or systemctl) to its end; returns exit code and the last output line. */
  private run(cmd: string[], timeoutMs: number, version: string | null): Promise<{ code: number | null; out: string }> {
    return new Promise((res) => {
      const c = spawn(cmd[0], cmd.slice(1), { env: this.env(version), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.on('data', (d: Buffer) => { out += d.toString('utf8'); });
      c.stderr.on('data', (d: Buffer) => { out += d.toString('utf8'); });
      const t = setTimeout(() => { c.kill('SIGKILL'); }, timeoutMs);
      c.once('error', (e) => { clearTimeout(t); res({ code: null, out: e.message }); });
      c.once('exit', (code) => { clearTimeout(t); res({ code, out: out.trim().split('\n').slice(-1)[0] ?? '' }); });
    });
  }

  /**
   * Stops the register and waits until no process has the database open. Returns null when it is closed,
   * else a German reason naming the process.
   */
  async stop(signal?: AbortSignal): Promise<string | null> {
    const timeoutMs = this.s.stopTimeoutSeconds * 1000;
    const cmd = this.s.unit.trim() ? ['systemctl', 'stop', this.s.unit.trim()] : ['/bin/sh', '-c', this.s.stopCommand];
    const r = await this.run(cmd, timeoutMs, await this.installedVersion());
    const end = Date.now() + timeoutMs;
    let pids = await processesWithFileOpen(this.s.databasePath);
    while (pids.length && Date.now() < end && !signal?.aborted) {
      await new Promise((x) => setTimeout(x, 250));
      pids = await processesWithFileOpen(this.s.databasePath);
    }
    if (!pids.length) return null;
    const who = (await Promise.all(pids.map(async (p) => `${p} ${await commandLine(p)}`.trim()))).join('; ');
    return `Die Kasse lässt sich nicht beenden: nach ${this.s.stopTimeoutSeconds} s hat noch Prozess ${who} die Kassendatenbank geöffnet` +
      (r.code !== 0 ? ` (Stoppbefehl endete mit ${r.code ?? 'Zeitüberschreitung'}${r.out ? `: ${r.out}` : ''})` : '') + '.';
  }

  /** Last resort during a rollback: SIGKILL whoever still holds the database. */
  async killHolders(): Promise<number[]> {
    const pids = await processesWithFileOpen(this.s.databasePath);
    for (const p of pids) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
    for (let i = 0; i < 40 && (await processesWithFileOpen(this.s.databasePath)).length; i++) await new Promise((x) => setTimeout(x, 100));
    return pids;
  }

  /**
   * Starts the register. A systemd unit: `systemctl start` to its end. A start command: run detached in its
   * own session (it keeps running when Kassenwart restarts, like a service), output to kasse-start.log; a
   * command that daemonizes and exits 0 is fine too. Returns a function telling whether it already failed.
   */
  async start(version: string): Promise<() => string | null> {
    if (this.s.unit.trim()) {
      const r = await this.run(['systemctl', 'start', this.s.unit.trim()], this.s.healthTimeoutSeconds * 1000, version);
      const why = r.code === 0 ? null : `systemctl start ${this.s.unit} endete mit ${r.code ?? 'Zeitüberschreitung'}${r.out ? `: ${r.out}` : ''}`;
      return () => why;
    }
    mkdirSync(this.logDir, { recursive: true });
    const fd = openSync(join(this.logDir, 'kasse-start.log'), 'a');
    let failed: string | null = null;
    try {
      const c = spawn('/bin/sh', ['-c', this.s.startCommand], { env: this.env(version), stdio: ['ignore', fd, fd], detached: true });
      c.once('error', (e) => { failed = `Startbefehl nicht ausführbar (${e.message})`; });
      c.once('exit', (code, sig) => { if (code !== 0) failed = `Startbefehl endete mit ${code ?? sig}`; });
      c.unref();
    } finally {
      closeSync(fd);
    }
    return () => failed;
  }

  /** One health probe: HTTP 2xx (and, when the body names a version, the expected one), or the command's exit 0. */
  async probe(version: string): Promise<HealthResult> {
    if (this.s.healthUrl.trim()) {
      try {
        const res = await fetch(this.s.healthUrl.trim(), { signal: AbortSignal.timeout(5000) });
        const body = (await res.json().catch(() => ({}))) as { version?: unknown; error?: unknown };
        if (res.status < 200 || res.status > 299) return { ok: false, why: `HTTP ${res.status}${typeof body.error === 'string' ? `: ${body.error}` : ''}` };
        if (typeof body.version === 'string' && body.version !== version) return { ok: false, why: `meldet Version ${body.version} statt ${version}` };
        return { ok: true };
      } catch (e) {
        return { ok: false, why: `keine Antwort (${(e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message})` };
      }
    }
    const r = await this.run(['/bin/sh', '-c', this.s.healthCommand], 10_000, version);
    return r.code === 0 ? { ok: true } : { ok: false, why: `Prüfbefehl endete mit ${r.code ?? 'Zeitüberschreitung'}${r.out ? `: ${r.out}` : ''}` };
  }

  /** Polls the health check until it passes or the timeout ends; returns null or the German reason ("hat die Funktionsprüfung … nicht bestanden"). */
  async waitHealthy(version: string, startFailed: () => string | null, signal?: AbortSignal): Promise<string | null> {
    const end = Date.now() + this.s.healthTimeoutSeconds * 1000;
    let why = 'keine Antwort';
    while (Date.now() < end) {
      const f = startFailed();
      if (f) return `ist nicht gestartet (${f})`;
      const r = await this.probe(version);
      if (r.ok) return null;
      why = r.why ?? why;
      if (signal?.aborted) break;
      await new Promise((x) => setTimeout(x, 300));
    }
    return `hat die Funktionsprüfung nach ${this.s.healthTimeoutSeconds} s nicht bestanden (${why})`;
  }
}
