/** Shared helpers of the backup tests: a job stand-in for direct service tests, the POS writer, DB reading. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Contribution, Logger } from 'kassenwart/sdk';
import Database from 'better-sqlite3';
import type { BackupTarget, BackupTargetPolicy } from 'kassenwart/plugins/backup/api';
import { BackupService } from '../../../plugins/backup/dist/src/service.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** What the host's job runner hands an action handler; here driven by the test directly. */
export function testJob(params: Record<string, unknown> = {}, trigger: 'user' | 'schedule' = 'user') {
  const controller = new AbortController();
  const progress: Array<[number | undefined, string | undefined]> = [];
  const log: string[] = [];
  return {
    jobId: 'test', actionId: 'test', trigger, user: 'tech', params, signal: controller.signal, controller,
    progress: (p: number | undefined, m?: string) => { progress.push([p, m]); },
    log: { debug: (m: string) => log.push(m), info: (m: string) => log.push(m), warn: (m: string) => log.push(m), error: (m: string) => log.push(m) } as Logger,
    progressLog: progress, lines: log,
  };
}

/** A BackupService wired to plain objects instead of the host (settings map, target list). */
export function makeService(dataDir: string, settings: Record<string, unknown> = {}, targets: BackupTarget[] = [], policies: BackupTargetPolicy[] = []) {
  const values: Record<string, unknown> = {
    posDatabasePath: '', backupDir: '', backupTimes: '07:00,21:00', transferTime: '21:30',
    retainDaily: 14, retainWeekly: 8, retainMonthly: 12, ftpEnabled: false, ...settings,
  };
  const service = new BackupService({
    dataDir,
    settings: { get: <T>(k: string) => values[k] as T },
    logger: quiet,
    targets: () => targets.map((value): Contribution<BackupTarget> => ({ pluginId: 'test', value })),
    policies: () => policies.map((value): Contribution<BackupTargetPolicy> => ({ pluginId: 'test', value })),
  });
  return { service, values };
}

/** Opens database bytes (or a .gz of them) in memory with native SQLite and runs `fn` (small test databases only). */
export async function withDb<T>(bytes: Uint8Array, fn: (q: (sql: string) => unknown[][]) => T): Promise<T> {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const db = new Database(raw);
  try {
    return fn((sql) => db.prepare(sql).raw().all() as unknown[][]);
  } finally {
    db.close();
  }
}

/** Runs SQL statements on a database file as another writer would (own connection, committed, closed). */
export function execSql(path: string, sql: string): void {
  const db = new Database(path, { timeout: 10_000 });
  try { db.exec(sql); } finally { db.close(); }
}

/** Reads a database file (or .gz) and returns every table's rows, for equality checks. */
export async function dumpTables(path: string): Promise<Record<string, unknown[][]>> {
  return withDb(await readFile(path), (q) => {
    const out: Record<string, unknown[][]> = {};
    for (const [t] of q("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")) {
      out[String(t)] = q(`SELECT * FROM "${String(t)}" ORDER BY rowid`);
    }
    return out;
  });
}

/** What the POS stand-in reported when it stopped. */
export interface WriterReport {
  count: number;
  /** Longest transaction (BEGIN to end of COMMIT, lock waits included) in ms. */
  maxTxMs: number;
  /** Longest time between two commits in ms. */
  maxGapMs: number;
}

/** Starts the POS stand-in (fixtures/pos-writer.mjs, native SQLite) committing transactions to `db` in a loop. */
export async function startWriter(db: string, journalMode = 'delete', extra: string[] = []): Promise<{ child: ChildProcess; stop(): Promise<number>; report(): Promise<WriterReport> }> {
  const child = spawn(process.execPath, [join(FIXTURES, 'pos-writer.mjs'), db, journalMode, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { out += d; });
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => { if (out.includes('READY')) { clearInterval(t); resolve(); } }, 10);
    child.once('exit', (c) => { clearInterval(t); reject(new Error(`writer exited ${c}: ${out}`)); });
  });
  const report = async (): Promise<WriterReport> => {
    if (child.exitCode === null) {
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    }
    const m = /COUNT (\d+) MAXTXMS ([\d.]+) MAXGAPMS ([\d.]+)/.exec(out);
    if (!m) throw new Error('writer did not report its count: ' + out);
    return { count: Number(m[1]), maxTxMs: Number(m[2]), maxGapMs: Number(m[3]) };
  };
  return { child, report, stop: async () => (await report()).count };
}

/** Checks the writer's invariant in a database (see fixtures/pos-writer.mjs). Returns the writer's count. */
export function writerInvariant(q: (sql: string) => unknown[][]): { receipts: number; problems: string[] } {
  const problems: string[] = [];
  const state = q('SELECT receipts, cents FROM writer_state WHERE id = 1')[0];
  if (!state) return { receipts: 0, problems: ['writer_state missing'] };
  const [[count, sum]] = q("SELECT count(*), coalesce(sum(total_cents), 0) FROM receipts WHERE number LIKE 'W-%'");
  if (Number(count) !== Number(state[0])) problems.push(`receipts ${count} != state ${state[0]}`);
  if (Number(sum) !== Number(state[1])) problems.push(`cents ${sum} != state ${state[1]}`);
  const bad = q(`SELECT r.number FROM receipts r LEFT JOIN receipt_items i ON i.receipt_id = r.id
    WHERE r.number LIKE 'W-%' GROUP BY r.id HAVING count(i.id) != 3 OR sum(i.total_cents) != r.total_cents LIMIT 3`);
  if (bad.length) problems.push(`incomplete receipts: ${bad.map((b) => b[0]).join(', ')}`);
  return { receipts: Number(state[0]), problems };
}
