/**
 * What makes a cloud copy count as sent, in the test process: uploadCopy (the Content-MD5 on every part, the
 * HEAD check of size, SHA-256 metadata and ETag, the abort of an interrupted multipart upload), the Object Lock
 * probe. (The recipients check and retention's "never the newest verified copy": rules-units.test.ts.)
 *
 * The store here is a **stand-in**: a small S3-speaking HTTP server in this file (PutObject, the multipart
 * calls, HeadObject, DeleteObject, GetObjectLockConfiguration) that checks each Content-MD5 the way S3 does and
 * can be told to lie in its HEAD answer or to refuse a part. A real store (radosgw, store.test.ts) cannot be
 * made to report a wrong size or ETag, which is exactly what these checks are for; and Stryker runs these tests
 * thousands of times, which a Ceph start per run would not allow. The real-store path is store.test.ts.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Decrypter, generateX25519Identity, identityToRecipient } from 'age-encryption';
import { tempDir, removeDir } from '#support/tmp.js';
import { uploadCopy, PART_SIZE, listOrphans, abortOrphans } from '../../../plugins/cloud/dist/src/upload.js';
import { createClient, multipartEtag, objectLockEnabled } from '../../../plugins/cloud/dist/src/s3.js';
import type { CloudSettings } from '../../../plugins/cloud/dist/src/settings.js';

/** S3's error code (HTTP 501) for a feature or request a store does not support. */
const S3_FEATURE_MISSING = 'NotImplemented';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface StoredObject { body: Buffer; etag: string; meta: Record<string, string>; lockUntil?: string; type?: string }
/** How the stand-in misbehaves (all off: it behaves like S3). */
interface Lies {
  headLength?: (n: number) => number;
  headMeta?: (m: Record<string, string>) => Record<string, string>;
  headEtag?: (e: string) => string;
  refusePart?: number;
  /** Holds the answer to this part back (ms), so a cancel can land while it is in flight. */
  slowPart?: [number, number];
  /** Every request: 404 NoSuchBucket. */
  noBucket?: boolean;
  /** HEAD without an ETag header. */
  noEtag?: boolean;
  lock?: 'Enabled' | 'none' | 404 | 501 | 400 | 403;
}

/** The S3 stand-in; `calls` records "METHOD path?query" of every request. */
class StandInS3 {
  objects = new Map<string, StoredObject>();
  uploads = new Map<string, { key: string; parts: Map<number, Buffer>; initiated?: string }>();
  calls: string[] = [];
  md5Headers: string[] = [];
  lies: Lies = {};
  server!: Server;
  endpoint = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => { void this.handle(req).then(([status, headers, body]) => { res.writeHead(status, headers); res.end(body); }); });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  stop(): Promise<void> { this.server.closeAllConnections(); return new Promise((r) => this.server.close(() => r())); }
  reset(): void { this.objects.clear(); this.uploads.clear(); this.calls = []; this.md5Headers = []; this.lies = {}; }

  private error(status: number, code: string): [number, Record<string, string>, string] {
    return [status, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`];
  }

  private async handle(req: IncomingMessage): Promise<[number, Record<string, string | number>, string | Buffer]> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url!, 'http://h');
    const q = url.searchParams;
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const m = req.method!;
    this.calls.push(`${m} ${url.pathname}${url.search}`);
    void bucket;
    if (this.lies.noBucket) return this.error(404, 'NoSuchBucket');
    const checkMd5 = (): [number, Record<string, string>, string] | undefined => {
      const sent = req.headers['content-md5'];
      this.md5Headers.push(String(sent ?? ''));
      if (sent !== undefined && sent !== md5(body).toString('base64')) return this.error(400, 'BadDigest');
      return undefined;
    };
    if (m === 'GET' && q.has('object-lock')) {
      const l = this.lies.lock ?? 'none';
      // A store that refuses (403) or has no Object Lock at all: S3's own error codes for both ("NotImplemented",
      // HTTP 501, is what S3-compatible stores without the feature answer).
      if (typeof l === 'number') return this.error(l, l === 403 ? 'AccessDenied' : S3_FEATURE_MISSING);
      if (l === 'none') return this.error(404, 'ObjectLockConfigurationNotFoundError');
      return [200, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration><ObjectLockEnabled>${l}</ObjectLockEnabled></ObjectLockConfiguration>`];
    }
    if (m === 'GET' && q.has('uploads')) {
      // ListMultipartUploads, two per page, in (key, upload id) order, from the markers on
      const prefix = q.get('prefix') ?? '';
      const km = q.get('key-marker') ?? '';
      const um = q.get('upload-id-marker') ?? '';
      const all = [...this.uploads.entries()].map(([id, u]) => ({ id, key: u.key, initiated: u.initiated }))
        .filter((u) => u.key.startsWith(prefix)).sort((a, b) => (a.key === b.key ? (a.id < b.id ? -1 : 1) : a.key < b.key ? -1 : 1))
        .filter((u) => !km || u.key > km || (u.key === km && u.id > um));
      const page = all.slice(0, 2);
      const more = all.length > 2;
      const last = page.at(-1);
      return [200, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>${bucket}</Bucket><MaxUploads>2</MaxUploads><IsTruncated>${more}</IsTruncated>`
        + (more && last ? `<NextKeyMarker>${last.key}</NextKeyMarker><NextUploadIdMarker>${last.id}</NextUploadIdMarker>` : '')
        + page.map((u) => `<Upload><Key>${u.key}</Key><UploadId>${u.id}</UploadId>${u.initiated ? `<Initiated>${u.initiated}</Initiated>` : ''}</Upload>`).join('')
        + '</ListMultipartUploadsResult>'];
    }
    const meta = () => Object.fromEntries(Object.entries(req.headers).filter(([h]) => h.startsWith('x-amz-meta-')).map(([h, v]) => [h.slice(11), String(v)]));
    if (m === 'POST' && q.has('uploads')) {
      const id = randomBytes(8).toString('hex');
      this.uploads.set(id, { key, parts: new Map() });
      (this.uploads.get(id) as { meta?: Record<string, string> }).meta = meta();
      (this.uploads.get(id) as { lockUntil?: string }).lockUntil = req.headers['x-amz-object-lock-retain-until-date'] as string | undefined;
      (this.uploads.get(id) as { type?: string }).type = req.headers['content-type'];
      return [200, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?><InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`];
    }
    if (m === 'PUT' && q.has('uploadId')) {
      const u = this.uploads.get(q.get('uploadId')!);
      if (!u) return this.error(404, 'NoSuchUpload');
      const n = Number(q.get('partNumber'));
      if (this.lies.refusePart === n) return this.error(400, 'InvalidPart');
      if (this.lies.slowPart?.[0] === n) await new Promise((r) => setTimeout(r, this.lies.slowPart![1]));
      const bad = checkMd5();
      if (bad) return bad;
      u.parts.set(n, body);
      return [200, { etag: `"${md5(body).toString('hex')}"` }, ''];
    }
    if (m === 'POST' && q.has('uploadId')) {
      const id = q.get('uploadId')!;
      const u = this.uploads.get(id) as { key: string; parts: Map<number, Buffer>; meta: Record<string, string>; lockUntil?: string; type?: string };
      const parts = [...u.parts.entries()].sort((a, b) => a[0] - b[0]).map(([, b]) => b);
      // S3's multipart ETag, computed here independently: MD5 of the concatenated binary part MD5s, "-", count
      const etag = `${createHash('md5').update(Buffer.concat(parts.map(md5))).digest('hex')}-${parts.length}`;
      this.objects.set(key, { body: Buffer.concat(parts), etag, meta: u.meta, lockUntil: u.lockUntil, type: u.type });
      this.uploads.delete(id);
      return [200, { 'content-type': 'application/xml' }, `<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`];
    }
    if (m === 'DELETE' && q.has('uploadId')) { this.uploads.delete(q.get('uploadId')!); return [204, {}, '']; }
    if (m === 'PUT') {
      const bad = checkMd5();
      if (bad) return bad;
      const etag = md5(body).toString('hex');
      this.objects.set(key, { body, etag, meta: meta(), lockUntil: req.headers['x-amz-object-lock-retain-until-date'] as string | undefined, type: req.headers['content-type'] });
      return [200, { etag: `"${etag}"` }, ''];
    }
    if (m === 'HEAD') {
      const o = this.objects.get(key);
      if (!o) return [404, {}, ''];
      const metaOut = this.lies.headMeta ? this.lies.headMeta(o.meta) : o.meta;
      return [200, {
        'content-length': this.lies.headLength ? this.lies.headLength(o.body.length) : o.body.length,
        ...(this.lies.noEtag ? {} : { etag: `"${this.lies.headEtag ? this.lies.headEtag(o.etag) : o.etag}"` }),
        ...Object.fromEntries(Object.entries(metaOut).map(([k, v]) => [`x-amz-meta-${k}`, v])),
      }, ''];
    }
    if (m === 'DELETE') { this.objects.delete(key); return [204, {}, '']; }
    // Any request the product is not expected to make fails loudly, with S3's code for an unsupported request.
    return this.error(501, S3_FEATURE_MISSING);
  }
}

describe('cloud: what makes a copy count as sent (in-process, S3 stand-in that can lie)', function () {
  this.timeout(120_000);
  const s3 = new StandInS3();
  let dir: string;
  let identity: string;
  let recipient: string;
  let small: { path: string; name: string; size: number; sha256: string; createdAt: string; bytes: Buffer };
  let large: typeof small;
  const quiet = () => ({ signal: new AbortController().signal, progress: () => undefined, logs: [] as string[] });

  const settings = (over: Partial<CloudSettings> = {}): CloudSettings => ({
    endpoint: s3.endpoint, region: 'us-east-1', bucket: 'salon', prefix: 'salon-test', accessKeyId: 'AK', secretAccessKey: 'SK',
    forcePathStyle: true, recipients: [recipient], intervalHours: 24, retainDaily: 14, retainWeekly: 8, retainMonthly: 12,
    objectLockDays: 0, objectLockMode: 'GOVERNANCE', timeoutSeconds: 10, ...over,
  });
  async function backup(name: string, bytes: Buffer) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return { path, name, size: bytes.length, sha256: sha(bytes), createdAt: '2026-12-01T07:00:00.000Z', bytes };
  }
  async function upload(file: typeof small, over: Partial<CloudSettings> = {}) {
    const q = quiet();
    const r = await uploadCopy({ settings: settings(over), file, signal: q.signal, progress: q.progress, log: (m) => q.logs.push(m) });
    return { ...r, logs: q.logs };
  }
  async function refused(file: typeof small, over: Partial<CloudSettings> = {}): Promise<any> {
    try { await upload(file, over); } catch (e) { return e; }
    throw new Error('expected the copy to be refused');
  }
  async function decrypt(body: Buffer): Promise<Buffer> {
    const d = new Decrypter();
    d.addIdentity(identity);
    return Buffer.from(await d.decrypt(body));
  }

  before(async () => {
    await s3.start();
    dir = await tempDir('kw-cloud-verify-');
    identity = await generateX25519Identity();
    recipient = await identityToRecipient(identity);
    small = await backup('kasse-2026-12-01_07-00-00.sqlite.gz', randomBytes(300_000));
    large = await backup('kasse-2026-12-01_21-00-00.sqlite.gz', randomBytes(PART_SIZE + 1_000_000)); // two parts once encrypted
  });
  after(async () => { await s3.stop(); await removeDir(dir); });
  beforeEach(() => s3.reset());

  it('an honest store, one PutObject: the copy is the age encryption of the backup, with its SHA-256 and a right Content-MD5', async () => {
    const r = await upload(small);
    const o = s3.objects.get('salon-test/kasse-2026-12-01_07-00-00.sqlite.gz.age')!;
    expect(r.key).to.equal('salon-test/kasse-2026-12-01_07-00-00.sqlite.gz.age');
    expect([r.bytes, r.etag, r.lockedUntil]).to.deep.equal([o.body.length, md5(o.body).toString('hex'), undefined]);
    expect((await decrypt(o.body)).equals(small.bytes)).to.equal(true);
    expect(o.meta).to.deep.equal({ 'kw-sha256': small.sha256, 'kw-size': String(small.size), 'kw-created': small.createdAt, 'kw-format': 'age+gzip+sqlite' });
    expect(s3.md5Headers).to.deep.equal([md5(o.body).toString('base64')]);
    expect(o.type).to.equal('application/octet-stream');
    expect(r.logs).to.deep.equal([`Kopie geprüft: ${r.key}, ${r.bytes} Byte, ETag ${r.etag}.`]);
    expect(s3.calls.filter((c) => c.startsWith('DELETE'))).to.deep.equal([]);
  });

  it('an honest store, multipart: every part carries its Content-MD5, and the multipart ETag matches', async () => {
    const r = await upload(large);
    const o = s3.objects.get(r.key)!;
    expect(o.etag).to.match(/^[0-9a-f]{32}-2$/);
    expect(r.etag).to.equal(o.etag);
    expect(s3.md5Headers).to.have.length(2);
    expect(s3.md5Headers.every((h) => /^[A-Za-z0-9+/]{22}==$/.test(h))).to.equal(true);
    expect((await decrypt(o.body)).equals(large.bytes)).to.equal(true);
    expect(r.bytes).to.equal(o.body.length);
    expect(o.type).to.equal('application/octet-stream');
  });

  it('multipartEtag is S3\'s form (MD5 of the part MD5s in part order, "-", count); a single PutObject (part 0) does not count', () => {
    const a = randomBytes(100); const b = randomBytes(50); const c = randomBytes(10);
    const want = `${createHash('md5').update(Buffer.concat([md5(a), md5(b), md5(c)])).digest('hex')}-3`;
    expect(multipartEtag(new Map([[3, md5(c)], [1, md5(a)], [2, md5(b)]]))).to.equal(want);
    expect(multipartEtag(new Map([[0, md5(c)], [1, md5(a)], [2, md5(b)], [3, md5(c)]]))).to.equal(want);
    expect(multipartEtag(new Map([[10, md5(c)], [2, md5(b)], [1, md5(a)]]))).to.equal(want);
  });

  const lies: Array<[string, Lies, string, typeof small | undefined]> = [
    ['reports one byte less', { headLength: (n) => n - 1 }, 'Größe {n-1} statt {n} Byte', undefined],
    ['reports one byte more (multipart)', { headLength: (n) => n + 1 }, 'Größe {n+1} statt {n} Byte', undefined],
    ['lost the SHA-256 metadata', { headMeta: (m) => { const { 'kw-sha256': _, ...x } = m; return x; } }, 'Prüfsumme (SHA-256) in den Metadaten fehlt oder weicht ab', undefined],
    ['shows another SHA-256', { headMeta: (m) => ({ ...m, 'kw-sha256': sha(Buffer.from('other')) }) }, 'Prüfsumme (SHA-256) in den Metadaten fehlt oder weicht ab', undefined],
    ['shows another MD5', { headEtag: () => md5(Buffer.from('other')).toString('hex') }, 'MD5 stimmt nicht', undefined],
    ['shows another multipart ETag', { headEtag: (e) => e.replace(/^./, (ch) => (ch === 'a' ? 'b' : 'a')) }, 'ETag der Teile stimmt nicht', undefined],
    ['shows another part count', { headEtag: (e) => e.replace(/-2$/, '-3') }, 'ETag der Teile stimmt nicht', undefined],
  ];
  for (const [what, lie, problem] of lies) {
    it(`a store whose HEAD ${what}: not sent, German message naming it, the object deleted`, async () => {
      const file = /multipart|ETag|part count/.test(what) ? large : small;
      s3.lies = lie;
      const e = await refused(file);
      expect(e.name).to.equal('UserError');
      expect(e.code).to.equal('cloud.bad-digest');
      const key = `salon-test/${file.name}.age`;
      const size = /Größe/.test(problem)
        ? Number(/statt (\d+) Byte/.exec(e.message)?.[1]) : 0;
      const expected = problem.replace('{n-1}', String(size - 1)).replace('{n+1}', String(size + 1)).replace('{n}', String(size));
      expect(e.message).to.equal(`Die Kopie im Cloud-Speicher ist nicht vollständig angekommen (${expected}) und zählt nicht als gesendet.`);
      expect(e.hint).to.equal('Die Übertragung wird automatisch wiederholt.');
      if (/Größe/.test(problem)) expect(size).to.be.greaterThan(file.size); // the encrypted size, as the upload counted it
      expect(s3.objects.has(key), 'deleted').to.equal(false);
      expect(s3.calls.filter((c) => c.startsWith(`DELETE /salon/${key}`))).to.have.length(1);
    });
  }

  it('a store with an ETag of another form (not MD5-shaped) is judged by size and SHA-256 only', async () => {
    s3.lies = { headEtag: () => 'opaque-etag-1' };
    expect((await upload(small)).etag).to.equal('opaque-etag-1');
    s3.lies = { headEtag: () => 'Z'.repeat(32) };
    expect((await upload(small)).etag).to.equal('Z'.repeat(32));
    s3.lies = { headEtag: (e) => `${e}-2`.slice(0, 32) + '-' };
    await upload(large);
    // MD5-shaped only when the whole ETag is: a prefix or a suffix makes it another form
    s3.lies = { headEtag: () => `x${md5(Buffer.from('other')).toString('hex')}` };
    await upload(small);
    s3.lies = { headEtag: () => `${md5(Buffer.from('other')).toString('hex')}x` };
    await upload(small);
    s3.lies = { headEtag: () => `x${md5(Buffer.from('other')).toString('hex')}-2` };
    await upload(large);
    s3.lies = { headEtag: () => `${md5(Buffer.from('other')).toString('hex')}-2x` };
    await upload(large);
    // no ETag at all: the log says so
    s3.lies = { noEtag: true };
    const r = await upload(small);
    expect([r.etag, r.logs[0]]).to.deep.equal(['', `Kopie geprüft: ${r.key}, ${r.bytes} Byte, ETag –.`]);
  });

  it('a multipart ETag with a two-digit part count is still checked', async () => {
    s3.lies = { headEtag: () => `${md5(Buffer.from('other')).toString('hex')}-12` };
    const e = await refused(large);
    expect(e.message).to.contain('(ETag der Teile stimmt nicht)');
  });

  it('several problems at once are all named, separated by "; "', async () => {
    s3.lies = { headLength: (n) => n - 1, headMeta: () => ({}) };
    const e = await refused(small);
    expect(e.message).to.match(/\(Größe \d+ statt \d+ Byte; Prüfsumme \(SHA-256\) in den Metadaten fehlt oder weicht ab\) und zählt nicht als gesendet\.$/);
  });

  it('a bucket that does not exist: German message naming the bucket', async () => {
    s3.lies = { noBucket: true };
    const e = await refused(small);
    expect([e.name, e.code]).to.deep.equal(['UserError', 'cloud.no-bucket']);
    expect(e.message).to.contain('„salon“');
  });

  it('cancelled while a part is in flight: not a store error, the multipart upload aborted, nothing under the final key', async () => {
    s3.lies = { slowPart: [2, 1500] };
    const ac = new AbortController();
    let err: any;
    try {
      await uploadCopy({ settings: settings(), file: large, signal: ac.signal, log: () => undefined,
        progress: () => { if (!ac.signal.aborted) setTimeout(() => ac.abort(), 100); } });
    } catch (e) { err = e; }
    expect(err, 'rejected').to.be.an('error');
    expect(err.name).to.not.equal('UserError');
    await new Promise((r) => setTimeout(r, 1800)); // the held-back part answers; nothing may complete after it
    expect(s3.objects.size).to.equal(0);
    expect(s3.calls.some((c) => /^DELETE \/salon\/salon-test\/.*\?uploadId=/.test(c))).to.equal(true);
    expect(s3.calls.some((c) => /^POST .*\?uploadId=/.test(c))).to.equal(false);
  });

  it('orphaned multipart uploads under the salon\'s prefix are listed across pages and aborted; others stay', async () => {
    const add = (id: string, key: string, initiated?: string) => s3.uploads.set(id, { key, parts: new Map(), initiated });
    add('u1', 'salon-test/a.age', '2026-12-01T07:00:00.000Z');
    add('u2', 'salon-test/a.age', '2026-12-01T08:00:00.000Z');
    add('u3', 'salon-test/b.age');
    add('u4', 'salon-test/c.age', '2026-12-01T09:00:00.000Z');
    add('u5', 'salon-test/c.age');
    add('o1', 'other-salon/a.age');
    const client = createClient(settings());
    try {
      expect(await listOrphans(client, settings())).to.deep.equal([
        { key: 'salon-test/a.age', uploadId: 'u1', initiated: '2026-12-01T07:00:00.000Z' },
        { key: 'salon-test/a.age', uploadId: 'u2', initiated: '2026-12-01T08:00:00.000Z' },
        { key: 'salon-test/b.age', uploadId: 'u3', initiated: undefined },
        { key: 'salon-test/c.age', uploadId: 'u4', initiated: '2026-12-01T09:00:00.000Z' },
        { key: 'salon-test/c.age', uploadId: 'u5', initiated: undefined },
      ]);
      expect(s3.calls.filter((c) => c.startsWith('GET /salon?uploads') || c.includes('uploads='))).to.have.length(3);
      expect(await abortOrphans(client, settings())).to.deep.equal(['salon-test/a.age', 'salon-test/a.age', 'salon-test/b.age', 'salon-test/c.age', 'salon-test/c.age']);
      expect([...s3.uploads.keys()]).to.deep.equal(['o1']);
      expect(await listOrphans(client, settings())).to.deep.equal([]);
      // "salon-test" must not match "salon-testing"
      add('t1', 'salon-testing/x.age');
      expect(await listOrphans(client, settings())).to.deep.equal([]);
    } finally { client.destroy(); }
  });

  it('with Object Lock: the copy is locked for the set days, and a copy that fails the check is not deleted (it cannot be)', async () => {
    s3.lies = { lock: 'Enabled' };
    const before = Date.now();
    const r = await upload(small, { objectLockDays: 30, objectLockMode: 'COMPLIANCE' });
    const until = Date.parse(r.lockedUntil!);
    expect(until).to.be.within(before + 30 * 86400_000 - 1000, Date.now() + 30 * 86400_000);
    expect(Date.parse(s3.objects.get(r.key)!.lockUntil!)).to.be.within(until - 1000, until);
    expect(r.logs[0]).to.equal(`Kopie geprüft: ${r.key}, ${r.bytes} Byte, ETag ${r.etag}, gesperrt bis ${r.lockedUntil!.slice(0, 10)}.`);
    s3.reset();
    s3.lies = { lock: 'Enabled', headLength: (n) => n - 1 };
    const e = await refused(small, { objectLockDays: 30 });
    expect(e.code).to.equal('cloud.bad-digest');
    expect(s3.calls.filter((c) => c.startsWith('DELETE'))).to.deep.equal([]);
    // lock days 0: not even asked
    s3.reset();
    s3.lies = { lock: 'Enabled' };
    const plain = await upload(small, { objectLockDays: 0 });
    expect(plain.lockedUntil).to.equal(undefined);
    expect(s3.calls.some((c) => c.includes('object-lock'))).to.equal(false);
    expect(s3.objects.get(plain.key)!.lockUntil).to.equal(undefined);
  });

  it('objectLockEnabled: only "Enabled" is on; no configuration, 404, 400 and 501 are off; 403 is an error', async () => {
    const client = createClient(settings());
    try {
      for (const [lock, want] of [['Enabled', true], ['Disabled', false], ['none', false], [404, false], [501, false], [400, false]] as const) {
        s3.lies = { lock: lock as Lies['lock'] };
        expect(await objectLockEnabled(client, 'salon'), String(lock)).to.equal(want);
      }
      s3.lies = { lock: 403 };
      let err: any;
      try { await objectLockEnabled(client, 'salon'); } catch (e) { err = e; }
      expect(err?.$metadata?.httpStatusCode).to.equal(403);
    } finally { client.destroy(); }
    // no store at all: the network error itself, not a TypeError from reading it
    const down = createClient(settings({ endpoint: 'http://127.0.0.1:1' }));
    try {
      let e: any;
      try { await objectLockEnabled(down, 'salon'); } catch (x) { e = x; }
      expect(e?.name).to.not.equal('TypeError');
      expect(String(e?.code ?? e?.message)).to.match(/ECONNREFUSED/);
    } finally { down.destroy(); }
  });

  it('a part the store refuses: the multipart upload is aborted, nothing under the final key, a German error', async () => {
    s3.lies = { refusePart: 2 };
    const e = await refused(large);
    expect(e.name).to.equal('UserError');
    expect([e.code, e.message]).to.deep.equal(['cloud.error', 'Der Cloud-Speicher hat die Anfrage abgelehnt (400 InvalidPart).']);
    expect(s3.objects.size).to.equal(0);
    expect(s3.calls.some((c) => /^DELETE \/salon\/salon-test\/kasse-2026-12-01_21-00-00\.sqlite\.gz\.age\?uploadId=/.test(c))).to.equal(true);
    expect(s3.uploads.size).to.equal(0);
  });

  it('the Content-MD5 of each part is the MD5 of exactly the bytes of that part (the stand-in refuses a wrong one like S3)', async () => {
    const r = await upload(large);
    const o = s3.objects.get(r.key)!;
    const parts = [o.body.subarray(0, PART_SIZE), o.body.subarray(PART_SIZE)];
    expect([...s3.md5Headers].sort()).to.deep.equal(parts.map((p) => md5(p).toString('base64')).sort());
    expect(PART_SIZE).to.equal(8 * 1024 * 1024);
  });

  it('a backup deleted before its upload: German message, nothing sent', async () => {
    const gone = await backup('kasse-2026-12-01_08-00-00.sqlite.gz', randomBytes(10));
    await rm(gone.path);
    const e = await refused(gone);
    expect([e.name, e.code, e.message]).to.deep.equal(['UserError', 'cloud.local-missing', 'Die lokale Sicherung kasse-2026-12-01_08-00-00.sqlite.gz ist nicht mehr vorhanden (inzwischen gelöscht).']);
    expect(s3.calls).to.deep.equal([]);
  });

  it('reports progress on the scale of the local file, never beyond its size', async () => {
    const seen: number[] = [];
    await uploadCopy({ settings: settings(), file: large, signal: new AbortController().signal, progress: (b) => seen.push(b), log: () => undefined });
    expect(seen.length).to.be.greaterThan(0);
    expect(Math.max(...seen)).to.equal(large.size);
    expect(Math.min(...seen)).to.be.greaterThan(0).and.lessThan(large.size); // the first part is reported on its own
    expect(seen.every((b) => b >= 0 && b <= large.size)).to.equal(true);
  });
});
