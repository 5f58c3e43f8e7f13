/**
 * Verification of a .gz backup: gunzip it (streamed: every member's CRC-32 and length), check the SHA-256 of
 * both sides against what was recorded, and run native SQLite's `PRAGMA integrity_check` and row counts on the
 * database. Nothing holds a whole database or backup in memory: a backup on its own (restore) is gunzipped to a
 * temp file that is checked there; "Datensicherung" checks its immutable snapshot in a worker thread while the
 * .gz is written and read back (see check.ts, snapshot.ts).
 */
import { createReadStream, createWriteStream, openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
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

/** A pass-through stream that hashes (SHA-256) and counts what flows through it. */
function hashing(): Transform & { digest(): string; bytes: number } {
  const hash = createHash('sha256');
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) { hash.update(chunk); t.bytes += chunk.length; cb(null, chunk); },
  }) as Transform & { digest(): string; bytes: number };
  t.bytes = 0;
  t.digest = () => hash.digest('hex');
  return t;
}

/**
 * Streams `gzPath` through gunzip (1 MiB chunks) into `sink` (a file, or nothing), hashing the .gz bytes and the
 * unpacked bytes. Every gzip member's CRC-32 and length are checked by gunzip. Memory stays bounded.
 */
async function streamGunzip(gzPath: string, signal: AbortSignal | undefined, sinkPath?: string): Promise<GzipDigest> {
  const gz = hashing();
  const raw = hashing();
  const sink = sinkPath
    ? createWriteStream(sinkPath, { mode: 0o600, highWaterMark: 1024 * 1024 })
    : new Transform({ transform(_c, _e, cb) { cb(); } }).resume();
  await pipeline(createReadStream(gzPath, { highWaterMark: 1024 * 1024 }), gz, createGunzip({ chunkSize: 1024 * 1024 }), raw, sink, { signal });
  return { gzSha256: gz.digest(), rawSha256: raw.digest(), rawBytes: raw.bytes };
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

/** Reads a .gz file back while it is being written; see {@link followGzipFile}. */
export interface GzipFollower {
  /** The writer has written (and will not change) the file from offset 0 up to `gzBytes`. */
  written(gzBytes: number): void;
  /**
   * The writer is done: resolves with the digest once everything written was read back and gunzipped.
   * Rejects with a {@link VerifyError} when the file is not a readable .gz (CancelledError when cancelled).
   */
  end(): Promise<GzipDigest>;
  /** Stops reading (idempotent); `end()` then rejects. */
  cancel(): void;
}

/**
 * The same read-back as {@link digestGzipFile}, but while the file is still being written: each newly written
 * range is read back from the file (its own handle, 1 MiB reads) and fed through ONE gunzip stream (so the
 * members must decode as one file, each with its CRC-32 and length), hashing both sides. This overlaps the
 * gunzip with the compression instead of running it afterwards on one core. Memory stays bounded: the
 * reader waits for gunzip to drain and never holds more than a few MiB.
 */
export function followGzipFile(gzPath: string, signal?: AbortSignal): GzipFollower {
  const MIB = 1024 * 1024;
  const stop = new AbortController();
  const sig = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
  const gzHash = createHash('sha256');
  const rawHash = createHash('sha256');
  let rawBytes = 0;
  let target = 0;
  let ended = false;
  let wake: (() => void) | undefined;
  const poke = () => { const w = wake; wake = undefined; w?.(); };
  sig.addEventListener('abort', poke, { once: true });
  const gunzip = createGunzip({ chunkSize: MIB });
  const consumed = (async () => {
    for await (const c of gunzip as AsyncIterable<Buffer>) {
      rawHash.update(c);
      rawBytes += c.length;
    }
  })();
  const reader = (async () => {
    let fh: FileHandle | undefined;
    let pos = 0;
    try {
      for (;;) {
        throwIfAborted(sig);
        if (pos >= target) {
          if (ended) break;
          await new Promise<void>((res) => { wake = res; });
          continue;
        }
        fh ??= await open(gzPath, 'r');
        const n = Math.min(MIB, target - pos);
        const piece = Buffer.allocUnsafe(n); // a new buffer each time: gunzip may still hold the previous one
        const { bytesRead } = await fh.read(piece, 0, n, pos);
        if (bytesRead === 0) throw new Error(`${gzPath} is shorter than written`);
        const got = bytesRead === n ? piece : piece.subarray(0, bytesRead);
        gzHash.update(got);
        pos += bytesRead;
        if (!gunzip.write(got)) await once(gunzip, 'drain', { signal: sig });
      }
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e as Error);
      throw e;
    } finally {
      await fh?.close();
    }
  })();
  const done = Promise.all([reader, consumed]);
  done.catch(() => {}); // reported through end()
  return {
    written(gzBytes) {
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
        throw new VerifyError('Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', e);
      } finally {
        sig.removeEventListener('abort', poke);
      }
      return { gzSha256: gzHash.digest('hex'), rawSha256: rawHash.digest('hex'), rawBytes };
    },
    cancel() {
      stop.abort();
    },
  };
}

/**
 * The SQLite checks of a database file, natively (better-sqlite3, read-only: nothing is written; the file is
 * a private snapshot or temp copy): the header's page count x page size must equal the file size (a torn read of a growing or shrinking
 * file shows up here), `PRAGMA integrity_check` must say `ok`; then the rows of every table (except sqlite_*)
 * are counted. Throws a {@link VerifyError}. Synchronous and CPU-bound: call it in a worker (check.ts).
 */
export function checkDatabaseFile(path: string): Record<string, number> {
  const head = Buffer.alloc(100);
  let size: number;
  const fd = openSync(path, 'r');
  try {
    size = fstatSync(fd).size;
    if (readSync(fd, head, 0, 100, 0) < 100 || head.toString('latin1', 0, 16) !== 'SQLite format 3\0') {
      throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.');
    }
  } finally {
    closeSync(fd);
  }
  // Valid only when "version-valid-for" (offset 92) equals the change counter (offset 24).
  if (head.readUInt32BE(92) === head.readUInt32BE(24)) {
    const ps = head.readUInt16BE(16) === 1 ? 65536 : head.readUInt16BE(16);
    if (head.readUInt32BE(28) * ps !== size) {
      throw new VerifyError('Die Sicherung ist unvollständig: Dateigröße und Datenbankkopf passen nicht zusammen.');
    }
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (e) {
    throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.', e);
  }
  try {
    let problems: string[];
    try {
      problems = db.prepare('PRAGMA integrity_check').pluck().all().map(String);
    } catch (e) {
      throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.', e);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new VerifyError(`Die Sicherung hat die Integritätsprüfung nicht bestanden: ${problems.slice(0, 3).join('; ')}`);
    }
    const counts: Record<string, number> = {};
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
    for (const name of tables) {
      const t = String(name);
      counts[t] = Number(db.prepare(`SELECT count(*) FROM "${t.replace(/"/g, '""')}"`).pluck().get());
    }
    return counts;
  } finally {
    db.close();
  }
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
