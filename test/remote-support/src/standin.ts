/**
 * Helpers around the RustDesk stand-in (test/remote-support/fixtures/rustdesk-standin): a fresh state file
 * per test, switching its misbehaviour, reading what it was told, and running it as the "service".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, copyFile, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, removeDir } from '../../support/dist/tmp.js';

/** Absolute path of the stand-in executable. */
export const STANDIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'rustdesk-standin');

/** Absolute path of the repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Misbehaviour of one command (see the stand-in's header). */
export type Behaviour = 'ok' | `exit:${number}` | 'hang' | 'empty' | 'noadmin' | 'disabled' | 'garbage' | 'ignore' | 'echo-secret';

/** What the stand-in keeps (its "RustDesk configuration" plus a call log). */
export interface StandinState {
  id: string;
  version: string;
  password?: string;
  options: Record<string, string>;
  behaviour: Partial<Record<'version' | 'get-id' | 'password' | 'option' | 'config' | '*', Behaviour>>;
  calls: string[][];
}

/** A stand-in installation in a temp folder: `bin` is a symlink named "rustdesk" to a private copy of the stand-in. */
export interface Standin {
  dir: string;
  /** <dir>/bin/rustdesk (symlink to the stand-in), put `dirname(bin)` on PATH to be found there. */
  bin: string;
  statePath: string;
  /** Environment that points the stand-in at this state. */
  env: Record<string, string>;
  set(patch: Partial<StandinState>): Promise<void>;
  read(): Promise<StandinState>;
  /** Starts `rustdesk --service` (runs until stopped). */
  startService(): Promise<ChildProcess>;
  cleanup(): Promise<void>;
}

export async function createStandin(initial: Partial<StandinState> = {}): Promise<Standin> {
  const dir = await tempDir('kw-rustdesk-standin-');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'lib'));
  // A private copy per test, reached through a symlink like /usr/bin/rustdesk → /usr/lib/rustdesk/rustdesk:
  // the service check then sees only this copy's processes, never another test's stand-in.
  const real = join(dir, 'lib', 'rustdesk-standin');
  await copyFile(STANDIN, real);
  await chmod(real, 0o755);
  const bin = join(dir, 'bin', 'rustdesk');
  await symlink(real, bin);
  const statePath = join(dir, 'state.json');
  const base: StandinState = { id: '123456789', version: '1.4.1', options: {}, behaviour: {}, calls: [], ...initial };
  await writeFile(statePath, JSON.stringify(base));
  const services: ChildProcess[] = [];
  const s: Standin = {
    dir, bin, statePath,
    env: { RUSTDESK_STANDIN_STATE: statePath },
    async set(patch) {
      const cur = await s.read();
      await writeFile(statePath, JSON.stringify({ ...cur, ...patch }));
    },
    async read() {
      return JSON.parse(await readFile(statePath, 'utf8')) as StandinState;
    },
    async startService() {
      const child = spawn(bin, ['--service'], { env: { ...process.env, ...s.env }, stdio: 'ignore' });
      services.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', () => resolve());
        child.once('error', reject);
      });
      // Wait until the process shows its final command line (node has replaced the exec image).
      const { readFile: rf } = await import('node:fs/promises');
      for (let i = 0; i < 100; i++) {
        const cmd = await rf(`/proc/${child.pid}/cmdline`, 'utf8').catch(() => '');
        if (cmd.includes('--service')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      return child;
    },
    async cleanup() {
      for (const c of services) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
          await new Promise((r) => c.once('exit', r));
        }
      }
      await removeDir(dir);
    },
  };
  return s;
}
