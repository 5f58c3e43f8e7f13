/**
 * The register's database migrations in the test process (register/migrate.ts): which migration files a
 * release may ship, their order, the schema version read from the header, each migration in its own
 * transaction, the integrity check and the release's own checks, and the copy that is migrated while the
 * original stays byte-identical. Real SQLite files (better-sqlite3), no mocks. The same code inside a real
 * update with the register stand-in, kill -9 and restart: register.test.ts (child processes, not seen by
 * the mutation run); the vendor's `release kasse` checks: register-release.test.ts.
 */
import { expect } from 'chai';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  Database, MigrationError, applyTo, headerSchemaVersion, listChecks, listMigrations, migrateCopy, orderProblems, runChecks, sha256File,
  type MigrationFile,
} from '../../../plugins/update/dist/src/register/migrate.js';
import { removeDir, tempDir } from '../../support/dist/tmp.js';

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

async function thrown(f: () => Promise<unknown> | unknown): Promise<any> {
  try { await f(); } catch (e) { return e; }
  throw new Error('expected an error');
}

describe('update: register database migrations (register/migrate.ts, in-process, real SQLite files)', () => {
  let dir: string;
  beforeEach(async () => { dir = await tempDir('kw-migrate-'); });
  afterEach(async () => { await removeDir(dir); });

  /** Writes migration files into `dir/migrations` and returns them as listMigrations sees them. */
  async function migrations(files: Record<string, string>): Promise<MigrationFile[]> {
    const m = join(dir, 'migrations');
    await mkdir(m, { recursive: true });
    for (const [name, sql] of Object.entries(files)) await writeFile(join(m, name), sql);
    return listMigrations(m);
  }

  /** A POS database at schema version 1: customers(id, name) with two rows. */
  function posDatabase(path: string, o: { wal?: boolean } = {}): BetterDb {
    const db = new Database(path);
    if (o.wal) db.pragma('journal_mode = WAL');
    db.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL); INSERT INTO customers(name) VALUES ('Anna'), ('Berta');");
    db.pragma('user_version = 1');
    return db;
  }
  type BetterDb = InstanceType<typeof Database>;

  const names = (db: BetterDb) => (db.prepare('SELECT name FROM customers ORDER BY id').raw(true).all() as string[][]).map((r) => r[0]);
  /** Open file descriptors of this process (a leak would show after many updates of a long-running host). */
  const openFds = () => readdirSync('/proc/self/fd').length;
  const sidecars = (path: string) => ['-wal', '-shm', '-journal'].filter((s) => existsSync(path + s));

  describe('orderProblems (the vendor\'s release check)', () => {
    it('accepts well-formed names in any order, with gaps, and numbers with leading zeros', () => {
      expect(orderProblems([])).to.deep.equal([]);
      expect(orderProblems(['010-z.sql', '002-b.sql', '1-a.sql', '9-x_y.z.sql'])).to.deep.equal([]);
    });

    it('names every file that is not NNN-beschreibung.sql', () => {
      expect(orderProblems(['001-a.sql', 'readme.sql', '002 leer.sql', '-3-a.sql', '3-.sql', '4-ä.sql', '5-a.SQL', 'x001-a.sql', '6-a.sql.bak'])).to.deep.equal([
        '„-3-a.sql“ heißt nicht NNN-beschreibung.sql', '„002 leer.sql“ heißt nicht NNN-beschreibung.sql', '„3-.sql“ heißt nicht NNN-beschreibung.sql',
        '„4-ä.sql“ heißt nicht NNN-beschreibung.sql', '„5-a.SQL“ heißt nicht NNN-beschreibung.sql', '„6-a.sql.bak“ heißt nicht NNN-beschreibung.sql',
        '„readme.sql“ heißt nicht NNN-beschreibung.sql', '„x001-a.sql“ heißt nicht NNN-beschreibung.sql',
      ].sort((a, b) => a.localeCompare(b)));
    });

    it('refuses number 0: the schema version of a database no migration has touched', () => {
      expect(orderProblems(['000-start.sql', '1-a.sql'])).to.deep.equal(['„000-start.sql“: Nummern beginnen bei 1']);
      expect(orderProblems(['0-a.sql', '00-b.sql'])).to.deep.equal(['„0-a.sql“: Nummern beginnen bei 1', '„00-b.sql“: Nummern beginnen bei 1']);
    });

    it('names both files of a duplicate number, also when spelled differently (001 and 1), whatever the input order', () => {
      expect(orderProblems(['2-b.sql', '1-kunden.sql', '001-termine.sql'])).to.deep.equal(['„001-termine.sql“ und „1-kunden.sql“ haben dieselbe Nummer 1']);
      expect(orderProblems(['001-termine.sql', '2-b.sql', '1-kunden.sql'])).to.deep.equal(['„001-termine.sql“ und „1-kunden.sql“ haben dieselbe Nummer 1']);
      expect(orderProblems(['3-c.sql', '3-b.sql', '3-a.sql'])).to.deep.equal(['„3-a.sql“ und „3-b.sql“ haben dieselbe Nummer 3', '„3-b.sql“ und „3-c.sql“ haben dieselbe Nummer 3']);
    });

    it('sorts by number, not by text: "10-…" comes after "9-…", so they are no duplicates and no disorder', () => {
      expect(orderProblems(['10-a.sql', '9-b.sql', '100-c.sql', '99-d.sql'])).to.deep.equal([]);
      // by text "10-a" would sit between "1-x" and "1-y" and hide the duplicate
      expect(orderProblems(['1-x.sql', '10-a.sql', '1-y.sql'])).to.deep.equal(['„1-x.sql“ und „1-y.sql“ haben dieselbe Nummer 1']);
      expect(orderProblems(['2-a.sql', '10-b.sql', '10-c.sql'])).to.deep.equal(['„10-b.sql“ und „10-c.sql“ haben dieselbe Nummer 10']);
    });

    it('a bad name between two files of one number does not hide the duplicate, and does not reset the order', () => {
      expect(orderProblems(['5-a.sql', 'kaputt.sql', '5-b.sql'])).to.deep.equal(['„kaputt.sql“ heißt nicht NNN-beschreibung.sql', '„5-a.sql“ und „5-b.sql“ haben dieselbe Nummer 5']);
      // found by a random search: the old mixed comparator (bad names by text, the rest by number) parted 3-a and 3-b
      expect(orderProblems(['kaputt.sql', '3-b.sql', '10-a.sql', '2 leer.sql', '30-d.sql', '4 b.sql', '-x.sql', '3-a.sql'])).to.deep.equal([
        '„-x.sql“ heißt nicht NNN-beschreibung.sql', '„2 leer.sql“ heißt nicht NNN-beschreibung.sql', '„4 b.sql“ heißt nicht NNN-beschreibung.sql',
        '„kaputt.sql“ heißt nicht NNN-beschreibung.sql', '„3-a.sql“ und „3-b.sql“ haben dieselbe Nummer 3',
      ]);
    });
  });

  describe('listMigrations, listChecks, sha256File, headerSchemaVersion', () => {
    it('lists only .sql files, strictly by number (10 after 9), with number and full path', async () => {
      const m = await migrations({ '10-z.sql': '', '9-a.sql': '', '002-b.sql': '', 'notiz.txt': '', 'readme.sql': '', '1-a.sql.bak': '' });
      expect(m).to.deep.equal([
        { name: '002-b.sql', number: 2, path: join(dir, 'migrations', '002-b.sql') },
        { name: '9-a.sql', number: 9, path: join(dir, 'migrations', '9-a.sql') },
        { name: '10-z.sql', number: 10, path: join(dir, 'migrations', '10-z.sql') },
      ]);
    });

    it('a release without a migrations folder has no migrations', async () => {
      expect(await listMigrations(join(dir, 'fehlt'))).to.deep.equal([]);
      expect(await listChecks(join(dir, 'fehlt'))).to.deep.equal([]);
    });

    it('lists the checks sorted by name with their SQL, only .sql files', async () => {
      const c = join(dir, 'checks');
      await mkdir(c);
      await writeFile(join(c, 'b-kunden.sql'), 'SELECT count(*) > 0 FROM customers');
      await writeFile(join(c, 'a-termine.sql'), 'SELECT 1 -- Termine\n');
      await writeFile(join(c, 'notiz.md'), 'keine Prüfung');
      const more = ['f', 'c', 'h', 'e', 'g', 'd'].map((x) => `${x}-pruefung.sql`);
      for (const n of more) await writeFile(join(c, n), `SELECT '${n}'`);
      expect(await listChecks(c)).to.deep.equal([
        { name: 'a-termine.sql', sql: 'SELECT 1 -- Termine\n' },
        { name: 'b-kunden.sql', sql: 'SELECT count(*) > 0 FROM customers' },
        ...[...more].sort().map((n) => ({ name: n, sql: `SELECT '${n}'` })),
      ]);
    });

    it('sha256File is the SHA-256 of the file\'s bytes', async () => {
      const f = join(dir, 'f.bin');
      const bytes = Buffer.from([0, 1, 2, 255, 0x4b, 0x61]);
      await writeFile(f, bytes);
      expect(await sha256File(f)).to.equal(createHash('sha256').update(bytes).digest('hex'));
    });

    it('reads the schema version from the header without opening the database, even while the register holds it', async () => {
      const path = join(dir, 'kasse.db');
      const db = new Database(path);
      db.exec('CREATE TABLE t(x)');
      db.pragma('user_version = 305419896'); // 0x12345678: all four header bytes matter
      expect(await headerSchemaVersion(path)).to.equal(305419896);
      db.pragma('user_version = 7');
      expect(await headerSchemaVersion(path)).to.equal(7);
      db.close();
      const fds = openFds();
      for (let i = 0; i < 5; i++) expect(await headerSchemaVersion(path)).to.equal(7);
      expect(openFds(), 'file handles left open').to.equal(fds);
    });

    it('a file that is too short or no SQLite database has schema version 0', async () => {
      const path = join(dir, 'kasse.db');
      const db = new Database(path);
      db.pragma('user_version = 4');
      db.exec('CREATE TABLE t(x)');
      db.close();
      const header = readFileSync(path).subarray(0, 100);
      await writeFile(join(dir, 'kurz.db'), header.subarray(0, 99));
      expect(await headerSchemaVersion(join(dir, 'kurz.db'))).to.equal(0);
      await writeFile(join(dir, 'genau100.db'), header);
      expect(await headerSchemaVersion(join(dir, 'genau100.db'))).to.equal(4);
      const other = Buffer.from(header);
      other.write('SQLite format 2', 0, 'latin1');
      await writeFile(join(dir, 'fremd.db'), other);
      expect(await headerSchemaVersion(join(dir, 'fremd.db'))).to.equal(0);
      await writeFile(join(dir, 'leer.db'), '');
      expect(await headerSchemaVersion(join(dir, 'leer.db'))).to.equal(0);
    });
  });

  describe('applyTo', () => {
    it('applies each migration in order in its own transaction, user_version = its number, onStep before each', async () => {
      const m = await migrations({
        '2-termine.sql': 'CREATE TABLE appointments(id INTEGER PRIMARY KEY, customer INTEGER, at TEXT);',
        '10-notiz.sql': "ALTER TABLE customers ADD COLUMN note TEXT; UPDATE customers SET note = 'v10';",
        '3-index.sql': 'CREATE INDEX appointments_at ON appointments(at);',
      });
      const db = posDatabase(join(dir, 'kasse.db'));
      const steps: Array<[string, number, number, boolean]> = [];
      await applyTo(db, m, (f, i) => { steps.push([f.name, i, db.pragma('user_version', { simple: true }) as number, db.inTransaction]); });
      expect(steps).to.deep.equal([['2-termine.sql', 0, 1, false], ['3-index.sql', 1, 2, false], ['10-notiz.sql', 2, 3, false]]);
      expect(db.pragma('user_version', { simple: true })).to.equal(10);
      expect(db.inTransaction).to.equal(false);
      expect(db.prepare('SELECT DISTINCT note FROM customers').raw(true).all()).to.deep.equal([['v10']]);
      db.close();
      expect(await headerSchemaVersion(join(dir, 'kasse.db'))).to.equal(10);
    });

    it('waits for an asynchronous onStep before running the step, and an onStep that throws stops before it', async () => {
      const m = await migrations({ '2-a.sql': 'CREATE TABLE a(x);', '3-b.sql': 'CREATE TABLE b(x);' });
      const db = posDatabase(join(dir, 'kasse.db'));
      const seen: number[] = [];
      const e = await thrown(() => applyTo(db, m, async (_f, i) => {
        await new Promise((r) => setTimeout(r, 5));
        seen.push(db.pragma('user_version', { simple: true }) as number);
        if (i === 1) throw new Error('abgebrochen');
      }));
      expect(e.message).to.equal('abgebrochen');
      expect(seen).to.deep.equal([1, 2]);
      expect(db.pragma('user_version', { simple: true })).to.equal(2);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name IN ('a', 'b')").raw(true).all()).to.deep.equal([['a']]);
      db.close();
    });

    it('a failing statement rolls back only its migration: earlier ones stay, user_version of the last good one, MigrationError naming the file', async () => {
      const m = await migrations({
        '2-termine.sql': 'CREATE TABLE appointments(id INTEGER PRIMARY KEY);',
        '3-kaputt.sql': "INSERT INTO customers(name) VALUES ('Carla');\nALTER TABLE customers ADD COLUMN note TEXT;\nINSERT INTO fehlt VALUES (1);",
        '4-nie.sql': 'CREATE TABLE never(x);',
      });
      const db = posDatabase(join(dir, 'kasse.db'));
      const steps: string[] = [];
      const e = await thrown(() => applyTo(db, m, (f) => { steps.push(f.name); }));
      expect(e).to.be.instanceOf(MigrationError);
      expect(e.message).to.equal('Datenbank-Anpassung „3-kaputt.sql“ fehlgeschlagen: no such table: fehlt');
      expect(steps).to.deep.equal(['2-termine.sql', '3-kaputt.sql']);
      expect(db.inTransaction).to.equal(false);
      expect(db.pragma('user_version', { simple: true })).to.equal(2);
      expect(names(db)).to.deep.equal(['Anna', 'Berta']);
      expect(db.prepare('SELECT name FROM pragma_table_info(\'customers\')').raw(true).all()).to.deep.equal([['id'], ['name']]);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").raw(true).all()).to.deep.equal([['appointments'], ['customers']]);
      db.close();
    });

    it('a migration that ends its own transaction fails as a MigrationError, and the database is usable afterwards', async () => {
      const m = await migrations({ '2-commit.sql': "INSERT INTO customers(name) VALUES ('Carla'); COMMIT;" });
      const db = posDatabase(join(dir, 'kasse.db'));
      const e = await thrown(() => applyTo(db, m, () => undefined));
      expect(e).to.be.instanceOf(MigrationError);
      expect(e.message).to.match(/^Datenbank-Anpassung „2-commit\.sql“ fehlgeschlagen: /);
      expect(db.inTransaction).to.equal(false);
      db.exec("INSERT INTO customers(name) VALUES ('Dora')");
      db.close();
    });

    it('no migrations: nothing happens', async () => {
      const db = posDatabase(join(dir, 'kasse.db'));
      await applyTo(db, [], () => { throw new Error('nie'); });
      expect(db.pragma('user_version', { simple: true })).to.equal(1);
      db.close();
    });
  });

  describe('runChecks', () => {
    /** A database whose index does not match its table (integrity_check reports one line per row). */
    function brokenIndex(path: string, rows: number): BetterDb {
      const db = new Database(path);
      db.exec(`CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ${rows}) INSERT INTO t SELECT i FROM c; CREATE INDEX ti ON t(x);`);
      db.unsafeMode(true);
      db.pragma('writable_schema = ON');
      db.exec("UPDATE sqlite_master SET sql = 'CREATE INDEX ti ON t(x + 1)' WHERE name = 'ti'");
      db.close();
      return new Database(path);
    }

    it('passes a sound database whose checks all return 1 (number or BigInt), and one without checks', async () => {
      const db = posDatabase(join(dir, 'kasse.db'));
      runChecks(db, []);
      runChecks(db, [{ name: 'a.sql', sql: 'SELECT 1' }, { name: 'b.sql', sql: 'SELECT count(*) = 2, 0 FROM customers' }, { name: 'c.sql', sql: 'SELECT 1.0' }]);
      db.defaultSafeIntegers(true);
      expect(db.prepare('SELECT 1').raw(true).get()).to.deep.equal([1n]);
      runChecks(db, [{ name: 'gross.sql', sql: 'SELECT 1' }]);
      db.close();
    });

    it('refuses a database that fails PRAGMA integrity_check, with the first three findings', async () => {
      const one = brokenIndex(join(dir, 'eins.db'), 1);
      const e1 = await thrown(() => runChecks(one, []));
      expect(e1).to.be.instanceOf(MigrationError);
      expect(e1.message).to.equal('Integritätsprüfung der angepassten Datenbank nicht bestanden (row 1 missing from index ti)');
      one.close();
      const many = brokenIndex(join(dir, 'viele.db'), 10);
      const e = await thrown(() => runChecks(many, [{ name: 'a.sql', sql: 'SELECT 1' }]));
      expect(e.message).to.equal('Integritätsprüfung der angepassten Datenbank nicht bestanden (row 1 missing from index ti; row 2 missing from index ti; row 3 missing from index ti)');
      many.close();
    });

    it('refuses a check whose first value is not 1: 0, NULL, no row, the text "1", 2', async () => {
      const db = posDatabase(join(dir, 'kasse.db'));
      const fails = async (sql: string) => {
        const e = await thrown(() => runChecks(db, [{ name: 'ok.sql', sql: 'SELECT 1' }, { name: 'kunden.sql', sql }]));
        expect(e).to.be.instanceOf(MigrationError);
        return e.message;
      };
      expect(await fails('SELECT count(*) = 3 FROM customers')).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis 0 statt 1)');
      expect(await fails('SELECT NULL')).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis NULL statt 1)');
      expect(await fails("SELECT 1 FROM customers WHERE name = 'Zora'")).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis keine Zeile statt 1)');
      expect(await fails("SELECT '1'")).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis Text „1“ statt 1)');
      expect(await fails('SELECT 2, 1')).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis 2 statt 1)');
      db.defaultSafeIntegers(true);
      expect(await fails('SELECT 0')).to.equal('Prüfung „kunden.sql“ nicht bestanden (Ergebnis 0 statt 1)');
      db.close();
    });

    it('a check that is not valid SQL, or names a missing table, "ließ sich nicht ausführen"', async () => {
      const db = posDatabase(join(dir, 'kasse.db'));
      const e = await thrown(() => runChecks(db, [{ name: 'tippfehler.sql', sql: 'SELEKT 1' }]));
      expect(e).to.be.instanceOf(MigrationError);
      expect(e.message).to.equal('Prüfung „tippfehler.sql“ ließ sich nicht ausführen: near "SELEKT": syntax error');
      const t = await thrown(() => runChecks(db, [{ name: 'fehlt.sql', sql: 'SELECT count(*) = 0 FROM fehlt' }]));
      expect(t.message).to.equal('Prüfung „fehlt.sql“ ließ sich nicht ausführen: no such table: fehlt');
      db.close();
    });
  });

  describe('migrateCopy (the original is never written)', () => {
    const source = () => join(dir, 'kasse.db');
    const copy = () => join(dir, 'kasse.db.neu');

    it('migrates a copy; the source stays byte-identical and at its old version; nothing is left open', async () => {
      posDatabase(source()).close();
      const before = sha(source());
      const fds = openFds();
      const m = await migrations({ '2-notiz.sql': 'ALTER TABLE customers ADD COLUMN note TEXT;', '3-termine.sql': 'CREATE TABLE appointments(x);' });
      const steps: Array<[string, number]> = [];
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [{ name: 'k.sql', sql: 'SELECT count(*) = 2 FROM customers' }], onStep: (f, i) => { steps.push([f.name, i]); } });
      expect(steps).to.deep.equal([['2-notiz.sql', 0], ['3-termine.sql', 1]]);
      expect(openFds(), 'database or file handle left open').to.equal(fds);
      expect(sha(source())).to.equal(before);
      expect(sidecars(source())).to.deep.equal([]);
      expect(await headerSchemaVersion(source())).to.equal(1);
      expect(await headerSchemaVersion(copy())).to.equal(3);
      expect(sidecars(copy())).to.deep.equal([]);
      const db = new Database(copy(), { readonly: true });
      expect(names(db)).to.deep.equal(['Anna', 'Berta']);
      db.close();
    });

    for (const [what, files, checks, reason] of [
      ['a failing migration', { '2-a.sql': 'CREATE TABLE a(x);', '3-b.sql': 'INSERT INTO fehlt VALUES (1);' }, [], 'Datenbank-Anpassung „3-b.sql“ fehlgeschlagen: no such table: fehlt'],
      ['a failing check', { '2-a.sql': 'DELETE FROM customers;' }, [{ name: 'kunden.sql', sql: 'SELECT count(*) = 2 FROM customers' }], 'Prüfung „kunden.sql“ nicht bestanden (Ergebnis 0 statt 1)'],
    ] as const) {
      it(`${what}: the copy and its -wal/-shm/-journal are gone, the source (in WAL mode, still open) is byte-identical`, async () => {
        const register = posDatabase(source(), { wal: true });
        register.pragma('wal_autocheckpoint = 0');
        register.exec("INSERT INTO customers(name) VALUES ('Carla')");
        const before = [sha(source()), sha(source() + '-wal')];
        const m = await migrations(files);
        const e = await thrown(() => migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [...checks], onStep: () => undefined }));
        expect(e).to.be.instanceOf(MigrationError);
        expect(e.message).to.equal(reason);
        expect(existsSync(copy())).to.equal(false);
        expect(sidecars(copy())).to.deep.equal([]);
        expect([sha(source()), sha(source() + '-wal')]).to.deep.equal(before);
        expect(names(register)).to.deep.equal(['Anna', 'Berta', 'Carla']);
        register.close();
      });
    }

    it('an onStep that throws (the update was stopped): the copy is gone, the error is the caller\'s', async () => {
      posDatabase(source()).close();
      const before = sha(source());
      const m = await migrations({ '2-a.sql': 'CREATE TABLE a(x);', '3-b.sql': 'CREATE TABLE b(x);' });
      const e = await thrown(() => migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [], onStep: (_f, i) => { if (i === 1) throw new Error('gestoppt'); } }));
      expect(e.message).to.equal('gestoppt');
      expect(existsSync(copy())).to.equal(false);
      expect(sidecars(copy())).to.deep.equal([]);
      expect(sha(source())).to.equal(before);
    });

    it('a source with a non-empty -wal: its committed rows are in the copy, which is checkpointed into its main file', async () => {
      const register = posDatabase(source(), { wal: true });
      register.pragma('wal_checkpoint(TRUNCATE)');
      register.pragma('wal_autocheckpoint = 0');
      register.exec("INSERT INTO customers(name) VALUES ('Carla'); INSERT INTO customers(name) VALUES ('Dora');");
      expect(statSync(source() + '-wal').size).to.be.greaterThan(0);
      const before = [sha(source()), sha(source() + '-wal')];
      const m = await migrations({ '2-notiz.sql': "ALTER TABLE customers ADD COLUMN note TEXT; UPDATE customers SET note = 'neu';" });
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [{ name: 'k.sql', sql: 'SELECT count(*) = 4 FROM customers' }], onStep: () => undefined });
      expect([sha(source()), sha(source() + '-wal')]).to.deep.equal(before);
      // no WAL content left beside the copy: the main file alone holds everything
      expect(existsSync(copy() + '-wal') ? statSync(copy() + '-wal').size : 0).to.equal(0);
      // and the copy is closed: the last connection's close removes -wal and -shm
      expect(sidecars(copy())).to.deep.equal([]);
      const alone = join(dir, 'allein.db');
      await copyFile(copy(), alone);
      const db = new Database(alone, { readonly: true });
      expect(names(db)).to.deep.equal(['Anna', 'Berta', 'Carla', 'Dora']);
      expect(db.prepare('SELECT DISTINCT note FROM customers').raw(true).all()).to.deep.equal([['neu']]);
      expect(db.pragma('user_version', { simple: true })).to.equal(2);
      db.close();
      register.close();
    });

    it('a copy in WAL mode is checkpointed before it is closed, even while another reader holds it open', async () => {
      const register = posDatabase(source(), { wal: true });
      register.close();
      // the migrations leave WAL content that only a checkpoint moves into the main file (a reader prevents the close from doing it)
      const m = await migrations({ '2-viel.sql': "CREATE TABLE big(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 200) INSERT INTO big SELECT randomblob(500) FROM c;" });
      let reader: BetterDb | undefined;
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [], onStep: () => {
        reader = new Database(copy(), { readonly: true });
        reader.prepare('SELECT count(*) FROM sqlite_master').get(); // SQLite opens the file at the first query
      } });
      expect(existsSync(copy() + '-wal') ? statSync(copy() + '-wal').size : 0).to.equal(0);
      const alone = join(dir, 'allein.db');
      await copyFile(copy(), alone);
      reader!.close();
      const db = new Database(alone, { readonly: true });
      expect(db.prepare('SELECT count(*) FROM big').raw(true).get()).to.deep.equal([200]);
      expect(db.pragma('user_version', { simple: true })).to.equal(2);
      db.close();
    });

    it('a leftover copy from an earlier attempt (with a stale -journal) is replaced, not migrated on', async () => {
      posDatabase(source()).close();
      await writeFile(copy(), 'Rest eines abgebrochenen Versuchs');
      await writeFile(copy() + '-journal', 'alt');
      await writeFile(copy() + '-shm', 'alt');
      const m = await migrations({ '2-a.sql': 'CREATE TABLE a(x);' });
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [], onStep: () => undefined });
      expect(sidecars(copy())).to.deep.equal([]);
      const db = new Database(copy(), { readonly: true });
      expect(names(db)).to.deep.equal(['Anna', 'Berta']);
      expect(db.pragma('user_version', { simple: true })).to.equal(2);
      db.close();
    });

    it('a stale -wal of an attempt that was killed is removed first, not replayed onto the fresh copy of a changed source', async () => {
      const register = posDatabase(source(), { wal: true });
      register.close();
      // the earlier attempt: copy, migrated in WAL mode, killed before its close (its -wal left behind)
      await copyFile(source(), copy());
      const killed = new Database(copy());
      killed.pragma('wal_autocheckpoint = 0');
      killed.exec("ALTER TABLE customers ADD COLUMN note TEXT; INSERT INTO customers(name) VALUES ('Veraltet');");
      const staleWal = readFileSync(copy() + '-wal');
      const staleMain = readFileSync(copy());
      killed.close();
      await writeFile(copy(), staleMain);
      await writeFile(copy() + '-wal', staleWal);
      // meanwhile the register ran on
      const again = new Database(source());
      again.exec("INSERT INTO customers(name) VALUES ('Neu')");
      again.close();
      const m = await migrations({ '2-notiz.sql': 'ALTER TABLE customers ADD COLUMN note TEXT;' });
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [], onStep: () => undefined });
      const db = new Database(copy(), { readonly: true });
      expect(names(db)).to.deep.equal(['Anna', 'Berta', 'Neu']);
      db.close();
    });

    it('a hot -journal of an attempt that was killed mid-transaction is removed first, not rolled back onto the fresh copy', async () => {
      posDatabase(source()).close();
      // the earlier attempt (rollback journal): a transaction so big that SQLite spilled pages into the file, then killed
      await copyFile(source(), copy());
      const killed = new Database(copy());
      killed.pragma('cache_size = 2');
      killed.exec("BEGIN; CREATE TABLE big(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 300) INSERT INTO big SELECT randomblob(900) FROM c; UPDATE customers SET name = 'Veraltet';");
      const staleJournal = readFileSync(copy() + '-journal');
      const staleMain = readFileSync(copy());
      killed.exec('ROLLBACK');
      killed.close();
      expect(staleJournal.length).to.be.greaterThan(512);
      // meanwhile the register ran on and grew
      const again = new Database(source());
      again.exec("INSERT INTO customers(name) VALUES ('Neu'); CREATE TABLE later(x); INSERT INTO later SELECT randomblob(900) FROM customers, customers;");
      again.close();
      await writeFile(copy(), staleMain);
      await writeFile(copy() + '-journal', staleJournal);
      const m = await migrations({ '2-notiz.sql': 'ALTER TABLE customers ADD COLUMN note TEXT;' });
      await migrateCopy({ source: source(), copy: copy(), migrations: m, checks: [], onStep: () => undefined });
      expect(sidecars(copy())).to.deep.equal([]);
      const db = new Database(copy(), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).to.equal('ok');
      expect(names(db)).to.deep.equal(['Anna', 'Berta', 'Neu']);
      expect(db.prepare('SELECT count(*) FROM later').raw(true).get()).to.deep.equal([9]);
      db.close();
    });

    it('a missing source: nothing is left under the copy\'s name', async () => {
      await writeFile(copy(), 'Rest');
      const e = await thrown(() => migrateCopy({ source: source(), copy: copy(), migrations: [], checks: [], onStep: () => undefined }));
      expect(e.code).to.equal('ENOENT');
      expect(existsSync(copy())).to.equal(false);
    });
  });
});
