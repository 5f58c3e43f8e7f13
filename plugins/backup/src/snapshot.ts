/**
 * Consistent snapshot of a SQLite database that another process (the POS) may be writing, compressed
 * into a .gz file. Every snapshot is a private, immutable temp copy: the compressor and the SQLite checks read
 * the same bytes, so the checks can run beside the compression without comparing two reads.
 *
 * Rollback-journal mode (the common case):
 *  1. "copy": copy the file to the temp snapshot (kernel copy, a short window, so a busy writer rarely hits it).
 *     Before and after: header change counter (offset 24), size and mtime of the file, and no live -journal.
 *     Any difference = torn; retry once.
 *  2. "locked": take SQLite's own write lock natively (BEGIN IMMEDIATE, sqlite-lock.ts): the POS's next commit
 *     waits; copy the file, release at once. The pause is measured from before the lock is requested until it
 *     is released, and reported.
 * WAL mode: SQLite's online backup API copies a consistent read snapshot (no pause, online-backup.ts).
 * Then the snapshot is compressed in worker threads (gzip.ts); meanwhile a check worker hashes it (SHA-256) and,
 * with `check`, runs its SQLite checks (check.ts), and the written .gz is read back and gunzipped as it grows
 * (verify.ts).
 */
import { statSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError, throwIfAborted } from 'kassenwart/sdk';
import { gzipParallel, type GzipResult } from './gzip.js';
import { journalActiveSync, readHeader, sideFiles, type SqliteHeader } from './sqlite-file.js';
import { acquireWriteLock } from './sqlite-lock.js';
import { copyDatabaseFile } from './file-copy.js';
import { onlineBackup } from './online-backup.js';
import { TMP_PREFIX } from './store.js';
import { startSnapshotCheck } from './check.js';
import { followGzipFile, type ReadBackDigest } from './verify.js';

/** How the snapshot was taken ("direct", a read of the live file, is gone: it only appears in old manifests). */
export type SnapshotMethod = 'copy' | 'locked' | 'wal';

/** Result of {@link snapshotToGzip}. `rawSha256` is the SHA-256 of the snapshot bytes as the compressor read them. */
export interface SnapshotResult extends GzipResult {
  method: SnapshotMethod;
  attempts: number;
  /** Milliseconds the POS could not commit: from before our lock request until its release (0 without the lock). */
  pauseMs: number;
  changeCounter: number;
  sourceMtimeMs: number;
  /**
   * With {@link SnapshotOptions.check}: the running SQLite checks of the snapshot (`result`: row counts once
   * `integrity_check` said ok) and the read-back of the written .gz (`digest`). The caller must await both,
   * then `cancel()` (frees the worker; the temp snapshot is removed once the checks are over). `rawSha256` and
   * `rawBytes`: of the snapshot file the checks read, as the compressor read it (the same immutable file).
   */
  check?: { rawSha256: string; rawBytes: number; result: Promise<Record<string, number>>; digest: Promise<ReadBackDigest>; cancel(): void };
}

/** Options of {@link snapshotToGzip}. */
export interface SnapshotOptions {
  /** Folder for the temporary snapshot copy (same file system as the output is best). */
  tmpDir: string;
  signal?: AbortSignal;
  /** Run the SQLite checks of the snapshot in a worker thread, concurrently with the compression. */
  check?: boolean;
  /** Optimistic copies before taking the lock (default 2). */
  optimisticAttempts?: number;
  /** Start with this method (e.g. "locked" after a failed verification). */
  force?: SnapshotMethod;
  onProgress?: (fraction: number) => void;
  /** Called when a torn read was detected (for the job log). */
  onRetry?: (attempt: number, reason: string) => void;
  level?: number;
  /**
   * SHA-256 of the snapshot (`rawSha256`, default true), computed in the check worker beside the compression.
   * false only for the bench's "snapshot + compression" figure (the comparison with `pigz -1`, which hashes nothing).
   */
  hash?: boolean;
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

async function compressFile(srcPath: string, outPath: string, opts: SnapshotOptions, onWritten?: (gzBytes: number, trailer: Buffer) => void): Promise<GzipResult> {
  const input = await open(srcPath, 'r');
  try {
    const output = await open(outPath, 'w', 0o644);
    try {
      const size = (await input.stat()).size || 1;
      const r = await gzipParallel(input, output, {
        signal: opts.signal, level: opts.level, hash: false,
        onProgress: (done, gz, trailer) => { onWritten?.(gz, trailer); opts.onProgress?.(Math.min(1, done / size)); },
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
 * Compresses the snapshot at `snapPath` (worker threads, gzip.ts) while a check worker hashes it (SHA-256, the
 * manifest's `rawSha256`) and, with `opts.check`, then runs its SQLite checks; with `opts.check` the written .gz
 * is also read back and gunzipped as it grows ({@link followGzipFile}). Takes over the snapshot file: it is
 * removed once nothing reads it any more. Resolves when the compression and the hash are done.
 */
async function compressAndCheck(snapPath: string, outPath: string, opts: SnapshotOptions): Promise<GzipResult & Pick<SnapshotResult, 'check'>> {
  const hash = opts.hash ?? true;
  const check = opts.check || hash ? startSnapshotCheck(snapPath, opts.signal, { hash, check: !!opts.check }) : undefined;
  const follower = opts.check ? followGzipFile(outPath, opts.signal) : undefined;
  // The worker reads the snapshot until its checks are over (or cancelled): only then is it removed, and the
  // result settles after that.
  const result = (check?.result ?? Promise.resolve({})).finally(() => rm(snapPath, { force: true }).catch(() => {}));
  result.catch(() => {}); // awaited by the caller
  const cancel = () => { check?.cancel(); follower?.cancel(); };
  try {
    const r = await compressFile(snapPath, outPath, opts, follower ? (gz, trailer) => follower.written(gz, trailer) : undefined);
    if (check?.digest) {
      const d = await check.digest;
      if (d.bytes !== r.rawBytes) throw new Error('snapshot changed while it was compressed');
      r.rawSha256 = d.sha256;
    }
    if (!follower) {
      await result;
      return r;
    }
    const digest = follower.end();
    digest.catch(() => {}); // awaited by the caller
    return { ...r, check: { rawSha256: r.rawSha256, rawBytes: r.rawBytes, result, digest, cancel } };
  } catch (e) {
    cancel();
    await result.catch(() => {});
    throw e;
  }
}

/**
 * Takes a consistent snapshot of `dbPath` and writes it gzip-compressed to `outPath` (a temporary name the
 * caller renames after verification). Throws a UserError when the POS never lets go of the database.
 */
export async function snapshotToGzip(dbPath: string, outPath: string, opts: SnapshotOptions): Promise<SnapshotResult> {
  const optimistic = opts.optimisticAttempts ?? 2;
  const snapPath = join(opts.tmpDir, `${TMP_PREFIX}snapshot-${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
  let attempts = 0;
  let handedOver = false;
  const done = async (method: SnapshotMethod, pauseMs: number, state: { header: SqliteHeader; mtimeNs: bigint }): Promise<SnapshotResult> => {
    handedOver = true;
    const r = await compressAndCheck(snapPath, outPath, opts);
    return { ...r, method, attempts, pauseMs, changeCounter: state.header.changeCounter, sourceMtimeMs: Number(state.mtimeNs / 1000000n) };
  };
  try {
    const first = await checkSource(dbPath);
    if (first.header.wal || opts.force === 'wal') {
      attempts++;
      await onlineBackup(dbPath, snapPath, opts.signal);
      return await done('wal', 0, first);
    }
    if (!opts.force) {
      for (let i = 0; i < optimistic; i++) {
        throwIfAborted(opts.signal);
        attempts++;
        const before = await fileState(dbPath);
        let reason = tornReason(before, before);
        if (!reason) {
          await copyDatabaseFile(dbPath, snapPath, opts.signal);
          reason = tornReason(before, await fileState(dbPath));
          if (!reason) return await done('copy', 0, before);
          await rm(snapPath, { force: true }); // not inside the locked copy below: freeing 250 MB of pages takes time
        }
        opts.onRetry?.(attempts, reason);
        await new Promise((res) => setTimeout(res, 20 + Math.random() * 80));
      }
    }
    // Fallback: pause the POS through SQLite's own lock for as long as one file copy takes. Nothing else may
    // open (and close) the database file meanwhile: that would drop the lock (see sqlite-lock.ts).
    throwIfAborted(opts.signal);
    attempts++;
    const lock = await acquireWriteLock(dbPath, 30, opts.signal);
    let pauseMs: number;
    let st: { mtimeNs: bigint };
    let journal: boolean;
    try {
      // Synchronous stat and journal check (microseconds; no thread-pool round trips inside the lock), then the
      // kernel copy (`cp` itself, file-copy.ts; no fsync: the snapshot is a private file, fsynced never).
      st = statSync(dbPath, { bigint: true });
      journal = journalActiveSync(dbPath);
      await copyDatabaseFile(dbPath, snapPath, opts.signal);
    } finally {
      pauseMs = lock.release();
    }
    if (journal) {
      throw new UserError('Die Kassendatenbank hat ein nicht abgeschlossenes Journal und konnte nicht gesichert werden.', {
        code: 'backup.journal', hint: 'Bitte die Kasse einmal öffnen und schließen, dann erneut sichern.',
      });
    }
    const header = await readHeader(snapPath);
    return await done('locked', Math.round(pauseMs), { header, mtimeNs: st.mtimeNs });
  } finally {
    if (!handedOver) await rm(snapPath, { force: true });
  }
}
