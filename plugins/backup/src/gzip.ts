/**
 * Parallel gzip: the input is cut into fixed-size chunks, each compressed as its own gzip member in a worker
 * thread (gzip-worker.ts: one synchronous zlib call per member, written by the worker at its place in the
 * output), like `pigz` does. A multi-member .gz is a valid gzip file (RFC 1952) that gunzip, zcat and node:zlib
 * read as one stream.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { FileHandle } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { throwIfAborted } from 'kassenwart/sdk';
import type { GzipWorkerData, GzipWorkerMessage } from './gzip-worker.js';

/** Options of {@link gzipParallel}. */
export interface GzipOptions {
  /** zlib level (default 1: the speed of `pigz -1`; SQLite pages still compress well). */
  level?: number;
  /**
   * Bytes per gzip member (default 2 MiB: large enough that zlib's per-call cost vanishes, small enough that the
   * workers' buffers stay a few MB each).
   */
  chunkSize?: number;
  /**
   * Worker threads (default: the CPU count, at most 4). Memory stays below about concurrency x 2.5 x chunkSize
   * plus one small V8 isolate per worker.
   */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * SHA-256 of both sides (true, the default), of the input only ('raw'), or none (false: the backup path, whose
   * check worker hashes the snapshot and whose read-back hashes the .gz). The main thread reads and hashes
   * meanwhile (the input beside the workers, the output as the workers hand over a copy of each member).
   */
  hash?: boolean | 'raw';
  /**
   * Called after each member is written, in order, with input bytes done and the output written so far (the output
   * file from offset 0 to `gzBytesWritten` is final then: it is never rewritten), and the member's 8-byte gzip
   * trailer as zlib produced it for this input chunk (CRC-32 and length of the chunk, little-endian).
   */
  onProgress?: (rawBytesDone: number, gzBytesWritten: number, trailer: Buffer) => void;
}

/** Sizes and hashes of one compression run. */
export interface GzipResult {
  rawBytes: number;
  /** Empty when hashing was turned off. */
  rawSha256: string;
  gzBytes: number;
  /** Empty when hashing was turned off. */
  gzSha256: string;
}

/** SHA-256 of a file from offset 0 to `end` (sequential reads, one reused 1 MiB buffer). */
async function hashFile(fh: FileHandle, end: number, signal?: AbortSignal): Promise<string> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(1024 * 1024);
  for (let pos = 0; pos < end;) {
    throwIfAborted(signal);
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
    if (bytesRead === 0) throw new Error('file is shorter than expected');
    h.update(buf.subarray(0, bytesRead));
    pos += bytesRead;
  }
  return h.digest('hex');
}

/**
 * Reads `input` from offset 0 to its end (its size when called: the input must not change meanwhile) and writes
 * it gzip-compressed to `output` (from offset 0). Hashes as `options.hash` says.
 */
export async function gzipParallel(input: FileHandle, output: FileHandle, options: GzipOptions = {}): Promise<GzipResult> {
  throwIfAborted(options.signal);
  const level = options.level ?? 1;
  const chunkSize = options.chunkSize ?? 2 * 1024 * 1024;
  const hash = options.hash ?? true;
  const size = (await input.stat()).size;
  const members = Math.ceil(size / chunkSize);
  if (members === 0) {
    // An empty input still gives a valid (empty) gzip file.
    const out = gzipSync(Buffer.alloc(0), { level });
    await output.write(out, 0, out.length, 0);
    options.onProgress?.(0, out.length, Buffer.from(out.subarray(out.length - 8)));
    const gzSha256 = hash === true ? createHash('sha256').update(out).digest('hex') : '';
    return { rawBytes: 0, rawSha256: hash ? createHash('sha256').digest('hex') : '', gzBytes: out.length, gzSha256 };
  }
  const rawHash = hash ? hashFile(input, size, options.signal) : undefined;
  rawHash?.catch(() => {}); // awaited below
  const workers = Math.max(1, Math.min(options.concurrency ?? Math.min(4, availableParallelism()), members));
  const ctl = new SharedArrayBuffer(8);
  const ends = new SharedArrayBuffer(8 * members);
  new BigInt64Array(ends).fill(-1n);
  const stop = () => Atomics.store(new Int32Array(ctl), 1, 1);
  const data: GzipWorkerData = { inFd: input.fd, outFd: output.fd, size, chunkSize, level, memLevel: 9, ctl, ends, sendOutput: hash === true };
  const gzHash = hash === true ? createHash('sha256') : undefined;
  // Workers inherit the process' execArgv; `--input-type` (a process started with `-e`) is refused for a worker file.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  let failure: unknown;
  let next = 0;
  let gzBytes = 0;
  const arrived = new Map<number, { raw: number; end: number; trailer: Buffer; data?: Uint8Array }>();
  const onAbort = () => stop();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all(Array.from({ length: workers }, () => new Promise<void>((resolve) => {
      const w = new Worker(new URL('./gzip-worker.js', import.meta.url), {
        workerData: data, execArgv, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
      });
      w.on('message', (m: GzipWorkerMessage) => {
        if (m.type === 'error') {
          failure ??= Object.assign(new Error(m.message), { code: m.code, errno: m.errno, syscall: m.syscall });
          stop();
          return;
        }
        arrived.set(m.index, { raw: m.raw, end: m.end, trailer: Buffer.from(m.trailer), data: m.data });
        for (let a = arrived.get(next); a; a = arrived.get(next)) {
          arrived.delete(next);
          next++;
          gzBytes = a.end;
          if (a.data) gzHash?.update(a.data);
          if (failure) continue;
          try {
            options.onProgress?.(Math.min(size, next * chunkSize), a.end, a.trailer);
          } catch (e) {
            failure = e;
            stop();
          }
        }
      });
      w.on('error', (e) => { failure ??= e; stop(); });
      w.on('exit', () => resolve());
    })));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (failure || options.signal?.aborted) {
    await rawHash?.catch(() => {}); // nothing reads the input any more when we return
    if (failure) throw failure;
    throwIfAborted(options.signal);
  }
  if (next !== members) throw new Error('compression ended early');
  const rawSha256 = rawHash ? await rawHash : '';
  const gzSha256 = gzHash?.digest('hex') ?? '';
  return { rawBytes: size, rawSha256, gzBytes, gzSha256 };
}
