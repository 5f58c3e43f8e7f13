/** Shared set-up for the update tests: a key pair, a feed folder served over real HTTP, an installation folder. */
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { buildRelease, keygen } from '../../../plugins/update/dist/src/release.js';
import { Updater, type UpdaterDeps } from '../../../plugins/update/dist/src/updater.js';
import { makeFixtureTree, type FixtureOptions } from './fixtures.js';
import { startUpdateServer, type UpdateServer } from './update-server.js';

export interface Harness {
  root: string;
  feed: string;
  data: string;
  keyFile: string;
  publicKey: string;
  server: UpdateServer;
  progress: Array<[number | undefined, string | undefined]>;
  restarts: string[];
  publish(o: FixtureOptions & { channel?: 'stable' | 'beta'; changes?: string }): Promise<void>;
  updater(running: string, over?: Partial<UpdaterDeps> & { publicKeys?: string; channel?: 'stable' | 'beta'; feedUrl?: string }): Updater;
  job(): { signal: AbortSignal; progress(p: number | undefined, m?: string): void };
  cleanup(): Promise<void>;
}

export const silentLog = { debug() {}, info() {}, warn() {}, error() {} };

export async function makeHarness(): Promise<Harness> {
  const root = await tempDir('kw-update-');
  const feed = join(root, 'feed');
  const data = join(root, 'data');
  await mkdir(feed, { recursive: true });
  await mkdir(data, { recursive: true });
  const k = await keygen(join(root, 'keys'));
  const server = await startUpdateServer(feed);
  const h: Harness = {
    root, feed, data, keyFile: k.privateKeyFile, publicKey: k.publicKeyBase64, server, progress: [], restarts: [],
    async publish(o) {
      const src = await makeFixtureTree(join(root, 'src-' + o.version + '-' + Math.random().toString(36).slice(2)), o);
      let changesFile: string | undefined;
      if (o.changes) { changesFile = join(src, 'CHANGES.txt'); await writeFile(changesFile, o.changes); }
      await buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: src, channel: o.channel ?? 'stable', expiresDays: 30, changesFile });
    },
    updater(running, over = {}) {
      return new Updater({
        installationDir: data,
        pluginDataDir: join(data, 'plugins', 'update'),
        runningVersion: running,
        settings: () => ({ feedUrl: over.feedUrl ?? server.url + '/index.json', channel: over.channel ?? 'stable', publicKeys: over.publicKeys ?? k.publicKeyBase64 }),
        log: silentLog,
        supervised: true,
        restart: (reason) => { h.restarts.push(reason); return true; },
        ...over,
      });
    },
    job() {
      return { signal: new AbortController().signal, progress: (p, m) => { h.progress.push([p, m]); } };
    },
    async cleanup() {
      // Releases started from this harness (trial starts, supervisors, a new release orphaned by a kill -9)
      // run from folders below `root`: a failed test must not leave one running after the suite.
      await killProcessesBelow(root);
      await server.close();
      await removeDir(root);
    },
  };
  return h;
}

/**
 * Kills (SIGKILL) every process whose command line mentions `dir`, and waits until they are gone. `dir` is a
 * fresh temp folder of one test, so nothing else can match.
 */
export async function killProcessesBelow(dir: string): Promise<number[]> {
  const find = async () => {
    const pids: number[] = [];
    for (const e of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
      const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
      if (cmd.split('\0').some((a) => a === dir || a.includes(dir + '/'))) pids.push(Number(e));
    }
    return pids;
  };
  const killed = await find();
  for (const pid of killed) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone meanwhile */ } }
  for (let i = 0; i < 100 && (await find()).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  return killed;
}

/** Awaits a promise that must reject; returns the error. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try { await p; } catch (e) { return e; }
  throw new Error('expected a rejection, but it resolved');
}

export async function fileSha(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
