/**
 * Worker thread of {@link startSnapshotCheck} (check.ts): reads the snapshot file once, hashes it with
 * SHA-256, reports that ("read"), then runs the SQLite checks (header size, `PRAGMA integrity_check`, row
 * counts) in sql.js and reports the outcome ("done"). A failed check is reported as a German message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { checkDatabaseBytes, VerifyError } from './verify.js';

/** Messages posted to the parent. */
export type CheckWorkerMessage =
  | { type: 'read'; rawSha256: string; rawBytes: number }
  | { type: 'done'; counts: Record<string, number> }
  | { type: 'failed'; message: string; verify: boolean; code?: string };

const port = parentPort!;
const { path } = workerData as { path: string };

try {
  const raw = await readFile(path);
  port.postMessage({ type: 'read', rawSha256: createHash('sha256').update(raw).digest('hex'), rawBytes: raw.length } satisfies CheckWorkerMessage);
  const counts = await checkDatabaseBytes(raw);
  port.postMessage({ type: 'done', counts } satisfies CheckWorkerMessage);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  port.postMessage({ type: 'failed', message: String(err?.message ?? e), verify: e instanceof VerifyError, code: err?.code } satisfies CheckWorkerMessage);
}
