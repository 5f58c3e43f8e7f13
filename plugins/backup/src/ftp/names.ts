/**
 * Remote file names of the FTP target: which files are our backups (the only ones retention may delete),
 * and the temporary names uploads are written under.
 */
import { randomBytes } from 'node:crypto';

/**
 * Our backup files: "kasse-2026-11-29_07-00-00.sqlite.gz", optionally with a suffix after the timestamp
 * ("kasse-2026-11-29_07-00-00-2.sqlite.gz"). Group 1 is the timestamp, which sorts chronologically.
 */
export const BACKUP_NAME_PATTERN = /^kasse-(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})((?:[-_.][A-Za-z0-9]+)*)\.sqlite\.gz$/;

/** Temporary upload names: "<final name>.<8 hex>.part" (visible in listings, unlike dot files). */
export const TEMP_NAME_PATTERN = /^(.+)\.([0-9a-f]{8})\.part$/;

/** A fresh temporary name for uploading `finalName`. */
export function tempNameFor(finalName: string): string {
  return `${finalName}.${randomBytes(4).toString('hex')}.part`;
}

/** True for one of our backup files. */
export function isBackupName(name: string): boolean {
  return BACKUP_NAME_PATTERN.test(name);
}

/** True for a temporary upload file of one of our backups. */
export function isTempName(name: string): boolean {
  const m = TEMP_NAME_PATTERN.exec(name);
  return !!m && isBackupName(m[1]);
}

/** Sorts backup names newest first (by the timestamp in the name, then by the whole name). */
export function newestFirst(a: string, b: string): number {
  const ta = BACKUP_NAME_PATTERN.exec(a)?.[1] ?? '';
  const tb = BACKUP_NAME_PATTERN.exec(b)?.[1] ?? '';
  if (ta !== tb) return ta < tb ? 1 : -1;
  return a < b ? 1 : a > b ? -1 : 0;
}

/** Which of `names` retention deletes: all our backups beyond the newest `keep`, never `protect`. */
export function namesToPrune(names: string[], keep: number, protect?: string): string[] {
  if (keep <= 0) return [];
  const ours = names.filter(isBackupName).sort(newestFirst);
  const kept = new Set(ours.slice(0, keep));
  if (protect) kept.add(protect);
  return ours.filter((n) => !kept.has(n));
}
