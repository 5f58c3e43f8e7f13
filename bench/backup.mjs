#!/usr/bin/env node
// Benchmark of "Datensicherung" (issue 15) on a generated POS database, side by side with reference tools on the
// same file (page cache warm, alternating runs, median of per-round ratios: the machine is shared and noisy).
// Prints:
//   1. speed: snapshot + compression (no SHA-256, like pigz), and the whole verified "Datensicherung" (everything:
//      snapshot, compression, SHA-256s, read-back, integrity_check, counts, fsync, manifest), as ratios against `pigz -1`;
//   2. memory: peak RSS growth of a backup and of a restore's verification (verifyBackupFile), 250 MB and, with
//      --large, 2 GB;
//   3. POS pause with a writer committing every 3 ms, against `cp` of the same file (warm page cache), with what
//      the writer itself saw (its longest transaction, lock waits and SQLite's busy-handler sleeps included);
//   4. POS pause with nothing writing and in WAL mode (0 ms expected);
// and the machine load (uptime) before and after.
// Needs: npm run build; pigz, gzip, cp. Options: --size-mb N (default 250), --runs N (3), --large (2 GB memory runs).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? Number(args[i + 1]) : d; };
const sizeMb = opt('--size-mb', 250);
const runs = opt('--runs', 3);
const large = args.includes('--large');
const out = join(here, 'out', 'backup');
mkdirSync(out, { recursive: true });
const dist = (p) => pathToFileURL(join(root, 'plugins', 'backup', 'dist', 'src', p)).href;
const writerScript = join(root, 'test', 'backup', 'fixtures', 'pos-writer.mjs');
const load = () => spawnSync('uptime').stdout.toString().trim().replace(/^.*load average/, 'load average');
const MB = 1048576;

function database(mb) {
  const db = join(out, `pos-${mb}.sqlite`);
  if (!existsSync(db)) {
    process.stdout.write(`generating ${mb} MB POS database … `);
    const g = spawnSync(process.execPath, [join(root, 'scripts', 'gen-pos-db.mjs'), db, '--size-mb', String(mb)], { encoding: 'utf8' });
    if (g.status !== 0) { console.error(g.stderr); process.exit(1); }
    console.log('done');
  }
  spawnSync('sh', ['-c', `cat '${db}' > /dev/null`]); // warm the page cache for every contender alike
  return db;
}

/**
 * One of our runs in a fresh process. mode "compress" = snapshot + parallel gzip only; "full" = the whole action
 * (BackupService.create); "verify" = verifyBackupFile of `db` (a .gz). Reports wall and CPU time and the peak RSS
 * growth over the process' RSS right before the work (modules loaded).
 */
function ours(mode, db, dir) {
  const code = `
    const { snapshotToGzip } = await import(${JSON.stringify(dist('snapshot.js'))});
    const { BackupService } = await import(${JSON.stringify(dist('service.js'))});
    const { verifyBackupFile } = await import(${JSON.stringify(dist('verify.js'))});
    const { rmSync, mkdirSync } = await import('node:fs');
    const dir = ${JSON.stringify(dir)}, mode = ${JSON.stringify(mode)}, db = ${JSON.stringify(db)};
    if (mode !== 'verify') { rmSync(dir, { recursive: true, force: true }); mkdirSync(dir, { recursive: true }); }
    const base = process.memoryUsage().rss;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let r;
    if (mode === 'compress') {
      // snapshot + compression only, like pigz (no SHA-256: that belongs to the verification, in "full")
      r = await snapshotToGzip(db, dir + '/out.gz', { tmpDir: dir, hash: false });
    } else if (mode === 'verify') {
      r = await verifyBackupFile(db, {});
    } else {
      const values = { posDatabasePath: db, backupDir: dir, retainDaily: 1, retainWeekly: 0, retainMonthly: 0 };
      const svc = new BackupService({ dataDir: dir, settings: { get: (k) => values[k] }, logger: { debug() {}, info() {}, warn() {}, error() {} }, targets: () => [], policies: () => [] });
      const job = { signal: new AbortController().signal, progress() {}, log: { debug() {}, info() {}, warn() {}, error() {} }, trigger: 'user' };
      r = (await svc.create(job)).result.details;
      r.gzBytes = r.size;
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const peak = process.resourceUsage().maxRSS * 1024;
    console.log(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, gzBytes: r.gzBytes, path: r.path, pauseMs: r.pauseMs, method: r.method, rssGrowth: peak - base }));
  `;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    c.stdout.on('data', (d) => { s += d; });
    c.on('exit', (status) => {
      if (status !== 0) return reject(new Error(`our ${mode} run failed (${status})`));
      resolve(JSON.parse(s.trim().split('\n').pop()));
    });
  });
}

/** Starts the POS stand-in (native SQLite) committing every `every` ms; stop() resolves with its report. */
async function writer(db, mode, every) {
  const c = spawn(process.execPath, [writerScript, db, mode, '--every', String(every)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let s = '';
  c.stdout.on('data', (d) => { s += d; });
  await new Promise((res, rej) => {
    const t = setInterval(() => { if (s.includes('READY')) { clearInterval(t); res(); } }, 10);
    c.once('exit', () => { clearInterval(t); rej(new Error('writer died')); });
  });
  await new Promise((r) => setTimeout(r, 300));
  return {
    async stop() {
      const done = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await done;
      const m = /COUNT (\d+) MAXTXMS ([\d.]+) MAXGAPMS ([\d.]+)/.exec(s);
      return { count: Number(m[1]), maxTxMs: Number(m[2]), maxGapMs: Number(m[3]) };
    },
  };
}

function tool(cmd, db) {
  const t0 = performance.now();
  // the shell's `times` prints the CPU time of its children (user, system) on its second line
  const r = spawnSync('sh', ['-c', `${cmd} -c '${db}' > '${join(out, 'ref.gz')}' && times`], { encoding: 'utf8' });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} failed`);
  const secs = (t) => { const m = /(\d+)m([\d.]+)s/.exec(t); return m ? Number(m[1]) * 60 + Number(m[2]) : 0; };
  const cpuMs = (r.stdout.trim().split('\n')[1] ?? '').trim().split(/\s+/).reduce((a, t) => a + secs(t) * 1000, 0);
  return { ms, cpuMs, gzBytes: statSync(join(out, 'ref.gz')).size };
}

/** `cp` of the same file from a warm page cache: the physical floor of a locked copy. */
function cpMs(db) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync('cp', [db, join(out, 'cp-copy.sqlite')]);
    times.push(performance.now() - t0);
    rmSync(join(out, 'cp-copy.sqlite'), { force: true });
  }
  return median(times);
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const mb = (n) => (n / MB).toFixed(0);

// ------------------------------------------------------------------------------------------------ 1. speed
const db = database(sizeMb);
const bytes = statSync(db).size;
console.log(`\nPOS database ${(bytes / MB).toFixed(1)} MB, ${runs} rounds, ${spawnSync('nproc').stdout.toString().trim()} cores; before: ${load()}`);
const res = { compress: [], full: [], pigz: [], gzip: [], pigzCpu: [], compressCpu: [], fullCpu: [], fullRss: [] };
let last = {};
const dir = join(out, 'ours');
for (let i = 0; i < runs; i++) {
  const p = tool('pigz -1', db); res.pigz.push(p.ms); res.pigzCpu.push(p.cpuMs); last.pigz = p;
  const c = await ours('compress', db, dir); res.compress.push(c.ms); res.compressCpu.push(c.cpuMs); last.compress = c;
  const g = tool('gzip -1', db); res.gzip.push(g.ms); last.gzip = g;
  const f = await ours('full', db, dir); res.full.push(f.ms); res.fullCpu.push(f.cpuMs); res.fullRss.push(f.rssGrowth); last.full = f;
}
const verify250 = await ours('verify', last.full.path, dir);
const mbps = (ms) => bytes / MB / (ms / 1000);
const ratio = (list) => median(list.map((ms, i) => res.pigz[i] / ms));
const cpuS = (list) => (median(list) / 1000).toFixed(1);
const row = (name, list, gz, extra = '') =>
  `${name.padEnd(36)} ${mbps(median(list)).toFixed(0).padStart(5)} MB/s ${ratio(list).toFixed(2).padStart(6)}x pigz ${(gz / MB).toFixed(1).padStart(7)} MB  ${extra}`;
console.log(`\n${'contender'.padEnd(36)} ${'speed'.padStart(10)} ${'ratio'.padStart(11)} ${'.gz size'.padStart(10)}`);
console.log(row('pigz -1 (reference)', res.pigz, last.pigz.gzBytes, `CPU ${cpuS(res.pigzCpu)} core-s`));
console.log(row('gzip -1', res.gzip, last.gzip.gzBytes));
console.log(row('snapshot + compression', res.compress, last.compress.gzBytes, `CPU ${cpuS(res.compressCpu)} core-s = ${(median(res.pigzCpu) / median(res.compressCpu)).toFixed(2)}x pigz's  (goal >= 0.9x)`));
console.log(row('whole verified "Datensicherung"', res.full, last.full.gzBytes, `CPU ${cpuS(res.fullCpu)} core-s = ${(median(res.pigzCpu) / median(res.fullCpu)).toFixed(2)}x pigz's  (goal >= 0.5x)`));
console.log(`after the speed rounds: ${load()}`);

// ------------------------------------------------------------------------------------------------ 2. memory
const rssRows = [[`${mb(bytes)} MB`, Math.max(...res.fullRss), verify250.rssGrowth]];
if (large) {
  const big = database(2048);
  const bigDir = join(out, 'ours-large');
  const f = await ours('full', big, bigDir);
  const v = await ours('verify', f.path, bigDir);
  rssRows.push([`${mb(statSync(big).size)} MB`, f.rssGrowth, v.rssGrowth, `backup ${(f.ms / 1000).toFixed(1)} s, verification ${(v.ms / 1000).toFixed(1)} s`]);
  rmSync(bigDir, { recursive: true, force: true });
}
console.log('\nPeak RSS growth (peak RSS minus RSS before the work; goal <= 64 MB)');
for (const [size, backup, verify, note] of rssRows) {
  console.log(`  ${size.padStart(8)} database: backup ${mb(backup).padStart(3)} MB, restore's verification ${mb(verify).padStart(3)} MB${note ? `  (${note})` : ''}`);
}
if (!large) console.log('  (2 GB: npm run bench -- backup --large)');

// ------------------------------------------------------------------------------------------------ 3. + 4. pause
const live = join(out, `pos-${sizeMb}-live.sqlite`);
copyFileSync(db, live);
rmSync(live + '-journal', { force: true });
spawnSync('sh', ['-c', `cat '${live}' > /dev/null`]);
// rounds alternating cp (median of 3, warm) and a whole backup with the writer: the machine is shared, so the
// figure is the median of the per-round ratios
const pauseRounds = [];
const w = await writer(live, 'delete', 3);
for (let i = 0; i < runs; i++) {
  const cp = cpMs(live);
  const busy = await ours('full', live, dir);
  pauseRounds.push({ cp, pause: busy.pauseMs, method: busy.method });
}
const seen = await w.stop();
console.log(`\nPOS pause, writer committing every 3 ms (${runs} rounds, ${seen.count} commits in all; ${load()})`);
for (const r of pauseRounds) console.log(`  pauseMs ${String(r.pause).padStart(4)} ms (method ${r.method}) vs cp ${r.cp.toFixed(0).padStart(4)} ms = ${(r.pause / r.cp).toFixed(2)}`);
console.log(`  reported pause (from before the lock request until its release) / cp of the same file: median ${median(pauseRounds.map((r) => r.pause / r.cp)).toFixed(2)}  (goal <= 1.2)`);
console.log(`  the writer's longest transaction ${seen.maxTxMs.toFixed(0)} ms, longest gap between commits ${seen.maxGapMs.toFixed(0)} ms (includes SQLite's busy-handler back-off in the writer)`);
const idle = await ours('full', live, dir);
rmSync(live, { force: true });
copyFileSync(db, live);
const ww = await writer(live, 'wal', 3);
const wal = await ours('full', live, dir);
const walSeen = await ww.stop();
console.log(`  nothing writing: pauseMs ${idle.pauseMs} ms (method ${idle.method}); WAL mode with the writer: pauseMs ${wal.pauseMs} ms (method ${wal.method}), the writer's longest transaction ${walSeen.maxTxMs.toFixed(0)} ms`);
console.log(`\nafter: ${load()}`);
for (const f of [live, live + '-wal', live + '-shm', live + '-journal', join(out, 'ref.gz')]) rmSync(f, { force: true });
rmSync(dir, { recursive: true, force: true });
