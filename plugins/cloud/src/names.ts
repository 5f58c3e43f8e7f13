/** Object keys of cloud copies: `<prefix>/<local backup name>.age`, e.g. `salon-17/kasse-2026-11-29_07-00-00.sqlite.gz.age`. */

/** A cloud copy's file name (the local backup name plus ".age"). */
export const COPY_NAME = /^kasse-(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2})(?:-(\d+))?\.sqlite\.gz\.age$/;

/** The key of the copy of `backupName` under `prefix`. */
export function copyKey(prefix: string, backupName: string): string {
  return `${prefix}/${backupName}.age`;
}

/** The local backup name inside a copy name ("….sqlite.gz"). */
export function backupNameOf(copyName: string): string {
  return copyName.replace(/\.age$/, '');
}

/** When the backup was taken, from its name (local time, as the backup plugin names it). */
export function dateOfCopy(copyName: string): Date | undefined {
  const m = COPY_NAME.exec(copyName);
  if (!m) return undefined;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}
