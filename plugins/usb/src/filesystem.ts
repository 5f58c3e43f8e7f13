/**
 * Recognising a file system from the first bytes of its device (boot sector / superblock), so a stick
 * that the mount table only calls `vfat` can be confirmed as FAT32 rather than FAT12/FAT16.
 */
import { open } from 'node:fs/promises';

/** File system formats this plugin can name. */
export type FsFormat = 'FAT32' | 'FAT16' | 'FAT12' | 'exFAT' | 'NTFS' | 'ext2' | 'ext3' | 'ext4';

/** How many bytes of the device `readFilesystemHeader` reads (covers the ext superblock at 1024). */
export const HEADER_BYTES = 2048;

/**
 * Names the file system whose first bytes are `b`, or undefined when none of the known signatures
 * matches. FAT32: bytes 0x16–0x17 zero, 32-bit sectors per FAT at 0x24 non-zero, "FAT32   " at 0x52 and
 * 0x55AA at 510. FAT12/16: "FAT12   "/"FAT16   " at 0x36. exFAT/NTFS: OEM name at 3. ext2/3/4: magic
 * 0xEF53 in the superblock at 1024 (+56); ext4 when the extents or flex_bg feature is set, ext3 with a journal.
 */
export function detectFilesystem(b: Uint8Array): FsFormat | undefined {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length >= 512) {
    const oem = buf.toString('latin1', 3, 11);
    if (oem === 'EXFAT   ') return 'exFAT';
    if (oem === 'NTFS    ') return 'NTFS';
    if (buf.readUInt16LE(510) === 0xaa55) {
      if (buf.readUInt16LE(0x16) === 0 && buf.readUInt32LE(0x24) !== 0 && buf.toString('latin1', 0x52, 0x5a) === 'FAT32   ') {
        return 'FAT32';
      }
      const type16 = buf.toString('latin1', 0x36, 0x3e);
      if (type16 === 'FAT16   ') return 'FAT16';
      if (type16 === 'FAT12   ') return 'FAT12';
    }
  }
  if (buf.length >= 1024 + 0x68 && buf.readUInt16LE(1024 + 0x38) === 0xef53) {
    const compat = buf.readUInt32LE(1024 + 0x5c);
    const incompat = buf.readUInt32LE(1024 + 0x60);
    if (incompat & (0x40 | 0x200)) return 'ext4';
    if (compat & 0x4) return 'ext3';
    return 'ext2';
  }
  return undefined;
}

/**
 * Reads the first HEADER_BYTES of a device or image file. Undefined when it cannot be read (no such
 * device, no permission, a pseudo device name like "tmpfs"): the caller then relies on the mount table.
 */
export async function readFilesystemHeader(device: string): Promise<Uint8Array | undefined> {
  if (!device.startsWith('/')) return undefined;
  let fh;
  try {
    fh = await open(device, 'r');
    const buf = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(buf, 0, HEADER_BYTES, 0);
    return buf.subarray(0, bytesRead);
  } catch {
    return undefined;
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** Display name of a kernel file system type from the mount table (`exfat` → "exFAT"). */
export function fstypeDisplayName(fstype: string): string {
  switch (fstype) {
    case 'vfat': case 'msdos': return 'FAT';
    case 'exfat': return 'exFAT';
    case 'ntfs': case 'ntfs3': return 'NTFS';
    case 'fuseblk': return 'FUSE (unbekannt)';
    default: return fstype;
  }
}
