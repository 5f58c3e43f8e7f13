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
 */
import { copyFile, open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError, throwIfAborted } from 'kassenwart/sdk';
import { gzipParallel, type GzipResult } from './gzip.js';
import { readHeader, sideFiles, type SqliteHeader } from './sqlite-file.js';
import { acquireWriteLock, onlineBackup } from './sqlite-helper.js';
import { TMP_PREFIX } from './store.js';

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
}

/** Options of {@link snapshotToGzip}. */
export interface SnapshotOptions {
  /** Folder for the temporary snapshot copy (same file system as the output is best). */
  tmpDir: string;
  signal?: AbortSignal;
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

async function compressFile(srcPath: string, outPath: string, opts: SnapshotOptions): Promise<GzipResult> {
  const input = await open(srcPath, 'r');
  try {
    const output = await open(outPath, 'w', 0o644);
    try {
      const size = (await input.stat()).size || 1;
      const r = await gzipParallel(input, output, {
        signal: opts.signal, level: opts.level, hash: false, onProgress: (done) => opts.onProgress?.(Math.min(1, done / size)),
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
      const r = await compressFile(snapPath, outPath, opts);
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
            const r = await compressFile(dbPath, outPath, opts);
            reason = tornReason(before, await fileState(dbPath));
            if (!reason) return { ...r, method: 'direct', attempts, pauseMs: 0, changeCounter: before.header.changeCounter, sourceMtimeMs: Number(before.mtimeNs / 1000000n) };
          } else {
            await copyFile(dbPath, snapPath);
            reason = tornReason(before, await fileState(dbPath));
            if (!reason) {
              const r = await compressFile(snapPath, outPath, opts);
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
    const r = await compressFile(snapPath, outPath, opts);
    return { ...r, method: 'locked', attempts, pauseMs: Math.round(pauseMs), changeCounter: state.header.changeCounter, sourceMtimeMs: Number(state.mtimeNs / 1000000n) };
  } finally {
    await rm(snapPath, { force: true });
  }
}
