import initSqlJs, { type Database, type SqlJsStatic, type SqlValue } from 'sql.js';
import { readFile, stat, rm, readdir } from 'node:fs/promises';
import { join, dirname, basename } from 'node:path';
import { writeFileAtomic } from 'kassenwart/sdk';
import { FileLock } from './file-lock.js';
import { MIGRATIONS } from './migrations.js';

let sqlPromise: Promise<SqlJsStatic> | undefined;
function sql(): Promise<SqlJsStatic> {
  sqlPromise ??= initSqlJs();
  return sqlPromise;
}

type Row = Record<string, SqlValue>;

/** All rows of a query as objects. */
function rows<T>(db: Database, query: string, params: SqlValue[]): T[] {
  const stmt = db.prepare(query);
  try {
    stmt.bind(params);
    const out: T[] = [];
    while (stmt.step()) out.push(stmt.getAsObject() as T);
    return out;
  } finally {
    stmt.free();
  }
}

/**
 * The installation's state database: sql.js in memory, persisted after every write as a whole file
 * (temp file, fsync, rename), so a crash leaves the old or the new state, never a broken one.
 * Server and CLI may both write: writes take an inter-process lock and first reload the file when another
 * process changed it since we last read it.
 */
export class StateDb {
  private db!: Database;
  private fingerprint = '';
  /** Counts reloads caused by another process writing the file (the CLI); see Kernel.syncFromDisk. */
  externalChanges = 0;
  private readonly lock: FileLock;

  private constructor(readonly path: string) {
    this.lock = new FileLock(path + '.lock');
  }

  static async open(path: string): Promise<StateDb> {
    const s = new StateDb(path);
    await s.lock.acquire(30_000);
    try {
      // under the lock: a temp file beside the database is a writer's persist in progress until then
      await s.cleanupTemp();
      await s.load();
      const before = s.schemaVersion();
      s.migrate();
      if (s.schemaVersion() !== before) await s.persist();
    } finally {
      await s.lock.release();
    }
    return s;
  }

  /** Removes temp files a crash left beside the database. */
  private async cleanupTemp(): Promise<void> {
    const dir = dirname(this.path);
    let names: string[] = [];
    try { names = await readdir(dir); } catch { return; }
    for (const n of names) if (n.startsWith(`.tmp-${basename(this.path)}.`)) await rm(join(dir, n), { force: true });
  }

  private async currentFingerprint(): Promise<string> {
    try {
      const s = await stat(this.path);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }

  private async load(): Promise<void> {
    const SQL = await sql();
    let bytes: Uint8Array | undefined;
    try { bytes = await readFile(this.path); } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.db?.close();
    this.db = bytes ? new SQL.Database(bytes) : new SQL.Database();
    this.fingerprint = await this.currentFingerprint();
  }

  private schemaVersion(): number {
    return Number(this.db.exec('PRAGMA user_version')[0]?.values[0]?.[0] ?? 0);
  }

  private migrate(): void {
    let v = this.schemaVersion();
    for (; v < MIGRATIONS.length; v++) {
      this.db.exec('BEGIN');
      try {
        this.db.exec(MIGRATIONS[v]);
        this.db.exec(`PRAGMA user_version = ${v + 1}`);
        this.db.exec('COMMIT');
      } catch (e) {
        this.db.exec('ROLLBACK');
        throw e;
      }
    }
  }

  private async persist(): Promise<void> {
    await writeFileAtomic(this.path, this.db.export(), 0o600);
    this.fingerprint = await this.currentFingerprint();
  }

  /** Reloads when another process wrote the file since we last read or wrote it. */
  async refresh(): Promise<void> {
    if ((await this.currentFingerprint()) !== this.fingerprint) {
      await this.load();
      this.externalChanges++;
    }
  }

  /** Rows of a query (after a refresh). */
  async all<T = Row>(query: string, params: SqlValue[] = []): Promise<T[]> {
    await this.refresh();
    return this.allSync<T>(query, params);
  }

  /** Rows of a query on the in-memory copy, without a refresh (for hot paths that refreshed already). */
  allSync<T = Row>(query: string, params: SqlValue[] = []): T[] {
    return rows<T>(this.db, query, params);
  }

  async get<T = Row>(query: string, params: SqlValue[] = []): Promise<T | undefined> {
    return (await this.all<T>(query, params))[0];
  }

  /**
   * Runs `fn` in one transaction under the inter-process lock and persists the result atomically.
   * If `fn` throws, nothing is stored.
   */
  async write<T>(fn: (tx: Tx) => T | Promise<T>): Promise<T> {
    await this.lock.acquire(30_000);
    try {
      await this.refresh();
      this.db.exec('BEGIN');
      let result: T;
      try {
        result = await fn(new Tx(this.db));
        this.db.exec('COMMIT');
      } catch (e) {
        this.db.exec('ROLLBACK');
        throw e;
      }
      await this.persist();
      return result;
    } finally {
      await this.lock.release();
    }
  }

  close(): void {
    this.db?.close();
  }
}

/** Statements inside a StateDb.write transaction. */
export class Tx {
  constructor(private readonly db: Database) {}
  run(query: string, params: SqlValue[] = []): void {
    this.db.run(query, params);
  }
  all<T = Row>(query: string, params: SqlValue[] = []): T[] {
    return rows<T>(this.db, query, params);
  }
  get<T = Row>(query: string, params: SqlValue[] = []): T | undefined {
    return this.all<T>(query, params)[0];
  }
}
