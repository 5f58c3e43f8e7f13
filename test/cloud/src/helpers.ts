/** Shared parts of the cloud tests: a bucket on the real radosgw, age keys, a backup-like file of random bytes. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { CephS3 } from '#support/ceph.js';
import type { BackupFile } from 'kassenwart/plugins/backup/api';
import type { CloudSettings } from '../../../plugins/cloud/dist/src/settings.js';

export function s3Client(s3: CephS3, credentials = s3.credentials): S3Client {
  return new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
}

/** Creates a bucket with a fresh name (optionally with Object Lock). */
export async function newBucket(s3: CephS3, opts: { lock?: boolean } = {}): Promise<string> {
  const name = `kw-${randomBytes(5).toString('hex')}`;
  const c = s3Client(s3);
  await c.send(new CreateBucketCommand({ Bucket: name, ...(opts.lock ? { ObjectLockEnabledForBucket: true } : {}) }));
  c.destroy();
  return name;
}

/** An age identity (secret) and its recipient (public key); the identity also as a file for `age -d -i`. */
export async function newIdentity(dir: string): Promise<{ identity: string; recipient: string; file: string }> {
  const identity = await generateX25519Identity();
  const recipient = await identityToRecipient(identity);
  const file = join(dir, `identity-${randomBytes(3).toString('hex')}.txt`);
  await writeFile(file, `# test identity\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient, file };
}

/** Settings for the plugin's modules (what readSettings would return). */
export function settingsFor(s3: CephS3, bucket: string, recipients: string[], over: Partial<CloudSettings> = {}): CloudSettings {
  return {
    endpoint: s3.endpoint, region: 'us-east-1', bucket, prefix: 'salon-test', accessKeyId: s3.credentials.accessKeyId,
    secretAccessKey: s3.credentials.secretAccessKey, forcePathStyle: true, recipients, intervalHours: 24,
    retainDaily: 14, retainWeekly: 8, retainMonthly: 12, objectLockDays: 0, objectLockMode: 'GOVERNANCE', timeoutSeconds: 10, ...over,
  };
}

/** A file of `mb` MiB of random bytes named like a backup (random bytes do not compress: real multipart). */
export async function randomBackup(dir: string, mb: number, at = new Date()): Promise<BackupFile> {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const name = `kasse-${at.getFullYear()}-${p2(at.getMonth() + 1)}-${p2(at.getDate())}_${p2(at.getHours())}-${p2(at.getMinutes())}-${p2(at.getSeconds())}.sqlite.gz`;
  const path = join(dir, name);
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  for (let i = 0; i < mb; i++) {
    const b = randomBytes(1 << 20);
    hash.update(b);
    if (!out.write(b)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return { path, name, size: mb << 20, sha256: hash.digest('hex'), createdAt: at.toISOString() };
}

/** Runs a program; returns status, stdout (as a Buffer) and stderr. */
export function sh(cmd: string, args: string[], input?: Buffer | string) {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr?.toString() ?? '' };
}
