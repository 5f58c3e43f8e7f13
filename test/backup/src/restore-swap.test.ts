/**
 * Restore of a swapped backup: under the name of the backup the technician chose lies another, perfectly
 * valid backup (another moment's database, same tables, same row counts) — e.g. copied back from a stick
 * under the wrong name. gunzip's CRC, SQLite's integrity check and the row counts all pass; only the
 * checksums recorded in the backup's manifest can tell, and the restore must refuse it.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile, copyFile, mkdir } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { makeService, testJob, withDb, dumpTables } from './helpers.js';
import Database from 'better-sqlite3';

/** `gz` (one gzip member, no optional header fields) padded to exactly `size` bytes with a header comment. */
function padGzip(gz: Buffer, size: number): Buffer {
  if (gz[3] !== 0) throw new Error('expected a gzip header without optional fields');
  const pad = size - gz.length - 1; // comment bytes + its terminating zero
  if (pad < 0) throw new Error(`the other backup is ${gz.length - size} bytes too large to pad`);
  const header = Buffer.from(gz.subarray(0, 10));
  header[3] = 0x10; // FCOMMENT
  return Buffer.concat([header, Buffer.alloc(pad, 0x20), Buffer.from([0]), gz.subarray(10)]);
}

async function counts(gzOrDb: Buffer): Promise<Record<string, number>> {
  return withDb(gzOrDb, (q) => {
    const out: Record<string, number> = {};
    for (const [t] of q("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")) {
      out[String(t)] = Number(q(`SELECT count(*) FROM "${String(t)}"`)[0][0]);
    }
    return out;
  });
}

describe('backup: restore refuses a swapped but valid backup (manifest checksums)', function () {
  this.timeout(300_000);
  let dir: string;
  let pos: string;
  let backups: string;
  let service: ReturnType<typeof makeService>['service'];
  let chosen: { name: string; path: string };
  let other: { name: string; path: string };
  let manifest: { size: number; sha256: string; rawSha256: string; rawBytes: number; counts: Record<string, number> };
  let chosenBytes: Buffer;

  before(async () => {
    dir = await tempDir('kw-backup-swap-');
    pos = join(dir, 'pos', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 2, seed: 11 });
    ({ service } = makeService(join(dir, 'data'), { posDatabasePath: pos }));
    backups = join(dir, 'data', 'backups');
    chosen = (await service.create(testJob())).backup;
    manifest = JSON.parse(await readFile(chosen.path + '.json', 'utf8'));
    chosenBytes = await readFile(chosen.path);
    // later that day: names change (same length: SQLite's upper() maps ASCII only), no row is added or removed
    const db = new Database(pos);
    db.prepare('UPDATE customers SET last_name=upper(last_name)').run();
    db.close();
    await new Promise((res) => setTimeout(res, 1100)); // a new second: its own name
    other = (await service.create(testJob())).backup;
  });
  after(async () => { if (dir) await removeDir(dir); });

  it('refuses a restore without a name, with a name that is no backup name, and with an unknown one, in German; the database stays', async () => {
    const before = await readFile(pos);
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{}, 'backup.restore-name', 'Bitte eine Sicherung auswählen (Parameter „name“, z. B. kasse-2026-11-29_07-00-00.sqlite.gz).'],
      [{ name: '../pos/kasse.sqlite' }, 'backup.restore-name', 'Bitte eine Sicherung auswählen (Parameter „name“, z. B. kasse-2026-11-29_07-00-00.sqlite.gz).'],
      [{ name: 'kasse-2020-01-01_07-00-00.sqlite.gz' }, 'backup.restore-missing', 'Die Sicherung kasse-2020-01-01_07-00-00.sqlite.gz wurde im Sicherungsordner nicht gefunden.'],
    ];
    for (const [params, code, message] of cases) {
      let err: any;
      try { await service.restore(testJob(params)); } catch (e) { err = e; }
      expect([err?.name, err?.code, err?.message], JSON.stringify(params)).to.deep.equal(['UserError', code, message]);
    }
    expect((await readFile(pos)).equals(before)).to.equal(true);
  });

  it('refuses a same-size swap that passes gunzip, integrity check, row counts and size: only the checksum can tell', async () => {
    const otherRaw = gunzipSync(await readFile(other.path));
    const swapped = padGzip(gzipSync(otherRaw, { level: 9 }), manifest.size);
    // the swap is valid in every way except the checksums
    expect(swapped.length).to.equal(manifest.size);
    expect(gunzipSync(swapped).length).to.equal(manifest.rawBytes);
    expect(await counts(swapped)).to.deep.equal(manifest.counts);
    expect((await withDb(swapped, (q) => q('PRAGMA integrity_check')))[0][0]).to.equal('ok');
    await writeFile(chosen.path, swapped);

    const before = { mtime: (await stat(pos)).mtimeMs, tables: await dumpTables(pos), files: (await readdir(backups)).sort() };
    let err: any;
    try { await service.restore(testJob({ name: chosen.name })); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.code).to.equal('backup.verify');
    expect(err.message).to.equal('Die Sicherungsdatei wurde verändert oder ist beschädigt (Prüfsumme stimmt nicht).');
    // nothing changed: the POS database, and no safety backup was made
    expect((await stat(pos)).mtimeMs).to.equal(before.mtime);
    expect(await dumpTables(pos)).to.deep.equal(before.tables);
    expect((await readdir(backups)).sort()).to.deep.equal(before.files);
  });

  it('refuses a swap of another size too (the manifest is not silently dropped)', async () => {
    await copyFile(other.path, chosen.path);
    expect((await stat(chosen.path)).size).to.not.equal(manifest.size);
    const before = { mtime: (await stat(pos)).mtimeMs, files: (await readdir(backups)).sort() };
    let err: any;
    try { await service.restore(testJob({ name: chosen.name })); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.code).to.equal('backup.verify');
    expect(err.message).to.equal('Die Sicherungsdatei passt nicht zu ihrem Prüfprotokoll (Größe stimmt nicht): sie wurde verändert oder ausgetauscht.');
    expect((await stat(pos)).mtimeMs).to.equal(before.mtime);
    expect((await readdir(backups)).sort()).to.deep.equal(before.files);
  });

  it('refuses a backup swapped after it was verified, before it is copied into place: the database stays, no temp file, the safety backup is kept', async () => {
    // another process puts another day's backup under the chosen name in the moment between the verification
    // and the copy (here: when the restore announces the replacement, after the safety backup)
    await writeFile(chosen.path, chosenBytes);
    const otherBytes = await readFile(other.path);
    const job = testJob({ name: chosen.name });
    let swappedAt: string | undefined;
    const progress = job.progress;
    job.progress = (p, m) => {
      progress(p, m);
      if (m === 'Kassendatenbank wird ersetzt …') { writeFileSync(chosen.path, otherBytes); swappedAt = m; }
    };
    const before = { mtime: (await stat(pos)).mtimeMs, tables: await dumpTables(pos), files: (await readdir(backups)).sort() };
    let err: any;
    try { await service.restore(job); } catch (e) { err = e; }
    expect(swappedAt, 'the swap happened in that window').to.equal('Kassendatenbank wird ersetzt …');
    expect([err?.name, err?.code, err?.message]).to.deep.equal(['UserError', 'backup.verify', 'Die entpackte Sicherung weicht von der geprüften ab.']);
    expect((await stat(pos)).mtimeMs).to.equal(before.mtime);
    expect(await dumpTables(pos)).to.deep.equal(before.tables);
    expect((await readdir(join(dir, 'pos'))).filter((n) => n.startsWith('.tmp-')), 'no temporary copy beside the database').to.deep.equal([]);
    // the safety backup made before the swap stays (it is a good backup of the current database)
    const added = (await readdir(backups)).filter((n) => !before.files.includes(n));
    expect(added.some((n) => /\.sqlite\.gz$/.test(n)), added.join(', ')).to.equal(true);

    // the same restore without the swap goes through, and the database is then the chosen backup's
    await writeFile(chosen.path, chosenBytes);
    const ok = await service.restore(testJob({ name: chosen.name }));
    expect(ok.message).to.match(/^Sicherung kasse-.* wiederhergestellt\./);
    expect(createHash('sha256').update(await readFile(pos)).digest('hex')).to.equal(manifest.rawSha256);
  });

  it('restores onto a machine without a POS database (a replaced register): no safety backup, the database is the chosen one', async () => {
    await writeFile(chosen.path, chosenBytes);
    const fresh = join(dir, 'new-register', 'kasse.sqlite');
    const { service: onNew } = makeService(join(dir, 'data'), { posDatabasePath: fresh });
    const before = (await readdir(backups)).sort();
    const r = await onNew.restore(testJob({ name: chosen.name }));
    expect(r.message).to.equal(`Sicherung ${chosen.name} wiederhergestellt. Die Kasse kann wieder gestartet werden.`);
    expect((r.details as { safetyBackup: unknown }).safetyBackup).to.equal(null);
    expect(createHash('sha256').update(await readFile(fresh)).digest('hex')).to.equal(manifest.rawSha256);
    expect((await readdir(backups)).sort(), 'no safety backup of a database that is not there').to.deep.equal(before);
  });

  it('a disk that runs full while the database is put in place: a German message, the old database untouched, no temp file (tmpfs, root only)', async function () {
    if (process.getuid?.() !== 0) this.skip();
    await writeFile(chosen.path, chosenBytes);
    const small = join(dir, 'small');
    await mkdir(small, { recursive: true });
    // room for the current database, not for a second copy beside it
    const current = await readFile(pos);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((current.length * 1.5) / 4096) * 4096}`, 'tmpfs', small]);
    expect(m.status, String(m.stderr)).to.equal(0);
    try {
      const db = join(small, 'kasse.sqlite');
      await writeFile(db, current);
      const { service: full } = makeService(join(dir, 'data'), { posDatabasePath: db });
      let err: any;
      try { await full.restore(testJob({ name: chosen.name })); } catch (e) { err = e; }
      expect([err?.name, err?.code, err?.message]).to.deep.equal(['UserError', 'backup.disk-full',
        'Nicht genug freier Speicherplatz, um die Sicherung wiederherzustellen. Die Kassendatenbank wurde nicht verändert.']);
      expect((await readFile(db)).equals(current), 'the database is the old one').to.equal(true);
      expect(await readdir(small), 'nothing but the database on the full disk').to.deep.equal(['kasse.sqlite']);
    } finally {
      spawnSync('umount', [small]);
    }
  });

  it('a disk that runs full while the chosen backup is checked (it is unpacked beside it): a German message naming the full disk, not "damaged"; nothing changed (tmpfs, root only)', async function () {
    if (process.getuid?.() !== 0) this.skip();
    await writeFile(chosen.path, chosenBytes);
    const small = join(dir, 'small-backups');
    await mkdir(small, { recursive: true });
    // room for the backup and its record, not for the unpacked database
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((chosenBytes.length + 256 * 1024) / 4096) * 4096}`, 'tmpfs', small]);
    expect(m.status, String(m.stderr)).to.equal(0);
    try {
      await copyFile(chosen.path, join(small, chosen.name));
      await copyFile(chosen.path + '.json', join(small, chosen.name + '.json'));
      const { service: full } = makeService(join(dir, 'data'), { posDatabasePath: pos, backupDir: small });
      const before = await readFile(pos);
      let err: any;
      try { await full.restore(testJob({ name: chosen.name })); } catch (e) { err = e; }
      expect([err?.name, err?.code, err?.message]).to.deep.equal(['UserError', 'backup.disk-full',
        'Nicht genug freier Speicherplatz, um die gewählte Sicherung zu prüfen (sie wird dafür im Sicherungsordner entpackt). Die Kassendatenbank wurde nicht verändert.']);
      expect(err.hint).to.match(/Platz im Sicherungsordner schaffen/);
      expect((await readFile(pos)).equals(before)).to.equal(true);
      expect((await readdir(small)).sort(), 'no unpacked copy left on the full disk').to.deep.equal([chosen.name, chosen.name + '.json'].sort());
    } finally {
      spawnSync('umount', [small]);
    }
  });
});
