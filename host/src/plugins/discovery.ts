import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

async function isFile(p: string): Promise<boolean> {
  try { return (await stat(p)).isFile(); } catch { return false; }
}

/**
 * Plugin folders below `root`: `root` itself when it holds a plugin.json, else each sub-folder with one.
 * Sorted by name, so the order does not depend on the file system.
 */
export async function discoverPluginDirs(root: string): Promise<string[]> {
  const abs = resolve(root);
  if (await isFile(join(abs, 'plugin.json'))) return [abs];
  let names: string[];
  try { names = (await readdir(abs)).sort(); } catch { return []; }
  const out: string[] = [];
  for (const n of names) if (!n.startsWith('.') && (await isFile(join(abs, n, 'plugin.json')))) out.push(join(abs, n));
  return out;
}
