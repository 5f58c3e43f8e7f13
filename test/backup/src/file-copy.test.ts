/**
 * Issue 15: the snapshot's file copy (file-copy.ts) — coreutils' cp where it is there, fs.copyFile otherwise.
 * Both must give the same bytes, keep the held SQLite lock of this process (a child's open/close does not touch
 * it), and fail with a German message that names the copy, never a half-silent partial file as a success.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { copyDatabaseFile } from '../../../plugins/backup/dist/src/file-copy.js';
import { acquireWriteLock } from '../../../plugins/backup/dist/src/sqlite-lock.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** What a second process gets when it asks for the write lock at once: "locked" or "free". */
function writeLockFromAnotherProcess(db: string): string {
  const code = `const D = require('better-sqlite3'); const d = new D(process.argv[1], { timeout: 0 });
    try { d.exec('BEGIN IMMEDIATE'); d.exec('ROLLBACK'); console.log('free'); } catch { console.log('locked'); } d.close();`;
  return execFileSync(process.execPath, ['-e', code, db], { cwd: ROOT, encoding: 'utf8' }).trim();
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('backup: the snapshot file copy (cp, or fs.copyFile without it)', function () {
  this.timeout(60_000);
  let dir: string;
  let src: string;
  const saved = process.env.KASSENWART_BACKUP_CP;
  before(async () => {
    dir = await tempDir('kw-backup-copy-');
    src = join(dir, 'src.bin');
    await writeFile(src, randomBytes(5 * 1024 * 1024 + 123));
  });
  afterEach(() => { if (saved === undefined) delete process.env.KASSENWART_BACKUP_CP; else process.env.KASSENWART_BACKUP_CP = saved; });
  after(async () => { await removeDir(dir); });

  for (const mode of ['cp', 'fallback'] as const) {
    it(`copies the exact bytes (${mode === 'cp' ? '/bin/cp' : 'fs.copyFile'})`, async () => {
      if (mode === 'fallback') process.env.KASSENWART_BACKUP_CP = 'none';
      const dst = join(dir, `copy-${mode}.bin`);
      await copyDatabaseFile(src, dst);
      expect(sha(await readFile(dst))).to.equal(sha(await readFile(src)));
    });

    it(`fails in German naming the copy when the target folder is missing (${mode})`, async () => {
      if (mode === 'fallback') process.env.KASSENWART_BACKUP_CP = 'none';
      const err = await copyDatabaseFile(src, join(dir, 'missing', 'x.bin')).then(() => undefined, (e: unknown) => e as Error & { code?: string });
      expect(err, 'the copy must fail').to.be.instanceOf(Error);
      if (mode === 'cp') {
        expect(err!.message).to.match(/^Die Kassendatenbank konnte nicht in die Sicherungskopie kopiert werden: .*missing/);
        expect(err!.code).to.equal('backup.copy');
      } else {
        expect(err!.code).to.equal('ENOENT'); // the caller's snapshot error handling names it (as before)
      }
    });
  }

  it('keeps the SQLite write lock of this process while cp reads the database (no POSIX lock dropped; the in-process fallback ends the lock with its close, by design)', async () => {
    const db = join(dir, 'pos.sqlite');
    const setup = new Database(db);
    setup.exec('CREATE TABLE t(x); INSERT INTO t VALUES (1);');
    setup.close();
    expect(writeLockFromAnotherProcess(db), 'free before').to.equal('free');
    const lock = await acquireWriteLock(db, 5);
    try {
      expect(writeLockFromAnotherProcess(db), 'held').to.equal('locked');
      await copyDatabaseFile(db, join(dir, 'pos-copy.sqlite'));
      // Another process (as the POS) must still find the database locked for writing. (A connection in this
      // process would not notice: SQLite's unix VFS keeps the locks of one process in its own bookkeeping.)
      expect(writeLockFromAnotherProcess(db)).to.equal('locked');
    } finally {
      lock.release();
    }
  });
});
