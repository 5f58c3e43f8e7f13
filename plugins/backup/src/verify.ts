/**
 * Verification of a .gz backup: gunzip it, check the SHA-256 of both sides against what was recorded,
 * open it with sql.js, run PRAGMA integrity_check and count the rows of every table.
 */
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { createGunzip } from 'node:zlib';
import { UserError, throwIfAborted } from 'kassenwart/sdk';
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
async function gunzipFile(gzPath: string, sizeHint: number | undefined, signal?: AbortSignal) {
  const gzHash = createHash('sha256');
  const rawHash = createHash('sha256');
  const chunks: Buffer[] = [];
  let total = 0;
  let pre: Buffer | undefined = sizeHint ? Buffer.allocUnsafe(sizeHint) : undefined;
  const src = createReadStream(gzPath, { highWaterMark: 1024 * 1024, signal });
  src.on('data', (d) => gzHash.update(d as Buffer));
  const gunzip = createGunzip({ chunkSize: 1024 * 1024 });
  src.on('error', (e) => gunzip.destroy(e));
  src.pipe(gunzip);
  for await (const c of gunzip as AsyncIterable<Buffer>) {
    rawHash.update(c);
    if (pre && total + c.length <= pre.length) c.copy(pre, total);
    else {
      if (pre) { chunks.push(pre.subarray(0, total)); pre = undefined; }
      chunks.push(c);
    }
    total += c.length;
  }
  const raw = pre ? pre.subarray(0, total) : Buffer.concat(chunks, total);
  return { raw, rawSha256: rawHash.digest('hex'), gzSha256: gzHash.digest('hex') };
}

/**
 * Verifies a backup file. Throws a {@link VerifyError} (German) when anything does not match.
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
  const SQL = await loadSqlJs();
  let db;
  try {
    db = new SQL.Database(unz.raw);
  } catch (e) {
    throw new VerifyError('Die Sicherung ist keine lesbare SQLite-Datenbank.', e);
  }
  const rawBytes = unz.raw.length;
  // The header's own idea of the database size must match what was read (a torn read of a growing or
  // shrinking file shows up here). Valid only when "version-valid-for" (offset 92) equals the change counter.
  const h = unz.raw;
  if (h.length >= 100 && h.readUInt32BE(92) === h.readUInt32BE(24)) {
    const ps = h.readUInt16BE(16) === 1 ? 65536 : h.readUInt16BE(16);
    if (h.readUInt32BE(28) * ps !== rawBytes) {
      db.close();
      throw new VerifyError('Die Sicherung ist unvollständig: Dateigröße und Datenbankkopf passen nicht zusammen.');
    }
  }
  unz.raw = Buffer.alloc(0);
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
    if (expect.counts) {
      for (const [t, n] of Object.entries(expect.counts)) {
        if (counts[t] !== n) {
          throw new VerifyError(`Die Sicherung ist unvollständig: Tabelle „${t}“ hat ${counts[t] ?? 0} statt ${n} Zeilen.`);
        }
      }
    }
    return { gzSha256: unz.gzSha256, rawSha256: unz.rawSha256, rawBytes, counts };
  } finally {
    db.close();
  }
}
