/**
 * The native SQLite checks of one database file (a private snapshot or a gunzipped backup): header size,
 * `PRAGMA integrity_check`, row counts. Runs inside the check worker (check-worker.ts), so this module imports
 * nothing but better-sqlite3 and node:fs: every module loaded there costs the worker's memory.
 */
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import Database from 'better-sqlite3';

/** A check that failed; the message is German and meant for the operator. */
export class CheckFailed extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CheckFailed';
  }
}

/**
 * The SQLite checks of a database file, natively (better-sqlite3, read-only: nothing is written; the file is
 * a private snapshot or temp copy): the header's page count x page size must equal the file size (a torn read of a growing or shrinking
 * file shows up here), `PRAGMA integrity_check` must say `ok`; then the rows of every table (except sqlite_*)
 * are counted. Throws a {@link CheckFailed} (the caller turns it into a VerifyError). Synchronous and CPU-bound: call it in a worker (check.ts).
 */
export function checkDatabaseFile(path: string): Record<string, number> {
  const head = Buffer.alloc(100);
  let size: number;
  const fd = openSync(path, 'r');
  try {
    size = fstatSync(fd).size;
    if (readSync(fd, head, 0, 100, 0) < 100 || head.toString('latin1', 0, 16) !== 'SQLite format 3\0') {
      throw new CheckFailed('Die Sicherung ist keine lesbare SQLite-Datenbank.');
    }
  } finally {
    closeSync(fd);
  }
  // Valid only when "version-valid-for" (offset 92) equals the change counter (offset 24).
  if (head.readUInt32BE(92) === head.readUInt32BE(24)) {
    const ps = head.readUInt16BE(16) === 1 ? 65536 : head.readUInt16BE(16);
    if (head.readUInt32BE(28) * ps !== size) {
      throw new CheckFailed('Die Sicherung ist unvollständig: Dateigröße und Datenbankkopf passen nicht zusammen.');
    }
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('cache_size = -2048'); // 2 MiB (this build's default is 16 MB): no faster for integrity_check, less memory
  } catch (e) {
    throw new CheckFailed('Die Sicherung ist keine lesbare SQLite-Datenbank.', { cause: e });
  }
  try {
    let problems: string[];
    try {
      problems = db.prepare('PRAGMA integrity_check').pluck().all().map(String);
    } catch (e) {
      throw new CheckFailed('Die Sicherung ist keine lesbare SQLite-Datenbank.', { cause: e });
    }
    if (problems.length !== 1 || problems[0] !== 'ok') {
      throw new CheckFailed(`Die Sicherung hat die Integritätsprüfung nicht bestanden: ${problems.slice(0, 3).join('; ')}`);
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

