/**
 * The SQLite checks of "Datensicherung", run on the snapshot in a worker thread while the main thread
 * compresses and writes the .gz (the checks are CPU-bound, mostly `PRAGMA integrity_check` in sql.js, and
 * would otherwise run after the compression on one core).
 *
 * The worker reads the snapshot file itself (from the page cache) and hashes it; the caller later streams
 * the written .gz through gunzip and compares SHA-256 and length with that: byte-identical to bytes that
 * passed `integrity_check` and whose rows were counted means the backup is good. This also holds for the
 * "direct" snapshot, where the worker and the compressor read the live file separately: if the POS wrote in
 * between, the hashes differ and the backup is refused (and retried under the lock).
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from 'kassenwart/sdk';
import { VerifyError } from './verify.js';
import type { CheckWorkerMessage } from './check-worker.js';

/** What the worker read: SHA-256 and length of the snapshot bytes it checks. */
export interface SnapshotRead {
  rawSha256: string;
  rawBytes: number;
}

/** A running check of one snapshot file. */
export interface SnapshotCheck {
  /** Resolves once the worker holds the snapshot bytes in memory (the file may be removed then). */
  read: Promise<SnapshotRead>;
  /** Resolves with the row counts once `integrity_check` said ok; rejects with a {@link VerifyError} otherwise. */
  result: Promise<Record<string, number>>;
  /** Stops the worker (idempotent); pending promises reject. */
  cancel(): void;
}

/** Starts the checks of `path` in a new worker thread. Aborting `signal` stops it (CancelledError). */
export function startSnapshotCheck(path: string, signal?: AbortSignal): SnapshotCheck {
  // Workers inherit the process' execArgv; `--input-type` (a process started with `-e`) is refused for a worker file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const worker = new Worker(new URL('./check-worker.js', import.meta.url), { workerData: { path }, execArgv });
  let readOk!: (r: SnapshotRead) => void;
  let readFail!: (e: unknown) => void;
  let doneOk!: (c: Record<string, number>) => void;
  let doneFail!: (e: unknown) => void;
  const read = new Promise<SnapshotRead>((res, rej) => { readOk = res; readFail = rej; });
  const result = new Promise<Record<string, number>>((res, rej) => { doneOk = res; doneFail = rej; });
  // Either may be left unawaited when the other failed first.
  read.catch(() => {});
  result.catch(() => {});
  let finished = false;
  const fail = (e: unknown) => {
    if (finished) return;
    finished = true;
    readFail(e);
    doneFail(e);
    void worker.terminate();
    signal?.removeEventListener('abort', onAbort);
  };
  const onAbort = () => fail(new CancelledError());
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  worker.on('message', (m: CheckWorkerMessage) => {
    if (m.type === 'read') readOk({ rawSha256: m.rawSha256, rawBytes: m.rawBytes });
    else if (m.type === 'done') {
      finished = true;
      doneOk(m.counts);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
    } else {
      const e = m.verify ? new VerifyError(m.message) : Object.assign(new Error(m.message), { code: m.code });
      fail(e);
    }
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`snapshot check worker exited (${code})`)));
  return { read, result, cancel: () => fail(new CancelledError()) };
}
