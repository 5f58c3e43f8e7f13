/**
 * Set-up for the register (Kassensoftware) update tests, against real parts: the register STAND-IN
 * (examples/register-stand-in, a real process writing receipts into the POS database with better-sqlite3),
 * release trees of it published with the real `kassenwart release build --component kasse`, a feed served over
 * real HTTP, and an installation with the adapter settings pointing at the stand-in.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
export { freePort } from '../../support/dist/net.js';
import { freePort } from '../../support/dist/net.js';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { KASSENWART_BIN } from 'kassenwart/sdk/testing';
import { keygen } from '../../../plugins/update/dist/src/release.js';
import { buildRegisterRelease } from '../../../plugins/update/dist/src/release-kasse.js';

const require = createRequire(import.meta.url);
const Database = require('better-sqlite3');

export const REPO = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');
export const STAND_IN = join(REPO, 'examples', 'register-stand-in');
const BASE_MIGRATION = '001-receipts.sql';

/** Migrations of the stand-in's versions used in the tests (cumulative). */
export const MIGRATIONS: Record<string, Record<string, string>> = {
  '1.1.0': { '002-tip.sql': 'ALTER TABLE receipts ADD COLUMN tip_cents INTEGER NOT NULL DEFAULT 0;\n' },
  '1.2.0': { '003-customers.sql': 'CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\nINSERT INTO customers (name) VALUES (\'Laufkundschaft\');\n' },
  '1.3.0': { '004-receipt-customer.sql': 'ALTER TABLE receipts ADD COLUMN customer_id INTEGER REFERENCES customers(id);\nUPDATE receipts SET customer_id = 1;\nCREATE INDEX receipts_customer ON receipts (customer_id);\n' },
};

export function kassenwart(args: string[], env: Record<string, string> = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [KASSENWART_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A key pair (the CLI's keygen, called in-process: the CLI itself is tested in release.test.ts). */
export async function makeKeys(dir: string): Promise<{ keyFile: string; publicKey: string }> {
  const k = await keygen(dir);
  return { keyFile: k.privateKeyFile, publicKey: k.publicKeyBase64 };
}

/**
 * A release tree of the stand-in with `version`: its program, every migration up to that version (plus
 * `extra`), and `behaviour` for failure cases.
 */
export async function standInTree(dir: string, version: string, o: { extra?: Record<string, string>; behaviour?: Record<string, unknown>; checks?: Record<string, string> } = {}): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'migrations'), { recursive: true });
  await cp(join(STAND_IN, 'kasse.mjs'), join(dir, 'kasse.mjs'));
  const pkg = JSON.parse(await readFile(join(STAND_IN, 'package.json'), 'utf8'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2));
  await cp(join(STAND_IN, 'migrations', BASE_MIGRATION), join(dir, 'migrations', BASE_MIGRATION));
  for (const [v, files] of Object.entries(MIGRATIONS)) {
    if (compare(v, version) > 0) continue;
    for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, 'migrations', name), sql);
  }
  for (const [name, sql] of Object.entries(o.extra ?? {})) await writeFile(join(dir, 'migrations', name), sql);
  if (o.behaviour) await writeFile(join(dir, 'behaviour.json'), JSON.stringify(o.behaviour));
  if (o.checks) {
    await mkdir(join(dir, 'checks'), { recursive: true });
    for (const [name, sql] of Object.entries(o.checks)) await writeFile(join(dir, 'checks', name), sql);
  }
  return dir;
}

function compare(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/**
 * Publishes a register release: with the real CLI (`cli: true`), or the same build function in-process (faster on
 * a loaded machine, where each CLI start takes seconds).
 */
export async function publishKasse(keyFile: string, feed: string, tree: string, version: string, changes: string, o: { cli?: boolean; extra?: string[] } = {}) {
  const changesFile = join(tree, '..', `CHANGES-${version}-${Math.random().toString(36).slice(2)}.txt`);
  await writeFile(changesFile, changes);
  if (o.cli) return kassenwart(['release', 'build', '--component', 'kasse', '--package', tree, '--version', version, '--changes', changesFile, '--key', keyFile, '--out', feed, ...(o.extra ?? [])]);
  try {
    const r = await buildRegisterRelease({ keyFile, outDir: feed, packageDir: tree, version, changesFile, channel: 'stable', expiresDays: 30 });
    return { status: 0, stdout: JSON.stringify(r.entry), stderr: '' };
  } catch (e) {
    return { status: 1, stdout: '', stderr: (e as Error).message };
  }
}

export function sha256(bytes: Buffer): string { return createHash('sha256').update(bytes).digest('hex'); }
export async function fileSha256(path: string): Promise<string> { return sha256(await readFile(path)); }

/** An installation of the register: install folder with version 1.0.0 active, its database, adapter settings. */
export interface Register {
  installDir: string;
  db: string;
  port: number;
  pidFile: string;
  settings: Record<string, unknown>;
  /** Starts the installed version (as the service manager would at boot). */
  start(): Promise<void>;
  /** GET /health of the running register. */
  health(): Promise<{ status: number; body: any }>;
  waitHealthy(version: string): Promise<any>;
  /** Schema version and receipt count, read-only. */
  inspect(): { schema: number; receipts: number; tables: string[] };
  stop(): Promise<void>;
}

export async function makeRegister(root: string, o: {
  stopTimeoutSeconds?: number; healthTimeoutSeconds?: number; behaviour?: Record<string, unknown>;
  /**
   * Put the database on a tmpfs (root only) with this much room beyond the database, as a fraction of its size
   * (below 1: a copy of the database does not fit, the register's own writes still do): a disk that runs full.
   */
  tmpfsSlack?: number;
} = {}): Promise<Register> {
  const installDir = join(root, 'kasse');
  const db = join(root, 'pos', 'kasse.sqlite');
  const pidFile = join(root, 'kasse.pid');
  const port = await freePort();
  await mkdir(join(root, 'pos'), { recursive: true });
  await standInTree(join(installDir, 'releases', '1.0.0'), '1.0.0', { behaviour: o.behaviour });
  await symlink(join('releases', '1.0.0'), join(installDir, 'current'));
  const d = new Database(db);
  d.exec(await readFile(join(STAND_IN, 'migrations', BASE_MIGRATION), 'utf8'));
  d.pragma('user_version = 1');
  const ins = d.prepare('INSERT INTO receipts (created_at, amount_cents, register_version) VALUES (?, ?, ?)');
  d.transaction(() => { for (let i = 0; i < 2000; i++) ins.run(new Date(Date.now() - i * 60_000).toISOString(), 100 + (i % 500), '1.0.0'); })();
  d.close();
  let mounted = false;
  if (o.tmpfsSlack !== undefined) {
    const bytes = await readFile(db);
    await rm(db);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${Math.ceil((bytes.length * (1 + o.tmpfsSlack)) / 4096) * 4096}`, 'tmpfs', join(root, 'pos')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount tmpfs: ${r.stderr}`);
    mounted = true;
    await writeFile(db, bytes);
  }
  const startCommand = `NODE_PATH=${join(REPO, 'node_modules')} exec node "$KASSE_INSTALL_DIR/current/kasse.mjs" --db ${db} --port ${port} --pid-file ${pidFile}`;
  const settings = {
    kasseInstallDir: installDir, kasseStartCommand: startCommand,
    kasseStopCommand: `kill $(cat ${pidFile})`,
    kasseHealthUrl: `http://127.0.0.1:${port}/health`, kasseDatabasePath: db,
    kasseStopTimeoutSeconds: o.stopTimeoutSeconds ?? 15, kasseHealthTimeoutSeconds: o.healthTimeoutSeconds ?? 20,
  };
  const reg: Register = {
    installDir, db, port, pidFile, settings,
    async start() {
      const c = spawn('/bin/sh', ['-c', startCommand], { env: { ...process.env, KASSE_INSTALL_DIR: installDir }, stdio: 'ignore', detached: true });
      c.unref();
      const v = JSON.parse(await readFile(join(installDir, 'current', 'package.json'), 'utf8')).version;
      await reg.waitHealthy(v);
    },
    async health() {
      const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(3000) });
      return { status: res.status, body: await res.json() };
    },
    async waitHealthy(version) {
      let last: unknown;
      for (let i = 0; i < 200; i++) {
        try {
          const h = await reg.health();
          last = h;
          if (h.status === 200 && h.body.version === version) return h.body;
        } catch (e) { last = (e as Error).message; }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`register ${version} not healthy: ${JSON.stringify(last)}`);
    },
    inspect() {
      const r = new Database(db, { readonly: true, fileMustExist: true });
      try {
        return {
          schema: Number(r.pragma('user_version', { simple: true })),
          receipts: Number((r.prepare('SELECT count(*) AS n FROM receipts').get() as { n: number }).n),
          tables: (r.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((x) => x.name),
        };
      } finally { r.close(); }
    },
    async stop() {
      // Whatever stand-in of this test still runs (it ignores SIGTERM in one case): SIGKILL by its command line.
      for (const e of await readdir('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(e)) continue;
        const cmd = await readFile(`/proc/${e}/cmdline`, 'utf8').catch(() => '');
        if (cmd.includes(db)) { try { process.kill(Number(e), 'SIGKILL'); } catch { /* gone */ } }
      }
      if (mounted) {
        for (let i = 0; i < 50 && spawnSync('umount', [join(root, 'pos')]).status !== 0; i++) await new Promise((r) => setTimeout(r, 100));
        mounted = false;
      }
    },
  };
  return reg;
}

/** The backups in a backup folder with kind "vor Update", each gunzipped and checked with integrity_check. */
export async function beforeUpdateBackups(backupDir: string): Promise<Array<{ name: string; integrity: string; schema: number; rawSha256Ok: boolean }>> {
  const out = [];
  for (const n of (await readdir(backupDir).catch(() => [] as string[])).filter((x) => x.endsWith('.sqlite.gz.json')).sort()) {
    const m = JSON.parse(await readFile(join(backupDir, n), 'utf8'));
    if (m.kind !== 'vor Update') continue;
    const raw = join(backupDir, '..', `check-${m.name}.sqlite`);
    await pipeline(createReadStream(join(backupDir, m.name)), createGunzip(), createWriteStream(raw));
    const d = new Database(raw, { readonly: true });
    const integrity = String(d.pragma('integrity_check', { simple: true }));
    const schema = Number(d.pragma('user_version', { simple: true }));
    d.close();
    const rawSha256Ok = (await fileSha256(raw)) === m.rawSha256;
    await rm(raw, { force: true });
    out.push({ name: m.name, integrity, schema, rawSha256Ok });
  }
  return out;
}
