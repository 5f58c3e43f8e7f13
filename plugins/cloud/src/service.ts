/**
 * The cloud target's work: one queue of copies waiting to be sent, worked by one worker at a time (a send
 * started by "Backup an FTP" waits for it, never runs beside it). When the store cannot be reached the copy
 * stays queued and the worker tries again with an exponential backoff (30 s doubling up to 1 h, with jitter):
 * never a storm of retries, and sent as soon as the store answers again, newest first. The state survives a
 * restart (a JSON file in the plugin's data folder, written atomically).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { UserError, isUserError, writeFileAtomic, type Logger, type SettingsReader, type SettingsView } from 'kassenwart/sdk';
import type { BackupFile } from 'kassenwart/plugins/backup/api';
import { createClient } from './s3.js';
import { isTransient, translateS3Error } from './errors.js';
import { abortOrphans, listOrphans, uploadCopy, type UploadedCopy } from './upload.js';
import { listCopies, pruneCopies, type CloudCopy } from './store.js';
import { missingSettings, parseRecipients, readSettings, type CloudSettings } from './settings.js';

/** A queued copy. */
export interface PendingCopy extends BackupFile {
  queuedAt: string;
}

/** What the plugin remembers between runs. */
export interface CloudState {
  pending: PendingCopy[];
  lastSuccess?: { at: string; name: string; key: string; bytes: number; lockedUntil?: string };
  /** Name of the newest copy whose HEAD matched (retention never deletes it). */
  lastVerified?: string;
  lastFailure?: { at: string; message: string; code: string };
  attempts: number;
  nextAttemptAt?: string;
  /** The newest local backup the backup plugin told us about. */
  newestLocal?: BackupFile;
}

/** Live progress of the upload running now. */
export interface CurrentUpload { name: string; bytesDone: number; total: number; startedAt: string }

const HOUR = 3600_000;

/** Base delay of the backoff (KASSENWART_CLOUD_RETRY_MS overrides it, e.g. for tests). */
function retryBaseMs(): number {
  const v = Number(process.env.KASSENWART_CLOUD_RETRY_MS);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

/** Delay before attempt `n` (1-based): base · 2^(n-1), at most 1 h, ±20 % jitter. */
export function backoffMs(n: number, base = retryBaseMs()): number {
  const d = Math.min(HOUR, base * 2 ** Math.max(0, n - 1));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

export class CloudService {
  private lock: Promise<unknown> = Promise.resolve();
  private stateWrite: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private working = false;
  private disposed = false;
  private readonly abort = new AbortController();
  current: CurrentUpload | undefined;

  constructor(private readonly env: { dataDir: string; settings: Pick<SettingsView, 'get'>; other?: Pick<SettingsReader, 'get'>; logger: Logger }) {}

  get settings(): CloudSettings {
    return readSettings(this.env.settings, this.env.other);
  }

  /** Why the target cannot be used yet (German), or undefined when it is set up. */
  setupProblem(s = this.settings): { reason: string; kind: 'skipped' | 'unavailable' } | undefined {
    const missing = missingSettings(s);
    if (missing.length) return { kind: 'skipped', reason: `Cloud-Kasse nicht eingerichtet: es fehlt ${missing.join(', ')}.` };
    const { problems } = parseRecipients(s.recipients.join(' '));
    if (problems.length) return { kind: 'unavailable', reason: `Cloud-Kasse: ${problems.join(' ')}` };
    return undefined;
  }

  // ------------------------------------------------------------------------------------------ state

  private get statePath(): string { return join(this.env.dataDir, 'state.json'); }

  /** The state as on disk (re-read each time: a CLI process may have queued a copy meanwhile). */
  async readState(): Promise<CloudState> {
    try {
      const s = JSON.parse(await readFile(this.statePath, 'utf8')) as CloudState;
      return { ...s, pending: s.pending ?? [], attempts: s.attempts ?? 0 };
    } catch {
      return { pending: [], attempts: 0 };
    }
  }

  /** Read-modify-write of the state, one at a time. */
  private update(fn: (s: CloudState) => void): Promise<CloudState> {
    const run = this.stateWrite.then(async () => {
      const st = await this.readState();
      fn(st);
      await writeFileAtomic(this.statePath, JSON.stringify(st, null, 2) + '\n');
      return st;
    });
    this.stateWrite = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` while holding the one upload lock. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------------------------------------ queue

  /** Queues a copy of a new local backup and kicks the worker. */
  async enqueue(file: BackupFile): Promise<void> {
    await this.update((st) => {
      if (!st.newestLocal || file.createdAt >= st.newestLocal.createdAt) st.newestLocal = { ...file };
      if (!st.pending.some((p) => p.name === file.name) && st.lastSuccess?.name !== file.name) {
        st.pending.push({ ...file, queuedAt: new Date().toISOString() });
      }
      // A new backup is a reason to try now, not at the end of a long backoff.
      st.nextAttemptAt = undefined;
    });
    this.kick();
  }

  /** Starts the worker when something is due (no-op while it runs, before the backoff expired, or without timer). */
  kick(): void {
    // Only the process that runs the timer (the server) works the queue in the background: a CLI process
    // that made a backup must not start an upload it would cut off when it exits.
    if (!this.timer || this.working || this.disposed) return;
    void this.work().catch((e) => this.env.logger.warn(`cloud queue: ${e instanceof Error ? e.message : String(e)}`));
  }

  /** Checks every `tickMs` whether a retry is due or the interval asks for a copy. */
  startTimer(tickMs = Math.min(30_000, retryBaseMs())): void {
    this.timer = setInterval(() => {
      void this.intervalCheck().then(() => this.kick(), () => undefined);
    }, tickMs);
    this.timer.unref();
    this.kick();
  }

  dispose(): void {
    this.disposed = true;
    this.abort.abort();
    if (this.timer) clearInterval(this.timer);
  }

  /** "At least every N hours": re-queues the newest local backup when the last copy is older than that. */
  private async intervalCheck(): Promise<void> {
    const s = this.settings;
    if (this.setupProblem(s)) return;
    await this.update((st) => {
      const age = st.lastSuccess ? Date.now() - new Date(st.lastSuccess.at).getTime() : Infinity;
      const n = st.newestLocal;
      if (n && age > s.intervalHours * HOUR && st.lastSuccess?.name !== n.name && !st.pending.some((p) => p.name === n.name)) {
        st.pending.push({ ...n, queuedAt: new Date().toISOString() });
      }
    });
  }

  private async work(): Promise<void> {
    const first = await this.readState();
    if (!first.pending.length || this.setupProblem()) return;
    if (first.nextAttemptAt && Date.now() < new Date(first.nextAttemptAt).getTime()) return;
    this.working = true;
    try {
      await this.exclusive(async () => {
        const s = this.settings;
        try {
          await this.reachable(s);
        } catch (e) {
          await this.failed(e);
          return;
        }
        while (!this.disposed) {
          const next = [...(await this.readState()).pending].sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];
          if (!next) break;
          try {
            await this.uploadOne(s, next, this.abort.signal, () => undefined, (m) => this.env.logger.info(m));
          } catch (e) {
            if (this.abort.signal.aborted) return;
            if (isUserError(e) && e.code === 'cloud.local-missing') {
              this.env.logger.warn(`cloud queue: ${e.message} – aus der Warteschlange genommen.`);
              await this.update((st) => { st.pending = st.pending.filter((p) => p.name !== next.name); });
              continue;
            }
            await this.failed(e);
            return;
          }
        }
      });
    } finally {
      this.working = false;
    }
  }

  /** HEAD on the bucket, and the cleanup of uploads an earlier interruption left (no upload of ours runs now). */
  private async reachable(s: CloudSettings, signal?: AbortSignal): Promise<void> {
    const client = createClient(s);
    try {
      await client.send(new HeadBucketCommand({ Bucket: s.bucket }), { abortSignal: signal ?? AbortSignal.timeout(s.timeoutSeconds * 1000) });
      const aborted = await abortOrphans(client, s, signal);
      if (aborted.length) this.env.logger.info(`cloud: ${aborted.length} unterbrochene Übertragung(en) im Speicher verworfen: ${aborted.join(', ')}`);
    } catch (e) {
      const x = e as { $metadata?: { httpStatusCode?: number }; name?: string };
      // HEAD has no body: a 404 is the bucket, a 403 the keys.
      if (x.$metadata?.httpStatusCode === 404) throw translateS3Error({ ...x, Code: 'NoSuchBucket', message: 'bucket' }, s);
      throw translateS3Error(e, s);
    } finally {
      client.destroy();
    }
  }

  private async failed(e: unknown): Promise<void> {
    const err = isUserError(e) ? e : translateS3Error(e, this.settings);
    const st = await this.update((st) => {
      st.attempts += 1;
      st.lastFailure = { at: new Date().toISOString(), message: err.message, code: err.code };
      st.nextAttemptAt = new Date(Date.now() + backoffMs(st.attempts)).toISOString();
    });
    this.env.logger.warn(`cloud: ${err.message} Nächster Versuch ${st.nextAttemptAt}.`);
  }

  /** Uploads one file (lock held), records it, removes it from the queue and applies retention. */
  private async uploadOne(s: CloudSettings, file: BackupFile, signal: AbortSignal, progress: (b: number) => void, log: (m: string) => void): Promise<UploadedCopy> {
    this.current = { name: file.name, bytesDone: 0, total: file.size, startedAt: new Date().toISOString() };
    let up: UploadedCopy;
    try {
      up = await uploadCopy({ settings: s, file, signal, log, progress: (b) => { if (this.current) this.current.bytesDone = b; progress(b); } });
    } finally {
      this.current = undefined;
    }
    await this.update((st) => {
      st.pending = st.pending.filter((p) => p.name !== file.name);
      // Names sort by time (kasse-YYYY-MM-DD_HH-MM-SS): keep the newest verified one.
      const copyName = `${file.name}.age`;
      if (!st.lastVerified || copyName > st.lastVerified) st.lastVerified = copyName;
      st.lastSuccess = { at: new Date().toISOString(), name: file.name, key: up.key, bytes: up.bytes, lockedUntil: up.lockedUntil };
      st.lastFailure = undefined;
      st.attempts = 0;
      st.nextAttemptAt = undefined;
    });
    await this.prune(s, signal, log).catch((e) => log(`Aufräumen im Cloud-Speicher fehlgeschlagen: ${e instanceof Error ? e.message : String(e)}`));
    return up;
  }

  private async prune(s: CloudSettings, signal: AbortSignal, log: (m: string) => void): Promise<void> {
    const st = await this.readState();
    const client = createClient(s);
    try {
      const r = await pruneCopies(client, s, st.lastVerified, signal);
      for (const n of r.deleted) log(`Ältere Kopie ${n} im Cloud-Speicher gelöscht (Aufbewahrung).`);
      if (r.locked.length) log(`${r.locked.length} ältere Kopie(n) sind noch durch Object Lock geschützt und bleiben vorerst.`);
    } finally {
      client.destroy();
    }
  }

  /**
   * The send that "Backup an FTP" starts: waits for the lock, uploads now with progress; on failure the copy
   * stays queued for the worker and the error says so.
   */
  async sendNow(file: BackupFile, ctx: { signal: AbortSignal; progress(b: number, m?: string): void; log(m: string): void }): Promise<UploadedCopy> {
    const problem = this.setupProblem();
    if (problem) throw new UserError(problem.reason, { code: 'cloud.not-configured' });
    await this.update((st) => { if (!st.newestLocal || file.createdAt >= st.newestLocal.createdAt) st.newestLocal = { ...file }; });
    ctx.progress(0, 'Cloud-Kasse: wartet auf laufende Übertragung …');
    try {
      return await this.exclusive(async () => {
        const s = this.settings;
        await this.reachable(s, ctx.signal);
        ctx.progress(0, 'Cloud-Kasse: Kopie wird verschlüsselt und übertragen …');
        return this.uploadOne(s, file, ctx.signal, (b) => ctx.progress(b), ctx.log);
      });
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      await this.update((st) => { if (!st.pending.some((p) => p.name === file.name)) st.pending.push({ ...file, queuedAt: new Date().toISOString() }); });
      await this.failed(e);
      const err = isUserError(e) ? e : translateS3Error(e, this.settings);
      const later = isTransient(err) ? '' : ' Nach der Korrektur wird die wartende Kopie automatisch gesendet.';
      throw new UserError(err.message, { code: err.code, cause: e, hint: `${err.hint ?? ''}${later}`.trim() || undefined });
    } finally {
      this.kick();
    }
  }

  /** Settings changed: forget the backoff and try again now. */
  async settingsChanged(): Promise<void> {
    await this.update((st) => { st.attempts = 0; st.nextAttemptAt = undefined; });
    this.kick();
  }

  /** What the status panel shows. */
  async status(): Promise<Record<string, unknown>> {
    const st = await this.readState();
    const s = this.settings;
    const problem = this.setupProblem(s);
    const now = Date.now();
    const ageMs = st.lastSuccess ? now - new Date(st.lastSuccess.at).getTime() : null;
    // One hour of grace for the upload itself.
    const maxAgeMs = s.intervalHours * HOUR + HOUR;
    const overdue = !problem || problem.kind === 'unavailable' ? ageMs === null || ageMs > maxAgeMs : false;
    return {
      now: new Date(now).toISOString(),
      configured: !problem,
      problem: problem?.reason ?? null,
      endpoint: s.endpoint || null,
      bucket: s.bucket || null,
      prefix: s.prefix,
      recipients: s.recipients.length,
      intervalHours: s.intervalHours,
      lastSuccess: st.lastSuccess ?? null,
      ageMs,
      maxAgeMs,
      overdue,
      lastFailure: st.lastFailure ?? null,
      pending: [...st.pending].sort((a, b) => b.createdAt.localeCompare(a.createdAt)).map((p) => ({ name: p.name, size: p.size, createdAt: p.createdAt })),
      nextAttemptAt: st.nextAttemptAt ?? null,
      current: this.current ?? null,
    };
  }

  /** The copies in the bucket, newest first. */
  async copies(signal?: AbortSignal): Promise<CloudCopy[]> {
    const s = this.settings;
    const problem = this.setupProblem(s);
    if (problem?.kind === 'skipped') throw new UserError(problem.reason, { code: 'cloud.not-configured' });
    const client = createClient(s);
    try {
      return await listCopies(client, s, signal);
    } catch (e) {
      throw translateS3Error(e, s);
    } finally {
      client.destroy();
    }
  }

  /** Unfinished multipart uploads under the prefix; with `clean`, aborted (waits for the upload lock). */
  async orphans(clean: boolean): Promise<{ key: string; uploadId: string; initiated?: string }[]> {
    const s = this.settings;
    const problem = this.setupProblem(s);
    if (problem?.kind === 'skipped') throw new UserError(problem.reason, { code: 'cloud.not-configured' });
    const run = async () => {
      const client = createClient(s);
      try {
        const list = await listOrphans(client, s);
        if (clean) await abortOrphans(client, s);
        return list;
      } catch (e) {
        throw translateS3Error(e, s);
      } finally {
        client.destroy();
      }
    };
    return clean ? this.exclusive(run) : run();
  }
}
