/** The cloud plugin's pure parts: recipient checks, error translation, backoff, retention, prefix. */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateX25519Identity, identityToRecipient, Decrypter } from 'age-encryption';
import { tempDir, removeDir } from '#support/tmp.js';
import { encryptFileStream } from '../../../plugins/cloud/dist/src/age-stream.js';
import { sh } from './helpers.js';
import { parseRecipients, slug } from '../../../plugins/cloud/dist/src/settings.js';
import { translateS3Error, isTransient } from '../../../plugins/cloud/dist/src/errors.js';
import { backoffMs, CloudService } from '../../../plugins/cloud/dist/src/service.js';
import { selectForDeletion } from '../../../plugins/cloud/dist/src/retention.js';

const where = { endpoint: 'https://s3.example', bucket: 'salon' };
/** Shaped like the SDK's service exceptions. */
const sdkError = (name: string, status: number, message = name) => Object.assign(new Error(message), { name, Code: name, $fault: 'client', $metadata: { httpStatusCode: status } });

describe('cloud: recipients, errors, backoff, retention', () => {
  it('accepts public age keys and explains a secret key, a foreign key and a typo in German', async () => {
    const a = await identityToRecipient(await generateX25519Identity());
    const b = await identityToRecipient(await generateX25519Identity());
    expect(parseRecipients(`${a},\n ${b}`)).to.deep.equal({ recipients: [a, b], problems: [] });
    const secret = await generateX25519Identity();
    expect(parseRecipients(secret).problems[0]).to.contain('geheimer age-Schlüssel');
    expect(parseRecipients('ssh-ed25519 AAAA').problems[0]).to.contain('kein öffentlicher age-Schlüssel');
    const typo = a.slice(0, -1) + (a.endsWith('q') ? 'p' : 'q');
    expect(parseRecipients(typo).problems[0]).to.contain('Prüfsumme');
  });

  it('translates every store failure into German with what to do', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [sdkError('RequestTimeTooSkewed', 403), 'cloud.clock-skew', /Uhrzeit des Kassenservers/],
      [sdkError('SignatureDoesNotMatch', 403), 'cloud.auth', /403/],
      [sdkError('InvalidAccessKeyId', 403), 'cloud.auth', /Zugangsschlüssel/],
      [sdkError('NoSuchBucket', 404), 'cloud.no-bucket', /„salon“/],
      [sdkError('QuotaExceeded', 403), 'cloud.full', /voll|Speicherkontingent/],
      [sdkError('InsufficientStorage', 507), 'cloud.full', /voll/],
      [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'cloud.unreachable', /nicht erreichbar/],
      [Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ENOTFOUND' }) }), 'cloud.unreachable', /nicht erreichbar/],
      [sdkError('InternalError', 500), 'cloud.server', /meldet einen Fehler/],
      [sdkError('BadDigest', 400), 'cloud.bad-digest', /beschädigt/],
    ];
    for (const [e, code, msg] of cases) {
      const u = translateS3Error(e, where);
      expect(u.code, String((e as Error).message)).to.equal(code);
      expect(u.message).to.match(msg);
      expect(u.hint, code).to.be.a('string');
    }
    expect(isTransient(translateS3Error(sdkError('InternalError', 503), where))).to.equal(true);
    expect(isTransient(translateS3Error(sdkError('InvalidAccessKeyId', 403), where))).to.equal(false);
  });

  it('backs off exponentially with jitter, at most one hour', () => {
    const base = 30_000;
    for (let n = 1; n <= 12; n++) {
      const d = backoffMs(n, base);
      const nominal = Math.min(3600_000, base * 2 ** (n - 1));
      expect(d).to.be.within(nominal * 0.8, nominal * 1.2);
    }
    expect(backoffMs(100, base)).to.be.at.most(3600_000 * 1.2);
  });

  it('retention: weekly and monthly keep the newest of each; the newest copy and the newest verified always stay', () => {
    const at = (d: string) => new Date(`${d}T12:00:00`);
    const items = ['2026-11-30', '2026-11-25', '2026-11-24', '2026-11-16', '2026-10-31', '2026-10-02', '2026-09-15'].map((d) => ({ name: d, createdAt: at(d) }));
    expect(selectForDeletion(items, { daily: 1, weekly: 2, monthly: 0 })).to.deep.equal(['2026-11-24', '2026-11-16', '2026-10-31', '2026-10-02', '2026-09-15']);
    expect(selectForDeletion(items, { daily: 1, weekly: 0, monthly: 3 })).to.deep.equal(['2026-11-25', '2026-11-24', '2026-11-16', '2026-10-02']);
    expect(selectForDeletion(items, { daily: 1, weekly: 0, monthly: 0 }, '2026-09-15')).not.to.include('2026-09-15');
  });

  it('the streamed age encryption is the standard format at every chunk edge: Debian\'s age and the package decrypt it', async () => {
    const dir = await tempDir('kw-cloud-age-');
    try {
      const ids = [await generateX25519Identity(), await generateX25519Identity()];
      const recipients = await Promise.all(ids.map((i) => identityToRecipient(i)));
      await writeFile(join(dir, 'id'), ids[1] + '\n');
      for (const n of [0, 1, 65535, 65536, 65537, 131072, 3 * 65536 + 5]) {
        const plain = randomBytes(n);
        await writeFile(join(dir, 'plain'), plain);
        const { stream, size } = await encryptFileStream(join(dir, 'plain'), n, recipients);
        const parts: Buffer[] = [];
        for await (const c of stream) parts.push(c as Buffer);
        const enc = Buffer.concat(parts);
        expect(enc.length, `announced size for ${n} bytes`).to.equal(size);
        await writeFile(join(dir, 'enc'), enc);
        const r = sh('age', ['-d', '-i', join(dir, 'id'), join(dir, 'enc')]);
        expect(r.status, `${n}: ${r.stderr}`).to.equal(0);
        expect(Buffer.compare(r.stdout, plain), `age -d of ${n} bytes`).to.equal(0);
        const d = new Decrypter();
        d.addIdentity(ids[0]);
        expect(Buffer.compare(Buffer.from(await d.decrypt(enc)), plain), `Decrypter of ${n} bytes`).to.equal(0);
      }
    } finally {
      await removeDir(dir);
    }
  });

  it('the status turns red when the last copy is older than the interval allows, and only then', async () => {
    const dir = await tempDir('kw-cloud-status-');
    try {
      const values: Record<string, unknown> = { endpoint: 'http://127.0.0.1:9', bucket: 'salon', accessKeyId: 'AK', secretAccessKey: 'SK', intervalHours: 12,
        recipients: await identityToRecipient(await generateX25519Identity()) };
      const log = () => undefined;
      const svc = new CloudService({ dataDir: dir, settings: { get: (k: string) => values[k] as never }, logger: { debug: log, info: log, warn: log, error: log } as never });
      expect((await svc.status()).overdue, 'set up, never sent: red').to.equal(true);
      const at = (h: number) => new Date(Date.now() - h * 3600_000).toISOString();
      const write = (h: number) => writeFile(join(dir, 'state.json'), JSON.stringify({ pending: [], attempts: 0, lastSuccess: { at: at(h), name: 'kasse-2026-11-30_07-00-00.sqlite.gz', key: 'k', bytes: 1 } }));
      await write(12.5);
      expect((await svc.status()).overdue, '12.5 h with 12 h + 1 h grace').to.equal(false);
      await write(13.5);
      const st = await svc.status();
      expect(st.overdue, '13.5 h').to.equal(true);
      expect(st.ageMs as number).to.be.greaterThan(13 * 3600_000);
      values.endpoint = '';
      expect((await svc.status()).overdue, 'not set up any more: not red, "nicht eingerichtet"').to.equal(false);
    } finally {
      await removeDir(dir);
    }
  });

  it('derives the bucket folder from the installation name', () => {
    expect(slug('Salon Haarmonie – Köln-Süd')).to.equal('salon-haarmonie-koln-sud');
    expect(slug('Straße 5')).to.equal('strasse-5');
    expect(slug('***')).to.equal('kasse');
  });
});
