#!/usr/bin/env node
// Benchmark of "Datensicherung" on a generated ~250 MB POS database, side by side with `pigz -1` and
// `gzip -1` on the same file (page cache warm, alternating runs, median of 5 per-round ratios). Prints a small table:
// throughput as a ratio against pigz -1, the POS pause with and without a concurrent writer, peak RSS.
// Needs: npx tsc -b plugins/backup; pigz, gzip, python3. Options: --size-mb N (default 250), --runs N (5).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? Number(args[i + 1]) : d; };
const sizeMb = opt('--size-mb', 250);
const runs = opt('--runs', 5);
const out = join(here, 'out', 'backup');
mkdirSync(out, { recursive: true });
const db = join(out, `pos-${sizeMb}.sqlite`);
const dist = (p) => pathToFileURL(join(root, 'plugins', 'backup', 'dist', 'src', p)).href;

if (!existsSync(db)) {
  process.stdout.write(`generating ${sizeMb} MB POS database … `);
  const g = spawnSync(process.execPath, [join(root, 'scripts', 'gen-pos-db.mjs'), db, '--size-mb', String(sizeMb)], { encoding: 'utf8' });
  if (g.status !== 0) { console.error(g.stderr); process.exit(1); }
  console.log('done');
}
const bytes = statSync(db).size;
spawnSync('sh', ['-c', `cat '${db}' > /dev/null`]); // warm the page cache for every contender alike

/** One of our runs in a fresh process: "compress" = snapshot + parallel gzip only; "full" = the whole action. */
function ours(mode, withWriter = false) {
  const code = `
    const { snapshotToGzip } = await import(${JSON.stringify(dist('snapshot.js'))});
    const { BackupService } = await import(${JSON.stringify(dist('service.js'))});
    const { rmSync, mkdirSync } = await import('node:fs');
    const dir = ${JSON.stringify(join(out, 'ours'))};
    rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true });
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let r;
    if (${JSON.stringify(mode)} === 'compress') {
      r = await snapshotToGzip(${JSON.stringify(db)}, dir + '/out.gz', { tmpDir: dir });
    } else {
      const values = { posDatabasePath: ${JSON.stringify(db)}, backupDir: dir, retainDaily: 1, retainWeekly: 0, retainMonthly: 0 };
      const svc = new BackupService({ dataDir: dir, settings: { get: (k) => values[k] }, logger: { debug() {}, info() {}, warn() {}, error() {} }, targets: () => [], policies: () => [] });
      const job = { signal: new AbortController().signal, progress() {}, log: { debug() {}, info() {}, warn() {}, error() {} }, trigger: 'user' };
      r = (await svc.create(job)).result.details;
      r.gzBytes = r.size;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, gzBytes: r.gzBytes, pauseMs: r.pauseMs, method: r.method, maxRssKb: process.resourceUsage().maxRSS }));
  `;
  return new Promise((resolve, reject) => {
    let writer;
    if (withWriter) writer = spawn('python3', [join(root, 'test', 'backup', 'fixtures', 'pos_writer.py'), db], { stdio: 'ignore' });
    const start = () => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
      let s = '';
      c.stdout.on('data', (d) => { s += d; });
      c.on('exit', (status) => {
        writer?.kill('SIGTERM');
        if (status !== 0) return reject(new Error(`our run failed (${status})`));
        resolve(JSON.parse(s.trim().split('\n').pop()));
      });
    };
    setTimeout(start, withWriter ? 500 : 0);
  });
}

function tool(cmd) {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `${cmd} -c '${db}' > '${join(out, 'ref.gz')}'`]);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  return { ms, gzBytes: statSync(join(out, 'ref.gz')).size };
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const res = { compress: [], full: [], pigz: [], gzip: [], compressCpu: [], fullCpu: [] };
let last = {};
for (let i = 0; i < runs; i++) {
  const p = tool('pigz -1'); res.pigz.push(p.ms); last.pigz = p;
  const c = await ours('compress'); res.compress.push(c.ms); res.compressCpu.push(c.cpuMs); last.compress = c;
  const g = tool('gzip -1'); res.gzip.push(g.ms); last.gzip = g;
  const f = await ours('full'); res.full.push(f.ms); res.fullCpu.push(f.cpuMs); last.full = f;
}
const busy = await ours('full', true);

const mbps = (ms) => bytes / 1048576 / (ms / 1000);
const pigz = median(res.pigz);
// The machine is shared and noisy: each ratio is the median of per-round ratios (pigz run right next to it).
const ratio = (list) => median(list.map((ms, i) => res.pigz[i] / ms));
const row = (name, list, gz, extra = '') =>
  `${name.padEnd(34)} ${mbps(median(list)).toFixed(0).padStart(6)} MB/s  ${ratio(list).toFixed(2).padStart(5)}x pigz  ${(gz / 1048576).toFixed(1).padStart(7)} MB  ${extra}`;
console.log(`\nPOS database: ${(bytes / 1048576).toFixed(1)} MB, ${runs} rounds, ratios = median of per-round ratios, page cache warm, ${spawnSync('nproc').stdout.toString().trim()} cores\n`);
console.log(`${'contender'.padEnd(34)} ${'speed'.padStart(11)}  ${'ratio'.padStart(10)}  ${'.gz size'.padStart(10)}`);
console.log(row('pigz -1 (reference)', res.pigz, last.pigz.gzBytes));
console.log(row('gzip -1', res.gzip, last.gzip.gzBytes));
// CPU = user + system time of the whole process (all threads) in core-seconds: on a 2-core machine the wall time
// cannot drop below about half of it.
const cpuS = (list) => (median(list) / 1000).toFixed(1);
console.log(row('kassenwart snapshot + gzip', res.compress, last.compress.gzBytes, `peak RSS ${(last.compress.maxRssKb / 1024).toFixed(0)} MB, CPU ${cpuS(res.compressCpu)} core-s`));
console.log(row('kassenwart whole "Datensicherung"', res.full, last.full.gzBytes, `peak RSS ${(last.full.maxRssKb / 1024).toFixed(0)} MB (incl. sql.js verification), CPU ${cpuS(res.fullCpu)} core-s`));
console.log(`\nPOS pause: idle POS ${last.full.pauseMs} ms (method ${last.full.method}); with a writer committing in a loop ${busy.pauseMs} ms (method ${busy.method})`);
rmSync(join(out, 'ours'), { recursive: true, force: true });
rmSync(join(out, 'ref.gz'), { force: true });
