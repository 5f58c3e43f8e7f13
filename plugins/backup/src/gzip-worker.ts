/**
 * Worker thread of {@link gzipParallel} (gzip.ts): compresses members of the input file and writes them into the
 * output file at their place, with no trip through the main thread.
 *
 * Shared state (a SharedArrayBuffer from the parent): `ctl[0]` the next member index to take (each worker takes
 * the next one with Atomics.add, so members are taken in increasing order), `ctl[1]` the stop flag, and
 * `ends[i]` the output offset where member i ends (-1 until written). A member's output starts where the previous
 * one ends, so a worker that finished member i waits (Atomics.wait) until member i-1 is written. No deadlock: the
 * lowest unwritten member's predecessor is always written. Both files are the parent's descriptors (a worker
 * shares the process' descriptor table); the parent closes them only after every worker has exited.
 *
 * One synchronous zlib call per member (level 1, memLevel 9: what `pigz -1` uses), no thread-pool round trip per
 * 16 KiB. Nothing is allocated per member: the input is read into one reused buffer, and ONE zlib engine, reset
 * between members (a reset starts a new gzip member), deflates into its own output buffer, sized for a whole
 * member, which is written out before the next member (zlib-engine.ts; fresh buffers per member: about 10 MB
 * more peak RSS per worker). Where that is not possible (another Node), `gzipSync` is used instead.
 * Imports only node: modules and zlib-engine.ts (a small worker).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readSync, writeSync } from 'node:fs';
import { constants, createGzip, gzipSync } from 'node:zlib';
import { syncEngine } from './zlib-engine.js';

/** What the parent passes in `workerData`. */
export interface GzipWorkerData {
  inFd: number;
  outFd: number;
  size: number;
  chunkSize: number;
  level: number;
  memLevel: number;
  ctl: SharedArrayBuffer;
  ends: SharedArrayBuffer;
  /** Post a copy of each member's bytes too (for the caller's SHA-256 of the output; not on the backup path). */
  sendOutput: boolean;
}

/** Messages posted to the parent. */
export type GzipWorkerMessage =
  | { type: 'member'; index: number; raw: number; end: number; trailer: Uint8Array; data?: Uint8Array }
  | { type: 'error'; message: string; code?: string; errno?: number; syscall?: string };

const port = parentPort!;
const d = workerData as GzipWorkerData;
const ctl = new Int32Array(d.ctl);
const ends = new BigInt64Array(d.ends);
const members = ends.length;
const input = Buffer.allocUnsafe(Math.min(d.chunkSize, Math.max(1, d.size)));
// Output room for one member: deflate's worst case (stored blocks) is the input plus 5 bytes per 16 KiB block,
// plus the gzip header and trailer; one allocation, so zlib never concatenates pieces.
const outChunk = input.length + Math.ceil(input.length / 16384) * 5 + 1024;

const engine = syncEngine(createGzip({ level: d.level, memLevel: d.memLevel, chunkSize: outChunk }));

/** The member for `chunk`, as one Buffer (a view of the engine's output buffer: valid until the next call). */
function compress(chunk: Buffer): Buffer {
  if (!engine.available) return gzipSync(chunk, { level: d.level, memLevel: d.memLevel, chunkSize: outChunk });
  engine.reset(); // after the previous Z_FINISH: a new gzip member (header, CRC-32 and length start over)
  const out = engine.run(chunk, constants.Z_FINISH);
  return out.length === 1 ? out[0] : Buffer.concat(out);
}

const stopped = () => Atomics.load(ctl, 1) !== 0;

try {
  for (;;) {
    if (stopped()) break;
    const i = Atomics.add(ctl, 0, 1);
    if (i >= members) break;
    const pos = i * d.chunkSize;
    const n = Math.min(d.chunkSize, d.size - pos);
    let filled = 0;
    while (filled < n) {
      const got = readSync(d.inFd, input, filled, n - filled, pos + filled);
      if (got === 0) throw new Error('input file is shorter than at the start');
      filled += got;
    }
    const out = compress(input.subarray(0, n));
    let start = 0n;
    if (i > 0) {
      while ((start = Atomics.load(ends, i - 1)) < 0n) {
        if (stopped()) break;
        Atomics.wait(ends, i - 1, -1n, 50);
      }
      if (stopped()) break;
    }
    let off = 0;
    while (off < out.length) off += writeSync(d.outFd, out, off, out.length - off, Number(start) + off);
    const end = start + BigInt(out.length);
    Atomics.store(ends, i, end);
    Atomics.notify(ends, i);
    port.postMessage({ type: 'member', index: i, raw: n, end: Number(end), trailer: Uint8Array.from(out.subarray(out.length - 8)), data: d.sendOutput ? Uint8Array.from(out) : undefined } satisfies GzipWorkerMessage);
  }
  engine.close();
} catch (e) {
  Atomics.store(ctl, 1, 1);
  for (let i = 0; i < members; i++) Atomics.notify(ends, i);
  const err = e as NodeJS.ErrnoException;
  port.postMessage({ type: 'error', message: String(err?.message ?? e), code: err?.code, errno: err?.errno, syscall: err?.syscall } satisfies GzipWorkerMessage);
}
