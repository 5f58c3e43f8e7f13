/** Worker thread of {@link onlineBackup} (online-backup.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** The one message posted to the parent. */
export type OnlineBackupMessage = { ok: true } | { ok: false; message: string };

const { dbPath, destPath, timeoutS } = workerData as { dbPath: string; destPath: string; timeoutS: number };
const port = parentPort!;

try {
  const src = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: timeoutS * 1000 });
  try {
    // After the first (empty) step, copy every remaining page in ONE step, i.e. one read transaction.
    await src.backup(destPath, { progress: () => 0x7fffffff });
  } finally {
    src.close();
  }
  // The copied header still says WAL: a snapshot is a single file in rollback-journal mode.
  const dest = new Database(destPath, { fileMustExist: true });
  try { dest.pragma('journal_mode = DELETE'); } finally { dest.close(); }
  port.postMessage({ ok: true } satisfies OnlineBackupMessage);
} catch (e) {
  port.postMessage({ ok: false, message: String((e as Error)?.message ?? e) } satisfies OnlineBackupMessage);
}
