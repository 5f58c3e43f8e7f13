import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, open, readdir, readFile, writeFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { snapshotToGzip } from '../../../plugins/backup/dist/src/snapshot.js';
import { gzipParallel } from '../../../plugins/backup/dist/src/gzip.js';
import { followGzipFile } from '../../../plugins/backup/dist/src/verify.js';
import { verifyWritten } from '../../../plugins/backup/dist/src/service.js';
import { makeService, testJob, withDb, startWriter, writerInvariant, dumpTables, execSql, FIXTURES } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('backup: "Datensicherung" (service, real files)', function () {
  this.timeout(300_000);
  let dir: string;
  let pos: string;
  before(async () => {
    dir = await tempDir('kw-backup-create-');
    pos = join(dir, 'pos', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 6, seed: 3 });
  });
  after(async () => { await removeDir(dir); });

  it('creates the demo database on first start and backs it up to a verified, FAT-safe .gz with manifest', async () => {
    const data = join(dir, 'demo-data');
    const { service } = makeService(data);
    const job = testJob();
    const { backup, result } = await service.create(job);
    expect(backup.name).to.match(/^kasse-\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}\.sqlite\.gz$/);
    const files = (await readdir(join(data, 'backups'))).sort();
    expect(files).to.deep.equal([backup.name, backup.name + '.json']);
    const gz = await readFile(join(data, 'backups', backup.name));
    const manifest = JSON.parse(await readFile(join(data, 'backups', backup.name + '.json'), 'utf8'));
    expect(manifest.sha256).to.equal(sha(gz));
    expect(manifest.size).to.equal(gz.length);
    // gunzip with the real tool gives exactly the demo database file
    const raw = spawnSync('gzip', ['-dc', join(data, 'backups', backup.name)], { maxBuffer: 1 << 28 }).stdout;
    expect(sha(raw)).to.equal(sha(await readFile(join(data, 'demo', 'kasse.sqlite'))));
    await withDb(raw, (q) => {
      expect(q('PRAGMA integrity_check')[0][0]).to.equal('ok');
      expect(Number(q('SELECT count(*) FROM receipts')[0][0])).to.equal(manifest.counts.receipts);
    });
    expect(result.details!.pauseMs).to.equal(0);
    expect(result.message).to.match(/^Datenbank gesichert/);
    const percents = job.progressLog.map(([p]) => p).filter((p) => p !== undefined) as number[];
    expect(percents.at(-1)).to.equal(100);
    expect(percents).to.deep.equal([...percents].sort((a, b) => a - b));
  });

  it('removes leftovers of an interrupted backup on start, and never lists them', async () => {
    const data = join(dir, 'leftover-data');
    const backups = join(data, 'backups');
    await mkdir(backups, { recursive: true });
    await writeFile(join(backups, '.tmp-kasse-2026-11-29_07-00-00.sqlite.gz.123.abcd'), 'partial');
    await writeFile(join(backups, 'kasse-2026-11-28_21-00-00.sqlite.gz.json'), '{}'); // manifest without its .gz
    const { service } = makeService(data, { posDatabasePath: pos });
    await service.start();
    expect(await readdir(backups)).to.deep.equal([]);
  });

  it('every backup taken while another process (a Node stand-in for the register, using better-sqlite3) keeps committing holds a committed state and passes integrity_check', async () => {
    const live = join(dir, 'live', 'kasse.sqlite');
    await mkdir(join(dir, 'live'), { recursive: true });
    await copyFile(pos, live);
    const writer = await startWriter(live);
    const { service } = makeService(join(dir, 'live-data'), { posDatabasePath: live, retainDaily: 100 });
    const seen: number[] = [];
    const methods: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        const { backup, result } = await service.create(testJob());
        methods.push(String(result.details!.method));
        const gz = await readFile(backup.path);
        await withDb(gz, (q) => {
          expect(q('PRAGMA integrity_check')[0][0]).to.equal('ok');
          const inv = writerInvariant(q);
          expect(inv.problems, `backup ${i} (${result.details!.method})`).to.deep.equal([]);
          seen.push(inv.receipts);
        });
        expect(result.details!.pauseMs).to.be.a('number');
      }
    } finally {
      const total = await writer.stop();
      expect(total).to.be.greaterThan(seen.at(-1) ?? 0);
    }
    // the writer really was writing during the backups: later backups hold more of its receipts
    expect(seen.at(-1)!).to.be.greaterThan(seen[0]);
    console.log(`      snapshot methods under a concurrent writer: ${methods.join(', ')}`);
  });

  it('a database in WAL mode is backed up with its committed WAL content while the writer (register stand-in) goes on', async () => {
    const live = join(dir, 'wal', 'kasse.sqlite');
    await mkdir(join(dir, 'wal'), { recursive: true });
    await copyFile(pos, live);
    const writer = await startWriter(live, 'wal');
    try {
      await new Promise((r) => setTimeout(r, 300));
      const { service } = makeService(join(dir, 'wal-data'), { posDatabasePath: live });
      const { backup, result } = await service.create(testJob());
      expect(result.details!.method).to.equal('wal');
      await withDb(await readFile(backup.path), (q) => {
        expect(q('PRAGMA integrity_check')[0][0]).to.equal('ok');
        const inv = writerInvariant(q);
        expect(inv.problems).to.deep.equal([]);
        expect(inv.receipts).to.be.greaterThan(0); // committed rows that were only in the -wal file
      });
    } finally {
      await writer.stop();
    }
  });

  it('a full disk gives a clear German error, leaves no file behind and keeps the older backups', async function () {
    if (process.getuid?.() !== 0) this.skip();
    const target = join(dir, 'full');
    await mkdir(target, { recursive: true });
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', target]);
    if (m.status !== 0) throw new Error('mount tmpfs failed: ' + m.stderr);
    try {
      await writeFile(join(target, 'kasse-2026-11-28_21-00-00.sqlite.gz'), 'an older backup');
      const before = sha(await readFile(pos));
      const { service } = makeService(join(dir, 'full-data'), { posDatabasePath: pos, backupDir: target });
      let err: any;
      try { await service.create(testJob()); } catch (e) { err = e; }
      expect(err, 'create must fail').to.exist;
      expect(err.name).to.equal('UserError');
      expect(err.code).to.equal('backup.disk-full');
      expect(err.message).to.match(/Nicht genug freier Speicherplatz/);
      expect(err.message).to.match(/vorhandene Sicherungen bleiben erhalten/);
      expect(await readdir(target)).to.deep.equal(['kasse-2026-11-28_21-00-00.sqlite.gz']);
      expect(await readFile(join(target, 'kasse-2026-11-28_21-00-00.sqlite.gz'), 'utf8')).to.equal('an older backup');
      expect(sha(await readFile(pos))).to.equal(before);
    } finally {
      spawnSync('umount', [target]);
    }
  });

  it('a hot journal left by a crashed POS is rolled back first: the backup holds the last committed state', async () => {
    const crashed = join(dir, 'crashed', 'kasse.sqlite');
    await mkdir(join(dir, 'crashed'), { recursive: true });
    await copyFile(pos, crashed);
    const committed = await dumpTables(crashed);
    // a writer with a tiny page cache spills an uncommitted transaction into the file, then dies (kill -9)
    const r = spawnSync(process.execPath, [join(FIXTURES, 'crash-mid-transaction.mjs'), crashed]);
    expect(r.signal, String(r.stderr)).to.equal('SIGKILL');
    const journal = await readFile(crashed + '-journal');
    expect(journal.length, 'a hot journal is left behind').to.be.greaterThan(0);
    // the file alone (what a naive copy gets) is damaged
    await withDb(await readFile(crashed), (q) => expect(q('PRAGMA integrity_check')[0][0]).not.to.equal('ok'));
    const data = join(dir, 'crashed-data');
    const { service } = makeService(data, { posDatabasePath: crashed });
    const { backup, result } = await service.create(testJob());
    expect(result.details!.method).to.equal('locked');
    expect(await dumpTables(backup.path)).to.deep.equal(committed);
  });

  it('cancelling a running backup removes its temporary file and stores nothing', async () => {
    const big = join(dir, 'cancel', 'kasse.sqlite');
    await generatePosDatabase(big, { sizeMb: 60, seed: 12 });
    const data = join(dir, 'cancel-data');
    const { service } = makeService(data, { posDatabasePath: big });
    const job = testJob();
    const origProgress = job.progress;
    job.progress = (p, m) => { origProgress(p, m); if ((p ?? 0) >= 10) job.controller.abort(); };
    let err: any;
    try { await service.create(job); } catch (e) { err = e; }
    expect(err?.name).to.equal('CancelledError');
    expect(await readdir(join(data, 'backups'))).to.deep.equal([]);
  });

  it('a missing POS database is a clear German error', async () => {
    const { service } = makeService(join(dir, 'missing-data'), { posDatabasePath: join(dir, 'nope.sqlite') });
    let err: any;
    try { await service.create(testJob()); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.message).to.equal(`Die Kassendatenbank wurde nicht gefunden: ${join(dir, 'nope.sqlite')}`);
    expect(err.hint).to.match(/Einstellungen/);
  });

  it('refuses a .gz that gunzips fine when it is not what the compressor wrote for the checked snapshot (one row differs)', async () => {
    const pair = join(dir, 'pair');
    const a = join(pair, 'a.sqlite');
    const b = join(pair, 'b.sqlite');
    await generatePosDatabase(a, { sizeMb: 2, seed: 21 });
    await copyFile(a, b);
    execSql(b, 'UPDATE customers SET last_name = upper(last_name) WHERE id = 1');
    expect((await stat(b)).size).to.equal((await stat(a)).size); // same size: only the content tells them apart
    expect(sha(await readFile(b))).not.to.equal(sha(await readFile(a)));
    // the members the compressor wrote for B, and the .gz of A (a valid backup of A) read back against them
    const trailersOfB: Array<[number, Buffer]> = [];
    const input = await open(b, 'r');
    const output = await open(join(pair, 'b.gz'), 'w');
    await gzipParallel(input, output, { chunkSize: 256 * 1024, hash: false, onProgress: (_r, gz, t) => trailersOfB.push([gz, t]) });
    await input.close(); await output.close();
    const aGz = join(pair, 'a-alone.gz');
    const ia = await open(a, 'r');
    const oa = await open(aGz, 'w');
    await gzipParallel(ia, oa, { chunkSize: 256 * 1024, hash: false });
    await ia.close(); await oa.close();
    expect(spawnSync('gzip', ['-t', aGz]).status).to.equal(0);
    const f = followGzipFile(aGz);
    for (const [end, t] of trailersOfB) f.written(end, t);
    let err: any;
    try { await f.end(); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.code).to.equal('backup.verify');
    expect(err.message).to.match(/weicht vom gelesenen Datenbankstand ab/);
    // the real pipeline passes, with the hashes of the real files
    const sa = await snapshotToGzip(a, join(pair, 'a.gz'), { tmpDir: pair, check: true });
    const ok = await verifyWritten(join(pair, 'a.gz'), sa, new AbortController().signal);
    expect(ok.rawSha256).to.equal(sha(await readFile(a)));
    expect(ok.gzSha256).to.equal(sha(await readFile(join(pair, 'a.gz'))));
    expect(ok.counts.customers).to.be.greaterThan(0);
    expect((await readdir(pair)).filter((n) => n.startsWith('.tmp-')), 'the snapshot copy is gone').to.deep.equal([]);
  });

  it('a damaged POS database never yields a backup', async () => {
    const bad = join(dir, 'bad.sqlite');
    const bytes = await readFile(pos);
    // overwrite a page in the middle of a table b-tree with garbage
    bytes.fill(0x41, 4096 * 200, 4096 * 200 + 4096);
    await writeFile(bad, bytes);
    const data = join(dir, 'bad-data');
    const { service } = makeService(data, { posDatabasePath: bad });
    let err: any;
    try { await service.create(testJob()); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.message).to.match(/Integritätsprüfung/);
    expect(await readdir(join(data, 'backups'))).to.deep.equal([]);
  });
});

describe('backup: restore (service, real files)', function () {
  this.timeout(300_000);
  let dir: string;
  before(async () => { dir = await tempDir('kw-backup-restore-'); });
  after(async () => { await removeDir(dir); });

  it('restores a backup so that the database equals the source by table contents, after a safety backup', async () => {
    const pos = join(dir, 'pos', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 4, seed: 9 });
    const { service } = makeService(join(dir, 'data'), { posDatabasePath: pos });
    const original = await dumpTables(pos);
    const { backup } = await service.create(testJob());
    // the register goes on: change the database
    execSql(pos, "BEGIN; DELETE FROM receipt_items WHERE id < 500; UPDATE customers SET last_name = 'Geändert'; COMMIT");
    const changed = await dumpTables(pos);
    expect(changed).not.to.deep.equal(original);
    await new Promise((res) => setTimeout(res, 1100)); // a new second: the safety backup gets its own name
    const result = await service.restore(testJob({ name: backup.name }));
    expect(await dumpTables(pos)).to.deep.equal(original);
    const safety = String(result.details!.safetyBackup);
    expect(safety).to.match(/^kasse-.*\.sqlite\.gz$/);
    expect(await dumpTables(join(dir, 'data', 'backups', safety))).to.deep.equal(changed);
    expect(result.message).to.contain(backup.name);
    expect((await readdir(join(dir, 'pos'))).filter((n) => n.startsWith('.tmp-'))).to.deep.equal([]);
  });

  it('refuses while the POS has the database open, and changes nothing', async () => {
    const pos = join(dir, 'open', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 2, seed: 2 });
    const { service } = makeService(join(dir, 'open-data'), { posDatabasePath: pos });
    const { backup } = await service.create(testJob());
    const writer = await startWriter(pos);
    let err: any;
    try {
      try { await service.restore(testJob({ name: backup.name })); } catch (e) { err = e; }
    } finally {
      await writer.stop();
    }
    expect(err?.name).to.equal('UserError');
    expect(err.message).to.match(/Kasse ist noch geöffnet/);
    expect(err.hint).to.match(/Kasse schließen/);
    // the writer's receipts are still there: nothing was replaced
    await withDb(await readFile(pos), (q) => expect(writerInvariant(q).receipts).to.be.greaterThan(0));
    expect((await readdir(join(dir, 'open-data', 'backups'))).filter((n) => n.endsWith('.gz'))).to.have.length(1);
  });

  it('refuses a backup that was altered after it was made', async () => {
    const pos = join(dir, 'alt', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 2, seed: 4 });
    const { service } = makeService(join(dir, 'alt-data'), { posDatabasePath: pos });
    const { backup } = await service.create(testJob());
    const before = (await stat(pos)).mtimeMs;
    const gz = await readFile(backup.path);
    gz[gz.length - 100] ^= 0xff;
    await writeFile(backup.path, gz);
    let err: any;
    try { await service.restore(testJob({ name: backup.name })); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.message).to.match(/beschädigt|verändert/);
    expect((await stat(pos)).mtimeMs).to.equal(before);
  });
});
