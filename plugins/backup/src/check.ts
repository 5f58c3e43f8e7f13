/**
 * The SQLite checks of a snapshot (`PRAGMA integrity_check`, row counts; native SQLite), optionally preceded by
 * the file's SHA-256, run in a worker thread: while "Datensicherung" compresses the same immutable snapshot file
 * in the compression workers (gzip.ts), and for a restore's verification, so the event loop stays free however
 * long the check of a large database takes.
 *
 * The snapshot is a private, immutable temp file (a copy of the POS database, see snapshot.ts), so the bytes
 * the worker checks and hashes are the bytes the compressor reads: the caller proves that the written .gz
 * gunzips to exactly them (each member's trailer at its place, the total length; verify.ts).
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
   * With {@link SnapshotCheckOptions.hash}: SHA-256 and length of the file, read once sequentially before the
   * SQLite checks start (rejects like `result` when the worker fails first).
   */
  digest?: Promise<{ sha256: string; bytes: number }>;
  /**
   * Stops waiting (idempotent): `result` rejects with a CancelledError. A native check already running
   * finishes in the background before the worker ends (it only reads the file).
   */
  cancel(): void;
}

/** Options of {@link startSnapshotCheck}. */
export interface SnapshotCheckOptions {
  /** Hash the file first (SHA-256; the manifest's `rawSha256`), in the same worker. */
  hash?: boolean;
  /** Run the SQLite checks (default true; false: hash only, `result` resolves with no counts). */
  check?: boolean;
}

/** Starts the checks of `path` in a new worker thread. Aborting `signal` stops it (CancelledError). */
export function startSnapshotCheck(path: string, signal?: AbortSignal, options: SnapshotCheckOptions = {}): SnapshotCheck {
  // Workers inherit the process' execArgv; `--input-type` (a process started with `-e`) is refused for a worker file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  // Small heap limits: the worker runs one native call; its JS heap stays tiny (memory stays flat).
  const worker = new Worker(new URL('./check-worker.js', import.meta.url), {
    workerData: { path, hash: options.hash ?? false, check: options.check ?? true }, execArgv, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
  });
  let doneOk!: (c: Record<string, number>) => void;
  let doneFail!: (e: unknown) => void;
  const result = new Promise<Record<string, number>>((res, rej) => { doneOk = res; doneFail = rej; });
  result.catch(() => {}); // may be left unawaited when something else failed first
  let hashOk!: (d: { sha256: string; bytes: number }) => void;
  let hashFail!: (e: unknown) => void;
  const digest = options.hash ? new Promise<{ sha256: string; bytes: number }>((res, rej) => { hashOk = res; hashFail = rej; }) : undefined;
  digest?.catch(() => {});
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
    hashFail?.(e); // no effect once the hash was delivered
  };
  const onAbort = () => fail(new CancelledError());
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  worker.on('message', (m: CheckWorkerMessage) => {
    if (finished) return;
    if (m.type === 'hashed') {
      hashOk?.({ sha256: m.sha256, bytes: m.bytes });
    } else if (m.type === 'done') {
      end();
      doneOk(m.counts);
    } else {
      fail(m.verify ? new VerifyError(m.message) : Object.assign(new Error(m.message), { code: m.code }));
    }
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`snapshot check worker exited (${code})`)));
  return { result, digest, cancel: () => fail(new CancelledError()) };
}
