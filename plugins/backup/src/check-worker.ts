/**
 * Worker thread of {@link startSnapshotCheck} (check.ts): optionally hashes the snapshot file (SHA-256, one
 * sequential read), then runs the native SQLite checks of it ({@link checkDatabaseFile}: header size,
 * `PRAGMA integrity_check`, row counts) and reports the outcome. A failed check is reported as a German
 * message. Imports only sqlite-check.ts and node: modules (a small worker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { checkDatabaseFile, CheckFailed } from './sqlite-check.js';

/** Messages posted to the parent. */
export type CheckWorkerMessage =
  | { type: 'hashed'; sha256: string; bytes: number }
  | { type: 'done'; counts: Record<string, number> }
  | { type: 'failed'; message: string; verify: boolean; code?: string };

const port = parentPort!;
const { path, hash = false, check = true } = workerData as { path: string; hash?: boolean; check?: boolean };

function sha256(file: string): { sha256: string; bytes: number } {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  const fd = openSync(file, 'r');
  let bytes = 0;
  try {
    for (let n; (n = readSync(fd, buf, 0, buf.length, bytes)) > 0;) {
      h.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), bytes };
}

try {
  if (hash) port.postMessage({ type: 'hashed', ...sha256(path) } satisfies CheckWorkerMessage);
  const counts = check ? checkDatabaseFile(path) : {};
  port.postMessage({ type: 'done', counts } satisfies CheckWorkerMessage);
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  port.postMessage({ type: 'failed', message: String(err?.message ?? e), verify: e instanceof CheckFailed, code: err?.code } satisfies CheckWorkerMessage);
}
