/**
 * Register database migrations (better-sqlite3): a register release ships `migrations/NNN-description.sql`
 * (every migration the register ever had, strictly ordered by NNN) and optional `checks/*.sql`. The schema
 * version of a POS database is `PRAGMA user_version` = the NNN of the last migration applied. An update
 * applies every migration above it, in order, each in one transaction, to a COPY of the database, then runs
 * `PRAGMA integrity_check` and the release's own checks on the copy. The original is never opened for writing.
 */
import { copyFile, open, readFile, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3') as typeof BetterSqlite3;

/** Name pattern of a migration file: number, dash, description. */
export const MIGRATION_NAME = /^(\d+)-[A-Za-z0-9._-]+\.sql$/;

export interface MigrationFile {
  name: string;
  /** The NNN: the schema version after this migration. */
  number: number;
  path: string;
}

/** Problems of a migrations folder (German), empty when fine: bad names, numbers not strictly increasing. */
export function orderProblems(names: string[]): string[] {
  // bad names apart first: a comparator that mixed them in (by text) with the rest (by number) is no order,
  // and the sort could then part two files of one number and hide the duplicate
  const bad = names.filter((n) => !MIGRATION_NAME.test(n)).sort((a, b) => a.localeCompare(b));
  const problems = bad.map((n) => `„${n}“ heißt nicht NNN-beschreibung.sql`);
  const good = names.filter((n) => MIGRATION_NAME.test(n)).map((name) => ({ name, num: Number(MIGRATION_NAME.exec(name)![1]) }));
  let last = 0;
  let lastName = '';
  for (const { name, num } of good.sort((a, b) => (a.num - b.num) || a.name.localeCompare(b.name))) {
    if (num <= 0) problems.push(`„${name}“: Nummern beginnen bei 1`);
    else if (num === last) problems.push(`„${lastName}“ und „${name}“ haben dieselbe Nummer ${num}`);
    last = num;
    lastName = name;
  }
  return problems;
}

/** The migration files of a folder in order (numbers strictly increasing; see orderProblems). */
export async function listMigrations(dir: string): Promise<MigrationFile[]> {
  let names: string[];
  try { names = (await readdir(join(dir))).filter((n) => n.endsWith('.sql')); } catch { return []; }
  return names
    .map((name) => ({ name, number: Number(MIGRATION_NAME.exec(name)?.[1] ?? NaN), path: join(dir, name) }))
    .filter((m) => Number.isFinite(m.number))
    .sort((a, b) => a.number - b.number);
}

/** The release's own checks: each file a query whose first row's first value must be 1. */
export async function listChecks(dir: string): Promise<Array<{ name: string; sql: string }>> {
  let names: string[];
  try { names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort(); } catch { return []; }
  return Promise.all(names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })));
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Schema version (PRAGMA user_version) of a database file, from its header (bytes 60–63), without opening it in SQLite. */
export async function headerSchemaVersion(path: string): Promise<number> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(100);
    const { bytesRead } = await fh.read(buf, 0, 100, 0);
    if (bytesRead < 100 || buf.toString('latin1', 0, 15) !== 'SQLite format 3') return 0;
    return buf.readUInt32BE(60);
  } finally {
    await fh.close();
  }
}

/** A failed step, with a German reason naming the file. */
export class MigrationError extends Error {}

/**
 * Applies `migrations` in order to an open database: each in one transaction that also sets user_version.
 * `onStep` is called before each; a failure rolls that transaction back and throws a MigrationError.
 */
export async function applyTo(db: BetterSqlite3.Database, migrations: MigrationFile[], onStep: (m: MigrationFile, i: number) => Promise<void> | void): Promise<void> {
  for (let i = 0; i < migrations.length; i++) {
    const m = migrations[i];
    await onStep(m, i);
    const sql = await readFile(m.path, 'utf8');
    db.exec('BEGIN');
    try {
      db.exec(sql);
      db.pragma(`user_version = ${m.number}`);
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw new MigrationError(`Datenbank-Anpassung „${m.name}“ fehlgeschlagen: ${(e as Error).message}`);
    }
  }
}

/** A check's result as the vendor reads it: "Text „1“" is not the number 1, no row is not NULL. */
function shown(value: unknown): string {
  if (value === undefined) return 'keine Zeile';
  if (value === null) return 'NULL';
  return typeof value === 'string' ? `Text „${value}“` : String(value);
}

/** Runs PRAGMA integrity_check and the checks; throws a MigrationError with the first failure. */
export function runChecks(db: BetterSqlite3.Database, checks: Array<{ name: string; sql: string }>): void {
  const integrity = db.pragma('integrity_check', { simple: false }) as Array<{ integrity_check: string }>;
  if (integrity.length !== 1 || integrity[0].integrity_check !== 'ok') {
    throw new MigrationError(`Integritätsprüfung der angepassten Datenbank nicht bestanden (${integrity.slice(0, 3).map((r) => r.integrity_check).join('; ')})`);
  }
  for (const c of checks) {
    let value: unknown;
    try {
      const row = db.prepare(c.sql).raw(true).get() as unknown[] | undefined;
      value = row?.[0];
    } catch (e) {
      throw new MigrationError(`Prüfung „${c.name}“ ließ sich nicht ausführen: ${(e as Error).message}`);
    }
    if (value !== 1 && value !== 1n) throw new MigrationError(`Prüfung „${c.name}“ nicht bestanden (Ergebnis ${shown(value)} statt 1)`);
  }
}

/**
 * Copies `source` to `copy` (with a -wal file, if the register left one), applies the migrations to the copy,
 * checks it, closes it and fsyncs it. On any failure the copy is removed and the error thrown.
 */
export async function migrateCopy(o: {
  source: string; copy: string; migrations: MigrationFile[]; checks: Array<{ name: string; sql: string }>;
  onStep: (m: MigrationFile, i: number) => Promise<void> | void;
}): Promise<void> {
  const removeCopy = async () => { for (const f of [o.copy, o.copy + '-wal', o.copy + '-shm', o.copy + '-journal']) await rm(f, { force: true }); };
  await removeCopy();
  try {
    await copyFile(o.source, o.copy);
    const wal = await stat(o.source + '-wal').then((s) => s.size, () => 0);
    if (wal > 0) await copyFile(o.source + '-wal', o.copy + '-wal');
    const db = new Database(o.copy, { fileMustExist: true });
    try {
      await applyTo(db, o.migrations, o.onStep);
      runChecks(db, o.checks);
      if (String(db.pragma('journal_mode', { simple: true })) === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      db.close();
    }
    const fh = await open(o.copy, 'r+');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch (e) {
    await removeCopy();
    throw e;
  }
}

export { Database };
