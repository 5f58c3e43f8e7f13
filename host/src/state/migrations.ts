/**
 * The state database schema, one entry per version (PRAGMA user_version). Append only: a released
 * migration is never edited. A newer release adds entries; an update runs them at its first start.
 */
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE plugin_enablement (plugin TEXT PRIMARY KEY, enabled INTEGER NOT NULL, changed_at TEXT NOT NULL);
  CREATE TABLE plugin_folders (path TEXT PRIMARY KEY, added_at TEXT NOT NULL);
  CREATE TABLE settings (plugin TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, secret INTEGER NOT NULL DEFAULT 0,
                         changed_at TEXT NOT NULL, changed_by TEXT, PRIMARY KEY (plugin, key));
  CREATE TABLE jobs (id TEXT PRIMARY KEY, action TEXT NOT NULL, plugin TEXT NOT NULL, title TEXT NOT NULL, state TEXT NOT NULL,
                     message TEXT, result TEXT, error TEXT, user TEXT, trigger TEXT, started_at TEXT NOT NULL,
                     finished_at TEXT, duration_ms INTEGER, log TEXT);
  CREATE INDEX jobs_started ON jobs (started_at);
  CREATE TABLE schedule_runs (schedule TEXT PRIMARY KEY, last_run TEXT NOT NULL);
  CREATE TABLE users (name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, user TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
                         expires_at TEXT NOT NULL);
  CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, user TEXT, event TEXT NOT NULL,
                      target TEXT, details TEXT);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
];
