/**
 * The release folder layout under the installation data folder, shared (as a file protocol, not as code)
 * with the host supervisor (host/src/supervisor.ts):
 *
 *   <data>/releases/<version>/            an unpacked release (package root: bin/, host/, plugins/, node_modules/, migrations/)
 *   <data>/releases/current               symlink to "<version>" = the active release (absent = the installed package)
 *   <data>/releases/switch.json           switch journal, written by the plugin ("requested"), driven by the supervisor
 *   <data>/releases/switch-result.json    outcome of the last switch, written by the supervisor
 *   <data>/releases/downloads/            packages and their .part files
 */
import { access, mkdir, readFile, readdir, readlink, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar';
import { UserError, writeFileAtomic } from 'kassenwart/sdk';
import { fsError } from './download.js';

import type { SwitchJournal, SwitchResult } from 'kassenwart/sdk';
export type { SwitchJournal, SwitchResult };

export function releasesDir(dataDir: string): string { return join(dataDir, 'releases'); }
export function journalPath(dataDir: string): string { return join(releasesDir(dataDir), 'switch.json'); }
export function resultPath(dataDir: string): string { return join(releasesDir(dataDir), 'switch-result.json'); }

/** The release folder name `current` points to, or null. */
export async function currentRelease(dataDir: string): Promise<string | null> {
  try { return await readlink(join(releasesDir(dataDir), 'current')); } catch { return null; }
}

export async function readJson<T>(path: string): Promise<T | undefined> {
  try { return JSON.parse(await readFile(path, 'utf8')) as T; } catch { return undefined; }
}

/**
 * Unpacks a verified package into releases/<version>: first into a temp folder beside it, checks that it is a
 * Kassenwart release of that version, then renames it into place (a half-unpacked release never carries the
 * final name). An existing folder of that version (from an earlier, unfinished attempt) is replaced.
 */
export async function unpackRelease(dataDir: string, packageFile: string, version: string): Promise<string> {
  const base = releasesDir(dataDir);
  const tmp = join(base, `.tmp-${version}-${randomBytes(4).toString('hex')}`);
  const final = join(base, version);
  try {
    await mkdir(tmp, { recursive: true });
    await tar.x({ file: packageFile, cwd: tmp, strict: true, preservePaths: false });
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    const mapped = fsError(e, 'Update entpacken');
    if (mapped !== e) throw mapped;
    throw new UserError(`Das Update-Paket ${version} lässt sich nicht entpacken (${(e as Error).message}). Es wurde nichts installiert.`, {
      code: 'update.unpack', hint: 'Bitte den Support verständigen.', cause: e,
    });
  }
  const pkg = await readJson<{ name?: string; version?: string }>(join(tmp, 'package.json'));
  const hasBin = await access(join(tmp, 'bin', 'kassenwart.js')).then(() => true, () => false);
  if (pkg?.name !== 'kassenwart' || pkg.version !== version || !hasBin) {
    await rm(tmp, { recursive: true, force: true });
    throw new UserError(`Das Update-Paket enthält keine Kassenwart-Version ${version} (gefunden: ${pkg?.name ?? '?'} ${pkg?.version ?? '?'}). Es wurde nichts installiert.`, {
      code: 'update.package-invalid', hint: 'Bitte den Support verständigen.',
    });
  }
  try {
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw fsError(e, 'Update bereitstellen');
  }
  return final;
}

/** Writes the switch request the supervisor carries out when the host restarts. */
export async function requestSwitch(dataDir: string, journal: SwitchJournal): Promise<void> {
  await writeFileAtomic(journalPath(dataDir), JSON.stringify(journal, null, 2) + '\n');
}

/**
 * Removes old release folders and leftovers: keeps the active release, `keep` (the one being installed,
 * and the previous one for manual rollback), deletes .tmp-* folders and stale downloads.
 */
export async function pruneReleases(dataDir: string, keep: string[]): Promise<void> {
  const base = releasesDir(dataDir);
  const active = await currentRelease(dataDir);
  let names: string[] = [];
  try { names = await readdir(base); } catch { return; }
  for (const name of names) {
    if (name.startsWith('.tmp-')) { await rm(join(base, name), { recursive: true, force: true }); continue; }
    if (/^\d+\.\d+\.\d+/.test(name) && name !== active && !keep.includes(name)) {
      await rm(join(base, name), { recursive: true, force: true });
    }
  }
}
