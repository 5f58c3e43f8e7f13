/**
 * Writing backups onto the stick: verified copy under the final name, checksum file, retention, the FAT32
 * 4 GiB limit, cancellation, and a real 1 MiB tmpfs as a stick that runs full.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { writeBackup, listStickBackups, FAT32_MAX_FILE } from '../../../plugins/usb/dist/src/writer.js';
import { makeBackupFile, sha256 } from './fixtures.js';

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

const at = (minutes: number) => new Date(Date.UTC(2026, 10, 29, 7, minutes, 0));

describe('usb: writing a backup onto the stick', function () {
  this.timeout(60_000);
  let dir: string;
  let local: string;
  let stick: string;

  beforeEach(async () => {
    dir = await tempDir('kw-usb-w-');
    local = join(dir, 'local');
    stick = join(dir, 'stick');
    await mkdir(local);
    await mkdir(stick);
  });
  afterEach(() => removeDir(dir));

  it('puts a copy with the right SHA-256 and a sha256sum file on the stick, nothing else, with progress in bytes (a failing read-back: readback.test.ts)', async () => {
    const file = await makeBackupFile(local, 'kasse-2026-11-29_07-00-00.sqlite.gz', 3 * 1024 * 1024 + 17, at(0));
    const progress: number[] = [];
    const r = await writeBackup({ dir: stick, file, keep: 5, progress: (b) => progress.push(b) });
    expect(r.path).to.equal(join(stick, file.name));
    expect(sha256(await readFile(r.path))).to.equal(file.sha256);
    expect(r.bytes).to.equal(file.size);
    expect(await readFile(r.path + '.sha256', 'utf8')).to.equal(`${file.sha256}  ${file.name}\n`);
    expect((await readdir(stick)).sort()).to.deep.equal([file.name, file.name + '.sha256']);
    expect(progress.at(-1)).to.equal(file.size);
    expect((await stat(r.path)).mtime.toISOString()).to.equal(file.createdAt);
    // the checksum file is in the format sha256sum -c understands
    const out = execFileSync('sha256sum', ['-c', file.name + '.sha256'], { cwd: stick, encoding: 'utf8' });
    expect(out).to.contain(': OK');
  });

  it('keeps the newest N backups and never touches other files on the stick', async () => {
    await writeFile(join(stick, 'Urlaubsfotos.zip'), 'private');
    await writeFile(join(stick, 'alte-sicherung.gz'), 'not ours: no checksum file');
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const f = await makeBackupFile(local, `kasse-2026-11-29_07-0${i}-00.sqlite.gz`, 1000 + i, at(i));
      names.push(f.name);
      await writeBackup({ dir: stick, file: f, keep: 2 });
    }
    expect((await listStickBackups(stick)).map((b) => b.name)).to.deep.equal([names[3], names[2]]);
    const all = await readdir(stick);
    expect(all).to.include.members(['Urlaubsfotos.zip', 'alte-sicherung.gz']);
    expect(all).to.not.include(names[0]);
    expect(all).to.not.include(names[0] + '.sha256');
  });

  it('refuses a local file whose content does not match its SHA-256, leaving nothing behind', async () => {
    const file = await makeBackupFile(local, 'kasse-a.sqlite.gz', 4096, at(0));
    const e = await rejection(writeBackup({ dir: stick, file: { ...file, sha256: '0'.repeat(64) }, keep: 5 }));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('usb.source-changed');
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('refuses files over the FAT32 limit of 4 GiB with a clear reason, before writing anything', async () => {
    const big = join(local, 'kasse-gross.sqlite.gz');
    await writeFile(big, '');
    await truncate(big, FAT32_MAX_FILE + 1); // sparse: no disk space used
    const e = await rejection(writeBackup({
      dir: stick, keep: 5,
      file: { path: big, name: 'kasse-gross.sqlite.gz', size: FAT32_MAX_FILE + 1, sha256: 'x', createdAt: at(0).toISOString() },
    }));
    expect(e.code).to.equal('usb.too-large');
    expect(e.message).to.contain('FAT32-Format');
    expect(e.message).to.contain('4 GiB');
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('removes its temporary file when cancelled', async () => {
    const file = await makeBackupFile(local, 'kasse-b.sqlite.gz', 8 * 1024 * 1024, at(0));
    const ac = new AbortController();
    const e = await rejection(writeBackup({
      dir: stick, file, keep: 5, signal: ac.signal,
      progress: (b) => { if (b >= 1024 * 1024) ac.abort(); },
    }));
    expect(e.name).to.equal('CancelledError');
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('cleans up leftovers of an interrupted earlier write', async () => {
    await writeFile(join(stick, '.kw-tmp-kasse-x.sqlite.gz.abcd1234'), 'half written');
    const file = await makeBackupFile(local, 'kasse-c.sqlite.gz', 2000, at(0));
    await writeBackup({ dir: stick, file, keep: 5 });
    expect((await readdir(stick)).sort()).to.deep.equal([file.name, file.name + '.sha256']);
  });

  it('refuses a file name FAT does not allow', async () => {
    const file = await makeBackupFile(local, 'kasse-d.sqlite.gz', 100, at(0));
    const e = await rejection(writeBackup({ dir: stick, file: { ...file, name: 'kasse-07:00.gz' }, keep: 5 }));
    expect(e.code).to.equal('usb.name');
  });
});

describe('usb: a stick that runs full (real 1 MiB tmpfs, root only)', function () {
  this.timeout(60_000);
  let dir: string;
  let local: string;
  let stick: string;
  let mounted = false;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = await tempDir('kw-usb-full-');
    local = join(dir, 'local');
    stick = join(dir, 'stick');
    await mkdir(local);
    await mkdir(stick);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', stick]);
    mounted = true;
  });
  after(async () => {
    if (mounted) execFileSync('umount', [stick]);
    if (dir) await removeDir(dir);
  });

  it('deletes only older backups to make room, keeping the newest one', async () => {
    const old: string[] = [];
    for (let i = 0; i < 3; i++) {
      const f = await makeBackupFile(local, `kasse-alt-${i}.sqlite.gz`, 300_000, at(i));
      await writeBackup({ dir: stick, file: f, keep: 10 });
      old.push(f.name);
    }
    const logs: string[] = [];
    const f = await makeBackupFile(local, 'kasse-neu.sqlite.gz', 400_000, at(10));
    const r = await writeBackup({ dir: stick, file: f, keep: 10, log: (m) => logs.push(m) });
    expect(r.deletedForSpace).to.deep.equal([old[0], old[1]]);
    expect((await listStickBackups(stick)).map((b) => b.name)).to.deep.equal([f.name, old[2]]);
    expect(sha256(await readFile(join(stick, f.name)))).to.equal(f.sha256);
    expect(logs.join('\n')).to.contain(old[0]);
  });

  it('fails clearly and deletes nothing when even that would not be enough', async () => {
    const before = (await readdir(stick)).sort();
    const f = await makeBackupFile(local, 'kasse-riesig.sqlite.gz', 900_000, at(20));
    const e = await rejection(writeBackup({ dir: stick, file: f, keep: 10 }));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('usb.space');
    expect(e.message).to.match(/^Auf dem USB-Stick unter .* ist zu wenig Platz: benötigt 96\d,\d kB, frei .* \(auch nach dem Löschen älterer Sicherungen\)\.$/);
    expect((await readdir(stick)).sort()).to.deep.equal(before);
  });

  it('fails clearly when other files fill the stick and no older backup can go', async () => {
    const files = await readdir(stick);
    for (const n of files) execFileSync('rm', ['-f', join(stick, n)]);
    await writeFile(join(stick, 'fremd.bin'), Buffer.alloc(900_000, 1));
    const f = await makeBackupFile(local, 'kasse-x.sqlite.gz', 300_000, at(30));
    const e = await rejection(writeBackup({ dir: stick, file: f, keep: 10 }));
    expect(e.code).to.equal('usb.space');
    expect(e.message).to.not.contain('auch nach dem Löschen');
    expect((await readdir(stick))).to.deep.equal(['fremd.bin']);
  });
});

describe('usb: sending the same backup again', function () {
  let dir: string;
  beforeEach(async () => { dir = await tempDir('kw-usb-again-'); });
  afterEach(() => removeDir(dir));

  it('replaces it in place: still one copy with the right SHA-256, nothing else', async () => {
    const stick = join(dir, 'stick');
    await mkdir(stick);
    const file = await makeBackupFile(dir, 'kasse-2026-11-29_21-00-00.sqlite.gz', 50_000, at(0));
    await writeBackup({ dir: stick, file, keep: 5 });
    await writeBackup({ dir: stick, file, keep: 5 });
    expect((await readdir(stick)).sort()).to.deep.equal([file.name, file.name + '.sha256']);
    expect(sha256(await readFile(join(stick, file.name)))).to.equal(file.sha256);
  });
});
