/**
 * The cloud plugin's upload, integrity, queue, retention and restore modules against a real S3 server
 * (Debian's radosgw on a one-node Ceph, started once for this file).
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, GetObjectRetentionCommand, HeadObjectCommand, DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { startCeph, type CephS3 } from '#support/ceph.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { uploadCopy, listOrphans } from '../../../plugins/cloud/dist/src/upload.js';
import { listCopies, pruneCopies } from '../../../plugins/cloud/dist/src/store.js';
import { fetchCopy, decrypterFor } from '../../../plugins/cloud/dist/src/restore.js';
import { createClient } from '../../../plugins/cloud/dist/src/s3.js';
import { translateS3Error } from '../../../plugins/cloud/dist/src/errors.js';
import { CloudService } from '../../../plugins/cloud/dist/src/service.js';
import type { CloudSettings } from '../../../plugins/cloud/dist/src/settings.js';
import { newBucket, newIdentity, randomBackup, settingsFor, s3Client, sh } from './helpers.js';

process.env.KASSENWART_CLOUD_RETRY_MS = '300';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const quiet = { signal: new AbortController().signal, progress: () => undefined, log: () => undefined };
const until = async (what: string, fn: () => Promise<boolean>, ms = 120_000) => {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

/** A CloudService on a plain settings map (the host gives it the same view of its settings). */
function service(dataDir: string, s: CloudSettings, logs: string[] = []) {
  const values: Record<string, unknown> = { ...s, recipients: s.recipients.join(', ') };
  const log = (m: string) => { logs.push(m); };
  return new CloudService({ dataDir, settings: { get: (k: string) => values[k] as never }, logger: { debug: log, info: log, warn: log, error: log } as never });
}

describe('cloud: copies on a real S3 server (radosgw)', function () {
  this.timeout(300_000);
  let s3: CephS3;
  let dir: string;
  let id: { identity: string; recipient: string; file: string };
  before(async () => {
    s3 = await startCeph();
    dir = await tempDir('kw-cloud-');
    id = await newIdentity(dir);
  });
  after(async () => {
    await s3?.stop();
    await removeDir(dir);
  });

  it('uploads an encrypted multipart copy that Debian\'s `age -d -i` decrypts to the exact backup; the HEAD matched', async () => {
    const bucket = await newBucket(s3);
    const second = await newIdentity(dir);
    const s = settingsFor(s3, bucket, [id.recipient, second.recipient]);
    const file = await randomBackup(dir, 20);
    const seen: number[] = [];
    const up = await uploadCopy({ ...quiet, settings: s, file, progress: (b) => seen.push(b) });
    expect(up.key).to.equal(`salon-test/${file.name}.age`);
    expect(up.etag, 'multipart ETag: MD5 of the part MD5s').to.match(/^[0-9a-f]{32}-3$/);
    expect(seen.at(-1), 'progress in bytes up to the file size').to.equal(file.size);
    const c = s3Client(s3);
    const obj = await c.send(new GetObjectCommand({ Bucket: bucket, Key: up.key }));
    const enc = Buffer.from(await obj.Body!.transformToByteArray());
    c.destroy();
    expect(enc.subarray(0, 21).toString()).to.equal('age-encryption.org/v1');
    expect(enc.includes(Buffer.from(await readFile(file.path)).subarray(0, 64)), 'no plain text in the stored object').to.equal(false);
    await writeFile(join(dir, 'copy.age'), enc);
    for (const who of [id, second]) {
      const r = sh('age', ['-d', '-i', who.file, join(dir, 'copy.age')]);
      expect(r.status, r.stderr).to.equal(0);
      expect(sha(r.stdout), 'each recipient can decrypt').to.equal(file.sha256);
    }
    const copies = await listCopies(createClient(s), s);
    expect(copies.map((x) => [x.name, x.size])).to.deep.equal([[`${file.name}.age`, up.bytes]]);
  });

  it('every part carries a Content-MD5: a part damaged after it was hashed is refused by the store (BadDigest)', async () => {
    const bucket = await newBucket(s3);
    const s = settingsFor(s3, bucket, [id.recipient]);
    const client = createClient(s);
    // Flips one bit after our MD5 was taken but before signing: only the Content-MD5 can catch it.
    const damage = (next: (a: unknown) => Promise<unknown>) => async (args: { request: { body?: unknown } }) => {
      if (args.request.body instanceof Uint8Array && args.request.body.length) { const b = Buffer.from(args.request.body); b[0] ^= 1; args.request.body = b; }
      return next(args);
    };
    client.middlewareStack.addRelativeTo(damage as never, { relation: 'after', toMiddleware: 'kassenwartContentMd5', name: 'damage' } as never);
    const err = await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'salon-test/x', Body: Buffer.from('kassendaten '.repeat(1000)) })).then(() => undefined, (e) => e);
    expect(err, 'the store must refuse the damaged body').not.to.equal(undefined);
    expect(translateS3Error(err, { endpoint: s.endpoint, bucket }).code).to.equal('cloud.bad-digest');
    client.destroy();
  });

  it('refuses wrong keys (403), an unknown bucket and an unreachable endpoint with German messages', async () => {
    const bucket = await newBucket(s3);
    const file = await randomBackup(dir, 1);
    const fail = async (s: CloudSettings) => { try { await uploadCopy({ ...quiet, settings: s, file }); } catch (e) { return e as { code: string; message: string; hint?: string }; } throw new Error('no error'); };
    const wrongSecret = await fail(settingsFor(s3, bucket, [id.recipient], { secretAccessKey: 'falsch' }));
    expect(wrongSecret.code).to.equal('cloud.auth');
    expect(wrongSecret.message).to.contain('403').and.contain('Schlüssel');
    const unknownKey = await fail(settingsFor(s3, bucket, [id.recipient], { accessKeyId: 'UNKNOWNKEY123' }));
    expect(unknownKey.code).to.equal('cloud.auth');
    const other = s3.createUser();
    const foreign = await fail(settingsFor(s3, bucket, [id.recipient], { ...other }));
    expect(foreign.code, 'a valid key without rights on the bucket').to.equal('cloud.auth');
    const noBucket = await fail(settingsFor(s3, 'gibt-es-nicht', [id.recipient]));
    expect(noBucket.code).to.equal('cloud.no-bucket');
    expect(noBucket.message).to.contain('„gibt-es-nicht“');
    const offline = await fail(settingsFor(s3, bucket, [id.recipient], { endpoint: 'http://127.0.0.1:9' }));
    expect(offline.code).to.equal('cloud.unreachable');
    expect(offline.hint).to.contain('automatisch gesendet');
  });

  it('a store stopped mid-upload leaves no object under the final key; the orphaned upload is aborted and the copy sent later', async () => {
    const bucket = await newBucket(s3);
    const s = settingsFor(s3, bucket, [id.recipient]);
    const file = await randomBackup(dir, 96);
    const data = await tempDir('kw-cloud-q-');
    const svc = service(data, s);
    let stopped: Promise<void> | undefined;
    let err: { code?: string; message?: string } | undefined;
    try {
      await svc.sendNow(file, { signal: new AbortController().signal, log: () => undefined, progress: (b) => { if (b > 24 << 20) stopped ??= s3.stopGateway(); } });
    } catch (e) { err = e as typeof err; }
    await stopped;
    expect(err?.code, err?.message).to.equal('cloud.unreachable');
    expect((await svc.status()).pending).to.have.length(1);
    await s3.startGateway();
    const c = s3Client(s3);
    const head = await c.send(new HeadObjectCommand({ Bucket: bucket, Key: `salon-test/${file.name}.age` })).then(() => 'found', (e) => e.name);
    expect(head, 'nothing under the final key').to.equal('NotFound');
    expect(await listOrphans(c, s), 'the interrupted upload, not yet aborted (the store was gone)').to.have.length(1);
    svc.startTimer(200);
    try {
      await until('the queued copy to be sent', async () => { const st = await svc.readState(); return st.pending.length === 0 && !!st.lastSuccess; });
    } finally { svc.dispose(); }
    expect(await listOrphans(c, s), 'no orphaned multipart upload left').to.have.length(0);
    const got = await fetchCopy({ client: createClient(s), settings: s, name: `${file.name}.age`, dest: join(data, 'back.gz'), decrypter: decrypterFor(id.identity) });
    expect(sha(await readFile(got.path))).to.equal(file.sha256);
    c.destroy();
    await removeDir(data);
  });

  it('offline: copies wait, are sent newest first once the store answers again, with a backoff instead of a retry storm', async () => {
    const bucket = await newBucket(s3);
    const s = settingsFor(s3, bucket, [id.recipient]);
    const data = await tempDir('kw-cloud-q-');
    const logs: string[] = [];
    const svc = service(data, s, logs);
    const now = Date.now();
    const files = [await randomBackup(dir, 1, new Date(now - 7200_000)), await randomBackup(dir, 1, new Date(now - 3600_000)), await randomBackup(dir, 1, new Date(now))];
    await s3.stopGateway();
    try {
      svc.startTimer(100);
      for (const f of [files[1], files[0], files[2]]) await svc.enqueue(f);
      await new Promise((r) => setTimeout(r, 4000));
      const st = await svc.readState();
      expect(st.pending.map((p) => p.name).sort()).to.deep.equal(files.map((f) => f.name).sort());
      expect(st.lastFailure?.code).to.equal('cloud.unreachable');
      // 300 ms doubling: at most a handful of tries in 4 s (a storm would be dozens).
      expect(st.attempts).to.be.within(1, 6);
      expect((await svc.status()).nextAttemptAt).to.be.a('string');
      await s3.startGateway();
      await until('all queued copies to be sent', async () => (await svc.readState()).pending.length === 0);
    } finally { svc.dispose(); }
    if (logs.filter((l) => l.startsWith('Kopie geprüft')).length !== 3) console.log(logs.join('\n'));
    const order = logs.filter((l) => l.startsWith('Kopie geprüft')).map((l) => /salon-test\/(\S+)\.age/.exec(l)![1]);
    expect(order, 'newest first').to.deep.equal([files[2].name, files[1].name, files[0].name]);
    expect((await listCopies(createClient(s), s)).map((c) => c.name)).to.deep.equal(files.map((f) => `${f.name}.age`).reverse());
    await removeDir(data);
  });

  it('retention keeps N daily / weekly / monthly copies and never the newest verified one', async () => {
    const bucket = await newBucket(s3);
    const s = settingsFor(s3, bucket, [id.recipient], { retainDaily: 2, retainWeekly: 0, retainMonthly: 0 });
    const day = 86400_000;
    const base = new Date(2026, 10, 20, 12, 0, 0).getTime();
    const at = [base, base - 2 * 3600_000, base - day, base - 3 * day, base - 40 * day].map((t) => new Date(t));
    const names: string[] = [];
    for (const d of at) {
      const f = await randomBackup(dir, 1, d);
      await uploadCopy({ ...quiet, settings: s, file: f });
      names.push(`${f.name}.age`);
    }
    const client = createClient(s);
    // names[4] (40 days old) plays the newest *verified* copy: retention must keep it whatever the policy says.
    const r = await pruneCopies(client, s, names[4]);
    expect(r.deleted, 'both copies of the newest day and the one of the day before stay').to.deep.equal([names[3]]);
    expect((await listCopies(client, s)).map((c) => c.name)).to.deep.equal([names[0], names[1], names[2], names[4]]);
    const monthly = await pruneCopies(client, { ...s, retainDaily: 1, retainMonthly: 2 }, undefined);
    expect(monthly.deleted, 'daily 1 + monthly 2: the newest of November and the one of October stay').to.deep.equal([names[2]]);
    client.destroy();
  });

  it('sets an Object Lock retention on each copy where the bucket has Object Lock: the salon key cannot delete it', async () => {
    const bucket = await newBucket(s3, { lock: true });
    const s = settingsFor(s3, bucket, [id.recipient], { objectLockDays: 2 });
    const file = await randomBackup(dir, 1);
    const up = await uploadCopy({ ...quiet, settings: s, file });
    expect(up.lockedUntil).to.be.a('string');
    const c = s3Client(s3);
    const ret = await c.send(new GetObjectRetentionCommand({ Bucket: bucket, Key: up.key }));
    expect(ret.Retention?.Mode).to.equal('GOVERNANCE');
    expect(ret.Retention!.RetainUntilDate!.getTime()).to.be.greaterThan(Date.now() + day(1.9)).and.lessThan(Date.now() + day(2.1));
    const versions = await c.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: up.key }));
    const versionId = versions.Versions?.[0]?.VersionId;
    const del = await c.send(new DeleteObjectCommand({ Bucket: bucket, Key: up.key, VersionId: versionId })).then(() => 'deleted', (e) => e.name ?? e.Code);
    expect(del, 'a locked version cannot be deleted').to.equal('AccessDenied');
    // A bucket without Object Lock: no retention, still uploaded.
    const plain = await newBucket(s3);
    const up2 = await uploadCopy({ ...quiet, settings: { ...s, bucket: plain }, file });
    expect(up2.lockedUntil).to.equal(undefined);
    c.destroy();
  });

  it('restore download: the right identity gives the backup back; a wrong one a German message and no file', async () => {
    const bucket = await newBucket(s3);
    const s = settingsFor(s3, bucket, [id.recipient]);
    const file = await randomBackup(dir, 9);
    await uploadCopy({ ...quiet, settings: s, file });
    const client = createClient(s);
    const seen: number[] = [];
    const ok = await fetchCopy({ client, settings: s, name: `${file.name}.age`, dest: join(dir, 'ok.gz'), decrypter: decrypterFor(id.identity), progress: (d) => seen.push(d) });
    expect(sha(await readFile(ok.path))).to.equal(file.sha256);
    expect(ok.expectSha256).to.equal(file.sha256);
    expect(seen.at(-1)).to.be.greaterThan(file.size);
    const wrong = await newIdentity(dir);
    const err = await fetchCopy({ client, settings: s, name: `${file.name}.age`, dest: join(dir, 'wrong.gz'), decrypter: decrypterFor(wrong.identity) }).then(() => undefined, (e) => e);
    expect(err?.code).to.equal('cloud.wrong-identity');
    expect(err.message).to.contain('anderen Schlüssel');
    expect(await readFile(join(dir, 'wrong.gz')).then(() => 'exists', () => 'absent')).to.equal('absent');
    expect(() => decrypterFor(id.recipient)).to.throw(/AGE-SECRET-KEY-1/);
    // A damaged object (one byte flipped in the payload) is refused, not restored.
    const c = s3Client(s3);
    const key = `salon-test/${file.name}.age`;
    const enc = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToByteArray());
    enc[enc.length - 100] ^= 1;
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: enc }));
    const bad = await fetchCopy({ client, settings: s, name: `${file.name}.age`, dest: join(dir, 'bad.gz'), decrypter: decrypterFor(id.identity) }).then(() => undefined, (e) => e);
    expect(bad?.code).to.equal('cloud.corrupt');
    c.destroy();
    client.destroy();
  });
});

function day(n: number): number { return n * 86400_000; }
