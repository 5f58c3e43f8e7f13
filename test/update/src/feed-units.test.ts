/**
 * The signed update feed in the test process (feed.ts): pinned keys in every accepted spelling, the Ed25519
 * signature over the exact index bytes, the schema, expiry and anti-rollback rules, and which releases are
 * offered. Real keys (node:crypto), real signatures; each refusal with its German message and code. The same
 * feed through the updater and a real HTTP server: updater.test.ts; the vendor commands: release.test.ts.
 */
import { expect } from 'chai';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { changeLines, componentOf, formatDate, newerReleases, parsePublicKeys, sha256Hex, verifyIndex, type ReleaseIndex } from '../../../plugins/update/dist/src/feed.js';

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');

function keyPair() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKey, privateKey, pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), der64: der.toString('base64'), raw64: der.subarray(12).toString('base64') };
}

function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected an error');
}

const NOW = new Date('2026-12-01T07:00:00Z');
const release = (version: string, over: object = {}) => ({
  version, channel: 'stable', date: '2026-11-30', changes: { kassenwart: ['Neu'] }, url: `kassenwart-${version}.tar.gz`, size: 1000, sha256: sha(version), ...over,
});
const index = (over: Partial<ReleaseIndex> | Record<string, unknown> = {}) => ({
  format: 1, product: 'kassenwart', sequence: 7, issuedAt: '2026-11-30T07:00:00Z', expires: '2026-12-30T07:00:00Z',
  releases: [release('1.2.0')], ...over,
});
const bytesOf = (o: unknown) => Buffer.from(JSON.stringify(o, null, 2));
const sig = (b: Buffer, k: KeyObject) => sign(null, b, k).toString('base64');

describe('update: the signed feed (feed.ts, in-process, real Ed25519 keys)', () => {
  const vendor = keyPair();
  const other = keyPair();

  describe('pinned keys', () => {
    it('accepts PEM, base64 DER and base64 raw 32-byte keys, several separated by commas, semicolons or white space', () => {
      const keys = parsePublicKeys(`${vendor.pem}\n${other.der64}, ${vendor.raw64};${other.raw64}\t`);
      expect(keys).to.have.length(4);
      expect(keys.map((k) => k.export({ format: 'der', type: 'spki' }).toString('base64'))).to.deep.equal([vendor.der64, other.der64, vendor.der64, other.der64]);
      expect(parsePublicKeys('')).to.deep.equal([]);
      expect(parsePublicKeys(' ,; \n')).to.deep.equal([]);
      expect(parsePublicKeys(`${vendor.pem}${other.pem}`)).to.have.length(2);
    });

    it('refuses text that is no key, and a key of another kind, in German, naming its start', () => {
      const bad = thrown(() => parsePublicKeys('kein-schluessel-sondern-text'));
      expect([bad.code, bad.message, bad.hint]).to.deep.equal(['update.key-invalid', 'Der hinterlegte Schlüssel „kein-schluessel-…“ ist kein gültiger öffentlicher Schlüssel.',
        'Bitte in den Einstellungen unter „Updates“ den öffentlichen Schlüssel des Herstellers korrekt eintragen (Techniker).']);
      const short = thrown(() => parsePublicKeys(Buffer.alloc(31, 1).toString('base64')));
      expect(short.code).to.equal('update.key-invalid');
      const brokenPem = '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----';
      expect(thrown(() => parsePublicKeys(brokenPem)).message).to.equal(`Der hinterlegte Schlüssel „${brokenPem.slice(0, 40)}…“ ist kein gültiger öffentlicher Schlüssel.`);
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const e = thrown(() => parsePublicKeys(rsa));
      expect([e.code, e.message, e.hint]).to.deep.equal(['update.key-invalid', `Der hinterlegte Schlüssel „${rsa.slice(0, 16)}…“ ist kein Ed25519-Schlüssel.`,
        'Es werden nur Ed25519-Schlüssel akzeptiert (kassenwart release keygen).']);
      const x25519 = generateKeyPairSync('x25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
      expect(thrown(() => parsePublicKeys(x25519)).message).to.contain('ist kein Ed25519-Schlüssel');
    });
  });

  describe('verifyIndex', () => {
    const keys = () => parsePublicKeys(vendor.pem);
    const ok = (o = index(), opts = {}) => { const b = bytesOf(o); return verifyIndex(b, sig(b, vendor.privateKey), keys(), { now: NOW, ...opts }); };
    const refused = (f: () => unknown) => thrown(f);

    it('accepts the vendor\'s signature over the exact bytes, and remembers sequence, time and checksum', () => {
      const o = index();
      const b = bytesOf(o);
      const r = verifyIndex(b, `  ${sig(b, vendor.privateKey)}\n`, keys(), { now: NOW });
      expect(r.index).to.deep.equal(o);
      expect(r.seen).to.deep.equal({ sequence: 7, issuedAt: '2026-11-30T07:00:00Z', sha256: sha(b) });
      expect(sha256Hex(b)).to.equal(sha(b));
      // any of several pinned keys
      expect(verifyIndex(b, sig(b, vendor.privateKey), [...parsePublicKeys(other.pem), ...keys()], { now: NOW }).index.sequence).to.equal(7);
    });

    it('refuses a missing key list, a foreign signature, changed bytes, a cut or empty signature', () => {
      const b = bytesOf(index());
      const none = refused(() => verifyIndex(b, sig(b, vendor.privateKey), [], { now: NOW }));
      expect([none.code, none.message, none.hint]).to.deep.equal(['update.no-keys', 'Es ist kein vertrauenswürdiger Schlüssel für Updates hinterlegt.',
        'Ein Techniker muss unter „Updates“ den öffentlichen Schlüssel des Herstellers eintragen.']);
      const BAD = 'Die Signatur des Update-Index ist ungültig: die Update-Daten stammen nicht vom Hersteller oder wurden verändert. Es wurde nichts installiert.';
      const changed = Buffer.from(b); changed[changed.length - 3] ^= 1;
      const good = Buffer.from(sig(b, vendor.privateKey), 'base64');
      for (const [what, bytes, s] of [
        ['foreign key', b, sig(b, other.privateKey)], ['changed byte', changed, sig(b, vendor.privateKey)],
        ['cut signature', b, good.subarray(0, 63).toString('base64')], ['longer signature', b, Buffer.concat([good, Buffer.alloc(1)]).toString('base64')],
        ['empty', b, ''], ['not base64', b, '!!!'],
      ] as const) {
        const e = refused(() => verifyIndex(bytes, s, keys(), { now: NOW }));
        expect([e.code, e.message, e.hint], what).to.deep.equal(['update.bad-signature', BAD, 'Bitte den Support verständigen; die hinterlegten Schlüssel und die Update-Adresse prüfen lassen.']);
      }
    });

    it('refuses signed bytes that are not JSON, or JSON of an unknown format, naming what is wrong', () => {
      const notJson = Buffer.from('{"format":1,');
      const e = refused(() => verifyIndex(notJson, sig(notJson, vendor.privateKey), keys(), { now: NOW }));
      expect([e.code, e.message, e.hint]).to.deep.equal(['update.index-invalid', 'Der Update-Index ist beschädigt (kein gültiges JSON).', 'Bitte den Support verständigen.']);
      const cases: Array<[unknown, string]> = [
        [index({ format: 2 }), '/format must be equal to constant'],
        [index({ product: 'other' }), '/product must be equal to constant'],
        [index({ sequence: 0 }), '/sequence must be >= 1'],
        [index({ extra: 1 }), '/ must NOT have additional properties'],
        [index({ releases: [release('1.2.0', { sha256: 'ABC' })] }), '/releases/0/sha256 must match pattern "^[0-9a-f]{64}$"'],
        [index({ releases: [release('1.2.0', { size: 0 })] }), '/releases/0/size must be >= 1'],
        [index({ releases: [release('1.2.0', { channel: 'nightly' })] }), '/releases/0/channel must be equal to one of the allowed values'],
        [index({ releases: [release('1.2.0', { migrations: [{ name: 'x.sql', sha256: sha('m') }] })] }), '/releases/0/migrations/0/name must match pattern'],
        [[], '/ must be object'],
      ];
      for (const [o, why] of cases) {
        const b = bytesOf(o);
        const x = refused(() => verifyIndex(b, sig(b, vendor.privateKey), keys(), { now: NOW }));
        expect([x.code, x.hint], why).to.deep.equal(['update.index-invalid', 'Bitte den Support verständigen.']);
        expect(x.message, why).to.match(/^Der Update-Index hat ein unbekanntes Format \(.*\)\.$/).and.contain(why);
      }
      // every rule of the schema, one at a time (the required keys, lengths, nested shapes)
      const noExpires = index(); delete (noExpires as Record<string, unknown>).expires;
      const more: Array<[unknown, string]> = [
        [noExpires, "must have required property 'expires'"],
        [index({ issuedAt: '2026' }), '/issuedAt must NOT have fewer than 10 characters'],
        [index({ expires: 20261230 }), '/expires must be string'],
        [index({ releases: [release('1.2.0', { date: '2026' })] }), '/releases/0/date must NOT have fewer than 10 characters'],
        [index({ releases: [release('1.2.0', { extra: 1 })] }), '/releases/0 must NOT have additional properties'],
        [index({ releases: [release('1.2.0', { url: '' })] }), '/releases/0/url must NOT have fewer than 1 characters'],
        [index({ releases: [release('1.2.0', { changes: { backup: 'Neu' } })] }), '/releases/0/changes/backup must be array'],
        [index({ releases: [release('1.2.0', { changes: { backup: [1] } })] }), '/releases/0/changes/backup/0 must be string'],
        [index({ releases: [release('1.2.0', { component: 'other' })] }), '/releases/0/component must be equal to one of the allowed values'],
        [index({ releases: [release('1.2.0', { requires: { kasse: '1.0' } })] }), '/releases/0/requires/kasse must NOT have fewer than 5 characters'],
        [index({ releases: [release('1.2.0', { migrations: [{ name: '001-a.sql' }] })] }), "/releases/0/migrations/0 must have required property 'sha256'"],
        [index({ releases: [release('1.2.0', { migrations: [{ sha256: sha('m') }] })] }), "/releases/0/migrations/0 must have required property 'name'"],
        [index({ releases: [release('1.2.0', { migrations: [{ name: '001-a.sql', sha256: 'x' }] })] }), '/releases/0/migrations/0/sha256 must match pattern'],
        [index({ releases: [release('1.2.0', { migrations: [{ name: '001-a.sql', sha256: sha('m'), x: 1 }] })] }), '/releases/0/migrations/0 must NOT have additional properties'],
        [index({ releases: [release('1.2.0', { labels: { backup: 1 } })] }), '/releases/0/labels/backup must be string'],
        [index({ releases: [release('1.2')] }), '/releases/0/version must NOT have fewer than 5 characters'],
        // each field a release must name (a package without its checksum or size must never be offered)
        ...(['version', 'channel', 'date', 'changes', 'url', 'size', 'sha256'] as const).map((k): [unknown, string] => {
          const r = release('1.2.0') as Record<string, unknown>;
          delete r[k];
          return [index({ releases: [r] }), `/releases/0 must have required property '${k}'`];
        }),
      ];
      for (const [o, why] of more) {
        const b = bytesOf(o);
        expect(refused(() => verifyIndex(b, sig(b, vendor.privateKey), keys(), { now: NOW })).message, why).to.contain(why);
      }
      // and a feed that uses every optional field is accepted
      const rich = index({ releases: [
        release('1.3.0-beta.1', { channel: 'beta', labels: { backup: 'Datensicherung' }, requires: { kasse: '2.0.0' } }),
        release('2.0.0', { component: 'kasse', migrations: [{ name: '001-receipts.sql', sha256: sha('a') }, { name: '002-tse.sql', sha256: sha('b') }] }),
        release('1.2.0', { component: 'kassenwart', changes: {} }),
      ] });
      expect(ok(rich).index).to.deep.equal(rich);
      // all errors at once, separated by "; "
      const both = bytesOf(index({ format: 2, product: 'x' }));
      expect(refused(() => verifyIndex(both, sig(both, vendor.privateKey), keys(), { now: NOW })).message).to.contain('constant; /product');
    });

    it('refuses an expired index (to the millisecond) and one whose expiry is no date, with the date in German', () => {
      expect(ok(index(), { now: new Date('2026-12-30T06:59:59.999Z') }).index.sequence).to.equal(7);
      const e = refused(() => ok(index(), { now: new Date('2026-12-30T07:00:00.000Z') }));
      expect([e.code, e.message, e.hint]).to.deep.equal(['update.index-expired',
        'Der Update-Index ist abgelaufen (gültig bis 30.12.2026). Veraltete Update-Daten werden nicht verwendet.',
        'Bitte später erneut versuchen oder den Support verständigen; ist die Uhrzeit des Servers richtig eingestellt?']);
      const garbage = refused(() => ok(index({ expires: 'irgendwann-mal' })));
      expect([garbage.code, garbage.message]).to.deep.equal(['update.index-expired', 'Der Update-Index ist abgelaufen (gültig bis irgendwann-mal). Veraltete Update-Daten werden nicht verwendet.']);
      // without a clock given, the current time counts
      const b = bytesOf(index({ expires: '2020-01-01T00:00:00Z' }));
      expect(refused(() => verifyIndex(b, sig(b, vendor.privateKey), keys())).code).to.equal('update.index-expired');
      const future = bytesOf(index({ expires: '2999-01-01T00:00:00Z' }));
      expect(verifyIndex(future, sig(future, vendor.privateKey), keys()).index.sequence).to.equal(7);
    });

    it('anti-rollback: an older sequence, or the same sequence with other bytes, is refused; the same index again and a newer one pass', () => {
      const first = ok(index({ sequence: 7 }));
      expect(ok(index({ sequence: 7 }), { lastSeen: first.seen }).seen).to.deep.equal(first.seen);
      expect(ok(index({ sequence: 8 }), { lastSeen: first.seen }).seen.sequence).to.equal(8);
      const older = refused(() => ok(index({ sequence: 6 }), { lastSeen: first.seen }));
      expect([older.code, older.message, older.hint]).to.deep.equal(['update.index-rollback',
        'Der Update-Server liefert einen älteren Update-Index (Nr. 6) als bereits gesehen (Nr. 7). Das wird aus Sicherheitsgründen abgelehnt.',
        'Bitte den Support verständigen: möglicherweise wird ein veralteter oder manipulierter Update-Server verwendet.']);
      const sameOther = refused(() => ok(index({ sequence: 7, issuedAt: '2026-11-30T08:00:00Z' }), { lastSeen: first.seen }));
      expect(sameOther.code).to.equal('update.index-rollback');
      expect(sameOther.message).to.contain('(Nr. 7) als bereits gesehen (Nr. 7)');
    });
  });

  describe('which releases are offered', () => {
    const idx = index({ releases: [
      release('1.1.0'), release('1.3.0-beta.1', { channel: 'beta' }), release('1.2.0'), release('1.0.0'), release('not-a-version'),
      release('2.0.0', { component: 'kasse' }), release('1.2.1', { component: 'kassenwart' }), release('2.1.0', { component: 'kasse', channel: 'beta' }),
    ] }) as unknown as ReleaseIndex;
    const versions = (...a: Parameters<typeof newerReleases>) => newerReleases(...a).map((r) => r.version);

    it('only newer versions of the component, newest first; stable installations get no beta', () => {
      expect(versions(idx, '1.1.0', 'stable')).to.deep.equal(['1.2.1', '1.2.0']);
      expect(versions(idx, '1.1.0', 'beta')).to.deep.equal(['1.3.0-beta.1', '1.2.1', '1.2.0']);
      expect(versions(idx, '1.2.1', 'stable')).to.deep.equal([]);
      expect(versions(idx, '0.9.0', 'stable')).to.deep.equal(['1.2.1', '1.2.0', '1.1.0', '1.0.0']);
      expect(versions(idx, '1.0.0', 'stable', 'kasse')).to.deep.equal(['2.0.0']);
      expect(versions(idx, '1.0.0', 'beta', 'kasse')).to.deep.equal(['2.1.0', '2.0.0']);
      expect(versions(idx, '2.0.0', 'stable', 'kasse')).to.deep.equal([]);
      expect(componentOf(release('1.0.0') as never)).to.equal('kassenwart');
      expect(componentOf(release('1.0.0', { component: 'kasse' }) as never)).to.equal('kasse');
    });

    it('change notes: host or register first, then by id, with German names', () => {
      expect(changeLines({ usb: ['u'], kassenwart: ['k1', 'k2'], backup: ['b'], zeta: ['z'], cloud: ['c'] }, { zeta: 'Zeta-Modul' })).to.deep.equal([
        'Kassenwart: k1', 'Kassenwart: k2', 'Datensicherung: b', 'Cloud-Kasse: c', 'USB-Stick: u', 'Zeta-Modul: z']);
      expect(changeLines({ 'remote-support': ['r'], kasse: ['x'], update: ['up'], other: ['o'] })).to.deep.equal(['Kassensoftware: x', 'other: o', 'Fernwartung: r', 'Updates: up']);
      expect(changeLines({ backup: ['b'], kasse: ['x'], alpha: ['a'] })).to.deep.equal(['Kassensoftware: x', 'alpha: a', 'Datensicherung: b']);
      // a note written "backup: …" under Kassenwart names its component by its display name, never by its id;
      // a prefix that is no known component, its own component, or no "id: text" form stays as written
      expect(changeLines({ kassenwart: ['backup: schneller', 'zeta: neu', 'kassenwart: doppelt', 'usb:ohne Leerzeichen', 'Hinweis: Backup: x', 'usb: '] }, { zeta: 'Zeta-Modul' })).to.deep.equal([
        'Datensicherung: schneller', 'Zeta-Modul: neu', 'Kassenwart: kassenwart: doppelt', 'Kassenwart: usb:ohne Leerzeichen', 'Kassenwart: Hinweis: Backup: x', 'Kassenwart: usb: ']);
      expect(changeLines({ kassenwart: ['remote-support:  zwei Leerzeichen', 'x-backup: nein', 'backup: a\nb'] })).to.deep.equal([
        'Fernwartung: zwei Leerzeichen', 'Kassenwart: x-backup: nein', 'Kassenwart: backup: a\nb']);
      expect(formatDate('2026-01-05T12:00:00Z')).to.equal('05.01.2026');
      expect(formatDate('2026-11-29T07:00:00Z')).to.equal('29.11.2026');
      expect(formatDate('2026-11-29T07:00:00Z', true)).to.match(/^29\.11\.2026, \d\d:00$/);
      expect(formatDate('kein Datum')).to.equal('kein Datum');
    });
  });
});
