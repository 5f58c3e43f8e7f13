/**
 * The USB writer's edges, on real folders: which files on the stick count as complete backups, which
 * leftovers it removes (and which it leaves alone), its messages and progress texts, the FAT32 size
 * boundary, a source whose size is wrong, and retention when an older backup is sent again.
 */
import { expect } from 'chai';
import { mkdir, readdir, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { writeBackup, listStickBackups, cleanLeftovers, FAT32_MAX_FILE } from '../../../plugins/usb/dist/src/writer.js';
import { makeBackupFile } from './fixtures.js';
import { rejection } from '../../support/dist/rejection.js';

const H = 'ab'.repeat(32);
const at = (minutes: number) => new Date(Date.UTC(2026, 10, 29, 7, minutes, 0));

describe('usb: the writer\'s edges (real folders)', function () {
  this.timeout(60_000);
  let dir: string;
  let local: string;
  let stick: string;

  beforeEach(async () => {
    dir = await tempDir('kw-usb-edges-');
    local = join(dir, 'local');
    stick = join(dir, 'stick');
    await mkdir(local);
    await mkdir(stick);
  });
  afterEach(() => removeDir(dir));

  it('counts only "<name>" + a sha256sum line naming exactly it as a complete backup', async () => {
    const put = async (name: string, line: string | undefined, mtime = at(0)) => {
      await writeFile(join(stick, name), 'x');
      if (line !== undefined) await writeFile(join(stick, name + '.sha256'), line);
      await utimes(join(stick, name), mtime, mtime);
    };
    await put('ok.gz', `${H}  ok.gz\n`);
    await put('star.gz', `${H} *star.gz  \n`, at(1)); // binary-mode marker, trailing spaces
    await put('other-name.gz', `${H}  ok.gz\n`);
    await put('junk-before.gz', `x${H}  junk-before.gz\n`);
    await put('short-hash.gz', `${H.slice(1)}  short-hash.gz\n`);
    await put('no-checksum.gz', undefined);
    await put('.hidden.gz', `${H}  .hidden.gz\n`);
    await mkdir(join(stick, 'folder.gz'));
    await writeFile(join(stick, 'folder.gz.sha256'), `${H}  folder.gz\n`);
    await writeFile(join(stick, 'orphan.gz.sha256'), `${H}  orphan.gz\n`);
    const list = await listStickBackups(stick);
    expect(list.map((b) => [b.name, b.sha256, b.size])).to.deep.equal([['star.gz', H, 1], ['ok.gz', H, 1]]);
  });

  it('lists backups of the same time by name, descending', async () => {
    for (const n of ['b.gz', 'c.gz', 'a.gz']) {
      await writeFile(join(stick, n), 'x');
      await writeFile(join(stick, n + '.sha256'), `${H}  ${n}\n`);
      await utimes(join(stick, n), at(5), at(5));
    }
    expect((await listStickBackups(stick)).map((b) => b.name)).to.deep.equal(['c.gz', 'b.gz', 'a.gz']);
  });

  it('removes only its own leftovers: temp copies, temp checksum files, checksum files without their backup', async () => {
    const ours = ['.kw-tmp-kasse-a.sqlite.gz.0123abcd', '.tmp-kasse-a.sqlite.gz.sha256.4711.89abcdef', 'kasse-weg.sqlite.gz.sha256'];
    const theirs = ['.tmp-kasse-a.sqlite.gz.sha256.x.89abcdef', '.tmp-kasse-a.sqlite.gz.sha256.4711.89abcdeg', 'x.tmp-a.sha256.1.89abcdef',
      '.tmp-.sha256.1.89abcdef', '.tmp-a.sha256.1.89abcdef0', '.fremd.sha256', 'Urlaub.jpg', 'kasse-da.sqlite.gz', 'kasse-da.sqlite.gz.sha256', 'sha256'];
    for (const n of [...ours, ...theirs]) await writeFile(join(stick, n), 'x');
    expect((await cleanLeftovers(stick)).sort()).to.deep.equal([...ours].sort());
    expect((await readdir(stick)).sort()).to.deep.equal([...theirs].sort());
    expect(await cleanLeftovers(stick)).to.deep.equal([]);
  });

  it('says what it cleaned up, reports its steps, and deletes nothing when there is room', async () => {
    await writeFile(join(stick, '.kw-tmp-kasse-x.sqlite.gz.0123abcd'), 'half');
    await writeFile(join(stick, 'kasse-y.sqlite.gz.sha256'), `${H}  kasse-y.sqlite.gz\n`);
    const file = await makeBackupFile(local, 'kasse-2026-11-29_07-00-00.sqlite.gz', 5000, at(0));
    const logs: string[] = [];
    const steps: (string | undefined)[] = [];
    const r = await writeBackup({ dir: stick, file, keep: 5, log: (m) => logs.push(m), progress: (_b, m) => steps.push(m) });
    expect(logs).to.deep.equal(['Reste einer abgebrochenen Sicherung vom USB-Stick entfernt: .kw-tmp-kasse-x.sqlite.gz.0123abcd, kasse-y.sqlite.gz.sha256']);
    expect([...new Set(steps)]).to.deep.equal(['Kopiere auf den USB-Stick …', 'Prüfe die Sicherung auf dem USB-Stick …']);
    expect(r.deletedForSpace).to.deep.equal([]);
    expect(r.deletedForRetention).to.deep.equal([]);
    const quiet: string[] = [];
    await writeBackup({ dir: stick, file, keep: 5, log: (m) => quiet.push(m) });
    expect(quiet).to.deep.equal([]);
  });

  it('refuses names FAT or the stick\'s own files use, with the name in the message', async () => {
    const file = await makeBackupFile(local, 'kasse-d.sqlite.gz', 100, at(0));
    for (const name of ['.kasse-d.sqlite.gz', '', 'a/b.gz', 'a\\b.gz', 'a*b.gz', 'a"b.gz', 'a\u0001b.gz']) {
      const e = await rejection(writeBackup({ dir: stick, file: { ...file, name }, keep: 5 }));
      expect(e.code, name).to.equal('usb.name');
      expect(e.message).to.equal(`Der Dateiname „${name}“ ist auf einem FAT32-Stick nicht erlaubt.`);
    }
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('accepts exactly 4 GiB − 1 byte as a size (the check is "more than"), and says what to do above it', async () => {
    const file = await makeBackupFile(local, 'kasse-e.sqlite.gz', 100, at(0));
    // the declared size is the FAT32 maximum, the file is 100 bytes: not refused as too large, refused as changed
    const e = await rejection(writeBackup({ dir: stick, file: { ...file, size: FAT32_MAX_FILE }, keep: 5 }));
    expect(e.code).to.equal('usb.source-changed');
    expect(e.message).to.equal('Die lokale Sicherungsdatei hat sich während des Kopierens verändert oder ist beschädigt; auf dem USB-Stick wurde nichts gespeichert.');
    expect(e.hint).to.equal('Klicken Sie zuerst auf „Datensicherung“ und danach erneut auf „Backup an FTP“.');
    const big = await rejection(writeBackup({ dir: stick, file: { ...file, size: FAT32_MAX_FILE + 1 }, keep: 5 }));
    expect(big.code).to.equal('usb.too-large');
    expect(big.hint).to.equal('Sichern Sie auf den FTP-Server oder wenden Sie sich an den Support.');
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('refuses a source whose size is not the one announced, even when its SHA-256 is right', async () => {
    const file = await makeBackupFile(local, 'kasse-f.sqlite.gz', 4096, at(0));
    const e = await rejection(writeBackup({ dir: stick, file: { ...file, size: 4095 }, keep: 5 }));
    expect(e.code).to.equal('usb.source-changed');
    expect(await readdir(stick)).to.deep.equal([]);
  });

  it('keeps a backup it has just written even when it is older than the ones it would otherwise keep', async () => {
    for (let i = 1; i <= 2; i++) await writeBackup({ dir: stick, file: await makeBackupFile(local, `kasse-neu-${i}.sqlite.gz`, 100, at(10 + i)), keep: 1 });
    const old = await makeBackupFile(local, 'kasse-alt.sqlite.gz', 100, at(0));
    const r = await writeBackup({ dir: stick, file: old, keep: 1 });
    expect(r.deletedForRetention).to.deep.equal([]);
    expect((await listStickBackups(stick)).map((b) => b.name)).to.deep.equal(['kasse-neu-2.sqlite.gz', 'kasse-alt.sqlite.gz']);
  });
});
