/**
 * Verification of a .gz backup: gunzip it, check the SHA-256 of both sides against what was recorded,
 * open it with sql.js, run PRAGMA integrity_check and count the rows of every table. The parts are exported
 * separately so that "Datensicherung" can run the SQLite checks on the snapshot in a worker thread while the
 * .gz is written (see check.ts), and then only stream the .gz back.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { CancelledError, UserError, throwIfAborted } from 'kassenwart/sdk';
import { loadSqlJs } from './sqljs.js';

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

/** Gunzips `gzPath` into memory, hashing both sides. */
/**
 * Streams `gzPath` through gunzip (1 MiB chunks), hashing the .gz bytes and the unpacked bytes, and hands
 * each unpacked chunk to `onRaw`. Every gzip member's CRC-32 and length are checked by gunzip.
 */
async function streamGunzip(gzPath: string, signal: AbortSignal | undefined, onRaw: (c: Buffer) => void) {
  const gzHash = createHash('sha256');
  const rawHash = createHash('sha256');
  let rawBytes = 0;
  const src = createReadStream(gzPath, { highWaterMark: 1024 * 1024, signal });
  src.on('data', (d) => gzHash.update(d as Buffer));
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  src.on('error', (e) => gunzip.destroy(e));
  src.pipe(gunzip);
  for await (const c of gunzip as AsyncIterable<Buffer>) {
    rawHash.update(c);
    rawBytes += c.length;
    onRaw(c);
  }
  return { gzSha256: gzHash.digest('hex'), rawSha256: rawHash.digest('hex'), rawBytes };
}

/** Gunzips a whole file into memory (one buffer of `sizeHint` bytes when the size is known). */
async function gunzipFile(gzPath: string, sizeHint: number | undefined, signal?: AbortSignal) {
  const chunks: Buffer[] = [];
  let total = 0;
  let pre: Buffer | undefined = sizeHint ? Buffer.allocUnsafe(sizeHint) : undefined;
  const digest = await streamGunzip(gzPath, signal, (c) => {
    if (pre && total + c.length <= pre.length) c.copy(pre, total);
    else {
      if (pre) { chunks.push(pre.subarray(0, total)); pre = undefined; }
      chunks.push(c);
    }
    total += c.length;
  });
  const raw = pre ? pre.subarray(0, total) : Buffer.concat(chunks, total);
  return { raw, rawSha256: digest.rawSha256, gzSha256: digest.gzSha256 };
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
    return await streamGunzip(gzPath, signal, () => {});
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
 * The SQLite checks on the raw bytes of a database: the header's page count x page size must equal the
 * length (a torn read of a growing or shrinking file shows up here), sql.js opens it, `PRAGMA integrity_check`
 * must say `ok`; then the rows of every table (except sqlite_*) are counted. Throws a {@link VerifyError}.
 * sql.js keeps a view of `raw` (a Node Buffer is not copied), so the caller must not change it meanwhile.
 */
export async function checkDatabaseBytes(raw: Buffer, signal?: AbortSignal): Promise<Record<string, number>> {
  // Valid only when "version-valid-for" (offset 92) equals the change counter (offset 24).
  if (raw.length >= 100 && raw.readUInt32BE(92) === raw.readUInt32BE(24)) {
    const ps = raw.readUInt16BE(16) === 1 ? 65536 : raw.readUInt16BE(16);
    if (raw.readUInt32BE(28) * ps !== raw.length) {
      throw new VerifyError('Die Sicherung ist unvollständig: Dateigröße und Datenbankkopf passen nicht zusammen.');
    }
  }
  throwIfAborted(signal);
  const SQL = await loadSqlJs();
  let db;
  try {
    db = new SQL.Database(raw);
  } catch (e) {
    throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.', e);
  }
  try {
    let problems: string[];
    try {
      const r = db.exec('PRAGMA integrity_check');
      problems = (r[0]?.values ?? []).map((v) => String(v[0]));
    } catch (e) {
      throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.', e);
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new VerifyError(`Die Sicherung hat die Integritätsprüfung nicht bestanden: ${problems.slice(0, 3).join('; ')}`);
    }
    throwIfAborted(signal);
    const counts: Record<string, number> = {};
    const tables = db.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name");
    for (const [name] of tables[0]?.values ?? []) {
      const t = String(name);
      counts[t] = Number(db.exec(`SELECT count(*) FROM "${t.replace(/"/g, '""')}"`)[0].values[0][0]);
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

/**
 * Verifies a backup file on its own (restore, before a backup is used): gunzip into memory, compare the
 * SHA-256s and the length, then {@link checkDatabaseBytes} and the row counts. Throws a {@link VerifyError}
 * (German) when anything does not match.
 */
export async function verifyBackupFile(gzPath: string, expect: VerifyExpect = {}, signal?: AbortSignal): Promise<VerifyResult> {
  let unz;
  try {
    unz = await gunzipFile(gzPath, expect.rawBytes, signal);
  } catch (e) {
    throwIfAborted(signal);
    throw new VerifyError('Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', e);
  }
  if (expect.gzSha256 && unz.gzSha256 !== expect.gzSha256) throw new VerifyError('Die Sicherungsdatei wurde verändert oder ist beschädigt (Prüfsumme stimmt nicht).');
  if (expect.rawSha256 && unz.rawSha256 !== expect.rawSha256) throw new VerifyError('Die entpackte Sicherung weicht vom gelesenen Datenbankstand ab (Prüfsumme stimmt nicht).');
  if (expect.rawBytes !== undefined && unz.raw.length !== expect.rawBytes) throw new VerifyError('Die entpackte Sicherung hat nicht die erwartete Größe.');
  throwIfAborted(signal);
  const rawBytes = unz.raw.length;
  const counts = await checkDatabaseBytes(unz.raw, signal);
  compareCounts(counts, expect.counts);
  return { gzSha256: unz.gzSha256, rawSha256: unz.rawSha256, rawBytes, counts };
}
