/**
 * Updating the register (Kassensoftware): verified download → unpack into its install folder → safety backup
 * through the `update.guards` point (register still running) → stop it and make sure nobody has the database
 * open → migrate a COPY of the database (every migration from the installed schema to the target's, with
 * progress per step) → integrity check and the release's own checks → switch database and program together →
 * start → health check → commit; or roll everything back so the previous version runs on the database,
 * byte-identical (SHA-256) to the moment it was stopped. The journal (journal.ts) lets the next start undo an
 * interrupted update.
 */
import { link, copyFile, mkdir, rename, rm, readdir, access, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar';
import { UserError, isUserError, throwIfAborted, fsyncDir, type Contribution, type Logger } from 'kassenwart/sdk';
import type { UpdateGuard } from '../api.js';
import { downloadResumable, fsError } from '../download.js';
import type { ReleaseEntry } from '../feed.js';
import type { HistoryEntry, ReleaseNotes } from '../state.js';
import type { Progress } from '../updater.js';
import type { AdapterConfig, RegisterAdapter } from './adapter.js';
import { readJournal, removeJournal, writeJournal, type RegisterJournal } from './journal.js';
import { MigrationError, headerSchemaVersion, listChecks, listMigrations, migrateCopy, sha256File } from './migrate.js';

export const FAILED = 'Update fehlgeschlagen – die vorherige Version läuft wieder.';
export const FAILED_NOT_RUNNING = 'Update fehlgeschlagen – die vorherige Version der Kassensoftware konnte nicht wieder gestartet werden.';

export interface RegisterUpdaterDeps {
  pluginDataDir: string;
  adapter(): AdapterConfig;
  guards(): Contribution<UpdateGuard>[];
  log: Logger;
  /** Adds (or settles) a history entry. */
  record(entry: HistoryEntry): Promise<void>;
}

/** Pauses at a named step when KASSENWART_UPDATE_TEST_PAUSE names it (tests kill Kassenwart there). */
async function testPause(step: string, log: Logger): Promise<void> {
  if (process.env.KASSENWART_UPDATE_TEST_PAUSE !== step) return;
  log.warn(`test pause at ${step}`);
  await new Promise((r) => setTimeout(r, 120_000));
}

const exists = (p: string) => access(p).then(() => true, () => false);

export class RegisterUpdater {
  private recovering: Promise<string | null> | undefined;
  constructor(private readonly deps: RegisterUpdaterDeps) {}

  /** Finishes (undoes) an update interrupted at any step; once per process, awaited by every check. */
  recover(): Promise<string | null> {
    this.recovering ??= (async () => {
      const j = await readJournal(this.deps.pluginDataDir);
      if (!j) return null;
      const cfg = this.deps.adapter();
      if (!cfg.ok) { this.deps.log.error('register journal found but the register is not configured', { journal: j.state }); return null; }
      const reason = `Das Update der Kassensoftware auf Version ${j.to} wurde unterbrochen (Kassenwart wurde beendet, Schritt „${j.state}“).`;
      this.deps.log.warn('undoing an interrupted register update', { state: j.state, to: j.to });
      const msg = await this.rollback(cfg.adapter, j, reason).catch((e) => `${FAILED_NOT_RUNNING} ${(e as Error).message}`);
      return msg;
    })();
    return this.recovering;
  }

  /**
   * Installs `target` (the notes of every release since the installed one in `notes`). Returns the German
   * success line; throws a UserError after a rollback, or before anything changed.
   */
  async update(adapter: RegisterAdapter, from: string, target: ReleaseEntry, notes: ReleaseNotes[], feedUrl: string, job: Progress, versionOf: (migration: string) => string): Promise<string> {
    const to = target.version;
    const p = (pct: number, msg: string) => job.progress(pct, `Kassensoftware: ${msg}`);
    const guards = this.deps.guards();
    if (guards.length === 0) {
      throw new UserError('Vor einem Update der Kassensoftware muss eine geprüfte Datensicherung entstehen, aber es ist keine Sicherung für Updates eingerichtet (Plugin „Datensicherung“ nicht aktiv). Es wurde nichts verändert.', {
        code: 'update.kasse-no-guard', hint: 'Bitte das Plugin „Datensicherung“ aktivieren (Techniker) und den Updatecheck erneut starten.',
      });
    }
    // 1. Download and unpack (the register keeps running).
    const pkg = join(this.deps.pluginDataDir, 'downloads', `kasse-${to}.tar.gz`);
    p(3, `Version ${to} wird heruntergeladen …`);
    await downloadResumable({
      url: new URL(target.url, feedUrl).toString(), dest: pkg, size: target.size, sha256: target.sha256, signal: job.signal,
      onProgress: (done, total) => p(3 + Math.floor((done / total) * 17), `Version ${to} wird heruntergeladen …`),
    });
    p(20, `Version ${to} wird entpackt …`);
    const releaseDir = await this.unpack(adapter, pkg, target);
    await rm(pkg, { force: true });
    const migrations = await listMigrations(join(releaseDir, 'migrations'));
    const checks = await listChecks(join(releaseDir, 'checks'));
    throwIfAborted(job.signal);

    // 2. Safety backup while the register still runs.
    const j: RegisterJournal = {
      state: 'stopping', from, to, db: adapter.databasePath,
      copy: `${adapter.databasePath}.kassenwart-update-${to}`, preserved: `${adapter.databasePath}.vor-update-${from}`,
      guards: [], notes, startedAt: new Date().toISOString(),
    };
    const ctxBase = { component: 'kasse' as const, componentName: 'Kassensoftware', fromVersion: from, toVersion: to, databasePath: adapter.databasePath };
    for (const g of guards) {
      p(25, `${g.value.displayName}: Sicherung vor dem Update …`);
      const record = await g.value.beforeUpdate({
        ...ctxBase, signal: job.signal,
        progress: (pct, msg) => p(25 + Math.round((pct ?? 0) * 0.2), msg ?? `${g.value.displayName} …`),
        log: (m) => this.deps.log.info(m),
      });
      j.guards.push({ id: g.value.id, record });
      job.log?.info(record.message);
    }
    throwIfAborted(job.signal);

    // 3. Stop the register; nobody may have the database open.
    await writeJournal(this.deps.pluginDataDir, j);
    p(46, `Kasse wird beendet (Version ${from}) …`);
    const notStopped = await adapter.stop(job.signal);
    if (notStopped) return this.fail(adapter, j, notStopped, 'Bitte die Kasse von Hand beenden (bzw. den Stoppbefehl in den Einstellungen prüfen lassen) und den Updatecheck erneut starten.');
    try {
      const walBytes = await stat(adapter.databasePath + '-wal').then((s) => s.size, () => 0);
      if (walBytes > 0 || (await exists(adapter.databasePath + '-journal'))) {
        return await this.fail(adapter, j, 'Die Kasse hat ihre Datenbank nicht sauber geschlossen (offenes Journal bzw. WAL).', 'Bitte die Kasse einmal normal starten und beenden, dann den Updatecheck erneut starten.');
      }
      j.beforeSha256 = await sha256File(adapter.databasePath);
      j.state = 'migrating';
      await writeJournal(this.deps.pluginDataDir, j);

      // 4. Migrate a copy: every migration above the installed schema, in order, with progress per step.
      // The schema version from the file header (offset 60): the original is never opened by SQLite.
      const installedSchema = await headerSchemaVersion(adapter.databasePath);
      const pending = migrations.filter((m) => m.number > installedSchema);
      p(50, pending.length ? `Datenbank wird angepasst (${pending.length} Schritte, je nach Umfang 5 bis 45 Minuten) …` : 'Datenbank wird geprüft …');
      await migrateCopy({
        source: adapter.databasePath, copy: j.copy, migrations: pending, checks,
        onStep: async (m, i) => {
          if (i > 0) await testPause('migrating', this.deps.log);
          throwIfAborted(job.signal);
          const step = `Datenbank-Anpassung ${i + 1} von ${pending.length} (Version ${versionOf(m.name)}: ${m.name}) …`;
          p(50 + Math.round((i / Math.max(1, pending.length)) * 30), step);
          job.log?.info(`Kassensoftware: ${step}`);
        },
      });
      p(81, 'Integritätsprüfung bestanden.');

      // 5. Switch database and program together.
      j.state = 'switching';
      await writeJournal(this.deps.pluginDataDir, j);
      p(82, `Umstellung auf Version ${to} …`);
      await rm(j.preserved, { force: true });
      await link(j.db, j.preserved).catch(() => copyFile(j.db, j.preserved));
      await rename(j.copy, j.db);
      await fsyncDir(dirname(j.db));
      await testPause('switch', this.deps.log);
      await adapter.setCurrent(to);

      // 6. Start and health-check the new version.
      j.state = 'starting';
      await writeJournal(this.deps.pluginDataDir, j);
      p(85, `Version ${to} wird gestartet und geprüft …`);
      const failedStart = await adapter.start(to);
      const unhealthy = await adapter.waitHealthy(to, failedStart, job.signal);
      if (unhealthy) return await this.fail(adapter, j, `Die neue Version ${to} ${unhealthy}.`, 'Bitte den Support verständigen; die Kasse kann wie gewohnt weiter benutzt werden.');
    } catch (e) {
      if (isUserError(e) && e.code === 'update.kasse-failed') throw e;
      const why = e instanceof MigrationError ? e.message
        : (fsError(e, 'Kopie der Kassendatenbank') as Error).message ?? String(e);
      return this.fail(adapter, j, why.replace(/\.?$/, '.'), e instanceof MigrationError ? 'Bitte den Support verständigen; die Kasse kann wie gewohnt weiter benutzt werden.' : 'Bitte Speicherplatz und Berechtigungen prüfen lassen und den Updatecheck erneut starten.');
    }

    // 7. Commit: the journal goes, the preserved database too (the verified safety backup stays).
    await removeJournal(this.deps.pluginDataDir);
    await rm(j.preserved, { force: true });
    await this.prune(adapter, [to, from]);
    await this.deps.record({ component: 'kasse', version: to, from, installedAt: new Date().toISOString(), status: 'installed', notes });
    p(100, `Version ${to} läuft.`);
    const steps = (await listMigrations(join(releaseDir, 'migrations'))).length;
    return `Kassensoftware: Version ${to} ist eingespielt (vorher ${from}; Datenbank auf Stand ${steps}).`;
  }

  /** Rolls back and throws the German failure. */
  private async fail(adapter: RegisterAdapter, j: RegisterJournal, reason: string, todo: string): Promise<never> {
    const msg = await this.rollback(adapter, j, reason);
    throw new UserError(msg, { code: 'update.kasse-failed', hint: msg.startsWith(FAILED) ? todo : 'Bitte sofort den Support verständigen.' });
  }

  /**
   * Puts the previous version back: stop whatever runs, preserved database back, `current` back, copy gone,
   * guards told, old version started and health-checked, journal removed. Idempotent. Returns the message.
   */
  private async rollback(adapter: RegisterAdapter, j: RegisterJournal, reason: string): Promise<string> {
    const log = this.deps.log;
    if (j.state !== 'stopping') {
      if (await adapter.stop()) {
        const killed = await adapter.killHolders();
        log.warn('register did not stop during the rollback; killed', { killed });
      }
    }
    if (await exists(j.preserved)) {
      await rename(j.preserved, j.db);
      for (const f of ['-wal', '-shm']) await rm(j.db + f, { force: true });
      await fsyncDir(dirname(j.db));
    }
    for (const f of ['', '-wal', '-shm', '-journal']) await rm(j.copy + f, { force: true });
    if ((await adapter.installedVersion()) !== j.from) await adapter.setCurrent(j.from);
    const actual = await sha256File(j.db).catch(() => null);
    const lines: string[] = [];
    if (j.beforeSha256) {
      const guards = new Map(this.deps.guards().map((g) => [g.value.id, g.value]));
      for (const { id, record } of j.guards) {
        const g = guards.get(id);
        const line = await g?.afterRollback?.({
          component: 'kasse', fromVersion: j.from, toVersion: j.to, databasePath: j.db, expectedSha256: j.beforeSha256, actualSha256: actual, record,
          log: (m) => log.info(m),
        }).catch((e) => `${g.displayName}: ${(e as Error).message}`);
        if (line) lines.push(line);
      }
    }
    const identical = j.beforeSha256 ? (await sha256File(j.db).catch(() => null)) === j.beforeSha256 : undefined;
    // A register that never stopped still runs the old version: nothing to start.
    const stillRunning = j.state === 'stopping' && (await adapter.probe(j.from)).ok;
    const unhealthy = stillRunning ? null : await adapter.waitHealthy(j.from, await adapter.start(j.from));
    await removeJournal(this.deps.pluginDataDir);
    const head = unhealthy ? `${FAILED_NOT_RUNNING} (Version ${j.from} ${unhealthy})` : FAILED;
    const db = identical === undefined ? 'Die Kassendatenbank wurde nicht verändert.'
      : identical ? 'Die Kassendatenbank ist unverändert (SHA-256 wie vor dem Update).'
        : 'Achtung: die Kassendatenbank weicht vom Stand vor dem Update ab.';
    const msg = [head, `Grund: ${reason}`, `Kassensoftware Version ${j.from} ${unhealthy ? 'ist installiert' : 'läuft'}. ${db}`, ...lines].join('\n');
    await this.deps.record({ component: 'kasse', version: j.to, from: j.from, installedAt: j.startedAt, status: 'rolled-back', reason: msg, notes: j.notes });
    return msg;
  }

  /** Unpacks into <installDir>/releases/<v> (temp folder first); checks the migrations against the index. */
  private async unpack(adapter: RegisterAdapter, pkg: string, target: ReleaseEntry): Promise<string> {
    const base = join(adapter.installDir, 'releases');
    const final = adapter.releaseDir(target.version);
    const tmp = join(base, `.tmp-${target.version}-${randomBytes(4).toString('hex')}`);
    try {
      await mkdir(tmp, { recursive: true });
      await tar.x({ file: pkg, cwd: tmp, strict: true, preservePaths: false });
      const files = await listMigrations(join(tmp, 'migrations'));
      const listed = target.migrations ?? [];
      const same = files.length === listed.length && (await Promise.all(files.map(async (f, i) => f.name === listed[i].name && (await sha256File(f.path)) === listed[i].sha256))).every(Boolean);
      if (!same) throw new UserError(`Das Paket der Kassensoftware ${target.version} enthält andere Datenbank-Anpassungen als der signierte Index angibt. Es wurde nichts verändert.`, { code: 'update.kasse-package', hint: 'Bitte den Support verständigen.' });
      if ((await adapter.installedVersion()) === target.version) throw new UserError(`Version ${target.version} ist bereits aktiv.`, { code: 'update.kasse-package' });
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
      await fsyncDir(base);
      return final;
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (isUserError(e)) throw e;
      const mapped = fsError(e, 'Kassensoftware entpacken');
      if (mapped !== e) throw mapped;
      throw new UserError(`Das Paket der Kassensoftware ${target.version} lässt sich nicht entpacken (${(e as Error).message}). Es wurde nichts verändert.`, { code: 'update.kasse-package', hint: 'Bitte den Support verständigen.' });
    }
  }

  /** Keeps the running release and `keep`; removes older release folders and leftovers. */
  private async prune(adapter: RegisterAdapter, keep: string[]): Promise<void> {
    const base = join(adapter.installDir, 'releases');
    for (const name of await readdir(base).catch(() => [] as string[])) {
      if (name.startsWith('.tmp-') || (!keep.includes(name) && /^\d+\.\d+\.\d+/.test(name))) {
        await rm(join(base, name), { recursive: true, force: true }).catch(() => {});
      }
    }
  }
}

