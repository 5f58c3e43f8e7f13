/**
 * WAL mode: SQLite's online backup API copies a consistent read snapshot of the POS database to a temp file
 * (WAL readers never block writers: no pause). Runs natively (better-sqlite3) in a worker thread, all pages
 * in one backup step (one read transaction: a step-wise copy would restart on every commit of the POS), so
 * the event loop stays free however large the database is.
 */
import { Worker } from 'node:worker_threads';
import { CancelledError, UserError } from 'kassenwart/sdk';
import type { OnlineBackupMessage } from './online-backup-worker.js';

/** Copies `dbPath` (WAL mode) consistently to `destPath` (journal mode DELETE). Rejects with a German UserError. */
export function onlineBackup(dbPath: string, destPath: string, signal?: AbortSignal, timeoutS = 20): Promise<void> {
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const worker = new Worker(new URL('./online-backup-worker.js', import.meta.url), { workerData: { dbPath, destPath, timeoutS }, execArgv });
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (e?: unknown) => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (e) reject(e); else resolve();
    };
    const onAbort = () => finish(new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const failed = (cause: unknown) => new UserError('Die Kassendatenbank (WAL-Modus) konnte nicht gelesen werden.', {
      code: 'backup.wal', hint: 'Bitte den Support informieren.', cause,
    });
    worker.on('message', (m: OnlineBackupMessage) => finish(m.ok ? undefined : failed(new Error(m.message))));
    worker.on('error', (e) => finish(failed(e)));
    worker.on('exit', (code) => finish(failed(new Error(`online backup worker exited (${code})`))));
  });
}
