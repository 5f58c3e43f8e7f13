/**
 * One node:zlib engine used synchronously and over and over, with no allocation per call: its output lands in the
 * engine's own output buffer (a view of it is returned, valid until the next call). Node's public sync API
 * (`gzipSync`, `gunzipSync`) makes a fresh engine and output buffer per call, and its streams a fresh output buffer
 * per chunk: garbage outside the JS heap that V8 collects late (tens of MB of peak RSS for a 250 MB backup).
 *
 * This drives the engine's `_processChunk` the way minizlib (npm's and tar's zlib wrapper) does: that one-shot
 * call closes the native handle at its end, which is kept open here. Imports only node:zlib (used in workers).
 * `available` is false where that internal is missing (another Node); callers then use the public API.
 */
import type { Gzip, Gunzip } from 'node:zlib';

const ignore = () => {};

interface Internal { _handle?: { close(): void } | null; _processChunk?: (chunk: Buffer, flush: number) => Buffer | Buffer[]; reset(): void; close(): void; removeAllListeners(e: string): void; on(e: string, f: () => void): void }

/** A reusable sync engine; see the module comment. */
export interface SyncEngine {
  /** Whether the internal this relies on exists in this Node. */
  readonly available: boolean;
  /** Feeds `chunk` with `flush` (a zlib flush constant); returns the output (views into reused buffers). */
  run(chunk: Buffer, flush: number): Buffer[];
  /** Starts over (deflate: the next output is a new gzip member). */
  reset(): void;
  close(): void;
}

/** Wraps an engine made by `createGzip` / `createGunzip` (with a `chunkSize` large enough for one call's output). */
export function syncEngine(z: Gzip | Gunzip): SyncEngine {
  const e = z as unknown as Internal;
  e.on('error', ignore);
  const available = typeof e._processChunk === 'function' && !!e._handle && typeof e._handle.close === 'function';
  return {
    available,
    run(chunk, flush) {
      const native = e._handle!;
      const close = native.close;
      native.close = () => {};
      try {
        const out = e._processChunk!(chunk, flush);
        return Array.isArray(out) ? out : [out];
      } finally {
        e._handle = native;
        native.close = close;
        // _processChunk adds a listener per call, and a failed call also emits 'error' on the next tick (the
        // failure itself is thrown here): keep exactly one listener that swallows that echo.
        e.removeAllListeners('error');
        e.on('error', ignore);
      }
    },
    reset() { e.reset(); },
    close() { e.close(); },
  };
}
