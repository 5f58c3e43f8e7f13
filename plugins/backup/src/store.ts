/**
 * The local backup folder: FAT-safe names, manifests beside the .gz files, leftover cleanup, listing.
 *
 * Layout: `kasse-YYYY-MM-DD_HH-MM-SS.sqlite.gz` and `kasse-….sqlite.gz.json` (the manifest, written
 * atomically before the .gz gets its final name). Temporary files start with ".tmp-".
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileTimestamp, writeFileAtomic } from 'kassenwart/sdk';
import type { BackupFile } from './api.js';

/** Pattern of backup file names this plugin writes. */
export const BACKUP_NAME = /^kasse-(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2})(?:-(\d+))?\.sqlite\.gz$/;
/** Prefix of every temporary file in the backup folder. */
export const TMP_PREFIX = '.tmp-';

/** What is recorded about each backup (the manifest JSON). */
export interface BackupManifest {
  name: string;
  createdAt: string;
  size: number;
  sha256: string;
  rawBytes: number;
  rawSha256: string;
  counts: Record<string, number>;
  verifiedAt: string;
  /** How the snapshot was taken: optimistic "copy", "locked" copy, "wal" online backup ("direct": older backups). */
  method: string;
  /** Milliseconds the POS may have been held up: from before our write-lock request until its release (0 without it). */
  pauseMs: number;
  attempts: number;
  /** Change counter of the source header at snapshot time, and its path and mtime. */
  changeCounter: number;
  sourcePath: string;
  sourceMtimeMs: number;
  /** "manual", "schedule", "safety" (before a restore), "send" (made by Backup an FTP). */
  kind: string;
}

/** A backup in the folder; `manifest` is missing for files this plugin did not verify. */
export interface LocalBackup {
  name: string;
  path: string;
  size: number;
  createdAt: Date;
  manifest?: BackupManifest;
}

/** Parses the timestamp in a backup name (local time). */
export function dateFromName(name: string): Date | undefined {
  const m = BACKUP_NAME.exec(name);
  if (!m) return undefined;
  return new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** A name for a backup taken at `at` that does not exist yet in `existing`. */
export function newBackupName(at: Date, existing: Set<string>): string {
  const base = `kasse-${fileTimestamp(at)}`;
  let name = `${base}.sqlite.gz`;
  for (let i = 2; existing.has(name); i++) name = `${base}-${i}.sqlite.gz`;
  return name;
}

/** Lists the backups in `dir`, newest first. A missing folder is an empty list. */
export async function listBackups(dir: string): Promise<LocalBackup[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const out: LocalBackup[] = [];
  for (const name of names) {
    if (!BACKUP_NAME.test(name)) continue;
    const path = join(dir, name);
    let size: number;
    try { size = (await stat(path)).size; } catch { continue; }
    let manifest: BackupManifest | undefined;
    try {
      const m = JSON.parse(await readFile(path + '.json', 'utf8')) as BackupManifest;
      if (m.name === name && m.size === size) manifest = m;
    } catch { /* no manifest: not verified by us */ }
    out.push({ name, path, size, createdAt: manifest ? new Date(manifest.createdAt) : dateFromName(name)!, manifest });
  }
  return out.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.name.localeCompare(a.name));
}

/** The API view of a verified local backup. */
export function toBackupFile(b: LocalBackup): BackupFile {
  return { path: b.path, name: b.name, size: b.size, sha256: b.manifest!.sha256, createdAt: b.manifest!.createdAt };
}

/** Writes a manifest atomically. */
export async function writeManifest(dir: string, m: BackupManifest): Promise<void> {
  await writeFileAtomic(join(dir, m.name + '.json'), JSON.stringify(m, null, 2) + '\n');
}

/** The pid every temp name of this plugin (and the SDK's writeFileAtomic) carries: `….<pid>.<8 hex>…`. */
const TMP_OWNER = /[.-](\d+)[.-][0-9a-f]{8}(?:\.sqlite(?:-\w+)?)?$/;

/**
 * True when the process that wrote a temp file still runs: its pid (from the name) is alive, not a zombie, and
 * started before the file was last written (else the pid was reused, e.g. after a reboot).
 */
function ownerAlive(name: string, mtimeMs: number): boolean {
  const pid = Number(TMP_OWNER.exec(name)?.[1]);
  if (!pid) return false;
  try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return false;
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    const startMs = (btime + Number(fields[19]) / 100) * 1000; // USER_HZ is 100 on Linux
    return !(startMs > mtimeMs + 2000);
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Removes what a crash can leave behind: temporary files, and manifests whose .gz never got its final
 * name. Returns the removed names. Files of a process that still runs (a backup or restore in progress in the
 * server while a CLI or second process starts) are left alone, with the manifest that belongs to them.
 */
export async function cleanupLeftovers(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await readdir(dir); } catch { return []; }
  const present = new Set(names);
  const owned: string[] = [];
  for (const name of names) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const mtimeMs = await stat(join(dir, name)).then((s) => s.mtimeMs, () => 0);
    if (ownerAlive(name, mtimeMs)) owned.push(name);
  }
  const removed: string[] = [];
  for (const name of names) {
    const orphanManifest = name.endsWith('.sqlite.gz.json') && !present.has(name.slice(0, -5))
      && !owned.some((o) => o.startsWith(`${TMP_PREFIX}${name.slice(0, -5)}.`) || o.startsWith(`${TMP_PREFIX}${name}.`));
    if ((name.startsWith(TMP_PREFIX) && !owned.includes(name)) || orphanManifest) {
      await rm(join(dir, name), { force: true, recursive: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Deletes one backup and its manifest (manifest first is not needed: a .gz without one is just unverified). */
export async function deleteBackup(dir: string, name: string): Promise<void> {
  await rm(join(dir, name), { force: true });
  await rm(join(dir, name + '.json'), { force: true });
}
