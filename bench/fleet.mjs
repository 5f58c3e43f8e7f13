#!/usr/bin/env node
// Fleet simulation: 2,000 installations push their metrics over remote-write to one real Prometheus
// (Debian's, remote-write receiver on, the shipped alert rules loaded) for one simulated day, every 5 minutes
// as the product does by default. The series of one installation are taken from a real Kassenwart host's
// /metrics after a real backup, so their number and names are the product's. Backups run at 07:00 and 21:00;
// a chosen set of installations has failing backups since the day before.
//
// Reports: series per installation, compressed bytes pushed per installation per day (each installation's
// own request, snappy-compressed, as it would go on the wire), and whether BackupTooOld is active for exactly
// the failing installations. Samples carry the simulated (past) timestamps, sent in time order, which
// Prometheus' remote-write receiver accepts; the last round is pushed with the real current time so the
// rules (evaluated in real time) see it.
//
// Usage: node bench/fleet.mjs [installations=2000] [failing=50]     (needs npm run build; prometheus)
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startTestHost } = await import(join(root, 'sdk/dist/testing/index.js'));
const { startPrometheus, query, waitForQuery } = await import(join(root, 'test/metrics/dist/servers.js'));
const { encodeWriteRequestProto, compressBody, REMOTE_WRITE_HEADERS } = await import(join(root, 'plugins/metrics/dist/src/remote-write-encode.js'));

const N = Number(process.argv[2] ?? 2000);
const FAILING = Number(process.argv[3] ?? 50);
const STEP_S = 300;
const STEPS = 86400 / STEP_S;
const BATCH = 100; // installations per HTTP request to this one Prometheus (the bytes are counted per installation)
// Every SAMPLE-th installation's own request is compressed separately to count its wire bytes exactly (all
// installations have the same series, so this sample stands for all; it halves the CPU of this benchmark).
const SAMPLE = 10;

// ---- 1. the series of one real installation
process.stdout.write('Real installation: backup, then /metrics … ');
const host = await startTestHost({ settings: { metrics: { enabled: true } }, env: { KASSENWART_DEMO_DB_MB: '1' } });
let template;
try {
  const job = await host.runAction('backup.create');
  if (job.state !== 'succeeded') throw new Error(`backup failed: ${JSON.stringify(job.error)}`);
  const text = await (await fetch(host.url + '/api/ext/metrics/metrics')).text();
  template = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
    if (!m) throw new Error(`cannot parse ${l}`);
    const labels = { __name__: m[1] };
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v.replace(/\\(.)/g, '$1');
    return { labels, value: Number(m[3]) };
  });
} finally {
  await host.stop();
}
console.log(`${template.length} series`);

// ---- 2. Prometheus with the shipped rules
const rules = await readFile(join(root, 'monitoring/kassenwart.rules.yml'), 'utf8');
const prom = await startPrometheus({ config: 'rule_files: [kassenwart.rules.yml]\n', files: { 'kassenwart.rules.yml': rules } });
const failing = new Set(Array.from({ length: FAILING }, (_, k) => Math.floor((k * N) / FAILING)));
const inst = (i) => `inst-${String(i).padStart(5, '0')}`;

const end = Math.floor(Date.now() / 1000 / STEP_S) * STEP_S;
const start = end - 86400;
// Per installation: last local success / failure (seconds). Failing ones last succeeded 3 h before the day.
const lastOk = Array.from({ length: N }, (_, i) => (failing.has(i) ? start - 3 * 3600 : start - 3600));
const lastFail = new Array(N).fill(undefined);
const bytes = new Array(N).fill(0);
let requests = 0;
let rejected = 0;
let firstError = '';

function seriesOf(i, tsMs) {
  const out = [];
  for (const t of template) {
    const labels = { ...t.labels, instance: inst(i), job: 'kassenwart', salon: `Salon ${i}` };
    if (labels.__name__ === 'kassenwart_installation_info') { labels.installation = inst(i); labels.salon_name = `Salon ${i}`; }
    let value = t.value;
    if (labels.__name__ === 'kassenwart_backup_last_success_timestamp_seconds' && labels.target === 'local') value = lastOk[i];
    out.push({ labels, value, timestampMs: tsMs });
  }
  if (lastFail[i] !== undefined) {
    out.push({ labels: { __name__: 'kassenwart_backup_last_failure_timestamp_seconds', instance: inst(i), job: 'kassenwart', salon: `Salon ${i}`, target: 'local' }, value: lastFail[i], timestampMs: tsMs });
  }
  return out;
}

async function pushRound(tsSec, count) {
  const tsMs = tsSec * 1000;
  for (let b = 0; b < N; b += BATCH) {
    const parts = [];
    for (let i = b; i < Math.min(N, b + BATCH); i++) {
      const proto = encodeWriteRequestProto(seriesOf(i, tsMs));
      if (count && i % SAMPLE === 0) bytes[i] += compressBody(proto).byteLength;
      parts.push(proto);
    }
    const body = compressBody(Buffer.concat(parts));
    const r = await fetch(`${prom.url}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body });
    requests++;
    if (r.status !== 204 && r.status !== 200) { rejected++; firstError ||= `HTTP ${r.status}: ${(await r.text()).slice(0, 300)}`; }
  }
}

// ---- 3. the simulated day
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { void prom.stop().finally(() => process.exit(130)); });
const t0 = Date.now();
try {
  for (let s = 1; s <= STEPS; s++) {
    const ts = start + s * STEP_S;
    const d = new Date(ts * 1000);
    if (d.getUTCMinutes() === 0 && (d.getUTCHours() === 7 || d.getUTCHours() === 21)) {
      for (let i = 0; i < N; i++) { if (failing.has(i)) lastFail[i] = ts; else lastOk[i] = ts; }
    }
    await pushRound(ts, true);
    if (s % 12 === 0) process.stdout.write(`\r simulated ${String(s * STEP_S / 3600).padStart(2)} h of 24 h (${((Date.now() - t0) / 1000).toFixed(0)} s) `);
  }
  // The installations keep pushing in real time: one round now, so the real-time rule evaluation sees them.
  await pushRound(Math.floor(Date.now() / 1000), false);
  console.log(`\nPushed ${requests} requests (${rejected} rejected${firstError ? `, first: ${firstError}` : ''}) in ${((Date.now() - t0) / 1000).toFixed(0)} s`);

  // ---- 4. results
  const perInst = await waitForQuery(prom, 'count by (instance) ({job="kassenwart", __name__=~"kassenwart_.*"})', (r) => r.length === N, 60_000);
  const counts = perInst.map((r) => Number(r.value[1]));
  const healthyCount = counts[perInst.findIndex((r) => !failing.has(Number(r.metric.instance.slice(5))))];
  const measured = bytes.filter((_, i) => i % SAMPLE === 0);
  const totalBytes = measured.reduce((a, b) => a + b, 0);
  const perDay = totalBytes / measured.length;
  const alerts = await waitForQuery(prom, 'ALERTS{alertname="BackupTooOld"}', (r) => r.length >= failing.size, 60_000).catch(() => query(prom, 'ALERTS{alertname="BackupTooOld"}'));
  const alerted = new Set(alerts.map((a) => a.metric.instance));
  const want = new Set([...failing].map(inst));
  const exact = alerted.size === want.size && [...want].every((x) => alerted.has(x));
  const tsdb = await (await fetch(`${prom.url}/api/v1/status/tsdb`)).json();
  console.log('');
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| installations | ${N} (${failing.size} with failing backups) |`);
  console.log(`| series per installation | ${Math.min(...counts)}–${Math.max(...counts)} (healthy: ${healthyCount}; a failing one adds its last_failure series) |`);
  console.log(`| Prometheus head series | ${tsdb.data?.headStats?.numSeries} |`);
  console.log(`| pushes per installation per day | ${STEPS} (every ${STEP_S / 60} min) |`);
  console.log(`| bytes pushed per installation per day | ${(perDay / 1024).toFixed(1)} KiB (snappy-compressed protobuf, ${Math.round(perDay / STEPS)} B per push; measured on ${measured.length} installations, min ${(Math.min(...measured) / 1024).toFixed(1)}, max ${(Math.max(...measured) / 1024).toFixed(1)} KiB) |`);
  console.log(`| BackupTooOld active (pending/firing) | ${alerted.size} installations; exactly the failing ones: ${exact ? 'yes' : 'NO'} |`);
  if (!exact) process.exitCode = 1;
  if (rejected) process.exitCode = 1;
} finally {
  await prom.stop();
}
