#!/usr/bin/env node
/**
 * Cloud-Kasse upload throughput vs `curl -T` of the same bytes to a presigned URL of the same store (Debian's
 * radosgw on a one-node Ceph on 127.0.0.1), side by side, and the age encryption's MB/s alone. The backup is a
 * 250 MB file of random bytes (a .gz is incompressible too). Needs ceph-mon, ceph-osd, radosgw, curl and a build
 * (`npx tsc -b test/cloud`). Target from issue 14: ratio >= 0.9; the encryption must not be the bottleneck.
 *
 *   node bench/cloud.mjs [--mb 250] [--runs 1]      (or: npm run bench -- cloud)
 */
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startCeph } = await import(join(root, 'test/support/dist/ceph.js'));
const { uploadCopy, encryptFile } = await import(join(root, 'plugins/cloud/dist/src/upload.js'));
const { generateX25519Identity, identityToRecipient } = await import('age-encryption');

const arg = (name, def) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? Number(process.argv[i + 1]) : def; };
const MB = 1024 * 1024;
const sizeMb = arg('mb', 250);
const runs = arg('runs', 1);

class Sha256 {
  constructor(secret) { this.h = secret ? createHmac('sha256', secret) : createHash('sha256'); }
  update(d) { this.h.update(d); }
  async digest() { return new Uint8Array(this.h.digest()); }
}

const work = await mkdtemp(join(tmpdir(), 'kw-bench-cloud-'));
const s3 = await startCeph();
try {
  const bucket = 'kw-bench';
  const client = new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const name = 'kasse-2026-11-29_07-00-00.sqlite.gz';
  const path = join(work, name);
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  for (let left = sizeMb * MB; left > 0; left -= 4 * MB) { const b = randomBytes(Math.min(left, 4 * MB)); hash.update(b); await fh.write(b); }
  await fh.close();
  const size = sizeMb * MB;
  const file = { path, name, size, sha256: hash.digest('hex'), createdAt: new Date().toISOString() };
  const recipient = await identityToRecipient(await generateX25519Identity());
  const settings = {
    endpoint: s3.endpoint, region: 'us-east-1', bucket, prefix: 'bench', ...s3.credentials, forcePathStyle: true, recipients: [recipient],
    intervalHours: 24, retainDaily: 100, retainWeekly: 0, retainMonthly: 0, objectLockDays: 0, objectLockMode: 'GOVERNANCE', timeoutSeconds: 120,
  };
  const signer = new SignatureV4({ credentials: s3.credentials, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const url = new URL(s3.endpoint);
  const presigned = async (key) => {
    const req = await signer.presign({ method: 'PUT', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: `/${bucket}/${key}`, headers: { host: url.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, query: {} }, { expiresIn: 3600, unsignableHeaders: new Set(['x-amz-content-sha256']) });
    const q = new URLSearchParams(req.query).toString();
    return `${s3.endpoint}/${bucket}/${key}?${q}`;
  };
  const rate = (bytes, ms) => bytes / MB / (ms / 1000);
  const rows = [];
  for (let i = 0; i < runs; i++) {
    let t = performance.now();
    const c = spawnSync('curl', ['-sS', '-f', '-o', '/dev/null', '-T', path, await presigned(`curl/${i}.bin`)], { encoding: 'utf8' });
    if (c.status !== 0) throw new Error(`curl failed: ${c.stderr}`);
    const curlMs = performance.now() - t;
    t = performance.now();
    await uploadCopy({ settings, file: { ...file, name: name.replace('07-00-00', `07-00-0${i}`) }, signal: new AbortController().signal, progress() {}, log() {} });
    const oursMs = performance.now() - t;
    t = performance.now();
    const { stream } = await encryptFile(path, size, [recipient]);
    for await (const _ of stream) { /* consume */ }
    const encMs = performance.now() - t;
    rows.push({ curl: rate(size, curlMs), ours: rate(size, oursMs), enc: rate(size, encMs) });
  }
  client.destroy();
  console.log(`${sizeMb} MB backup (random bytes), radosgw on 127.0.0.1, ${runs} run(s):`);
  for (const r of rows) console.log(`  curl -T presigned: ${r.curl.toFixed(1)} MB/s   Cloud-Kasse (age + multipart + MD5 + HEAD): ${r.ours.toFixed(1)} MB/s   ratio ${(r.ours / r.curl).toFixed(2)}   age encryption alone: ${r.enc.toFixed(1)} MB/s`);
} finally {
  await s3.stop();
  await rm(work, { recursive: true, force: true });
}
