/** Runs the real `kassenwart start` supervisor of this repository on 127.0.0.1 against a data folder. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
export { freePort } from '../../support/dist/net.js';
import { freePort } from '../../support/dist/net.js';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { KASSENWART_BIN } from 'kassenwart/sdk/testing';

export interface Supervisor {
  proc: ChildProcess;
  port: number;
  output(): string;
  /** Polls /api/health until it reports `version` (or throws after the timeout, with the output). */
  waitVersion(version: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
  /** kill -9 of the supervisor and its child (power cut), or of the supervisor alone (its child lives on). */
  killHard(onlySupervisor?: boolean): Promise<number | undefined>;
}

export async function startSupervisor(dataDir: string, port: number, env: Record<string, string> = {}): Promise<Supervisor> {
  const proc = spawn(process.execPath, [KASSENWART_BIN, 'start', '--data', dataDir, '--port', String(port)], {
    env: { ...process.env, KASSENWART_LOG: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
  const exited = () => new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
  const sup: Supervisor = {
    proc, port, output: () => out,
    async waitVersion(version, timeoutMs = 60_000) {
      const end = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < end) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(3000) });
          const body = (await res.json()) as { version?: string };
          last = JSON.stringify(body);
          if (res.status === 200 && body.version === version) return;
        } catch (e) { last = (e as Error).message; }
        if (proc.exitCode !== null) throw new Error(`supervisor exited (${proc.exitCode}):\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`version ${version} not healthy on port ${port} (last: ${last}):\n${out}`);
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 20_000);
        await exited();
        clearTimeout(t);
      }
    },
    async killHard(onlySupervisor = false) {
      const info = JSON.parse(await readFile(join(dataDir, 'supervisor.json'), 'utf8')) as { childPid?: number };
      proc.kill('SIGKILL');
      await exited();
      if (onlySupervisor) return info.childPid;
      if (info.childPid) { try { process.kill(info.childPid, 'SIGKILL'); } catch { /* gone */ } }
      // Wait until the child is really gone (it held the port).
      for (let i = 0; i < 100 && info.childPid; i++) {
        try { process.kill(info.childPid, 0); } catch { break; }
        await new Promise((r) => setTimeout(r, 50));
      }
      return info.childPid;
    },
  };
  return sup;
}

const require = createRequire(import.meta.url);

/** Opens a database file with sql.js (a read-only look: never written back). */
export async function readDb(path: string): Promise<{ tables: string[]; migrations: string[] }> {
  const SQL = await (require('sql.js') as () => Promise<any>)();
  const db = new SQL.Database(await readFile(path));
  try {
    const tables = (db.exec("SELECT name FROM sqlite_master WHERE type = 'table'")[0]?.values ?? []).map((r: unknown[]) => String(r[0]));
    const migrations = tables.includes('release_migrations')
      ? (db.exec('SELECT name FROM release_migrations')[0]?.values ?? []).map((r: unknown[]) => String(r[0]))
      : [];
    return { tables, migrations };
  } finally {
    db.close();
  }
}

/** A small state database with one table of "salon data", as a stand-in for an installation's history. */
export async function writeSalonDb(path: string): Promise<void> {
  const SQL = await (require('sql.js') as () => Promise<any>)();
  const db = new SQL.Database();
  db.run('CREATE TABLE salon_marker (note TEXT)');
  db.run("INSERT INTO salon_marker VALUES ('vor dem Update')");
  const { writeFile } = await import('node:fs/promises');
  await writeFile(path, db.export());
  db.close();
}
