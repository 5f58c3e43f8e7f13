import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { open, readFile, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase, POS_TABLES } from '../../../plugins/backup/dist/src/posdb.js';
import { gzipParallel } from '../../../plugins/backup/dist/src/gzip.js';
import { selectForDeletion, isoWeekKey } from '../../../plugins/backup/dist/src/retention.js';
import { parseTimes, nextRun, longestGapMs } from '../../../plugins/backup/dist/src/schedule.js';
import { newBackupName, BACKUP_NAME } from '../../../plugins/backup/dist/src/store.js';
import { startSnapshotCheck } from '../../../plugins/backup/dist/src/check.js';
import { followGzipFile } from '../../../plugins/backup/dist/src/verify.js';
import { snapshotToGzip } from '../../../plugins/backup/dist/src/snapshot.js';
import { withDb } from './helpers.js';

describe('backup: building blocks', () => {
  let dir: string;
  before(async () => { dir = await tempDir('kw-backup-unit-'); });
  after(async () => { await removeDir(dir); });

  it('generates a salon POS database deterministically, with all tables, several years and TSE fields', async () => {
    const a = await generatePosDatabase(join(dir, 'a.sqlite'), { seed: 5 });
    const b = await generatePosDatabase(join(dir, 'b.sqlite'), { seed: 5 });
    expect(a.bytes).to.be.within(12 * 1024 * 1024, 14 * 1024 * 1024); // the demo size
    expect(a.counts).to.deep.equal(b.counts);
    await withDb(await readFile(a.path), (q) => {
      expect(q('PRAGMA integrity_check')[0][0]).to.equal('ok');
      for (const t of POS_TABLES) expect(Number(q(`SELECT count(*) FROM ${t}`)[0][0]), t).to.be.greaterThan(0);
      const [[first, last]] = q('SELECT min(created_at), max(created_at) FROM receipts');
      expect(Number(String(last).slice(0, 4)) - Number(String(first).slice(0, 4))).to.be.at.least(3); // several years
      const [[sig, serial]] = q('SELECT tse_signature, tse_serial FROM receipts LIMIT 1');
      expect(String(sig).length).to.be.greaterThan(60);
      expect(String(serial)).to.match(/^[0-9a-f]{64}$/);
      // receipts add up to their line items
      expect(q('SELECT count(*) FROM receipts r WHERE total_cents != (SELECT sum(total_cents) FROM receipt_items i WHERE i.receipt_id = r.id)')[0][0]).to.equal(0);
    });
    const other = await withDb(await readFile(b.path), (q) => q('SELECT tse_signature FROM receipts WHERE id = 100')[0][0]);
    const same = await withDb(await readFile(a.path), (q) => q('SELECT tse_signature FROM receipts WHERE id = 100')[0][0]);
    expect(other).to.equal(same);
  });

  it('parallel gzip writes a multi-member .gz that gzip -t accepts and gunzips to the same bytes', async () => {
    const src = join(dir, 'src.bin');
    // half random, half repetitive: members of different sizes
    const data = Buffer.concat([randomBytes(3 * 1024 * 1024 + 123), Buffer.alloc(5 * 1024 * 1024, 'Kasse ')]);
    await writeFile(src, data);
    const input = await open(src, 'r');
    const output = await open(join(dir, 'out.gz'), 'w');
    const progress: number[] = [];
    const r = await gzipParallel(input, output, { chunkSize: 1024 * 1024, concurrency: 3, onProgress: (n) => progress.push(n) });
    await input.close(); await output.close();
    expect(r.rawBytes).to.equal(data.length);
    expect(r.rawSha256).to.equal(createHash('sha256').update(data).digest('hex'));
    const gz = await readFile(join(dir, 'out.gz'));
    expect(r.gzBytes).to.equal(gz.length);
    expect(r.gzSha256).to.equal(createHash('sha256').update(gz).digest('hex'));
    expect(spawnSync('gzip', ['-t', join(dir, 'out.gz')]).status).to.equal(0);
    const back = spawnSync('gzip', ['-dc', join(dir, 'out.gz')], { maxBuffer: 64 * 1024 * 1024 }).stdout;
    expect(back.equals(data)).to.equal(true);
    expect(progress.at(-1)).to.equal(data.length);
    expect(progress).to.deep.equal([...progress].sort((x, y) => x - y));
  });

  it('the native SQLite checks in the worker count the rows of the snapshot, and refuse a damaged database', async () => {
    const db = await generatePosDatabase(join(dir, 'check.sqlite'), { sizeMb: 3, seed: 8 });
    const bytes = await readFile(db.path);
    const good = startSnapshotCheck(db.path);
    try {
      const counts = await good.result;
      const expected = await withDb(bytes, (q) => Object.fromEntries(POS_TABLES.map((t) => [t, Number(q(`SELECT count(*) FROM ${t}`)[0][0])])));
      for (const t of POS_TABLES) expect(counts[t], t).to.equal(expected[t]);
    } finally {
      good.cancel();
    }
    // a page in the middle of a table b-tree overwritten with garbage: still a SQLite file of the right size
    bytes.fill(0x41, 4096 * 150, 4096 * 151);
    await writeFile(join(dir, 'check-bad.sqlite'), bytes);
    const bad = startSnapshotCheck(join(dir, 'check-bad.sqlite'));
    let err: any;
    try { await bad.result; } catch (e) { err = e; } finally { bad.cancel(); }
    expect(err?.name).to.equal('UserError');
    expect(err.code).to.equal('backup.verify');
    // depending on the page hit, integrity_check lists the problems or SQLite calls the file malformed
    expect(err.message).to.match(/Integritätsprüfung nicht bestanden|keine lesbare SQLite-Datenbank/);
  });

  it('the read-back of a .gz while it is written gives the digest of the file and its length, and catches a flipped byte, a cut-off file or a member out of place', async () => {
    const data = Buffer.concat([randomBytes(2 * 1024 * 1024), Buffer.alloc(6 * 1024 * 1024 + 77, 'Salon ')]);
    await writeFile(join(dir, 'f.bin'), data);
    const compress = async (src: string, gzPath: string, onMember: (gz: number, trailer: Buffer) => void) => {
      const input = await open(src, 'r');
      const output = await open(gzPath, 'w');
      try {
        return await gzipParallel(input, output, { chunkSize: 1024 * 1024, hash: false, onProgress: (_raw, gz, trailer) => onMember(gz, trailer) });
      } finally {
        await input.close(); await output.close();
      }
    };
    const follower = followGzipFile(join(dir, 'f.gz'));
    const trailers: Array<[number, Buffer]> = [];
    const r = await compress(join(dir, 'f.bin'), join(dir, 'f.gz'), (gz, t) => { trailers.push([gz, t]); follower.written(gz, t); });
    const d = await follower.end();
    const gz = await readFile(join(dir, 'f.gz'));
    expect(d.gzSha256).to.equal(createHash('sha256').update(gz).digest('hex'));
    expect(d.rawBytes).to.equal(data.length);
    expect(d.members).to.equal(9);
    expect(r.gzBytes).to.equal(gz.length);

    // The same members, but two of them swapped (each one a valid gzip member that gunzips with a good CRC):
    // the trailer at each place is not the one the compressor reported for that place.
    const ends = trailers.map(([end]) => end);
    const parts = ends.map((end, i) => gz.subarray(i ? ends[i - 1] : 0, end));
    const swapped = Buffer.concat([parts[1], parts[0], ...parts.slice(2)]);
    expect(spawnSync('gzip', ['-t'], { input: swapped }).status, 'gzip -t accepts the swapped file').to.equal(0);
    await writeFile(join(dir, 's.gz'), swapped);
    const s = followGzipFile(join(dir, 's.gz'));
    for (const [end, t] of trailers) s.written(end, t);
    let e0: any;
    try { await s.end(); } catch (e) { e0 = e; }
    expect(e0?.code).to.equal('backup.verify');
    expect(e0.message).to.match(/weicht vom gelesenen Datenbankstand ab/);

    const readBack = async (bytes: Buffer) => {
      await writeFile(join(dir, 'g.gz'), bytes);
      const f = followGzipFile(join(dir, 'g.gz'));
      f.written(bytes.length);
      try { await f.end(); return undefined; } catch (e) { return e as any; }
    };
    const flipped = Buffer.from(gz);
    flipped[Math.floor(gz.length / 2)] ^= 0x10;
    const e1 = await readBack(flipped);
    expect(e1?.code).to.equal('backup.verify');
    expect(e1.message).to.match(/beschädigt/);
    const e2 = await readBack(gz.subarray(0, gz.length - 1000));
    expect(e2?.code).to.equal('backup.verify');
    expect(await readBack(gz)).to.equal(undefined);
  });

  it('a snapshot with checks: the written .gz gunzips to exactly the bytes the worker checked', async () => {
    const db = await generatePosDatabase(join(dir, 'snap.sqlite'), { sizeMb: 5, seed: 6 });
    const out = join(dir, 'snap.gz');
    const snap = await snapshotToGzip(db.path, out, { tmpDir: dir, check: true });
    try {
      const [digest, counts] = await Promise.all([snap.check!.digest, snap.check!.result]);
      const raw = spawnSync('gzip', ['-dc', out], { maxBuffer: 1 << 26 }).stdout;
      const rawSha = createHash('sha256').update(raw).digest('hex');
      expect(rawSha).to.equal(createHash('sha256').update(await readFile(db.path)).digest('hex'));
      expect(snap.check!.rawSha256).to.equal(rawSha);
      expect(digest.members).to.be.greaterThan(1);
      expect(digest.gzSha256).to.equal(createHash('sha256').update(await readFile(out)).digest('hex'));
      expect(digest.rawBytes).to.equal(snap.rawBytes);
      expect(counts.receipts).to.equal(db.counts.receipts);
    } finally {
      snap.check!.cancel();
    }
  });

  it('retention keeps every backup of the newest days, the newest per week and month, and always the newest verified backup', () => {
    const items: Array<{ name: string; createdAt: Date; verified: boolean }> = [];
    // two backups a day (07:00, 21:00) for 120 days back from 2026-11-29
    for (let d = 0; d < 120; d++) {
      for (const h of [21, 7]) {
        const at = new Date(2026, 10, 29 - d, h, 0, 0);
        items.push({ name: newBackupName(at, new Set()), createdAt: at, verified: true });
      }
    }
    const del = new Set(selectForDeletion(items, { daily: 3, weekly: 2, monthly: 3 }));
    const kept = items.filter((i) => !del.has(i.name)).map((i) => i.name).sort().reverse();
    expect(kept).to.deep.equal([
      'kasse-2026-11-29_21-00-00.sqlite.gz', // newest: today, also this week and month
      'kasse-2026-11-29_07-00-00.sqlite.gz', // daily: every backup of the newest 3 days
      'kasse-2026-11-28_21-00-00.sqlite.gz',
      'kasse-2026-11-28_07-00-00.sqlite.gz',
      'kasse-2026-11-27_21-00-00.sqlite.gz',
      'kasse-2026-11-27_07-00-00.sqlite.gz',
      'kasse-2026-11-22_21-00-00.sqlite.gz', // weekly (Sunday of ISO week 47)
      'kasse-2026-10-31_21-00-00.sqlite.gz', // monthly
      'kasse-2026-09-30_21-00-00.sqlite.gz', // monthly
    ]);
    // an unverified backup fills no slot: the newest 3 days of VERIFIED backups stay, an unverified one goes
    const mixed = [
      { name: 'kasse-2026-11-29_21-00-00.sqlite.gz', createdAt: new Date(2026, 10, 29, 21), verified: false },
      { name: 'kasse-2026-11-28_21-00-00.sqlite.gz', createdAt: new Date(2026, 10, 28, 21), verified: false },
      { name: 'kasse-2026-11-27_21-00-00.sqlite.gz', createdAt: new Date(2026, 10, 27, 21), verified: true },
      { name: 'kasse-2026-11-26_21-00-00.sqlite.gz', createdAt: new Date(2026, 10, 26, 21), verified: true },
      { name: 'kasse-2026-11-25_21-00-00.sqlite.gz', createdAt: new Date(2026, 10, 25, 21), verified: true },
    ];
    expect(selectForDeletion(mixed, { daily: 2, weekly: 0, monthly: 0 })).to.deep.equal(['kasse-2026-11-29_21-00-00.sqlite.gz', 'kasse-2026-11-28_21-00-00.sqlite.gz', 'kasse-2026-11-25_21-00-00.sqlite.gz']);
    // everything zero still keeps the newest verified one
    const none = new Set(selectForDeletion(items, { daily: 0, weekly: 0, monthly: 0 }));
    expect(items.filter((i) => !none.has(i.name)).map((i) => i.name)).to.deep.equal(['kasse-2026-11-29_21-00-00.sqlite.gz']);
    expect(isoWeekKey(new Date(2026, 0, 1))).to.equal('2026-W01');
    expect(isoWeekKey(new Date(2027, 0, 1))).to.equal('2026-W53');
  });

  it('backup names are FAT-safe and unique within a second', () => {
    const at = new Date(2026, 10, 29, 7, 0, 0);
    const a = newBackupName(at, new Set());
    const b = newBackupName(at, new Set([a]));
    expect(a).to.equal('kasse-2026-11-29_07-00-00.sqlite.gz');
    expect(b).to.equal('kasse-2026-11-29_07-00-00-2.sqlite.gz');
    for (const n of [a, b]) { expect(n).to.match(BACKUP_NAME); expect(n).not.to.match(/[:\\/*?"<>|]/); }
  });

  it('schedule times: parse, next run, longest gap', () => {
    expect(parseTimes('21:00, 07:00,07:00')).to.deep.equal([7 * 60, 21 * 60]);
    expect(parseTimes('')).to.deep.equal([]);
    const t = parseTimes('07:00,21:00');
    expect(nextRun(t, new Date(2026, 10, 29, 6, 59))!.getHours()).to.equal(7);
    expect(nextRun(t, new Date(2026, 10, 29, 7, 0))!.getHours()).to.equal(21);
    const late = nextRun(t, new Date(2026, 10, 29, 22, 0))!;
    expect([late.getDate(), late.getHours()]).to.deep.equal([30, 7]);
    expect(longestGapMs(t)).to.equal(14 * 3600_000);
  });
});
