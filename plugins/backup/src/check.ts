/**
 * The SQLite checks of a snapshot (`PRAGMA integrity_check`, row counts; native SQLite), run in a worker
 * thread: while "Datensicherung" compresses the same immutable snapshot file on the libuv pool, and for a
 * restore's verification, so the event loop stays free however long the check of a large database takes.
 *
 * The snapshot is a private, immutable temp file (a copy of the POS database, see snapshot.ts), so the bytes
 * the worker checks are the bytes the compressor reads: the caller proves that the written .gz gunzips to
 * exactly them (SHA-256 and length of the compressor's input against the read-back).
 */
import { Worker } from 'node:worker_threads';
import { CancelledError } from 'kassenwart/sdk';
import { VerifyError } from './verify.js';
import type { CheckWorkerMessage } from './check-worker.js';

/** A running check of one snapshot file. */
export interface SnapshotCheck {
  /** Resolves with the row counts once `integrity_check` said ok; rejects with a {@link VerifyError} otherwise. */
  result: Promise<Record<string, number>>;
  /**
   * Stops waiting (idempotent): `result` rejects with a CancelledError. A native check already running
   * finishes in the background before the worker ends (it only reads the file).
   */
  cancel(): void;
}

/** Starts the checks of `path` in a new worker thread. Aborting `signal` stops it (CancelledError). */
export function startSnapshotCheck(path: string, signal?: AbortSignal): SnapshotCheck {
  // Workers inherit the process' execArgv; `--input-type` (a process started with `-e`) is refused for a worker file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  // Small heap limits: the worker runs one native call; its JS heap stays tiny (memory stays flat).
  const worker = new Worker(new URL('./check-worker.js', import.meta.url), {
    workerData: { path }, execArgv, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
  });
  let doneOk!: (c: Record<string, number>) => void;
  let doneFail!: (e: unknown) => void;
  const result = new Promise<Record<string, number>>((res, rej) => { doneOk = res; doneFail = rej; });
  result.catch(() => {}); // may be left unawaited when something else failed first
  let finished = false;
  const end = () => {
    finished = true;
    signal?.removeEventListener('abort', onAbort);
    void worker.terminate();
  };
  const fail = (e: unknown) => {
    if (finished) return;
    end();
    doneFail(e);
  };
  const onAbort = () => fail(new CancelledError());
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  worker.on('message', (m: CheckWorkerMessage) => {
    if (finished) return;
    if (m.type === 'done') {
      end();
      doneOk(m.counts);
    } else {
      fail(m.verify ? new VerifyError(m.message) : Object.assign(new Error(m.message), { code: m.code }));
    }
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`snapshot check worker exited (${code})`)));
  return { result, cancel: () => fail(new CancelledError()) };
}
