/**
 * Issue 15: nothing in the backup path needs python3 (or sqlite3, or any other program). The real CLI runs
 * "Datensicherung" and the restore in-process with a PATH that holds no program at all: a spawn of python3
 * anywhere in the path would fail the job. (The locked and WAL snapshots with an empty PATH: native.test.ts.)
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KASSENWART_BIN } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { dumpTables } from './helpers.js';

describe('backup: CLI backup and restore with no python3 (nor any other program) on PATH', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => { dir = await tempDir('kw-backup-nopy-'); });
  after(async () => { await removeDir(dir); });

  it('`action run backup.create` then `action run backup.restore` succeed and bring back the backed-up rows', async () => {
    const pos = join(dir, 'pos', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 3, seed: 23 });
    const emptyBin = join(dir, 'empty-bin');
    await mkdir(emptyBin);
    const data = join(dir, 'data');
    const backups = join(dir, 'backups');
    const env = { PATH: emptyBin, HOME: dir, KASSENWART_LOG: 'warn' };
    const which = spawnSync('/bin/sh', ['-c', 'command -v python3 python || true'], { env, encoding: 'utf8' });
    expect(which.stdout.trim(), 'python3 must not be found on this PATH').to.equal('');
    const cli = (...args: string[]) => {
      const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', data], { env, encoding: 'utf8', timeout: 120_000 });
      return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    };
    const set = cli('settings', 'set', 'backup', '--json-values', JSON.stringify({ posDatabasePath: pos, backupDir: backups }));
    expect(set.status, set.stderr).to.equal(0);
    const before = await dumpTables(pos);

    const made = cli('action', 'run', 'backup.create', '--json');
    expect(made.status, made.stderr + made.stdout).to.equal(0);
    const job = JSON.parse(made.stdout);
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    const name = String(job.result.details.name);
    expect(job.result.details.counts.receipts).to.equal(before.receipts.length);

    // the POS changes after the backup; the restore must bring back the backed-up state
    const db = new Database(pos);
    db.exec("DELETE FROM receipt_items WHERE receipt_id IN (SELECT id FROM receipts WHERE id % 2 = 0); DELETE FROM receipts WHERE id % 2 = 0; UPDATE customers SET notes = 'geändert'");
    db.close();
    expect((await dumpTables(pos)).receipts.length).to.be.lessThan(before.receipts.length);

    const restored = cli('action', 'run', 'backup.restore', '--param', `name=${name}`, '--json');
    expect(restored.status, restored.stderr + restored.stdout).to.equal(0);
    expect(JSON.parse(restored.stdout).state).to.equal('succeeded');
    expect(await dumpTables(pos)).to.deep.equal(before);
    const left = await readdir(backups);
    expect(left.filter((n) => n.startsWith('.tmp-')), 'no temp files left').to.deep.equal([]);
    expect(left.filter((n) => n.endsWith('.sqlite.gz')).length, 'the backup and the safety backup of the restore').to.equal(2);
  });
});
