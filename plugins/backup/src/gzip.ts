/**
 * Parallel gzip: the input is cut into fixed-size chunks, each compressed as its own gzip member on the
 * libuv thread pool (zlib's async API), and the members are written in order. A multi-member .gz is a
 * valid gzip file (RFC 1952) that gunzip, zcat and node:zlib read as one stream.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { gzip as gzipCb, constants } from 'node:zlib';
import { promisify } from 'node:util';
import { throwIfAborted } from 'kassenwart/sdk';

const gzip = promisify(gzipCb) as (buf: Buffer, opts: { level: number; memLevel?: number; chunkSize?: number }) => Promise<Buffer>;

/**
 * zlib's output chunk size: below 4 KiB, Node carves the chunks from its small-buffer pool instead of a new
 * allocation outside the JS heap each (16 KiB by default), which a GC collects late: measured 26-29 MB instead of
 * 42-44 MB of peak RSS growth for 250 MB, at the same CPU time.
 */
const OUT_CHUNK = 4000;

/** Options of {@link gzipParallel}. */
export interface GzipOptions {
  /** zlib level (default 1: the speed of `pigz -1`; SQLite pages still compress well). */
  level?: number;
  /** Bytes per gzip member (default 1 MiB: as fast as 2 MiB, half the buffers). */
  chunkSize?: number;
  /**
   * Members in flight (default 3: one of libuv's 4 pool threads stays free for the file reads and writes,
   * which share that pool). Memory stays below about 2 x (concurrency + 1) x chunkSize.
   */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * SHA-256 of both sides (true, the default), of the input only ('raw': the backup path, whose verification
   * hashes the .gz as it reads it back), or none (false). Hashing runs on the main thread between the members.
   */
  hash?: boolean | 'raw';
  /**
   * Called after each member is written, with input bytes done and the output written so far (the output
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

/**
 * Reads `input` from offset 0 to its end and writes it gzip-compressed to `output` (from offset 0). Hashes
 * both sides on the way (SHA-256 of the raw snapshot and of the .gz file).
 */
export async function gzipParallel(input: FileHandle, output: FileHandle, options: GzipOptions = {}): Promise<GzipResult> {
  const level = options.level ?? 1;
  const chunkSize = options.chunkSize ?? 1024 * 1024;
  const concurrency = Math.max(1, options.concurrency ?? 3);
  const hash = options.hash ?? true;
  const rawHash = hash ? createHash('sha256') : undefined;
  const gzHash = hash === true ? createHash('sha256') : undefined;
  let rawBytes = 0;
  let gzBytes = 0;
  let readPos = 0;
  const pending: Array<{ raw: number; out: Promise<Buffer>; buf?: Buffer }> = [];
  // Input buffers are reused (at most concurrency + 1 exist): fresh 2 MiB buffers per chunk would pile up as
  // garbage outside the JS heap until a GC, i.e. memory growing with the file size.
  const free: Buffer[] = [];

  const flushOne = async () => {
    const head = pending.shift()!;
    const out = await head.out;
    if (head.buf) free.push(head.buf); // zlib is done with it
    let off = 0;
    while (off < out.length) {
      const { bytesWritten } = await output.write(out, off, out.length - off, gzBytes + off);
      off += bytesWritten;
    }
    gzHash?.update(out);
    gzBytes += out.length;
    options.onProgress?.(head.raw, gzBytes, Buffer.from(out.subarray(out.length - 8)));
  };

  try {
    for (;;) {
      throwIfAborted(options.signal);
      const buf = free.pop() ?? Buffer.allocUnsafe(chunkSize);
      let filled = 0;
      while (filled < chunkSize) {
        const { bytesRead } = await input.read(buf, filled, chunkSize - filled, readPos);
        if (bytesRead === 0) break;
        filled += bytesRead;
        readPos += bytesRead;
      }
      if (filled === 0) break;
      const chunk = filled === chunkSize ? buf : buf.subarray(0, filled);
      rawHash?.update(chunk);
      rawBytes += filled;
      const out = gzip(chunk, { level, memLevel: constants.Z_DEFAULT_MEMLEVEL, chunkSize: OUT_CHUNK });
      out.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
      pending.push({ raw: rawBytes, out, buf });
      if (pending.length >= concurrency) await flushOne();
      if (filled < chunkSize) break;
    }
    if (rawBytes === 0) {
      // An empty input still gives a valid (empty) gzip file.
      pending.push({ raw: 0, out: gzip(Buffer.alloc(0), { level }) });
    }
    while (pending.length) await flushOne();
  } finally {
    // Let in-flight compressions finish so no buffer is referenced after we return.
    await Promise.allSettled(pending.map((p) => p.out));
  }
  return { rawBytes, rawSha256: rawHash?.digest('hex') ?? '', gzBytes, gzSha256: gzHash?.digest('hex') ?? '' };
}
