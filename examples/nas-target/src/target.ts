/**
 * The NAS folder as a backup target ("nas-target.folder").
 *
 * In the folder, next to every backup `<name>` lies `<name>.sha256` in `sha256sum` format (a technician can
 * check a copy with `sha256sum -c`). The checksum file is written only after the backup was copied, read
 * back and verified, so "a backup of ours" means "both files are there". Only such backups are ever
 * deleted when pruning; other files in the folder are never touched.
 *
 * How one backup is written:
 *   1. check the folder (there, a folder, writable, enough free space),
 *   2. copy to a temporary name (".tmp-…") while hashing, reporting progress in bytes, then fsync,
 *   3. read the copy back and compare its SHA-256 with the backup's,
 *   4. rename it to its final name, fsync the folder, write the checksum file (writeFileAtomic),
 *   5. delete the oldest backups beyond the setting "keep".
 * If anything fails or the job is cancelled, the temporary file is removed: there is never a partial file
 * under a final name.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { basename, isAbsolute, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CancelledError, UserError, formatBytes, fsyncDir, isUserError, writeFileAtomic, type SettingsView } from 'kassenwart/sdk';
import type {
  Availability, BackupFile, BackupTarget, SendContext, SendResult, StoredBackup,
} from 'kassenwart/plugins/backup/api';

/** Id of the target: prefixed with the plugin id, as the backup API asks. */
export const NAS_TARGET_ID = 'nas-target.folder';

/** Suffix of the checksum file written beside each backup. */
const CHECKSUM_SUFFIX = '.sha256';
/** Temporary files start with this (the same convention as the SDK's writeFileAtomic). */
const TEMP_PREFIX = '.tmp-';
/** Our temporary names end in ".<pid>.<8 hex digits>"; such leftovers of an interrupted send are removed. */
const LEFTOVER = /^\.tmp-.+\.\d+\.[0-9a-f]{8}$/;
/** Extra free space wanted beyond the backup itself (checksum file, file system overhead). */
const SPACE_MARGIN = 1024 * 1024;
/** Read and write in chunks of 1 MiB (also: one progress report per MiB). */
const CHUNK = 1024 * 1024;

/** The plugin's settings (see plugin.json), typed. */
export interface NasSettings {
  /** Send backups to the folder at all. */
  enabled: boolean;
  /** Absolute path of the folder; empty = not configured yet. */
  directory: string;
  /** How many backups stay in the folder. */
  keep: number;
}

/** Reads the current settings. The host has already applied the defaults from plugin.json. */
export function readSettings(settings: Pick<SettingsView, 'get'>): NasSettings {
  return {
    enabled: settings.get<boolean>('enabled') === true,
    directory: settings.get<string>('directory') ?? '',
    keep: settings.get<number>('keep') ?? 7,
  };
}

/** A problem with the folder: a German message, what to do, and a stable code. */
interface Problem {
  code: string;
  message: string;
  hint: string;
}

const toUserError = (p: Problem) => new UserError(p.message, { code: p.code, hint: p.hint });

/** A fresh temporary name in `dir` for `name`. */
function tempName(dir: string, name: string): string {
  return join(dir, `${TEMP_PREFIX}${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
}

// ------------------------------------------------------------------------------------------ checks

/** What went wrong when writing into `dir` failed with an error code such as EACCES. */
function writeProblem(dir: string, code: string | undefined): Problem {
  if (code === 'ENOSPC') {
    return {
      code: 'nas-target.space', message: `Im NAS-Ordner ${dir} ist kein Platz mehr.`,
      hint: 'Bitte nicht benötigte Dateien im NAS-Ordner löschen oder die Anzahl der aufbewahrten Sicherungen verringern.',
    };
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return {
      code: 'nas-target.not-writable',
      message: `In den NAS-Ordner ${dir} kann nicht geschrieben werden${code === 'EROFS' ? ' (schreibgeschützt eingehängt)' : ' (keine Schreibrechte)'}.`,
      hint: 'Bitte die Freigabe auf dem NAS mit Schreibrechten für den Kassenserver einhängen.',
    };
  }
  return {
    code: 'nas-target.io', message: `Schreibfehler im NAS-Ordner ${dir}${code ? ` (${code})` : ''}.`,
    hint: 'Bitte prüfen, ob das NAS eingeschaltet und erreichbar ist, und „Backup an FTP“ erneut starten.',
  };
}

/** Checks that `dir` is set, exists, is a folder and is writable (by really creating a file there). */
async function checkFolder(dir: string): Promise<Problem | undefined> {
  if (!dir || !isAbsolute(dir)) {
    return {
      code: 'nas-target.no-folder', message: 'Für die Sicherung in den NAS-Ordner ist kein Ordner eingestellt.',
      hint: 'Bitte unter Einstellungen → Datensicherung → NAS-Ordner den Pfad des NAS-Ordners eintragen.',
    };
  }
  const info = await stat(dir).catch(() => undefined);
  if (!info) {
    return {
      code: 'nas-target.missing', message: `Der NAS-Ordner ${dir} ist nicht vorhanden.`,
      hint: 'Bitte prüfen, ob das NAS eingeschaltet und die Freigabe eingehängt ist, und den Pfad in den Einstellungen kontrollieren.',
    };
  }
  if (!info.isDirectory()) {
    return {
      code: 'nas-target.not-a-folder', message: `${dir} ist kein Ordner.`,
      hint: 'Bitte in den Einstellungen den Pfad eines Ordners eintragen.',
    };
  }
  // Permission bits do not tell the whole story (root, read-only mounts, NAS-side rights): try it.
  const probe = tempName(dir, 'probe');
  try {
    await (await open(probe, 'wx')).close();
    await rm(probe, { force: true });
  } catch (e) {
    return writeProblem(dir, (e as NodeJS.ErrnoException).code);
  }
  return undefined;
}

/** Checks that `dir` has room for `needed` bytes. */
async function checkSpace(dir: string, needed: number): Promise<Problem | undefined> {
  const fs = await statfs(dir);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free >= needed) return undefined;
  return {
    code: 'nas-target.space',
    message: `Im NAS-Ordner ${dir} ist zu wenig Platz: benötigt ${formatBytes(needed)}, frei ${formatBytes(free)}.`,
    hint: 'Bitte nicht benötigte Dateien im NAS-Ordner löschen oder die Anzahl der aufbewahrten Sicherungen verringern.',
  };
}

// ------------------------------------------------------------------------------------------ folder contents

/** A complete backup in the folder. */
interface FolderBackup {
  name: string;
  size: number;
  mtimeMs: number;
}

/** Our complete backups in `dir` (a file plus its checksum file), newest first. */
async function listFolder(dir: string): Promise<FolderBackup[]> {
  const names = new Set(await readdir(dir));
  const out: FolderBackup[] = [];
  for (const n of names) {
    if (n.startsWith('.') || n.endsWith(CHECKSUM_SUFFIX) || !names.has(n + CHECKSUM_SUFFIX)) continue;
    const info = await stat(join(dir, n)).catch(() => undefined);
    if (info?.isFile()) out.push({ name: n, size: info.size, mtimeMs: info.mtimeMs });
  }
  return out.sort((a, b) => b.mtimeMs - a.mtimeMs || b.name.localeCompare(a.name));
}

/** Removes what an interrupted send left behind: our temporary files and checksum files without a backup. */
async function removeLeftovers(dir: string): Promise<string[]> {
  const names = new Set(await readdir(dir));
  const removed: string[] = [];
  for (const n of names) {
    const orphanChecksum = n.endsWith(CHECKSUM_SUFFIX) && !n.startsWith('.') && !names.has(n.slice(0, -CHECKSUM_SUFFIX.length));
    if (LEFTOVER.test(n) || orphanChecksum) {
      await rm(join(dir, n), { force: true });
      removed.push(n);
    }
  }
  return removed;
}

/** Deletes our backups beyond the newest `keep`, never `protect`. Returns the deleted names. */
async function pruneFolder(dir: string, keep: number, protect?: string): Promise<string[]> {
  const deleted: string[] = [];
  let kept = 0;
  for (const b of await listFolder(dir)) {
    if (b.name === protect || kept < keep) {
      kept++;
      continue;
    }
    // the backup first, then its checksum file: an interruption leaves an orphan checksum file,
    // which removeLeftovers() cleans up, never an unlisted backup
    await rm(join(dir, b.name), { force: true });
    await rm(join(dir, b.name + CHECKSUM_SUFFIX), { force: true });
    deleted.push(b.name);
  }
  if (deleted.length) await fsyncDir(dir);
  return deleted;
}

// ------------------------------------------------------------------------------------------ copying

/** SHA-256 (lower-case hex) of a file, read as a stream. */
async function sha256Of(path: string, signal: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path, { highWaterMark: CHUNK }), hash, { signal });
  return hash.digest('hex');
}

/** fsync a file's data to disk (on Linux any descriptor of the file will do). */
async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Copies `src` to the new file `dest` while hashing it and reporting the bytes copied; fsyncs `dest`.
 * Returns the SHA-256 of what was read. Stops (AbortError) when `signal` aborts.
 */
async function copyWithHash(src: string, dest: string, signal: AbortSignal, onBytes: (done: number) => void): Promise<string> {
  const hash = createHash('sha256');
  let done = 0;
  await pipeline(
    createReadStream(src, { highWaterMark: CHUNK }),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        done += chunk.length;
        onBytes(done);
        yield chunk;
      }
    },
    createWriteStream(dest, { flags: 'wx', mode: 0o644 }),
    { signal },
  );
  await fsyncFile(dest);
  return hash.digest('hex');
}

// ------------------------------------------------------------------------------------------ the target

/**
 * Creates the NAS folder target. It reads the settings on every call, so a changed setting applies to the
 * next send without restarting anything.
 */
export function createNasTarget(settings: Pick<SettingsView, 'get'>): BackupTarget {
  return {
    id: NAS_TARGET_ID,
    displayName: 'NAS-Ordner',

    async availability(): Promise<Availability> {
      const s = readSettings(settings);
      if (!s.enabled) return { available: false, kind: 'skipped', reason: 'Die Sicherung in den NAS-Ordner ist ausgeschaltet.' };
      // The size of the next backup is not known yet: expect it to be about as big as the newest one there.
      const newest = async () => (await listFolder(s.directory).catch(() => []))[0]?.size ?? 0;
      const problem = (await checkFolder(s.directory)) ?? (await checkSpace(s.directory, (await newest()) + SPACE_MARGIN));
      if (problem) return { available: false, kind: 'unavailable', reason: problem.message, hint: problem.hint };
      return { available: true };
    },

    async send(file: BackupFile, ctx: SendContext): Promise<SendResult> {
      const { enabled, directory: dir, keep } = readSettings(settings);
      if (!enabled) throw new UserError('Die Sicherung in den NAS-Ordner ist ausgeschaltet.', { code: 'nas-target.disabled' });
      if (file.name !== basename(file.name) || file.name.startsWith('.')) {
        throw new UserError(`Der Dateiname „${file.name}“ ist für den NAS-Ordner nicht erlaubt.`, { code: 'nas-target.name' });
      }
      const problem = (await checkFolder(dir)) ?? (await checkSpace(dir, file.size + SPACE_MARGIN));
      if (problem) throw toUserError(problem);

      const leftovers = await removeLeftovers(dir);
      if (leftovers.length) ctx.log(`Reste einer abgebrochenen Sicherung entfernt: ${leftovers.join(', ')}`);

      const finalPath = join(dir, file.name);
      const tmp = tempName(dir, file.name);
      try {
        const copied = await copyWithHash(file.path, tmp, ctx.signal, (done) => ctx.progress(done, `NAS-Ordner: ${formatBytes(done)} von ${formatBytes(file.size)} kopiert …`));
        if (copied !== file.sha256.toLowerCase()) {
          throw new UserError('Die lokale Sicherungsdatei hat sich während des Kopierens verändert; im NAS-Ordner wurde nichts gespeichert.', {
            code: 'nas-target.source-changed', hint: 'Bitte zuerst „Datensicherung“ und danach erneut „Backup an FTP“ starten.',
          });
        }
        ctx.progress(file.size, 'NAS-Ordner: Sicherung wird geprüft …');
        if ((await sha256Of(tmp, ctx.signal)) !== copied) {
          throw new UserError(`Die Sicherung im NAS-Ordner ${dir} ist fehlerhaft: die Prüfsumme stimmt nach dem Schreiben nicht.`, {
            code: 'nas-target.verify', hint: 'Bitte das NAS und die Netzwerkverbindung prüfen und „Backup an FTP“ erneut starten.',
          });
        }
        await rename(tmp, finalPath);
        await fsyncDir(dir);
      } catch (e) {
        await rm(tmp, { force: true }).catch(() => {});
        if (ctx.signal.aborted) throw new CancelledError();
        if (isUserError(e)) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (typeof code === 'string') throw toUserError(writeProblem(dir, code)); // EACCES, ENOSPC, EIO …
        throw e; // a bug, not a state of the NAS: reported as an unexpected error
      }
      await writeFileAtomic(finalPath + CHECKSUM_SUFFIX, `${file.sha256.toLowerCase()}  ${file.name}\n`);

      for (const n of await pruneFolder(dir, keep, file.name)) {
        ctx.log(`Ältere Sicherung ${n} aus dem NAS-Ordner gelöscht (es bleiben ${keep}).`);
      }
      return { location: finalPath, message: `Im NAS-Ordner gesichert (${dir})`, bytes: (await stat(finalPath)).size };
    },

    async list(): Promise<StoredBackup[]> {
      const { directory } = readSettings(settings);
      const problem = await checkFolder(directory);
      if (problem) throw toUserError(problem);
      return (await listFolder(directory)).map((b) => ({ name: b.name, size: b.size, modifiedAt: new Date(b.mtimeMs).toISOString() }));
    },

    async prune(keep: number): Promise<string[]> {
      const { directory } = readSettings(settings);
      const problem = await checkFolder(directory);
      if (problem) throw toUserError(problem);
      return pruneFolder(directory, Math.max(1, keep));
    },
  };
}
