/**
 * Reading the system mount table (`/proc/self/mounts` format, as in fstab(5)): one mount per line,
 * `device mountpoint fstype options dump pass`, with space, tab, newline and backslash escaped as
 * octal (`\040`, `\011`, `\012`, `\134`).
 */
import { readFile } from 'node:fs/promises';

/** One line of the mount table, with escapes resolved. */
export interface MountEntry {
  /** Device (e.g. `/dev/sdb1`), or a pseudo name such as `tmpfs`. */
  device: string;
  /** Absolute mount point. */
  mountPoint: string;
  /** File system type as the kernel names it (`vfat`, `exfat`, `ext4`, `fuseblk`, …). */
  fstype: string;
  /** Mount options (`rw`, `ro`, `uid=1000`, …). */
  options: string[];
}

/** Resolves the octal escapes the kernel uses in the mount table (`\040` → space). */
export function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** Parses mount table text. Blank and malformed lines (fewer than four fields) are ignored. */
export function parseMountTable(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/[ \t]+/);
    if (fields.length < 4 || fields[0].startsWith('#')) continue;
    entries.push({
      device: unescapeMountField(fields[0]),
      mountPoint: unescapeMountField(fields[1]),
      fstype: fields[2],
      options: fields[3].split(','),
    });
  }
  return entries;
}

/** Reads and parses the mount table file (default `/proc/self/mounts`). */
export async function readMountTable(file = '/proc/self/mounts'): Promise<MountEntry[]> {
  return parseMountTable(await readFile(file, 'utf8'));
}

/**
 * The mount that is visible at exactly `mountPoint`: when several are stacked on the same folder the
 * last one in the table is on top. Undefined when nothing is mounted there (a bare folder).
 */
export function findMountAt(entries: MountEntry[], mountPoint: string): MountEntry | undefined {
  let found: MountEntry | undefined;
  for (const e of entries) if (e.mountPoint === mountPoint) found = e;
  return found;
}

/** True when the mount is read-only (`ro` option). */
export function isReadOnly(entry: MountEntry): boolean {
  return entry.options.includes('ro');
}
