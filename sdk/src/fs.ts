import { open, realpath, rename, rm, mkdir } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file atomically: to a temporary name beside it, fsync, rename over the final name, fsync the
 * folder. A crash leaves either the old file or the new one, never a mix; the temp file name starts with
 * ".tmp-" so cleanup code can find leftovers.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.tmp-${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncDir(dirname(path));
}

/** fsync a folder so a rename inside it is durable. Ignores file systems that refuse it. */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    /* some file systems (e.g. FAT via FUSE) refuse fsync on folders; nothing more we can do */
  } finally {
    await fh?.close().catch(() => {});
  }
}

/** A file system-safe timestamp for file names, local time, no ':' (FAT forbids it): 2026-11-29_07-00-00. */
export function fileTimestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}_${p(d.getHours())}-${p(d.getMinutes())}-${p(d.getSeconds())}`;
}

/**
 * The path with symbolic links resolved as far as it exists (the rest appended unchanged). For settings
 * validators that must know where a configured path really leads before the folder is created.
 */
export async function realPathSoFar(p: string): Promise<string> {
  const rest: string[] = [];
  let head = p;
  for (;;) {
    try {
      return join(await realpath(head), ...rest.reverse());
    } catch {
      const up = dirname(head);
      if (up === head) return p;
      rest.push(basename(head));
      head = up;
    }
  }
}
