/**
 * Worker thread of {@link startSnapshotCheck} (check.ts): runs the native SQLite checks of one snapshot file
 * ({@link checkDatabaseFile}: header size, `PRAGMA integrity_check`, row counts) and reports the outcome. A
 * failed check is reported as a German message. Imports only sqlite-check.ts (a small worker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { checkDatabaseFile, CheckFailed } from './sqlite-check.js';

/** Messages posted to the parent. */
export type CheckWorkerMessage =
  | { type: 'done'; counts: Record<string, number> }
  | { type: 'failed'; message: string; verify: boolean; code?: string };

const port = parentPort!;
const { path } = workerData as { path: string };

try {
  const counts = checkDatabaseFile(path);
  port.postMessage({ type: 'done', counts } satisfies CheckWorkerMessage);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  port.postMessage({ type: 'failed', message: String(err?.message ?? e), verify: e instanceof CheckFailed, code: err?.code } satisfies CheckWorkerMessage);
}
