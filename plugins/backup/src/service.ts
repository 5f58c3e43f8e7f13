/**
 * The backup plugin's work: "Datensicherung" (create), "Backup an FTP" (send), restore, retention and the
 * status the panel shows. Host-independent apart from the SDK types, so it is unit-tested directly.
 */
import { mkdir, rename, rm, stat, statfs, readFile } from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { dirname, basename, join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import {
  UserError, isUserError, fsyncDir, writeFileAtomic, throwIfAborted,
  type ActionResult, type JobContext, type Logger, type SettingsView, type Contribution,
} from 'kassenwart/sdk';
import type { BackupFile, BackupListener, BackupTarget, BackupTargetPolicy, RestoreJob, SendDetails, TargetResult } from './api.js';

export type { TargetResult };
import { generatePosDatabase } from './posdb.js';
import { checkSource, snapshotToGzip, type SnapshotMethod, type SnapshotResult } from './snapshot.js';
import { verifyBackupFile, VerifyError, type VerifyExpect, type VerifyResult } from './verify.js';
import {
  BACKUP_NAME, TMP_PREFIX, cleanupLeftovers, deleteBackup, listBackups, newBackupName, toBackupFile, writeManifest,
  type BackupManifest, type LocalBackup,
} from './store.js';
import { selectForDeletion } from './retention.js';
import { longestGapMs, nextRun, parseTimes } from './schedule.js';
import { sideFiles } from './sqlite-file.js';
import { formatBytes, formatMegabytes, processesWithFileOpen } from 'kassenwart/sdk';

/** Id under which local backups appear in the status (next to the contributed targets). */
export const LOCAL_TARGET_ID = 'local';

/** What the service needs from its surroundings (the PluginContext, or a test stand-in). */
export interface BackupEnv {
  dataDir: string;
  settings: Pick<SettingsView, 'get'>;
  logger: Logger;
  targets(): Contribution<BackupTarget>[];
  policies(): Contribution<BackupTargetPolicy>[];
  /** Told about every new local backup (optional). */
  listeners?(): Contribution<BackupListener>[];
}

interface StatusEntry { at: string; message: string; backup?: string; location?: string }
interface StatusState {
  targets: Record<string, { displayName?: string; lastSuccess?: StatusEntry; lastFailure?: StatusEntry; lastSkipped?: StatusEntry }>;
  failures: Array<StatusEntry & { action: string; target?: string }>;
}

const MB = 1024 * 1024;
/** Sizes in messages: decimal MB, the same text as the panels show (kassenwart/sdk formatMegabytes). */
const fmtMb = formatMegabytes;

/** Size of the demo POS database in MB (KASSENWART_DEMO_DB_MB overrides it, e.g. for quick tests). */
function demoSizeMb(): number {
  const v = Number(process.env.KASSENWART_DEMO_DB_MB);
  return Number.isFinite(v) && v > 0 ? v : 12;
}

/**
 * Verification of a freshly written backup: the .gz read back through one gunzip stream (every member's CRC-32
 * and length are checked, and each member's trailer is the one zlib computed over the compressor's input chunk
 * for that place; started with the compression, see snapshot.ts and verify.ts) and the worker's `integrity_check`
 * and row counts on the same immutable snapshot file must both pass, and the gunzipped length must equal the
 * snapshot's: the backup is then byte-identical to a database that passed the checks. Throws a VerifyError.
 */
export async function verifyWritten(tmp: string, snap: SnapshotResult, signal: AbortSignal): Promise<VerifyResult> {
  const check = snap.check;
  if (!check) throw new Error('snapshot taken without its checks');
  try {
    throwIfAborted(signal);
    const digest = check.digest.then((d) => {
      if (d.rawBytes !== snap.rawBytes || d.rawBytes !== check.rawBytes) throw new VerifyError('Die entpackte Sicherung hat nicht die erwartete Größe.');
      return d;
    });
    const [d, counts] = await Promise.all([digest, check.result]);
    return { gzSha256: d.gzSha256, rawSha256: check.rawSha256, rawBytes: d.rawBytes, counts };
  } finally {
    check.cancel();
  }
}

/** A fake-able clock (tests). */
export interface Clock { now(): Date }

export class BackupService {
  private ready: Promise<void> | undefined;
  private stateWrite: Promise<void> = Promise.resolve();

  constructor(private readonly env: BackupEnv, private readonly clock: Clock = { now: () => new Date() }) {}

  /** Path of the POS database: the setting, or the demo database in the plugin data folder. */
  get posPath(): string {
    const p = String(this.env.settings.get<string>('posDatabasePath') ?? '').trim();
    return p ? resolve(p) : join(this.env.dataDir, 'demo', 'kasse.sqlite');
  }

  /** True when the demo database is used. */
  get isDemo(): boolean {
    return !String(this.env.settings.get<string>('posDatabasePath') ?? '').trim();
  }

  /** The local backup folder. */
  get backupDir(): string {
    const p = String(this.env.settings.get<string>('backupDir') ?? '').trim();
    return p ? resolve(p) : join(this.env.dataDir, 'backups');
  }

  private get statePath(): string {
    return join(this.env.dataDir, 'status.json');
  }

  /**
   * Start-up work: remove leftovers of a crash in the backup folder (once), and create the demo database
   * when no POS path is set and it is missing (checked on every call). Handlers await it.
   */
  start(): Promise<void> {
    this.ready ??= (async () => {
      const removed = await cleanupLeftovers(this.backupDir).catch(() => []);
      if (removed.length) this.env.logger.info(`removed leftovers of an interrupted backup: ${removed.join(', ')}`);
      await cleanupLeftovers(join(this.env.dataDir, 'demo')).catch(() => []);
    })();
    return this.ready.then(() => this.ensureDemo());
  }

  private demo: Promise<void> | undefined;

  /** Creates the demo database when no POS path is set and it does not exist yet (single flight; retried after a failure). */
  private ensureDemo(): Promise<void> {
    if (!this.isDemo) return Promise.resolve();
    this.demo ??= (async () => {
      try {
        await stat(this.posPath);
      } catch {
        this.env.logger.info(`creating the demo POS database at ${this.posPath}`);
        try {
          await generatePosDatabase(this.posPath, { sizeMb: demoSizeMb() });
        } catch (e) {
          const full = (e as NodeJS.ErrnoException).code === 'ENOSPC';
          throw new UserError(`Die Demo-Datenbank konnte nicht angelegt werden${full ? ': kein freier Speicherplatz' : ''} (${this.posPath}).`, {
            code: 'backup.demo', hint: 'Bitte Speicherplatz und Berechtigungen des Datenordners prüfen oder den Pfad der Kassendatenbank einstellen.', cause: e,
          });
        }
      }
    })().finally(() => { this.demo = undefined; });
    return this.demo;
  }

  // ---------------------------------------------------------------------------------------------- create

  /** "Datensicherung": snapshot, compress, verify, store, prune. */
  async create(job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'trigger'>, kind = job.trigger === 'user' ? 'manual' : job.trigger): Promise<{ backup: LocalBackup; result: ActionResult }> {
    await this.start();
    const dir = this.backupDir;
    const db = this.posPath;
    job.progress(0, 'Datensicherung wird vorbereitet …');
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new UserError(`Der Sicherungsordner kann nicht angelegt werden: ${dir}`, {
        code: 'backup.dir', hint: 'Bitte den Ordner für lokale Sicherungen in den Einstellungen prüfen.', cause: e,
      });
    }
    await cleanupLeftovers(dir);
    const source = await checkSource(db);
    const existing = await listBackups(dir);
    await this.checkFreeSpace(dir, source.size, existing);

    const at = this.clock.now();
    const name = newBackupName(at, new Set(existing.map((b) => b.name)));
    const tmp = join(dir, `${TMP_PREFIX}${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const finalPath = join(dir, name);
    try {
      let snap: SnapshotResult | undefined;
      let verified: VerifyResult | undefined;
      let force: SnapshotMethod | undefined;
      for (let round = 0; round < 2 && !verified; round++) {
        job.progress(2, 'Datenbank wird gelesen und komprimiert …');
        snap = await snapshotToGzip(db, tmp, {
          tmpDir: dir, signal: job.signal, force, check: true,
          onProgress: (f) => job.progress(Math.round(2 + f * 68), 'Datenbank wird gelesen und komprimiert …'),
          onRetry: (n, reason) => job.log.info(`Versuch ${n}: ${reason} Neuer Versuch.`),
        });
        throwIfAborted(job.signal);
        job.progress(72, 'Sicherung wird geprüft (Integritätsprüfung) …');
        try {
          verified = await verifyWritten(tmp, snap, job.signal);
        } catch (e) {
          if (!(e instanceof VerifyError)) throw e;
          if (snap.method === 'locked' || snap.method === 'wal') {
            throw new UserError('Die Kassendatenbank selbst hat die Integritätsprüfung nicht bestanden; es wurde keine Sicherung erstellt.', {
              code: 'backup.source-corrupt', hint: 'Bitte sofort den Support informieren und die bisherigen Sicherungen nicht löschen.', cause: e,
            });
          }
          job.log.warn(`Prüfung fehlgeschlagen (${e.message}); neuer Versuch mit kurzer Pause der Kasse.`);
          force = 'locked';
        }
      }
      if (!snap || !verified) throw new Error('unreachable');
      job.progress(95, 'Sicherung wird abgelegt …');
      const manifest: BackupManifest = {
        name, createdAt: at.toISOString(), size: snap.gzBytes, sha256: verified.gzSha256, rawBytes: snap.rawBytes,
        rawSha256: verified.rawSha256, counts: verified.counts, verifiedAt: this.clock.now().toISOString(),
        method: snap.method, pauseMs: snap.pauseMs, attempts: snap.attempts, changeCounter: snap.changeCounter,
        sourcePath: db, sourceMtimeMs: snap.sourceMtimeMs, kind,
      };
      await writeManifest(dir, manifest);
      await rename(tmp, finalPath);
      await fsyncDir(dir);
      const backup: LocalBackup = { name, path: finalPath, size: snap.gzBytes, createdAt: at, manifest };
      // No pruning for the safety backup of a restore: the backup being restored must stay.
      const pruned = kind === 'safety' ? [] : await this.prune();
      if (pruned.length) job.log.info(`Alte Sicherungen entfernt: ${pruned.join(', ')}`);
      await this.recordSuccess(LOCAL_TARGET_ID, 'Lokal (Kassenserver)', { at: manifest.createdAt, backup: name, location: finalPath, message: 'Datenbank gesichert' });
      for (const l of this.env.listeners?.() ?? []) {
        try { l.value.backupCreated(toBackupFile(backup), kind); } catch (e) { this.env.logger.warn(`listener ${l.value.id} failed: ${e instanceof Error ? e.message : String(e)}`); }
      }
      job.progress(100, 'Datenbank gesichert');
      return {
        backup,
        result: {
          message: `Datenbank gesichert (${name}, ${formatBytes(snap.gzBytes)}, geprüft)`,
          details: {
            name, path: finalPath, size: snap.gzBytes, sha256: verified.gzSha256, rawBytes: snap.rawBytes,
            counts: verified.counts, method: snap.method, attempts: snap.attempts, pauseMs: snap.pauseMs, pruned,
          },
        },
      };
    } catch (e) {
      await rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw this.diskFull(dir, e);
      throw e;
    }
  }

  private diskFull(dir: string, cause?: unknown, needed?: number, free?: number): UserError {
    const amounts = needed !== undefined && free !== undefined ? ` (benötigt ca. ${fmtMb(needed)} MB, frei ${fmtMb(free)} MB)` : '';
    return new UserError(`Nicht genug freier Speicherplatz für die Datensicherung in ${dir}${amounts}. Es wurde keine Sicherung erstellt; vorhandene Sicherungen bleiben erhalten.`, {
      code: 'backup.disk-full', hint: 'Bitte Speicherplatz freigeben oder in den Einstellungen einen anderen Ordner für lokale Sicherungen wählen.', cause,
    });
  }

  /**
   * Free space check before writing: the compressed size is estimated from the newest backup's ratio
   * (first backup: the raw size), plus room for a temporary copy of the database if the POS is busy.
   */
  private async checkFreeSpace(dir: string, rawSize: number, existing: LocalBackup[]): Promise<void> {
    const last = existing.find((b) => b.manifest && b.manifest.rawBytes > 0);
    const ratio = last ? Math.min(1, (last.manifest!.size / last.manifest!.rawBytes) * 1.25) : 1;
    const needed = Math.ceil(rawSize * ratio) + rawSize + 4 * MB;
    const fs = await statfs(dir);
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (free < needed) throw this.diskFull(dir, undefined, needed, free);
  }

  // ---------------------------------------------------------------------------------------------- retention

  /** Applies the retention settings to the local folder; returns the deleted names. */
  async prune(): Promise<string[]> {
    const dir = this.backupDir;
    const all = await listBackups(dir);
    const ours = all.filter((b) => b.manifest);
    const del = selectForDeletion(ours.map((b) => ({ name: b.name, createdAt: b.createdAt, verified: true })), {
      daily: Number(this.env.settings.get('retainDaily') ?? 14),
      weekly: Number(this.env.settings.get('retainWeekly') ?? 8),
      monthly: Number(this.env.settings.get('retainMonthly') ?? 12),
    });
    for (const name of del) await deleteBackup(dir, name);
    return del;
  }

  // ---------------------------------------------------------------------------------------------- send

  /**
   * The backup to send: the newest verified local one if it still shows the POS database as it is now
   * (same path, same change counter, file not modified since), else a new one made first.
   */
  private async backupToSend(job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'trigger'>): Promise<{ file: BackupFile; fresh: boolean }> {
    const newest = (await listBackups(this.backupDir)).find((b) => b.manifest);
    if (newest) {
      const m = newest.manifest!;
      try {
        const src = await checkSource(this.posPath);
        const side = await sideFiles(this.posPath);
        const unchanged = m.sourcePath === this.posPath && m.method !== 'wal' && !src.header.wal && side.walBytes === 0 &&
          src.header.changeCounter === m.changeCounter && Number(src.mtimeNs / 1000000n) <= m.sourceMtimeMs;
        if (unchanged) return { file: toBackupFile(newest), fresh: false };
      } catch (e) {
        // POS database gone: the newest backup is all there is, send that.
        if (isUserError(e) && e.code === 'backup.source-missing') return { file: toBackupFile(newest), fresh: false };
        throw e;
      }
    }
    job.log.info('Die Kassendatenbank wurde seit der letzten Sicherung geändert: es wird zuerst eine neue Sicherung erstellt.');
    const scaled = {
      ...job,
      progress: (p: number | undefined, msg?: string) => job.progress(p === undefined ? undefined : Math.round(p * 0.4), msg),
    };
    const { backup } = await this.create(scaled, 'send');
    return { file: toBackupFile(backup), fresh: true };
  }

  /** "Backup an FTP": sends the newest verified backup to every contributed target. */
  async send(job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'trigger'>): Promise<ActionResult> {
    await this.start();
    const scheduled = job.trigger === 'schedule' || job.trigger === 'catch-up';
    if (scheduled && this.env.settings.get<boolean>('ftpEnabled') !== true) {
      return { message: 'Nicht mit einem FTP-Server gekoppelt: keine tägliche Übertragung.', details: { results: [] } };
    }
    job.progress(0, 'Sicherung wird ausgewählt …');
    const { file, fresh } = await this.backupToSend(job);
    const base = fresh ? 40 : 5;
    const targets = this.env.targets();
    if (!targets.length) {
      throw new UserError('Es ist kein Sicherungsziel eingerichtet (kein FTP-Server, kein USB-Stick).', {
        code: 'backup.no-targets', hint: 'Bitte das FTP-Server- oder USB-Stick-Plugin aktivieren.',
      });
    }
    const ids = targets.map((t) => t.value.id);
    const skips: Record<string, string> = {};
    for (const p of this.env.policies()) {
      try {
        const r = await p.value.skip(ids);
        for (const [id, reason] of Object.entries(r)) if (ids.includes(id) && !skips[id]) skips[id] = reason;
      } catch (e) {
        job.log.warn(`Regel ${p.value.id} konnte nicht geprüft werden: ${e instanceof Error ? e.message : String(e)}`);
      }
    }

    const results: TargetResult[] = [];
    const span = (100 - base) / targets.length;
    for (let i = 0; i < targets.length; i++) {
      throwIfAborted(job.signal);
      const t = targets[i].value;
      const start = base + i * span;
      const r: TargetResult = { target: t.id, displayName: t.displayName, status: 'failed', message: '' };
      results.push(r);
      if (skips[t.id]) {
        Object.assign(r, { status: 'skipped', message: skips[t.id] });
        continue;
      }
      try {
        job.progress(Math.round(start), `${t.displayName}: Verbindung wird geprüft …`);
        const av = await t.availability(job.signal);
        if (!av.available) {
          const reason = av.reason ?? 'nicht verfügbar';
          // Only an explicit "skipped" is harmless; a target that cannot be used without saying why it is
          // not wanted counts as failed, so the operator sees it. The hint stays apart (and is shown after it).
          const message = av.hint ? `${reason} ${av.hint}` : reason;
          if (av.kind === 'skipped') Object.assign(r, { status: 'skipped', message: reason }, av.hint ? { hint: av.hint } : {});
          else Object.assign(r, { status: 'failed', message }, av.hint ? { hint: av.hint } : {});
        } else {
          const sent = await t.send(file, {
            signal: job.signal,
            progress: (done, msg) => job.progress(Math.round(start + span * Math.min(1, done / Math.max(1, file.size))),
              msg ?? `${t.displayName}: ${fmtMb(done)} von ${fmtMb(file.size)} MB übertragen …`),
            log: (msg) => job.log.info(`${t.displayName}: ${msg}`),
          });
          Object.assign(r, { status: 'sent', message: sent.message ?? `An ${t.displayName} gesendet`, location: sent.location, bytes: sent.bytes });
        }
      } catch (e) {
        if (job.signal.aborted) throw e;
        const msg = isUserError(e) ? e.message + (e.hint ? ` ${e.hint}` : '') : `Unerwarteter Fehler: ${e instanceof Error ? e.message : String(e)}`;
        if (!isUserError(e)) this.env.logger.error(`target ${t.id} failed`, { error: e instanceof Error ? e.stack : String(e) });
        Object.assign(r, { status: 'failed', message: msg });
      }
      if (r.status === 'sent') await this.recordSuccess(t.id, t.displayName, { at: this.clock.now().toISOString(), backup: file.name, location: r.location, message: r.message });
      if (r.status === 'failed') await this.recordFailure('backup.send', { at: this.clock.now().toISOString(), message: r.message, backup: file.name }, t.id, t.displayName);
      if (r.status === 'skipped') await this.updateState((s) => { s.targets[t.id] = { ...s.targets[t.id], displayName: t.displayName, lastSkipped: { at: this.clock.now().toISOString(), message: r.message } }; });
      job.log.info(`${t.displayName}: ${r.status === 'sent' ? 'gesendet' : r.status === 'skipped' ? 'übersprungen' : 'FEHLER'} – ${r.message}`);
    }

    const sent = results.filter((r) => r.status === 'sent');
    const failed = results.filter((r) => r.status === 'failed');
    const details: SendDetails = { backup: file.name, size: file.size, sha256: file.sha256, freshBackup: fresh, results };
    const failText = failed.map((r) => `${r.displayName}: ${r.message}`).join(' · ');
    if (failed.length && !sent.length) {
      throw new UserError(`Datenbank nicht gesendet. ${failText}`, { code: 'backup.send-failed', hint: 'Details: unter „Verlauf“ bei diesem Auftrag auf „anzeigen“ klicken; der letzte Fehler je Ziel steht auch in der Übersicht „Datensicherung“ auf der Seite „Wartung“.', details });
    }
    job.progress(100, failed.length ? 'Übertragung teilweise fehlgeschlagen' : 'Datenbank gesendet!');
    if (failed.length) {
      return { outcome: 'warning', message: `Datenbank gesendet an: ${sent.map((r) => r.displayName).join(', ')}. Fehlgeschlagen – ${failText}`, details };
    }
    if (!sent.length) {
      const why = results.map((r) => `${r.displayName}: ${r.message}`).join(' · ');
      if (scheduled) return { message: `Keine Übertragung nötig. ${why}`, details };
      return { outcome: 'warning', message: `Nichts gesendet – alle Sicherungsziele wurden übersprungen. ${why}`, details };
    }
    return { message: `Datenbank gesendet! (${sent.map((r) => r.displayName).join(', ')})`, details };
  }

  // ---------------------------------------------------------------------------------------------- restore

  /**
   * Restore (technician): verifies the chosen backup, makes a safety backup of the current database, then
   * replaces the POS database atomically. Refuses while another process has the database open.
   */
  async restore(job: Pick<JobContext, 'signal' | 'progress' | 'log' | 'trigger' | 'params'>): Promise<ActionResult> {
    await this.start();
    const name = String(job.params?.name ?? '');
    if (!BACKUP_NAME.test(name)) {
      throw new UserError('Bitte eine Sicherung auswählen (Parameter „name“, z. B. kasse-2026-11-29_07-00-00.sqlite.gz).', { code: 'backup.restore-name' });
    }
    const chosen = (await listBackups(this.backupDir)).find((b) => b.name === name);
    if (!chosen) throw new UserError(`Die Sicherung ${name} wurde im Sicherungsordner nicht gefunden.`, { code: 'backup.restore-missing' });
    const m = chosen.manifest;
    // A manifest that is there but does not fit the file (another size, unreadable) means the file was
    // changed or swapped after it was made: never restore it as if it had no manifest.
    if (!m && (await stat(chosen.path + '.json').then(() => true, () => false))) {
      throw new VerifyError('Die Sicherungsdatei passt nicht zu ihrem Prüfprotokoll (Größe stimmt nicht): sie wurde verändert oder ausgetauscht.');
    }
    return this.restoreFile(chosen.path, name, m ? { gzSha256: m.sha256, rawSha256: m.rawSha256, rawBytes: m.rawBytes, counts: m.counts } : {}, job);
  }

  /**
   * Restores any verified-here .gz (a local backup, or one fetched from off-site storage through the
   * published `BackupRestorer`): verify, safety backup, atomic replace. `label` names it in messages.
   */
  async restoreFile(path: string, name: string, expect: VerifyExpect, job: RestoreJob): Promise<ActionResult> {
    await this.start();
    const db = this.posPath;
    await this.assertPosClosed(db);

    job.progress(5, 'Gewählte Sicherung wird geprüft …');
    const verified = await verifyBackupFile(path, expect, job.signal).catch((e: unknown) => {
      // the check unpacks the backup beside it: a full disk there is no damaged backup
      if ((e as NodeJS.ErrnoException)?.code !== 'ENOSPC') throw e;
      throw new UserError('Nicht genug freier Speicherplatz, um die gewählte Sicherung zu prüfen (sie wird dafür im Sicherungsordner entpackt). Die Kassendatenbank wurde nicht verändert.', {
        code: 'backup.disk-full', hint: 'Platz im Sicherungsordner schaffen (z. B. alte Sicherungen auf einen Stick kopieren und löschen) und erneut wiederherstellen.',
      });
    });

    let safety: string | undefined;
    let dbExists = true;
    try { await stat(db); } catch { dbExists = false; }
    if (dbExists) {
      job.progress(30, 'Sicherheitskopie der aktuellen Datenbank wird erstellt …');
      const scaled = { ...job, progress: (p: number | undefined, msg?: string) => job.progress(p === undefined ? undefined : 30 + Math.round(p * 0.4), msg) };
      const { backup } = await this.create(scaled, 'safety');
      safety = backup.name;
    }
    throwIfAborted(job.signal);
    await this.assertPosClosed(db);
    job.progress(75, 'Kassendatenbank wird ersetzt …');
    await mkdir(dirname(db), { recursive: true });
    const tmp = join(dirname(db), `${TMP_PREFIX}${basename(db)}.restore.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      // flush: fsync before the stream closes, so the rename below only ever exposes complete data.
      await pipeline(createReadStream(path), createGunzip(), createWriteStream(tmp, { mode: 0o644, flush: true }), { signal: job.signal });
      // What lands on disk must be exactly what was verified.
      const hash = createHash('sha256');
      await pipeline(createReadStream(tmp), hash);
      if (hash.digest('hex') !== verified.rawSha256) throw new VerifyError('Die entpackte Sicherung weicht von der geprüften ab.');
      await rename(tmp, db);
      await fsyncDir(dirname(db));
    } catch (e) {
      await rm(tmp, { force: true });
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
        throw new UserError('Nicht genug freier Speicherplatz, um die Sicherung wiederherzustellen. Die Kassendatenbank wurde nicht verändert.', { code: 'backup.disk-full' });
      }
      throw e;
    }
    // A -shm left by the old database belongs to it; SQLite rebuilds it. -journal / -wal were checked above.
    await rm(db + '-shm', { force: true });
    job.progress(100, 'Sicherung wiederhergestellt');
    return {
      message: `Sicherung ${name} wiederhergestellt.${safety ? ` Der vorherige Stand wurde als ${safety} gesichert.` : ''} Die Kasse kann wieder gestartet werden.`,
      details: { restored: name, safetyBackup: safety ?? null, counts: verified.counts, path: db },
    };
  }

  private async assertPosClosed(db: string): Promise<void> {
    const side = await sideFiles(db).catch(() => ({ journalActive: false, walBytes: 0 }));
    const pids = await processesWithFileOpen(db);
    if (pids.length || side.journalActive || side.walBytes > 0) {
      throw new UserError('Die Kasse ist noch geöffnet: die Kassendatenbank wird gerade benutzt. Es wurde nichts verändert.', {
        code: 'backup.pos-open', hint: `Bitte die Kasse schließen und die Wiederherstellung erneut starten.${pids.length ? ` (Prozess ${pids.join(', ')})` : ''}`, status: 409,
      });
    }
  }

  // ---------------------------------------------------------------------------------------------- status

  private async readState(): Promise<StatusState> {
    try {
      const s = JSON.parse(await readFile(this.statePath, 'utf8')) as StatusState;
      return { targets: s.targets ?? {}, failures: s.failures ?? [] };
    } catch {
      return { targets: {}, failures: [] };
    }
  }

  private updateState(fn: (s: StatusState) => void): Promise<void> {
    this.stateWrite = this.stateWrite.then(async () => {
      const s = await this.readState();
      fn(s);
      await writeFileAtomic(this.statePath, JSON.stringify(s, null, 2) + '\n');
    }).catch((e) => this.env.logger.warn(`status file not written: ${e instanceof Error ? e.message : String(e)}`));
    return this.stateWrite;
  }

  private recordSuccess(target: string, displayName: string, entry: StatusEntry): Promise<void> {
    return this.updateState((s) => { s.targets[target] = { ...s.targets[target], displayName, lastSuccess: entry }; });
  }

  /** Records a failure for the status panel (kept: the newest 20). */
  recordFailure(action: string, entry: StatusEntry, target?: string, displayName?: string): Promise<void> {
    return this.updateState((s) => {
      if (target) s.targets[target] = { ...s.targets[target], displayName: displayName ?? s.targets[target]?.displayName, lastFailure: entry };
      s.failures.unshift({ ...entry, action, target });
      s.failures = s.failures.slice(0, 20);
    });
  }

  /** Everything the status panel shows. */
  async status(viewer?: { name: string; role: string }): Promise<Record<string, unknown>> {
    await this.start().catch(() => undefined);
    const now = this.clock.now();
    const state = await this.readState();
    const times = parseTimes(String(this.env.settings.get('backupTimes') ?? '07:00,21:00'));
    const transfer = parseTimes(String(this.env.settings.get('transferTime') ?? '21:30'));
    const coupled = this.env.settings.get<boolean>('ftpEnabled') === true;
    const graceMs = 3600_000;
    const localMax = longestGapMs(times) + graceMs;
    const targetMax = 24 * 3600_000 + 2 * graceMs;
    const entry = (id: string, displayName: string, maxAgeMs: number) => {
      const t = state.targets[id];
      const ageMs = t?.lastSuccess ? now.getTime() - new Date(t.lastSuccess.at).getTime() : undefined;
      // Overdue (red): the last success is too old, or a target in use (it failed) never succeeded. A target
      // that was only ever skipped (e.g. FTP not coupled) is not in use and not overdue. Local backups are
      // forced, so "never" is overdue for them.
      const inUse = id === LOCAL_TARGET_ID || !!t?.lastSuccess || !!t?.lastFailure;
      return {
        id, displayName: t?.displayName ?? displayName, lastSuccess: t?.lastSuccess ?? null, lastFailure: t?.lastFailure ?? null,
        lastSkipped: t?.lastSkipped ?? null, ageMs: ageMs ?? null, maxAgeMs,
        overdue: inUse && (ageMs === undefined || ageMs > maxAgeMs),
      };
    };
    const targets = [entry(LOCAL_TARGET_ID, 'Lokal (Kassenserver)', localMax)];
    for (const c of this.env.targets()) targets.push(entry(c.value.id, c.value.displayName, targetMax));
    const backups = (await listBackups(this.backupDir)).map((b) => ({
      name: b.name, size: b.size, createdAt: b.createdAt.toISOString(), verified: !!b.manifest,
      verifiedAt: b.manifest?.verifiedAt ?? null, kind: b.manifest?.kind ?? null, pauseMs: b.manifest?.pauseMs ?? null,
    }));
    return {
      now: now.toISOString(),
      viewer: viewer ? { name: viewer.name, role: viewer.role } : null,
      posDatabase: { path: this.posPath, demo: this.isDemo },
      backupDir: this.backupDir,
      schedule: {
        backupTimes: times.map((t) => `${String(Math.floor(t / 60)).padStart(2, '0')}:${String(t % 60).padStart(2, '0')}`),
        nextBackup: nextRun(times, now)?.toISOString() ?? null,
        coupled,
        nextTransfer: coupled ? nextRun(transfer, now)?.toISOString() ?? null : null,
      },
      targets,
      failures: state.failures,
      backups,
    };
  }
}
