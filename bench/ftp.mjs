#!/usr/bin/env node
/**
 * FTPS upload throughput of the backup plugin's FTP target vs `curl -T --ssl-reqd -k` to the same vsftpd
 * (explicit FTPS on 127.0.0.1), side by side, reported as a ratio. Needs root, vsftpd, openssl, curl and a
 * build (`npx tsc -b test/backup`). Target from issue 5: ratio >= 0.9.
 *
 *   node bench/ftp.mjs [--mb 96] [--runs 5]
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startFtpServer } = await import(join(root, 'test/support/dist/vsftpd.js'));
const { createFtpTarget } = await import(join(root, 'plugins/backup/dist/src/ftp/target.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const MB = 1024 * 1024;
const sizeMb = arg('mb', 96);
const runs = arg('runs', 5);

const work = await mkdtemp(join(tmpdir(), 'kw-bench-ftp-'));
const server = await startFtpServer();
try {
  // Random bytes behave like a .gz file: incompressible.
  const name = 'kasse-2026-11-29_07-00-00.sqlite.gz';
  const path = join(work, name);
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  for (let left = sizeMb * MB; left > 0; left -= 4 * MB) {
    const b = randomBytes(Math.min(left, 4 * MB));
    hash.update(b);
    await fh.write(b);
  }
  await fh.close();
  const file = { path, name, size: sizeMb * MB, sha256: hash.digest('hex'), createdAt: new Date().toISOString() };

  const values = {
    ftpEnabled: true, ftpHost: server.host, ftpPort: server.port, ftpUser: server.user, ftpPassword: server.password,
    ftpRemoteDir: 'bench', ftpTls: 'explicit', ftpKeep: 0, ftpTimeoutSeconds: 30, ftpFingerprint: server.certFingerprint256,
  };
  const noop = () => {};
  const target = createFtpTarget({
    settings: { get: (k) => values[k], all: () => values, set: async () => {}, onDidChange: () => noop },
    logger: { debug: noop, info: noop, warn: noop, error: noop },
  });
  const sendCtx = { signal: new AbortController().signal, progress: noop, log: noop };

  const viaTarget = async () => {
    const t0 = process.hrtime.bigint();
    await target.send(file, sendCtx);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  const viaCurl = async () => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('curl', [
      '-sS', '--ssl-reqd', '-k', '--ftp-create-dirs', '-T', path,
      '--user', `${server.user}:${server.password}`, `ftp://127.0.0.1:${server.port}/bench/curl-${name}`,
    ], { encoding: 'utf8' });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) throw new Error(`curl failed (${r.status}): ${r.stderr}`);
    return s;
  };

  const ours = [];
  const curl = [];
  await viaCurl(); // warm-up (creates the folder, warms the page cache)
  for (let i = 0; i < runs; i++) {
    // Alternate the order so neither side always runs on a warmer machine.
    if (i % 2 === 0) { ours.push(await viaTarget()); curl.push(await viaCurl()); }
    else { curl.push(await viaCurl()); ours.push(await viaTarget()); }
  }
  const check = await stat(join(server.root, 'bench', name));
  if (check.size !== file.size) throw new Error('uploaded size differs');

  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const mbs = (s) => sizeMb / s;
  const rows = [
    ['', 'median s', 'MB/s', 'runs (s)'],
    ['FTP target (basic-ftp)', median(ours).toFixed(2), mbs(median(ours)).toFixed(1), ours.map((s) => s.toFixed(2)).join(' ')],
    ['curl -T --ssl-reqd -k', median(curl).toFixed(2), mbs(median(curl)).toFixed(1), curl.map((s) => s.toFixed(2)).join(' ')],
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  console.log(`FTPS upload of ${sizeMb} MB to vsftpd on 127.0.0.1 (explicit TLS), ${runs} runs each`);
  for (const r of rows) console.log(r.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  '));
  const ratio = mbs(median(ours)) / mbs(median(curl));
  console.log(`ratio target/curl: ${ratio.toFixed(2)} (goal >= 0.90)`);
} finally {
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
