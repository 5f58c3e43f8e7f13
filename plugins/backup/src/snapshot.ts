/**
 * Consistent snapshot of a SQLite database that another process (the POS) may be writing, compressed
 * into a .gz file.
 *
 * Rollback-journal mode (the common case):
 *  1. "direct": stream the live file straight into the parallel gzip. Before and after: header change
 *     counter (offset 24), size and mtime of the file, and no live -journal. Any difference = torn; retry.
 *  2. "copy": copy the file to a temp snapshot (a short window, so a busy writer rarely hits it) with the
 *     same checks, then compress the copy.
 *  3. "locked": take SQLite's own write lock (BEGIN IMMEDIATE through a helper process): the POS's next
 *     commit waits; copy the file, release at once, compress the copy. The pause is measured and reported.
 * WAL mode: SQLite's online backup API copies a consistent read snapshot (no pause), then compress it.
 *
 * With `check`, the SQLite checks of each snapshot run in a worker thread while it is compressed (check.ts).
 */
import { copyFile, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError, throwIfAborted } from 'kassenwart/sdk';
import { gzipParallel, type GzipResult } from './gzip.js';
import { readHeader, sideFiles, type SqliteHeader } from './sqlite-file.js';
import { acquireWriteLock, onlineBackup } from './sqlite-helper.js';
import { TMP_PREFIX } from './store.js';
import { startSnapshotCheck, type SnapshotRead } from './check.js';
import { followGzipFile, type GzipDigest } from './verify.js';

/** How the snapshot was taken. */
export type SnapshotMethod = 'direct' | 'copy' | 'locked' | 'wal';

/** Result of {@link snapshotToGzip}. */
export interface SnapshotResult extends GzipResult {
  method: SnapshotMethod;
  attempts: number;
  /** Milliseconds the POS could not commit (SQLite write lock held by us). */
  pauseMs: number;
  changeCounter: number;
  sourceMtimeMs: number;
  /**
   * With {@link SnapshotOptions.check}: SHA-256 and length of the snapshot bytes the worker read, its running
   * checks (`result`: row counts once `integrity_check` said ok) and the read-back of the written .gz
   * (`digest`). The caller must await both, then `cancel()` (frees the worker).
   */
  check?: SnapshotRead & { result: Promise<Record<string, number>>; digest: Promise<GzipDigest>; cancel(): void };
}

/** Options of {@link snapshotToGzip}. */
export interface SnapshotOptions {
  /** Folder for the temporary snapshot copy (same file system as the output is best). */
  tmpDir: string;
  signal?: AbortSignal;
  /** Run the SQLite checks of the snapshot in a worker thread, concurrently with the compression. */
  check?: boolean;
  /** Optimistic attempts before taking the lock (default 3: one direct, two copies). */
  optimisticAttempts?: number;
  /** Start with this method (e.g. "locked" after a failed verification). */
  force?: SnapshotMethod;
  onProgress?: (fraction: number) => void;
  /** Called when a torn read was detected (for the job log). */
  onRetry?: (attempt: number, reason: string) => void;
  level?: number;
}

interface FileState { header: SqliteHeader; size: number; mtimeNs: bigint; journal: boolean }

async function fileState(path: string): Promise<FileState> {
  const st = await stat(path, { bigint: true });
  const header = await readHeader(path);
  const side = await sideFiles(path);
  return { header, size: Number(st.size), mtimeNs: st.mtimeNs, journal: side.journalActive };
}

function tornReason(a: FileState, b: FileState): string | undefined {
  if (a.journal || b.journal) return 'Die Kasse schreibt gerade (Journal aktiv).';
  if (a.header.changeCounter !== b.header.changeCounter) return 'Die Datenbank wurde während des Lesens geändert.';
  if (a.size !== b.size || a.mtimeNs !== b.mtimeNs) return 'Die Datei wurde während des Lesens geändert.';
  return undefined;
}

/** Opens the POS database for reading, with German errors for the expected failures. */
export async function checkSource(dbPath: string): Promise<FileState> {
  try {
    return await fileState(dbPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UserError(`Die Kassendatenbank wurde nicht gefunden: ${dbPath}`, {
        code: 'backup.source-missing', hint: 'Bitte den Pfad der Kassendatenbank in den Einstellungen prüfen.',
      });
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new UserError(`Keine Berechtigung, die Kassendatenbank zu lesen: ${dbPath}`, { code: 'backup.source-access' });
    }
    if (e instanceof Error && e.message === 'not a SQLite 3 database') {
      throw new UserError(`Die Datei ist keine SQLite-Datenbank: ${dbPath}`, {
        code: 'backup.source-format', hint: 'Bitte den Pfad der Kassendatenbank in den Einstellungen prüfen.',
      });
    }
    throw e;
  }
}

async function compressFile(srcPath: string, outPath: string, opts: SnapshotOptions, onWritten?: (gzBytes: number) => void): Promise<GzipResult> {
  const input = await open(srcPath, 'r');
  try {
    const output = await open(outPath, 'w', 0o644);
    try {
      const size = (await input.stat()).size || 1;
      const r = await gzipParallel(input, output, {
        signal: opts.signal, level: opts.level, hash: false,
        onProgress: (done, gz) => { onWritten?.(gz); opts.onProgress?.(Math.min(1, done / size)); },
      });
      await output.truncate(r.gzBytes);
      await output.sync();
      return r;
    } finally {
      await output.close();
    }
  } finally {
    await input.close();
  }
}

/**
 * Compresses `srcPath`; with `opts.check`, meanwhile the SQLite checks of the same file run in a worker, and
 * the written .gz is read back and gunzipped as it grows ({@link followGzipFile}).
 */
async function compressAndCheck(srcPath: string, outPath: string, opts: SnapshotOptions): Promise<GzipResult & Pick<SnapshotResult, 'check'>> {
  if (!opts.check) return compressFile(srcPath, outPath, opts);
  const check = startSnapshotCheck(srcPath, opts.signal);
  const follower = followGzipFile(outPath, opts.signal);
  const cancel = () => { check.cancel(); follower.cancel(); };
  try {
    const r = await compressFile(srcPath, outPath, opts, (gz) => follower.written(gz));
    const digest = follower.end();
    digest.catch(() => {}); // awaited by the caller
    // The worker holds the bytes once `read` resolves: after that the temp snapshot may be removed.
    const read = await check.read;
    return { ...r, check: { ...read, result: check.result, digest, cancel } };
  } catch (e) {
    cancel();
    throw e;
  }
}

/**
 * Takes a consistent snapshot of `dbPath` and writes it gzip-compressed to `outPath` (a temporary name the
 * caller renames after verification). Throws a UserError when the POS never lets go of the database.
 */
export async function snapshotToGzip(dbPath: string, outPath: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  const optimistic = opts.optimisticAttempts ?? 3;
  const snapPath = join(opts.tmpDir, `${TMP_PREFIX}snapshot-${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
  let attempts = 0;
  try {
    const first = await checkSource(dbPath);
    if (first.header.wal || opts.force === 'wal') {
      attempts++;
      await onlineBackup(dbPath, snapPath);
      const r = await compressAndCheck(snapPath, outPath, opts);
      return { ...r, method: 'wal', attempts, pauseMs: 0, changeCounter: first.header.changeCounter, sourceMtimeMs: Number(first.mtimeNs / 1000000n) };
    }
    if (!opts.force) {
      for (let i = 0; i < optimistic; i++) {
        throwIfAborted(opts.signal);
        attempts++;
        const before = await fileState(dbPath);
        let reason = tornReason(before, before);
        if (!reason) {
          if (i === 0) {
            const r = await compressAndCheck(dbPath, outPath, opts);
            try {
              reason = tornReason(before, await fileState(dbPath));
            } catch (e) {
              r.check?.cancel();
              throw e;
            }
            if (!reason) return { ...r, method: 'direct', attempts, pauseMs: 0, changeCounter: before.header.changeCounter, sourceMtimeMs: Number(before.mtimeNs / 1000000n) };
            r.check?.cancel(); // torn: the worker's bytes are of no use
          } else {
            await copyFile(dbPath, snapPath);
            reason = tornReason(before, await fileState(dbPath));
            if (!reason) {
              const r = await compressAndCheck(snapPath, outPath, opts);
              return { ...r, method: 'copy', attempts, pauseMs: 0, changeCounter: before.header.changeCounter, sourceMtimeMs: Number(before.mtimeNs / 1000000n) };
            }
          }
        }
        opts.onRetry?.(attempts, reason);
        await new Promise((res) => setTimeout(res, 20 + Math.random() * 80));
      }
    }
    // Fallback: pause the POS through SQLite's own lock for as long as one file copy takes.
    throwIfAborted(opts.signal);
    attempts++;
    const lock = await acquireWriteLock(dbPath, 30, opts.signal);
    let pauseMs: number;
    let state: FileState;
    try {
      state = await fileState(dbPath);
      await copyFile(dbPath, snapPath);
    } finally {
      pauseMs = await lock.release();
    }
    if (state.journal) {
      throw new UserError('Die Kassendatenbank hat ein nicht abgeschlossenes Journal und konnte nicht gesichert werden.', {
        code: 'backup.journal', hint: 'Bitte die Kasse einmal öffnen und schließen, dann erneut sichern.',
      });
    }
    const r = await compressAndCheck(snapPath, outPath, opts);
    return { ...r, method: 'locked', attempts, pauseMs: Math.round(pauseMs), changeCounter: state.header.changeCounter, sourceMtimeMs: Number(state.mtimeNs / 1000000n) };
  } finally {
    await rm(snapPath, { force: true });
  }
}
