/**
 * Release migrations: a release ships SQL files in `migrations/` (package root), named
 * `NNN-description.sql` and applied in name order, each in one transaction, to the host's state database
 * (<data>/state.sqlite). Applied names are recorded in the table `release_migrations`, so each runs once.
 * The supervisor applies them for real at switch time (same rules, host/src/supervisor.ts); this module is
 * the dry run on a copy that lets the plugin refuse a release whose migrations fail, before anything changes.
 */
import { readFile, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { SqlJsStatic } from 'sql.js';
import { UserError } from 'kassenwart/sdk';

const require = createRequire(import.meta.url);
let sqlPromise: Promise<SqlJsStatic> | undefined;
function sql(): Promise<SqlJsStatic> {
  sqlPromise ??= (require('sql.js') as (c?: object) => Promise<SqlJsStatic>)();
  return sqlPromise;
}

/** Migration file names of a release folder, in the order they run. */
export async function migrationFiles(releaseDir: string): Promise<string[]> {
  try {
    return (await readdir(join(releaseDir, 'migrations'))).filter((n) => /^\d+[-_.\w]*\.sql$/.test(n)).sort();
  } catch {
    return [];
  }
}

/**
 * Applies the release's pending migrations to `dbBytes` (a copy of state.sqlite; empty = a new database) and
 * returns the new bytes and the names applied. Throws a German UserError naming the failing migration.
 */
export async function applyMigrations(dbBytes: Uint8Array | undefined, releaseDir: string, version: string): Promise<{ bytes: Uint8Array; applied: string[] }> {
  const SQL = await sql();
  const db = new SQL.Database(dbBytes && dbBytes.length ? dbBytes : undefined);
  const applied: string[] = [];
  try {
    db.run('CREATE TABLE IF NOT EXISTS release_migrations (name TEXT PRIMARY KEY, release TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set<string>();
    const rows = db.exec('SELECT name FROM release_migrations');
    for (const row of rows[0]?.values ?? []) done.add(String(row[0]));
    for (const name of await migrationFiles(releaseDir)) {
      if (done.has(name)) continue;
      const text = await readFile(join(releaseDir, 'migrations', name), 'utf8');
      try {
        db.run('BEGIN');
        db.exec(text);
        db.run('INSERT INTO release_migrations (name, release, applied_at) VALUES (?, ?, ?)', [name, version, new Date().toISOString()]);
        db.run('COMMIT');
      } catch (e) {
        try { db.run('ROLLBACK'); } catch { /* already rolled back */ }
        throw new UserError(`Die Datenbank-Anpassung „${name}“ der Version ${version} ist fehlgeschlagen (${(e as Error).message}). Es wurde nichts installiert, die laufende Version und ihre Daten bleiben unverändert.`, {
          code: 'update.migration-failed',
          hint: 'Bitte den Support verständigen.',
        });
      }
      applied.push(name);
    }
    return { bytes: db.export(), applied };
  } finally {
    db.close();
  }
}
