/**
 * The register update journal (<plugin data>/kasse-journal.json, written atomically before each step). It makes
 * the next start of Kassenwart undo an update that was interrupted at any step (kill -9, power cut):
 *
 *   stopping   guards done, register being stopped            → start the old version again
 *   migrating  register stopped, the copy is being migrated   → remove the copy, start the old version
 *   switching  database and `current` being switched          → put the preserved database and `current` back
 *   starting   new version started, health check running      → stop it, put everything back, start the old one
 *
 * Deleting the journal after a passed health check is the commit point. Every undo step is idempotent.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from 'kassenwart/sdk';
import type { UpdateGuardRecord } from '../api.js';
import type { ReleaseNotes } from '../state.js';

export interface RegisterJournal {
  state: 'stopping' | 'migrating' | 'switching' | 'starting';
  from: string;
  to: string;
  /** The POS database. */
  db: string;
  /** The migrated copy beside it. */
  copy: string;
  /** Hard link (or copy) of the original database, kept until the commit. */
  preserved: string;
  /** SHA-256 of the database right after the register stopped. */
  beforeSha256?: string;
  guards: Array<{ id: string; record: UpdateGuardRecord }>;
  notes: ReleaseNotes[];
  startedAt: string;
}

export function journalFile(pluginDataDir: string): string { return join(pluginDataDir, 'kasse-journal.json'); }

export async function readJournal(pluginDataDir: string): Promise<RegisterJournal | undefined> {
  try { return JSON.parse(await readFile(journalFile(pluginDataDir), 'utf8')) as RegisterJournal; } catch { return undefined; }
}

export async function writeJournal(pluginDataDir: string, j: RegisterJournal): Promise<void> {
  await writeFileAtomic(journalFile(pluginDataDir), JSON.stringify(j, null, 2) + '\n');
}

export async function removeJournal(pluginDataDir: string): Promise<void> {
  await rm(journalFile(pluginDataDir), { force: true });
}
