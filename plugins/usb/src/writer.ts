/**
 * Writing one backup onto the stick safely, and keeping the last N there.
 *
 * On the stick, next to each backup `<name>` (a .gz file) lies `<name>.sha256` in `sha256sum` format. The
 * checksum file is written only after the backup was read back and verified, so "complete backup" means
 * "both files present". Only complete backups written this way are ever deleted; other files on the stick
 * are never touched.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, statfs, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError, CancelledError, writeFileAtomic, fsyncDir } from 'kassenwart/sdk';
import { formatBytes } from './format.js';

/** Largest file FAT32 can hold: 4 GiB − 1 byte. */
export const FAT32_MAX_FILE = 0xffffffff;
/** Extra room needed beyond the backup itself: checksum file, cluster rounding, directory entries. */
export const SPACE_MARGIN = 64 * 1024;
/** Prefix of our temporary files on the stick. */
export const TEMP_PREFIX = '.kw-tmp-';
/** Suffix of the checksum file written beside each backup. */
export const CHECKSUM_SUFFIX = '.sha256';

/** The backup to write (structurally the backup plugin's BackupFile). */
export interface StickFile {
  /** Absolute path of the local file. */
  path: string;
  /** File name to use on the stick. */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Lower-case hex SHA-256. */
  sha256: string;
  /** ISO 8601 time of the snapshot; becomes the file's modification time on the stick. */
  createdAt: string;
}

/** A complete backup found on the stick. */
export interface StickBackup {
  name: string;
  size: number;
  mtimeMs: number;
  sha256: string;
}

/** Options of writeBackup. */
export interface WriteOptions {
  /** Folder on the stick (its mount point). */
  dir: string;
  file: StickFile;
  /** How many backups to keep on the stick (≥ 1). */
  keep: number;
  signal?: AbortSignal;
  /** Bytes copied so far. */
  progress?(bytesDone: number, message?: string): void;
  log?(message: string): void;
}

/** What writeBackup did. */
export interface WriteResult {
  /** Final path of the backup on the stick. */
  path: string;
  /** Bytes on the stick, as read back. */
  bytes: number;
  /** Backups deleted to make room before writing. */
  deletedForSpace: string[];
  /** Backups deleted afterwards because more than `keep` were there. */
  deletedForRetention: string[];
}

const FAT_FORBIDDEN = /[\u0000-\u001f"*/:<>?\\|]/;

/** Complete backups in `dir`, newest first (by modification time = snapshot time, then name). */
export async function listStickBackups(dir: string): Promise<StickBackup[]> {
  const names = new Set(await readdir(dir));
  const out: StickBackup[] = [];
  for (const n of names) {
    if (!n.endsWith(CHECKSUM_SUFFIX) || n.startsWith('.')) continue;
    const name = n.slice(0, -CHECKSUM_SUFFIX.length);
    if (!names.has(name)) continue;
    try {
      const line = await readFile(join(dir, n), 'utf8');
      const m = /^([0-9a-f]{64}) [ *](.+)$/m.exec(line);
      if (!m || m[2].trim() !== name) continue;
      const st = await stat(join(dir, name));
      if (!st.isFile()) continue;
      out.push({ name, size: st.size, mtimeMs: st.mtimeMs, sha256: m[1] });
    } catch { /* vanished or unreadable: not ours to manage */ }
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

/** Removes leftovers of interrupted earlier writes: our temp files and checksum files without a backup. */
export async function cleanLeftovers(dir: string): Promise<string[]> {
  const names = new Set(await readdir(dir));
  const removed: string[] = [];
  for (const n of names) {
    const ours = n.startsWith(TEMP_PREFIX)
      || /^\.tmp-.+\.sha256\.\d+\.[0-9a-f]{8}$/.test(n)
      || (n.endsWith(CHECKSUM_SUFFIX) && !n.startsWith('.') && !names.has(n.slice(0, -CHECKSUM_SUFFIX.length)));
    if (ours) {
      await rm(join(dir, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

async function deleteBackup(dir: string, name: string): Promise<void> {
  await rm(join(dir, name), { force: true });
  await rm(join(dir, name + CHECKSUM_SUFFIX), { force: true });
}

/** SHA-256 and size of a file, read as a stream. */
export async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { sha256: hash.digest('hex'), size };
}

function tooLittleSpace(dir: string, needed: number, free: number, afterDeleting: boolean): UserError {
  return new UserError(
    `Auf dem USB-Stick unter ${dir} ist zu wenig Platz: benötigt ${formatBytes(needed)}, frei ${formatBytes(free)}` +
      (afterDeleting ? ' (auch nach dem Löschen älterer Sicherungen).' : '.'),
    { code: 'usb.space', hint: 'Löschen Sie nicht benötigte Dateien vom USB-Stick oder verwenden Sie einen größeren USB-Stick. Die neueste Sicherung auf dem Stick wurde nicht gelöscht.' },
  );
}

/**
 * Makes room for `needed` bytes by deleting the oldest complete backups, never the newest one. Checks first
 * that enough would be freed; if not, deletes nothing and throws a UserError.
 */
export async function makeRoom(dir: string, needed: number, log?: (m: string) => void): Promise<string[]> {
  let free = await freeBytes(dir);
  if (free >= needed) return [];
  const backups = await listStickBackups(dir);
  const candidates = backups.slice(1).reverse(); // oldest first; the newest complete one stays
  const reclaimable = candidates.reduce((sum, b) => sum + b.size, 0);
  if (free + reclaimable < needed) throw tooLittleSpace(dir, needed, free, candidates.length > 0);
  const deleted: string[] = [];
  for (const b of candidates) {
    if (free >= needed) break;
    await deleteBackup(dir, b.name);
    deleted.push(b.name);
    log?.(`Ältere Sicherung ${b.name} vom USB-Stick gelöscht, um Platz zu schaffen.`);
    free = await freeBytes(dir);
  }
  await fsyncDir(dir);
  if (free < needed) throw tooLittleSpace(dir, needed, free, true);
  return deleted;
}

/** Deletes complete backups beyond the newest `keep`, never `protect`. Returns the deleted names. */
export async function applyRetention(dir: string, keep: number, protect: string): Promise<string[]> {
  const backups = await listStickBackups(dir);
  const deleted: string[] = [];
  let kept = 0;
  for (const b of backups) {
    if (b.name === protect || kept < keep) {
      kept++;
      continue;
    }
    await deleteBackup(dir, b.name);
    deleted.push(b.name);
  }
  if (deleted.length) await fsyncDir(dir);
  return deleted;
}

/**
 * Writes `file` into `dir`: checks the FAT32 size limit and free space (deleting older backups only if that
 * is enough), copies to a temporary name while hashing the source, fsyncs, reads the copy back and compares
 * size and SHA-256, renames it to its final name, writes the checksum file, then keeps the newest `keep`.
 * On any failure the temporary file is removed; an existing backup is never replaced by a bad one.
 */
export async function writeBackup(opts: WriteOptions): Promise<WriteResult> {
  const { dir, file, signal } = opts;
  const log = opts.log ?? (() => {});
  if (!file.name || FAT_FORBIDDEN.test(file.name) || file.name.startsWith('.')) {
    throw new UserError(`Der Dateiname „${file.name}“ ist auf einem FAT32-Stick nicht erlaubt.`, { code: 'usb.name' });
  }
  if (file.size > FAT32_MAX_FILE) {
    throw new UserError(
      `Die Sicherung ist ${formatBytes(file.size)} groß. Auf einem USB-Stick im FAT32-Format darf eine Datei höchstens 4 GiB (${formatBytes(FAT32_MAX_FILE)}) groß sein.`,
      { code: 'usb.too-large', hint: 'Sichern Sie auf den FTP-Server oder wenden Sie sich an den Support.' },
    );
  }
  const leftovers = await cleanLeftovers(dir);
  if (leftovers.length) log(`Reste einer abgebrochenen Sicherung vom USB-Stick entfernt: ${leftovers.join(', ')}`);

  const deletedForSpace = await makeRoom(dir, file.size + SPACE_MARGIN, log);

  const finalPath = join(dir, file.name);
  const tmp = join(dir, `${TEMP_PREFIX}${file.name}.${randomBytes(4).toString('hex')}`);
  const removeTmp = () => rm(tmp, { force: true }).catch(() => {});
  try {
    const fh = await open(tmp, 'wx', 0o644);
    const hash = createHash('sha256');
    let done = 0;
    try {
      for await (const chunk of createReadStream(file.path, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
        done += chunk.length;
        opts.progress?.(done, 'Kopiere auf den USB-Stick …');
      }
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (signal?.aborted) throw new CancelledError();
    const srcSha = hash.digest('hex');
    if (done !== file.size || srcSha !== file.sha256.toLowerCase()) {
      throw new UserError('Die lokale Sicherungsdatei hat sich während des Kopierens verändert oder ist beschädigt; auf dem USB-Stick wurde nichts gespeichert.', {
        code: 'usb.source-changed', hint: 'Klicken Sie zuerst auf „Datensicherung“ und danach erneut auf „Backup an FTP“.',
      });
    }
    opts.progress?.(done, 'Prüfe die Sicherung auf dem USB-Stick …');
    const back = await hashFile(tmp, signal);
    if (back.size !== file.size || back.sha256 !== srcSha) {
      throw new UserError('Die Sicherung auf dem USB-Stick ist fehlerhaft: Größe oder Prüfsumme stimmen nach dem Schreiben nicht. Der USB-Stick ist vermutlich defekt.', {
        code: 'usb.verify', hint: 'Verwenden Sie einen anderen USB-Stick im FAT32-Format.',
      });
    }
    const created = Date.parse(file.createdAt);
    if (Number.isFinite(created)) await utimes(tmp, new Date(), new Date(created)).catch(() => {});
    await rename(tmp, finalPath);
    await fsyncDir(dir);
    const st = await stat(finalPath);
    if (st.size !== file.size) {
      throw new UserError('Die Sicherung auf dem USB-Stick hat nach dem Umbenennen die falsche Größe.', { code: 'usb.verify', hint: 'Verwenden Sie einen anderen USB-Stick im FAT32-Format.' });
    }
    await writeFileAtomic(finalPath + CHECKSUM_SUFFIX, `${srcSha}  ${file.name}\n`);
    const deletedForRetention = await applyRetention(dir, Math.max(1, opts.keep), file.name);
    return { path: finalPath, bytes: st.size, deletedForSpace, deletedForRetention };
  } catch (e) {
    await removeTmp();
    if (signal?.aborted && !(e instanceof CancelledError)) throw new CancelledError();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw tooLittleSpace(dir, file.size + SPACE_MARGIN, await freeBytes(dir).catch(() => 0), false);
    if (code === 'EROFS') throw new UserError(`Der USB-Stick unter ${dir} ist schreibgeschützt.`, { code: 'usb.readonly', hint: 'Prüfen Sie den Schreibschutz-Schalter am USB-Stick.' });
    if (code === 'EACCES' || code === 'EPERM') throw new UserError(`Keine Schreibrechte auf dem USB-Stick unter ${dir}.`, { code: 'usb.permission', hint: 'Wenden Sie sich an den Support: der Stick muss für Kassenwart beschreibbar eingehängt sein.' });
    if (code === 'EIO') throw new UserError(`Schreibfehler auf dem USB-Stick unter ${dir}.`, { code: 'usb.io', hint: 'Ziehen Sie den USB-Stick ab, stecken Sie ihn wieder ein oder verwenden Sie einen anderen USB-Stick.' });
    throw e;
  }
}
