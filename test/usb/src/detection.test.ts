/**
 * Stick detection against real file system images (mkfs.vfat, mkfs.exfat, mkfs.ntfs, mkfs.ext4) and
 * mount-table fixture files that point at them.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { detectFilesystem, readFilesystemHeader } from '../../../plugins/usb/dist/src/filesystem.js';
import { parseMountTable, findMountAt } from '../../../plugins/usb/dist/src/mounts.js';
import { checkStick, listSticks, suggestPath, type UsbEnvironment } from '../../../plugins/usb/dist/src/stick.js';
import { makeImage, makeStickDir, writeMounts, type ImageKind } from './fixtures.js';

describe('usb: file system recognition from real mkfs images', function () {
  this.timeout(60_000);
  let dir: string;
  const images = {} as Record<ImageKind, string>;

  before(async () => {
    dir = await tempDir('kw-usb-img-');
    for (const k of ['FAT32', 'FAT16', 'exFAT', 'NTFS', 'ext4'] as ImageKind[]) images[k] = await makeImage(dir, k);
  });
  after(() => removeDir(dir));

  for (const kind of ['FAT32', 'FAT16', 'exFAT', 'NTFS', 'ext4'] as ImageKind[]) {
    it(`names a ${kind} image ${kind}`, async () => {
      const header = await readFilesystemHeader(images[kind]);
      expect(header).to.not.equal(undefined);
      expect(detectFilesystem(header!)).to.equal(kind);
    });
  }

  it('agrees with mtools about FAT32 vs FAT16', () => {
    // mtools reads the same images independently: FAT32 has no 16-bit FAT size, FAT16 says "FAT16".
    const f32 = execFileSync('minfo', ['-i', images.FAT32], { encoding: 'utf8' });
    const f16 = execFileSync('minfo', ['-i', images.FAT16], { encoding: 'utf8' });
    expect(f32).to.match(/sectors per fat: 0/);
    expect(f16).to.match(/disk type="FAT16 {3}"/);
  });

  it('does not call a zeroed or unreadable device anything', async () => {
    expect(detectFilesystem(new Uint8Array(2048))).to.equal(undefined);
    expect(await readFilesystemHeader(join(dir, 'does-not-exist'))).to.equal(undefined);
    expect(await readFilesystemHeader('tmpfs')).to.equal(undefined);
  });
});

describe('usb: mount table parsing', () => {
  it('resolves \\040 escapes and picks the mount on top of a stacked mount point', () => {
    const t = parseMountTable([
      '/dev/sdb1 /media/usb\\0400 vfat rw,relatime 0 0',
      '/dev/sdc1 /media/usb2 vfat rw 0 0',
      '/dev/sdd1 /media/usb2 exfat ro 0 0',
      'garbage',
      '',
    ].join('\n'));
    expect(t).to.have.length(3);
    expect(t[0].mountPoint).to.equal('/media/usb 0');
    expect(findMountAt(t, '/media/usb2')).to.include({ device: '/dev/sdd1', fstype: 'exfat' });
    expect(findMountAt(t, '/media/usb2')!.options).to.include('ro');
    expect(findMountAt(t, '/media')).to.equal(undefined);
  });
});

describe('usb: checking the configured stick (mount-table fixtures, real images)', function () {
  this.timeout(60_000);
  let dir: string;
  let media: string;
  let env: UsbEnvironment;
  const images = {} as Record<ImageKind, string>;

  before(async () => {
    dir = await tempDir('kw-usb-chk-');
    media = join(dir, 'media');
    await mkdir(media);
    for (const k of ['FAT32', 'FAT16', 'exFAT', 'NTFS', 'ext4'] as ImageKind[]) images[k] = await makeImage(dir, k);
    env = { mountsFile: join(dir, 'mounts'), mediaRoot: media };
  });
  after(() => removeDir(dir));

  it('accepts a FAT32 stick mounted exactly at the path, confirmed from its boot sector', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: usb0, fstype: 'vfat' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(true);
    if (r.ok) expect(r.stick).to.include({ format: 'FAT32', formatConfirmed: true, tse: false, readOnly: false });
  });

  it('refuses a bare mount-point folder: "Kein USB-Stick … eingehängt"', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: join(media, 'usb1'), fstype: 'vfat' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.reason).to.equal(`Kein USB-Stick unter ${usb0} eingehängt.`);
    const missing = await checkStick(join(media, 'usb7'), env);
    expect(missing.ok).to.equal(false);
    if (!missing.ok) expect(missing.code).to.equal('usb.not-mounted');
  });

  it('refuses a stick mounted only below the path, not exactly at it', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await mkdir(join(usb0, 'inner'), { recursive: true });
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: join(usb0, 'inner'), fstype: 'vfat' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.code).to.equal('usb.not-mounted');
  });

  const wrong: [ImageKind, string][] = [['FAT16', 'vfat'], ['exFAT', 'exfat'], ['NTFS', 'fuseblk'], ['ext4', 'ext4']];
  for (const [kind, fstype] of wrong) {
    it(`names the wrong format: ${kind} (mount table says ${fstype})`, async () => {
      const usb0 = await makeStickDir(media, 'usb0');
      await writeMounts(env.mountsFile, [{ device: images[kind], mountPoint: usb0, fstype }]);
      const r = await checkStick(usb0, env);
      expect(r.ok).to.equal(false);
      if (!r.ok) {
        expect(r.code).to.equal('usb.format');
        expect(r.reason).to.equal(`Der USB-Stick unter ${usb0} hat das Format ${kind}, nicht FAT32.`);
        expect(r.hint).to.contain('FAT32-Format');
      }
    });
  }

  it('names the kernel type when the device cannot be read (exfat without a readable device)', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: '/dev/kw-no-such-device', mountPoint: usb0, fstype: 'exfat' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.reason).to.contain('Format exFAT');
  });

  it('takes vfat on trust when the boot sector is unreadable, and says it was not confirmed', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: '/dev/kw-no-such-device', mountPoint: usb0, fstype: 'vfat' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(true);
    if (r.ok) expect(r.stick).to.include({ format: 'FAT32', formatConfirmed: false });
  });

  it('refuses a read-only stick', async () => {
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: usb0, fstype: 'vfat', options: 'ro,relatime' }]);
    const r = await checkStick(usb0, env);
    expect(r.ok).to.equal(false);
    if (!r.ok) expect(r.reason).to.equal(`Der USB-Stick unter ${usb0} ist schreibgeschützt eingehängt.`);
  });

  it('never writes onto the Swissbit TSE stick', async () => {
    const tse = await makeStickDir(media, 'usb-tse', { tse: true });
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: tse, fstype: 'vfat' }]);
    const r = await checkStick(tse, env);
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.code).to.equal('usb.tse');
      expect(r.reason).to.contain('TSE-Stick (Swissbit)');
    }
  });

  it('finds a mount point with a space in its name (\\040 in the mount table)', async () => {
    const spaced = await makeStickDir(media, 'usb stick');
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: spaced, fstype: 'vfat' }]);
    expect((await writeMountsText(env.mountsFile))).to.contain('usb\\040stick');
    const r = await checkStick(spaced, env);
    expect(r.ok).to.equal(true);
  });

  it('refuses paths outside the media root, with "..", and symlinks that escape it', async () => {
    for (const p of ['/etc', `${media}/../x`, `${media}/usb0/`, 'usb0', media]) {
      const r = await checkStick(p, env);
      expect(r.ok, p).to.equal(false);
      if (!r.ok) expect(r.code, p).to.match(/^usb\.path\./);
    }
    const outside = join(dir, 'outside');
    await mkdir(outside, { recursive: true });
    await symlink(outside, join(media, 'usb9'));
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: outside, fstype: 'vfat' }]);
    const r = await checkStick(join(media, 'usb9'), env);
    expect(r.ok).to.equal(false);
    if (!r.ok) {
      expect(r.code).to.equal('usb.path.symlink');
      expect(r.reason).to.contain(outside);
    }
  });

  it('follows a symlink that stays below the media root', async () => {
    const real = await makeStickDir(media, 'sdb1');
    await symlink(real, join(media, 'usb5'));
    await writeMounts(env.mountsFile, [{ device: images.FAT32, mountPoint: real, fstype: 'vfat' }]);
    const r = await checkStick(join(media, 'usb5'), env);
    expect(r.ok).to.equal(true);
  });

  it('lists every stick with format and TSE flag, and suggests the FAT32 stick next to the TSE stick', async () => {
    const usb0 = await makeStickDir(media, 'usb0', { tse: true });
    const usb1 = await makeStickDir(media, 'usb1');
    const usb2 = await makeStickDir(media, 'usb2');
    await writeMounts(env.mountsFile, [
      { device: images.FAT32, mountPoint: usb0, fstype: 'vfat' },
      { device: images.exFAT, mountPoint: usb1, fstype: 'exfat' },
      { device: images.FAT32, mountPoint: usb2, fstype: 'vfat' },
      { device: images.ext4, mountPoint: join(dir, 'elsewhere'), fstype: 'ext4' },
    ]);
    const sticks = await listSticks(env);
    expect(sticks.map((s) => [s.path, s.format, s.tse, s.usable])).to.deep.equal([
      [usb0, 'FAT32', true, false],
      [usb1, 'exFAT', false, false],
      [usb2, 'FAT32', false, true],
    ]);
    expect(sticks[2].sizeBytes).to.be.greaterThan(0);
    expect(sticks[2].freeBytes).to.be.greaterThan(0);
    const check = await checkStick(usb0, env);
    expect(suggestPath(sticks, usb0, check.ok ? check.realPath : undefined)).to.equal(usb2);
  });
});

async function writeMountsText(file: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(file, 'utf8');
}

