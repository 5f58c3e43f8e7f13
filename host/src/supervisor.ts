/**
 * `kassenwart start`: the supervisor. It runs `serve` as a child process and starts it again when it exits with
 * the restart code (a plugin asked for a restart, e.g. after an update). It knows nothing about plugins; it
 * knows one file protocol under `<data>/releases/` (written by whoever prepares an update, today the update
 * plugin; see docs/update.md):
 *
 *   releases/<version>/          an unpacked release (a whole package: bin/, host/, plugins/, node_modules/, migrations/)
 *   releases/current             symlink to "<version>": the active release; absent = this package
 *   releases/switch.json         the switch journal: {state: "requested"|"switching", to, from, fromRelease, stateBackup?}
 *   releases/switch-result.json  the outcome of the last switch: {to, from, ok, reason?, at}
 *
 * A switch: back up state.sqlite, apply the release's migrations (migrations/NNN-*.sql, each once, recorded in
 * table release_migrations) to a copy, journal "switching", move the migrated copy over state.sqlite, flip
 * `current` (rename of a temp symlink), start the child, poll GET /api/health until it reports the new version.
 * Healthy: the journal is removed (the commit point). Not healthy, or the supervisor was killed meanwhile (a
 * "switching" journal found at start): the backup is put back and `current` flipped back, so the old release runs
 * on its own database: the old or the new release runs afterwards, never a mix.
 *
 * Port 0 is resolved once, so a restart keeps the address. SIGTERM/SIGINT are passed on; SIGUSR2 restarts the
 * child (used when an update was prepared by a separate CLI process). `<data>/supervisor.json` records the pids.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join, dirname, resolve } from 'node:path';
import { copyFile, open, readFile, readdir, readlink, rename, rm, symlink, access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import type { SqlJsStatic } from 'sql.js';
import { writeFileAtomic, fsyncDir, type SwitchJournal } from 'kassenwart/sdk';
import { isUserError } from 'kassenwart/sdk';
import { RESTART_EXIT_CODE, takeServerLock, type ServeOptions } from './serve.js';
import { clearEvidence, readEvidence } from './plugins/activity.js';
import { blame, quarantineIn } from './plugins/quarantine.js';

const OWN_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kassenwart.js');

export type { SwitchJournal };

async function freePort(bind: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, bind, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

const exists = (p: string) => access(p).then(() => true, () => false);

async function readJson<T>(p: string): Promise<T | undefined> {
  try { return JSON.parse(await readFile(p, 'utf8')) as T; } catch { return undefined; }
}

/** Copies a file to a temp name beside `dest`, fsyncs and renames it over `dest`. */
async function copyAtomic(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    await copyFile(src, tmp);
    const fh = await open(tmp, 'r+');
    await fh.sync();
    await fh.close();
    await rename(tmp, dest);
  } finally {
    await rm(tmp, { force: true });
  }
  await fsyncDir(dirname(dest));
}

/** Points `releases/current` at `target` (a folder name), or removes it for null, atomically. */
async function setCurrent(releases: string, target: string | null): Promise<void> {
  const link = join(releases, 'current');
  if (target === null) {
    await rm(link, { force: true });
  } else {
    const tmp = join(releases, `.current-${randomBytes(4).toString('hex')}`);
    await symlink(target, tmp);
    await rename(tmp, link);
  }
  await fsyncDir(releases);
}

let sqlPromise: Promise<SqlJsStatic> | undefined;

/**
 * Applies the pending migrations of `releaseDir` to the database file `db` and writes the result to `out`
 * (fsynced). Returns the names applied; throws with the failing file name. Nothing is written when none is pending.
 */
export async function migrateCopy(db: string, releaseDir: string, version: string, out: string): Promise<string[]> {
  let names: string[] = [];
  try { names = (await readdir(join(releaseDir, 'migrations'))).filter((n) => /^\d+[-_.\w]*\.sql$/.test(n)).sort(); } catch { /* none */ }
  if (names.length === 0) return [];
  sqlPromise ??= (createRequire(import.meta.url)('sql.js') as () => Promise<SqlJsStatic>)();
  const SQL = await sqlPromise;
  const bytes = await readFile(db).catch(() => undefined);
  const d = new SQL.Database(bytes);
  const applied: string[] = [];
  try {
    d.run('CREATE TABLE IF NOT EXISTS release_migrations (name TEXT PRIMARY KEY, release TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set((d.exec('SELECT name FROM release_migrations')[0]?.values ?? []).map((r) => String(r[0])));
    for (const name of names.filter((n) => !done.has(n))) {
      const text = await readFile(join(releaseDir, 'migrations', name), 'utf8');
      try {
        d.run('BEGIN');
        d.exec(text);
        d.run('INSERT INTO release_migrations (name, release, applied_at) VALUES (?, ?, ?)', [name, version, new Date().toISOString()]);
        d.run('COMMIT');
      } catch (e) {
        throw new Error(`Datenbank-Anpassung „${name}“ fehlgeschlagen: ${(e as Error).message}`);
      }
      applied.push(name);
    }
    if (applied.length) await writeFileAtomic(out, d.export());
    return applied;
  } finally {
    d.close();
  }
}

/** Polls GET /api/health until it reports ok with `version`; returns null, or why not. */
async function waitHealthy(url: string, version: string, timeoutMs: number, gone: () => boolean): Promise<string | null> {
  const end = Date.now() + timeoutMs;
  let why = 'keine Antwort';
  while (Date.now() < end) {
    if (gone()) return 'der Prozess hat sich beendet';
    try {
      const res = await fetch(url + '/api/health', { signal: AbortSignal.timeout(5000) });
      const body = (await res.json().catch(() => ({}))) as { ok?: boolean; version?: string };
      if (res.status === 200 && body.ok === true && body.version === version) return null;
      why = res.status !== 200 ? `HTTP ${res.status}` : `meldet Version ${body.version ?? '?'}`;
    } catch (e) {
      why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return `Health-Check nach ${Math.round(timeoutMs / 1000)} s: ${why}`;
}

/** True when `pid` is a live `kassenwart … serve` process (checked in /proc, so a reused pid is left alone). */
async function isServeProcess(pid: number): Promise<boolean> {
  try {
    const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return cmd.some((a) => a.endsWith('kassenwart.js')) && cmd.includes('serve');
  } catch {
    return false;
  }
}

/**
 * A `serve` child left behind by a supervisor that was killed (kill -9 leaves children running): stop it before
 * anything else, or it would keep running (and writing the database) next to what this supervisor starts.
 */
async function stopOrphan(infoFile: string): Promise<void> {
  const info = await readJson<{ childPid?: number }>(infoFile);
  const pid = info?.childPid;
  if (!pid || !(await isServeProcess(pid))) return;
  process.stdout.write(`Beende verwaisten Kassenwart-Prozess ${pid} …\n`);
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  for (let i = 0; i < 200 && (await isServeProcess(pid)); i++) {
    if (i === 100) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The release switcher: all steps of the protocol above, for one data folder. */
export class Switcher {
  readonly releases: string;
  readonly journalFile: string;
  readonly resultFile: string;
  readonly stateDb: string;

  constructor(readonly dataDir: string, private readonly log: (line: string) => void = (l) => process.stdout.write(l + '\n')) {
    this.releases = join(dataDir, 'releases');
    this.journalFile = join(this.releases, 'switch.json');
    this.resultFile = join(this.releases, 'switch-result.json');
    this.stateDb = join(dataDir, 'state.sqlite');
  }

  journal(): Promise<SwitchJournal | undefined> { return readJson<SwitchJournal>(this.journalFile); }

  /** The bin of the active release, or this package's own. */
  async activeBin(): Promise<string> {
    const target = await readlink(join(this.releases, 'current')).catch(() => null);
    if (target) {
      const bin = join(this.releases, target, 'bin', 'kassenwart.js');
      if (await exists(bin)) return bin;
      this.log(`Achtung: releases/current zeigt auf „${target}“, dort fehlt bin/kassenwart.js; es läuft die installierte Version.`);
    }
    return OWN_BIN;
  }

  private async finish(j: SwitchJournal, ok: boolean, reason?: string): Promise<void> {
    try {
      await writeFileAtomic(this.resultFile, JSON.stringify({ to: j.to, from: j.from, ok, reason, at: new Date().toISOString() }, null, 2) + '\n');
    } catch (e) {
      // E.g. a full disk: the outcome is still in this log; the switch itself is decided by the journal.
      this.log(`Ergebnis der Umstellung konnte nicht gespeichert werden (${(e as Error).message}): ${ok ? 'ok' : reason}`);
    }
  }

  /**
   * Carries out a "requested" switch up to the flip. Returns the journal in state "switching", or undefined when
   * it was refused before anything changed (the reason is in switch-result.json).
   */
  async begin(j: SwitchJournal): Promise<SwitchJournal | undefined> {
    const dir = join(this.releases, j.to);
    if (!(await exists(join(dir, 'bin', 'kassenwart.js')))) {
      await this.finish(j, false, `Version ${j.to} ist nicht vollständig vorhanden (releases/${j.to}).`);
      await rm(this.journalFile, { force: true });
      return undefined;
    }
    const backup = join(this.releases, `state-before-${j.to}.sqlite`);
    const migrated = `${this.stateDb}.migrating`;
    try {
      const hasDb = await exists(this.stateDb);
      if (hasDb) await copyAtomic(this.stateDb, backup);
      const applied = await migrateCopy(this.stateDb, dir, j.to, migrated);
      if (applied.length) this.log(`Datenbank-Anpassungen für ${j.to}: ${applied.join(', ')}`);
      const switching: SwitchJournal = { ...j, state: 'switching', stateBackup: hasDb ? backup : undefined };
      await writeFileAtomic(this.journalFile, JSON.stringify(switching, null, 2) + '\n');
      if (applied.length) { await rename(migrated, this.stateDb); await fsyncDir(this.dataDir); }
      await setCurrent(this.releases, j.to);
      this.log(`Umstellung auf Version ${j.to} …`);
      return switching;
    } catch (e) {
      await rm(migrated, { force: true });
      const current = await this.journal();
      if (current?.state === 'switching') { await this.rollback(current, `Umstellung auf ${j.to} fehlgeschlagen: ${(e as Error).message}`); return undefined; }
      await this.finish(j, false, `Umstellung auf ${j.to} nicht möglich: ${(e as Error).message}. Die bisherige Version läuft weiter.`);
      await rm(this.journalFile, { force: true });
      return undefined;
    }
  }

  /** The new release is healthy: remove the journal (commit point), record the result, drop older backups. */
  async commit(j: SwitchJournal): Promise<void> {
    await rm(this.journalFile, { force: true });
    await fsyncDir(this.releases);
    await this.finish(j, true);
    for (const n of await readdir(this.releases).catch(() => [] as string[])) {
      if (n.startsWith('state-before-') && n !== `state-before-${j.to}.sqlite`) await rm(join(this.releases, n), { force: true });
    }
    this.log(`Version ${j.to} läuft.`);
  }

  /** Puts the old database and release back (idempotent: safe to repeat after a crash), records why. */
  async rollback(j: SwitchJournal, reason: string): Promise<void> {
    if (j.stateBackup && (await exists(j.stateBackup))) await copyAtomic(j.stateBackup, this.stateDb);
    await setCurrent(this.releases, j.fromRelease);
    await this.finish(j, false, `${reason} Automatisch zurückgesetzt auf Version ${j.from}.`);
    await rm(this.journalFile, { force: true });
    await fsyncDir(this.releases);
    this.log(`Update auf ${j.to} zurückgenommen: ${reason}`);
  }

  /** At start: a switch that was interrupted (crash, kill -9, power loss) is rolled back. */
  async recover(): Promise<void> {
    const j = await this.journal();
    if (j?.state === 'switching') await this.rollback(j, `Die Umstellung auf Version ${j.to} wurde unterbrochen.`);
  }
}

/** Unexplained crashes within this window make the pause before the next start grow (1, 2, 4 … 60 s). */
const CRASH_WINDOW_MS = 10 * 60_000;

/**
 * Runs the supervisor until the child exits for good; returns its exit code. The child is started again when it
 * asks for it (restart code), and when it died after it had been serving: a plugin the crash evidence names
 * (plugins/activity.ts, plugins/quarantine.ts) is quarantined first and the host starts again at once without
 * it; an unexplained crash restarts after a pause that grows while crashes repeat (the crash loop is broken).
 * A child that fails before it listens, with nobody to blame (bad port, data folder already served), ends the
 * supervisor with its exit code. One supervisor per data folder (`<data>/supervisor.lock`).
 */
export async function runSupervisor(o: ServeOptions): Promise<number> {
  o = { ...o, dataDir: resolve(o.dataDir) };
  let lock: Awaited<ReturnType<typeof takeServerLock>>;
  try {
    lock = await takeServerLock(o.dataDir, 'start', 'supervisor.lock');
  } catch (e) {
    process.stderr.write(`Kassenwart konnte nicht starten: ${(e as Error).message}${isUserError(e) && e.hint ? '\n' + e.hint : ''}\n`);
    return isUserError(e) && e.status === 409 ? 4 : 1;
  }
  try {
    return await supervise(o);
  } finally {
    await lock.release().catch(() => {});
  }
}

async function supervise(o: ServeOptions): Promise<number> {
  const port = o.port === 0 ? await freePort(o.bind) : o.port;
  const healthHost = o.bind === '0.0.0.0' || o.bind === '::' ? '127.0.0.1' : o.bind.includes(':') ? `[${o.bind}]` : o.bind;
  const healthTimeoutMs = (Number(process.env.KASSENWART_HEALTH_TIMEOUT) || 90) * 1000;
  const sw = new Switcher(o.dataDir);
  const infoFile = join(o.dataDir, 'supervisor.json');
  let stopping = false;
  let restartWanted = false;
  let child: ChildProcess | undefined;
  const forward = (sig: NodeJS.Signals) => () => { stopping = true; child?.kill(sig); };
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  process.on('SIGUSR2', () => { restartWanted = true; child?.kill('SIGTERM'); });

  const guarded = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try { return await f(); } catch (e) {
      process.stderr.write(`Kassenwart-Supervisor: ${what} fehlgeschlagen: ${(e as Error).message}\n`);
      return undefined;
    }
  };
  await guarded('Beenden eines verwaisten Prozesses', () => stopOrphan(infoFile));
  const crashes: number[] = [];
  let pause: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  process.on('SIGTERM', () => { clearTimeout(pause); wake?.(); });
  process.on('SIGINT', () => { clearTimeout(pause); wake?.(); });
  for (;;) {
    restartWanted = false;
    // A "switching" journal here means a switch was interrupted or its rollback failed: finish the rollback
    // before anything runs, and never start a release on a database it does not match.
    await guarded('Wiederherstellung nach unterbrochener Umstellung', () => sw.recover());
    const j = await sw.journal();
    if (j?.state === 'switching') {
      if (stopping) return 1;
      process.stderr.write('Kassenwart-Supervisor: Zurücksetzen nicht möglich; neuer Versuch in 10 s.\n');
      await new Promise((r) => setTimeout(r, 10_000));
      continue;
    }
    const switching = j?.state === 'requested' ? await guarded('Umstellung', () => sw.begin(j)) : undefined;
    const bin = await sw.activeBin();
    const args = [bin, 'serve', '--data', o.dataDir, '--port', String(port), '--bind', o.bind,
      ...(o.pluginDirs ?? []).flatMap((d) => ['--plugins', d])];
    clearEvidence(o.dataDir);
    const c = spawn(process.execPath, args, { stdio: 'inherit', env: { ...process.env, KASSENWART_SUPERVISED: '1' } });
    child = c;
    const exited = new Promise<number>((resolve) => c.once('exit', (code, s) => resolve(code ?? (s ? 128 : 1))));
    let gone = false;
    void exited.then(() => { gone = true; });
    await writeFileAtomic(infoFile, JSON.stringify({ pid: process.pid, childPid: c.pid, port, bin }) + '\n').catch(() => {});
    if (switching) {
      const why = await waitHealthy(`http://${healthHost}:${port}`, switching.to, healthTimeoutMs, () => gone || stopping);
      if (why && !stopping) {
        if (!gone) {
          c.kill('SIGTERM');
          const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        }
        await guarded('Zurücksetzen', () => sw.rollback(switching, `Version ${switching.to} hat den Health-Check nicht bestanden (${why}).`));
        continue;
      }
      if (!why) await guarded('Abschluss der Umstellung', () => sw.commit(switching));
    }
    const code = await exited;
    if (stopping) return code;
    if (code === RESTART_EXIT_CODE || restartWanted) {
      process.stdout.write('Kassenwart startet neu …\n');
      continue;
    }
    const evidence = readEvidence(o.dataDir, c.pid!);
    const culprit = blame(evidence, c.exitCode, c.signalCode);
    if (culprit) {
      const what = culprit.kind === 'stall' ? 'hat Kassenwart blockiert' : 'hat Kassenwart beendet';
      process.stderr.write(`Kassenwart-Supervisor: Plugin „${culprit.plugin}“ ${what} (${culprit.details.detail ?? `Exit-Code ${c.exitCode ?? c.signalCode}`}).\n`);
      const ok = await guarded('Deaktivieren des Plugins', () => quarantineIn(o.dataDir, culprit).then(() => true));
      if (ok) {
        process.stdout.write(`Plugin „${culprit.plugin}“ wurde deaktiviert; Kassenwart startet ohne das Plugin neu …\n`);
        continue;
      }
    }
    if (!culprit && !evidence.activity?.listening) return code; // failed to start, nobody to blame: a setup problem
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0] < now - CRASH_WINDOW_MS) crashes.shift();
    const delay = Math.min(60, 2 ** (crashes.length - 1));
    process.stderr.write(`Kassenwart-Supervisor: Kassenwart wurde unerwartet beendet (${c.signalCode ? `Signal ${c.signalCode}` : `Exit-Code ${code}`}); Neustart in ${delay} s …\n`);
    await new Promise<void>((r) => { wake = r; pause = setTimeout(r, delay * 1000); });
    wake = undefined;
    if (stopping) return code;
  }
}
