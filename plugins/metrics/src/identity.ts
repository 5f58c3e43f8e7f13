/** The installation's stable id (the `instance` label): the setting, or a UUID made once and kept in the plugin's data folder. */
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from 'kassenwart/sdk';

const FILE = 'installation-id';

/** Reads the generated id, creating it on first use. */
export async function generatedInstallationId(dataDir: string): Promise<string> {
  const path = join(dataDir, FILE);
  try {
    const id = (await readFile(path, 'utf8')).trim();
    if (/^[A-Za-z0-9._-]{1,64}$/.test(id)) return id;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const id = randomUUID();
  await writeFileAtomic(path, id + '\n');
  return id;
}
