/**
 * Debian's Prometheus (2.42) and Alertmanager (0.25) for the tests and the fleet benchmark: started as child
 * processes on 127.0.0.1 with free ports, their own config and data in a temp folder, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
export { freePort } from '../../support/dist/net.js';
import { freePort } from '../../support/dist/net.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Server {
  url: string;
  port: number;
  dir: string;
  process: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, output: () => string, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${output().slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000} s: ${output().slice(-2000)}`);
}

async function launch(bin: string, args: (dir: string, port: number) => string[], files: Record<string, string>, readyPath: string, what: string): Promise<Server> {
  const dir = await mkdtemp(join(tmpdir(), `kw-${what}-`));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  const port = await freePort();
  const child = spawn(bin, args(dir, port), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => { out = (out + d.toString()).slice(-20_000); };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(t);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitReady(url + readyPath, child, () => out, what);
  } catch (e) {
    await stop();
    throw e;
  }
  return { url, port, dir, process: child, output: () => out, stop };
}

export interface PrometheusOptions {
  /** The `scrape_configs` / `alerting` / `rule_files` part of prometheus.yml, YAML. */
  config?: string;
  /** Extra files in the config folder (rule files, token files). */
  files?: Record<string, string>;
  /** Extra flags. */
  args?: string[];
}

/** Prometheus with the remote-write receiver enabled. The config's relative paths resolve against its folder. */
export function startPrometheus(o: PrometheusOptions = {}): Promise<Server> {
  const yml = `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n${o.config ?? ''}\n`;
  return launch('prometheus', (dir, port) => [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--web.enable-remote-write-receiver', '--log.level=warn', ...(o.args ?? []),
  ], { 'prometheus.yml': yml, ...(o.files ?? {}) }, '/-/ready', 'prometheus');
}

/** Alertmanager with the given config (no clustering). */
export function startAlertmanager(config: string): Promise<Server> {
  return launch('prometheus-alertmanager', (dir, port) => [
    `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn',
  ], { 'alertmanager.yml': config }, '/-/ready', 'alertmanager');
}

/** One instant-query result series. */
export interface QueryResult { metric: Record<string, string>; value: [number, string] }

export async function query(prom: Server, expr: string): Promise<QueryResult[]> {
  const r = await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await r.json() as { status: string; data?: { result: QueryResult[] }; error?: string };
  if (body.status !== 'success') throw new Error(`query ${expr} failed: ${body.error}`);
  return body.data!.result;
}

/** Polls until `expr` has a result that `ok` accepts (default: any), up to `timeoutMs`. */
export async function waitForQuery(prom: Server, expr: string, ok: (r: QueryResult[]) => boolean = (r) => r.length > 0, timeoutMs = 60_000): Promise<QueryResult[]> {
  const until = Date.now() + timeoutMs;
  let last: QueryResult[] = [];
  while (Date.now() < until) {
    last = await query(prom, expr);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no accepted result for ${expr} within ${timeoutMs / 1000} s; last: ${JSON.stringify(last)}`);
}
