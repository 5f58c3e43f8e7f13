/**
 * Test fixtures for the usb plugin: real file system images made with the mkfs tools, mount-table files
 * that point at them, a media root with mount-point folders, and sample backup files.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';

/** Image kinds the tests make. */
export type ImageKind = 'FAT32' | 'FAT16' | 'exFAT' | 'NTFS' | 'ext4';

/** Makes a sparse image of `kind` in `dir` with the real mkfs tool; returns its path. */
export async function makeImage(dir: string, kind: ImageKind): Promise<string> {
  const img = join(dir, `${kind}.img`);
  const sizes: Record<ImageKind, number> = { FAT32: 40, FAT16: 20, exFAT: 16, NTFS: 16, ext4: 16 };
  await writeFile(img, '');
  await truncate(img, sizes[kind] * 1024 * 1024);
  const packages: Record<string, string> = { 'mkfs.vfat': 'dosfstools', 'mkfs.exfat': 'exfatprogs', 'mkfs.ntfs': 'ntfs-3g', 'mkfs.ext4': 'e2fsprogs' };
  const run = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is missing: apt-get install -y ${packages[cmd]}`);
      throw e;
    }
  };
  switch (kind) {
    case 'FAT32': run('mkfs.vfat', ['-F', '32', '-n', 'BACKUP', img]); break;
    case 'FAT16': run('mkfs.vfat', ['-F', '16', img]); break;
    case 'exFAT': run('mkfs.exfat', [img]); break;
    case 'NTFS': run('mkfs.ntfs', ['-F', '-Q', '-q', img]); break;
    case 'ext4': run('mkfs.ext4', ['-q', '-F', img]); break;
  }
  return img;
}

/** One line of a mount-table fixture. */
export interface FixtureMount {
  device: string;
  mountPoint: string;
  fstype: string;
  options?: string;
}

/** Escapes a mount-table field as the kernel does (space → \040, tab, newline, backslash). */
export function escapeMountField(s: string): string {
  return s.replace(/[\\ \t\n]/g, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** Writes a mount table in /proc/self/mounts format, with a few unrelated system mounts first. */
export async function writeMounts(file: string, mounts: FixtureMount[]): Promise<void> {
  const lines = [
    'sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0',
    'proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0',
    '/dev/sda1 / ext4 rw,relatime,errors=remount-ro 0 0',
    ...mounts.map((m) => `${escapeMountField(m.device)} ${escapeMountField(m.mountPoint)} ${m.fstype} ${m.options ?? 'rw,nosuid,nodev,relatime,uid=0,gid=0,fmask=0022,dmask=0022,codepage=437,iocharset=utf8,shortname=mixed,errors=remount-ro'} 0 0`),
  ];
  await writeFile(file, lines.join('\n') + '\n');
}

/** Makes a mount-point folder below the media root; with `tse`, the Swissbit TSE marker files in it. */
export async function makeStickDir(mediaRoot: string, name: string, opts: { tse?: boolean } = {}): Promise<string> {
  const dir = join(mediaRoot, name);
  await mkdir(dir, { recursive: true });
  if (opts.tse) {
    await writeFile(join(dir, 'TSE_INFO.DAT'), randomBytes(512));
    await writeFile(join(dir, 'TSE_COMM.DAT'), randomBytes(512));
  }
  return dir;
}

/** A sample backup file with known content, as the backup plugin would hand it over. */
export async function makeBackupFile(dir: string, name: string, size: number, createdAt = new Date()) {
  const data = randomBytes(size);
  const path = join(dir, name);
  await writeFile(path, data);
  return { path, name, size, sha256: createHash('sha256').update(data).digest('hex'), createdAt: createdAt.toISOString() };
}

/** SHA-256 hex of a buffer. */
export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
