/**
 * Verification of a .gz backup: gunzip it (streamed: every member's CRC-32 and length), check the SHA-256 of
 * both sides against what was recorded, and run native SQLite's `PRAGMA integrity_check` and row counts on the
 * database. Nothing holds a whole database or backup in memory: a backup on its own (restore) is gunzipped to a
 * temp file that is checked there; "Datensicherung" checks its immutable snapshot in a worker thread while the
 * .gz is written and read back (see check.ts, snapshot.ts).
 */
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { constants, createGunzip } from 'node:zlib';
import { syncEngine } from './zlib-engine.js';
import { dirname, join } from 'node:path';
import { CancelledError, UserError, throwIfAborted } from 'kassenwart/sdk';
import { startSnapshotCheck } from './check.js';
import { TMP_PREFIX } from './store.js';

/** What a verification found. */
export interface VerifyResult {
  gzSha256: string;
  rawSha256: string;
  rawBytes: number;
  /** Row count per table (all tables except sqlite_*). */
  counts: Record<string, number>;
}

/** What the verification compares against (all optional). */
export interface VerifyExpect {
  gzSha256?: string;
  rawSha256?: string;
  rawBytes?: number;
  counts?: Record<string, number>;
}

/** A failed verification: the file must not be used. */
export class VerifyError extends UserError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'backup.verify', hint: 'Bitte erneut auf „Datensicherung“ klicken; tritt der Fehler wieder auf, den Support informieren.', cause });
  }
}

/**
 * Streams `gzPath` through gunzip into `sinkPath` (or nowhere), hashing the .gz bytes and the unpacked bytes
 * (SHA-256). Every gzip member's CRC-32 and length are checked by gunzip. Memory stays bounded: reused read
 * buffers, pooled gunzip output, two reused 1 MiB write buffers.
 */
async function streamGunzip(gzPath: string, signal: AbortSignal | undefined, sinkPath?: string): Promise<GzipDigest> {
  const rawHash = createHash('sha256');
  const out = sinkPath ? await open(sinkPath, 'w', 0o600) : undefined;
  try {
    const WB = 1024 * 1024;
    const bufs = [Buffer.allocUnsafe(WB), Buffer.allocUnsafe(WB)];
    let turn = 0;
    let fill = 0;
    let pos = 0;
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      await writing;
      const b = bufs[turn];
      const n = fill;
      const at = pos;
      pos += n;
      fill = 0;
      turn ^= 1;
      writing = (async () => { let off = 0; while (off < n) off += (await out!.write(b, off, n - off, at + off)).bytesWritten; })();
    };
    const follower = followGzipFile(gzPath, signal, (c) => {
      rawHash.update(c);
      if (!out) return;
      if (fill + c.length > WB) return flush().then(() => { c.copy(bufs[turn], fill); fill += c.length; });
      c.copy(bufs[turn], fill);
      fill += c.length;
    });
    follower.written((await stat(gzPath)).size);
    const d = await follower.end();
    if (out) { await flush(); await writing; }
    return { gzSha256: d.gzSha256, rawSha256: rawHash.digest('hex'), rawBytes: d.rawBytes };
  } finally {
    await out?.close();
  }
}

/** SHA-256 and length of a .gz file and of its gunzipped content, streamed (nothing held in memory). */
export interface GzipDigest {
  gzSha256: string;
  rawSha256: string;
  rawBytes: number;
}

/**
 * Streams `gzPath` through gunzip and hashes both sides; memory stays bounded (1 MiB chunks). Every gzip
 * member's CRC-32 and length are checked by gunzip. Throws a {@link VerifyError} when the file is not a
 * readable .gz.
 */
export async function digestGzipFile(gzPath: string, signal?: AbortSignal): Promise<GzipDigest> {
  try {
    return await streamGunzip(gzPath, signal);
  } catch (e) {
    throwIfAborted(signal);
    throw new VerifyError('Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', e);
  }
}

/** What the read-back of a .gz written by the compressor found ({@link followGzipFile}). */
export interface ReadBackDigest {
  /** SHA-256 of the .gz file as read back. */
  gzSha256: string;
  /** Bytes the .gz gunzipped to. */
  rawBytes: number;
  /** Gzip members read back, each ending with the trailer the compressor got for its input chunk. */
  members: number;
}

/** Reads a .gz file back while it is being written; see {@link followGzipFile}. */
export interface GzipFollower {
  /**
   * The writer has written (and will not change) the file from offset 0 up to `gzBytes`, which ends a gzip
   * member whose 8-byte trailer (CRC-32 and length of its input) the compressor reported as `trailer`.
   */
  written(gzBytes: number, trailer?: Buffer): void;
  /**
   * The writer is done: resolves with the digest once everything written was read back and gunzipped.
   * Rejects with a {@link VerifyError} when the file is not a readable .gz or a member is not the one the
   * compressor wrote at that place (CancelledError when cancelled).
   */
  end(): Promise<ReadBackDigest>;
  /** Stops reading (idempotent); `end()` then rejects. */
  cancel(): void;
}

/**
 * The read-back of a .gz while the compressor writes it: each newly written range is read back from the file
 * (its own handle, one reused 256 KiB buffer) and fed through ONE gunzip engine (synchronous, reused output
 * buffer: no garbage per chunk), and the .gz bytes are hashed
 * (SHA-256). gunzip checks every member's CRC-32 and length against its trailer; the trailer found at each
 * member's end must be the one zlib computed over the compressor's input chunk for that member. Together: the
 * file decodes to exactly the bytes the compressor read, in order (the caller compares the total length).
 * The decoded bytes are only counted: no second hash of the database is needed. Memory stays bounded.
 */
export function followGzipFile(gzPath: string, signal?: AbortSignal, onRaw?: (chunk: Buffer) => void | Promise<void>): GzipFollower {
  const PIECE = 256 * 1024;
  const stop = new AbortController();
  const sig = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const gzHash = createHash('sha256');
  let rawBytes = 0;
  let target = 0;
  let ended = false;
  let members = 0;
  const expected: Array<{ end: number; trailer: Buffer }> = [];
  let wake: (() => void) | undefined;
  const poke = () => { const w = wake; wake = undefined; w?.(); };
  sig.addEventListener('abort', poke, { once: true });
  // Inflate on this thread, synchronously, one read piece (at most 256 KiB of .gz, ~1-3 ms) per call, with ONE
  // reused engine and output buffer (zlib-engine.ts): a gunzip stream hands out a fresh 64 KiB buffer per output
  // chunk, garbage outside the JS heap that V8 collects late (measured 40 MB of peak RSS for 250 MB); smaller
  // pooled chunks cost a thread-pool round trip each. Node's native gunzip goes on with the next member by itself
  // and checks each member's CRC-32 and length; Z_FINISH at the end refuses a cut-off file.
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  const engine = syncEngine(gunzip);
  const fallback = engine.available ? undefined : (() => {
    // Another Node: the stream (more garbage, same checks).
    const chunks: Buffer[] = [];
    gunzip.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((res, rej) => { gunzip.once('end', res); gunzip.once('error', rej); });
    ended.catch(() => {});
    return {
      async run(piece: Buffer, last: boolean): Promise<Buffer[]> {
        // a write's callback never comes once the stream failed (a damaged member): the failure ends the wait
        if (last) { gunzip.end(); await ended; } else await Promise.race([new Promise<void>((res, rej) => gunzip.write(piece, (e) => (e ? rej(e) : res()))), ended]);
        return chunks.splice(0);
      },
    };
  })();
  const inflate = async (piece: Buffer, last: boolean): Promise<Buffer[]> =>
    fallback ? fallback.run(piece, last) : engine.run(piece, last ? constants.Z_FINISH : constants.Z_NO_FLUSH);
  const emit = async (outs: Buffer[]) => {
    for (const c of outs) {
      if (!c.length) continue;
      rawBytes += c.length;
      const p = onRaw?.(c);
      if (p) await p; // the view is valid until the next inflate call
    }
  };
  const reader = (async () => {
    let fh: FileHandle | undefined;
    let pos = 0;
    const buf = Buffer.allocUnsafe(PIECE); // inflated synchronously before the next read: one buffer is enough
    let tail = Buffer.alloc(0);
    const readPiece = async (into: Buffer, at: number, n: number) => {
      const { bytesRead } = await fh!.read(into, 0, n, at);
      if (bytesRead === 0) throw new Error(`${gzPath} is shorter than written`);
      return into.subarray(0, bytesRead);
    };
    try {
      for (;;) {
        throwIfAborted(sig);
        if (pos >= target) {
          if (ended) break;
          await new Promise<void>((res) => { wake = res; });
          continue;
        }
        fh ??= await open(gzPath, 'r');
        const n = Math.min(PIECE, target - pos, (expected[0]?.end ?? target) - pos);
        const got = await readPiece(buf, pos, n);
        gzHash.update(got);
        pos += got.length;
        tail = Buffer.concat([tail, got.subarray(Math.max(0, got.length - 8))]).subarray(-8);
        while (expected.length && expected[0].end <= pos) {
          const m = expected.shift()!;
          if (m.end !== pos || !tail.equals(m.trailer)) {
            throw new VerifyError('Die Sicherungsdatei weicht vom gelesenen Datenbankstand ab (ein Block passt nicht).');
          }
          members++;
        }
        await emit(await inflate(got, false));
      }
      await emit(await inflate(Buffer.alloc(0), true));
    } finally {
      await fh?.close();
      try { gunzip.close(); } catch { /* already closed */ }
    }
  })();
  const done = reader;
  done.catch(() => {}); // reported through end()
  return {
    written(gzBytes, trailer) {
      if (trailer) expected.push({ end: gzBytes, trailer });
      if (gzBytes > target) { target = gzBytes; poke(); }
    },
    async end() {
      ended = true;
      poke();
      try {
        await done;
      } catch (e) {
        throwIfAborted(signal);
        if (stop.signal.aborted) throw new CancelledError();
        if (e instanceof VerifyError || (e as NodeJS.ErrnoException)?.code === 'ENOSPC') throw e;
        throw new VerifyError('Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', e);
      } finally {
        sig.removeEventListener('abort', poke);
      }
      if (expected.length) throw new VerifyError('Die Sicherungsdatei ist unvollständig.');
      return { gzSha256: gzHash.digest('hex'), rawBytes, members };
    },
    cancel() {
      stop.abort();
    },
  };
}

/** Compares row counts with the expected ones; throws a {@link VerifyError} on the first difference. */
export function compareCounts(counts: Record<string, number>, expected: Record<string, number> | undefined): void {
  for (const [t, n] of Object.entries(expected ?? {})) {
    if (counts[t] !== n) {
      throw new VerifyError(`Die Sicherung ist unvollständig: Tabelle „${t}“ hat ${counts[t] ?? 0} statt ${n} Zeilen.`);
    }
  }
}

/** Options of {@link verifyBackupFile}. */
export interface VerifyFileOptions {
  /** Folder for the temporary gunzipped copy (default: beside the backup). */
  tmpDir?: string;
}

/**
 * Verifies a backup file on its own (restore, before a backup is used): gunzip it to a temp file (streamed,
 * hashing both sides), compare the SHA-256s and the length with `expect`, then run the native checks
 * ({@link checkDatabaseFile}) on the temp file in a worker thread and compare the row counts. The temp file is
 * removed afterwards. Throws a {@link VerifyError} (German) when anything does not match.
 */
export async function verifyBackupFile(gzPath: string, expect: VerifyExpect = {}, signal?: AbortSignal, options: VerifyFileOptions = {}): Promise<VerifyResult> {
  const tmp = join(options.tmpDir ?? dirname(gzPath), `${TMP_PREFIX}verify-${process.pid}-${randomBytes(4).toString('hex')}.sqlite`);
  try {
    let unz: GzipDigest;
    try {
      unz = await streamGunzip(gzPath, signal, tmp);
    } catch (e) {
      throwIfAborted(signal);
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') throw e;
      throw new VerifyError('Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', e);
    }
    if (expect.gzSha256 && unz.gzSha256 !== expect.gzSha256) throw new VerifyError('Die Sicherungsdatei wurde verändert oder ist beschädigt (Prüfsumme stimmt nicht).');
    if (expect.rawSha256 && unz.rawSha256 !== expect.rawSha256) throw new VerifyError('Die entpackte Sicherung weicht vom gelesenen Datenbankstand ab (Prüfsumme stimmt nicht).');
    if (expect.rawBytes !== undefined && unz.rawBytes !== expect.rawBytes) throw new VerifyError('Die entpackte Sicherung hat nicht die erwartete Größe.');
    throwIfAborted(signal);
    const check = startSnapshotCheck(tmp, signal);
    const counts = await check.result;
    compareCounts(counts, expect.counts);
    return { gzSha256: unz.gzSha256, rawSha256: unz.rawSha256, rawBytes: unz.rawBytes, counts };
  } finally {
    await rm(tmp, { force: true });
  }
}
