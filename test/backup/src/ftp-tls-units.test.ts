/**
 * The FTP target's trust rules in the test process (ftp/connection.ts, ftp/settings.ts): which CAs and TLS
 * options each setting gives, the fingerprint the server's certificate has (a real TLS server on 127.0.0.1 with
 * openssl-made certificates), which errors count as TLS errors, and the fingerprint/CA settings. The same rules
 * against a real vsftpd (control and data connections): ftp.test.ts, ftp-data-pin.test.ts.
 */
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, rootCertificates, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { isTlsError, peerFingerprint, tlsOptionsFor } from '../../../plugins/backup/dist/src/ftp/connection.js';
import { normalizeFingerprint, readFtpSettings, type FtpSettings } from '../../../plugins/backup/dist/src/ftp/settings.js';
import { makeCa, makeServerCert } from '../../support/dist/certs.js';

const view = (v: Record<string, unknown>) => ({ get: <T>(k: string) => v[k] as T });
const complete = { ftpEnabled: true, ftpHost: 'ftp.example', ftpUser: 'salon17', ftpPassword: 'geheim' };
/**
 * A fresh instance of connection.js: it caches the system CA list per process, so each CA test imports its own
 * copy (otherwise the first test's list would be the one every later test sees).
 */
let fresh = 0;
const freshTlsOptionsFor = async (s: FtpSettings) =>
  ((await import(`../../../plugins/backup/dist/src/ftp/connection.js?fresh=${fresh++}`)) as { tlsOptionsFor: typeof tlsOptionsFor }).tlsOptionsFor(s);

const base = { host: 'ftp.example', port: 21, tls: 'explicit', user: 'u', password: 'p', keep: 14, remoteDir: '', timeoutMs: 1000 } as unknown as FtpSettings;

describe('backup FTP target: trust rules (in-process, real TLS server)', function () {
  this.timeout(60_000);
  const ca = makeCa();
  const cert = makeServerCert(ca);
  const fp = new X509Certificate(cert.certPem).fingerprint256;
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('a pinned fingerprint: chain and name are not checked (the pin is the anchor), no CA list', () => {
    expect(tlsOptionsFor({ ...base, fingerprint: fp, caCert: ca.certPem })).to.deep.equal({ host: 'ftp.example', rejectUnauthorized: false });
  });

  it('a CA certificate: the system CAs plus that one, chain and name checked', async () => {
    const o = await freshTlsOptionsFor({ ...base, caCert: ca.certPem });
    expect(Object.keys(o).sort()).to.deep.equal(['ca', 'host']);
    expect(o.host).to.equal('ftp.example');
    const list = o.ca as string[];
    expect(list.at(-1)).to.equal(ca.certPem);
    expect(list.slice(0, rootCertificates.length)).to.deep.equal([...rootCertificates]);
    expect(o).to.not.have.property('rejectUnauthorized');
  });

  it("nothing set: Node's CAs and the system bundle (where an installation adds its own CAs), read once", async () => {
    const o = await freshTlsOptionsFor(base);
    const list = o.ca as string[];
    expect(o.host).to.equal('ftp.example');
    expect(list.slice(0, rootCertificates.length)).to.deep.equal([...rootCertificates]);
    expect(list).to.have.length(rootCertificates.length + 1);
    expect(list.at(-1)).to.equal(readFileSync('/etc/ssl/certs/ca-certificates.crt', 'utf8'));
    expect(list).to.not.include(ca.certPem);
    // the same instance gives the same list again (read once per process), and a CA setting does not change it
    const { tlsOptionsFor: again } = (await import(`../../../plugins/backup/dist/src/ftp/connection.js?fresh=${fresh - 1}`)) as { tlsOptionsFor: typeof tlsOptionsFor };
    again({ ...base, caCert: ca.certPem });
    expect(again(base).ca).to.deep.equal(list);
  });

  it('peerFingerprint: the SHA-256 of the certificate the server showed, as openssl prints it', async () => {
    const sock = await new Promise<TLSSocket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
      s.on('error', reject);
    });
    try {
      expect(peerFingerprint(sock)).to.equal(fp);
      expect(fp).to.match(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    } finally { sock.destroy(); }
    // a socket that has no peer certificate (not connected): none
    const idle = connect({ host: '127.0.0.1', port: 1, rejectUnauthorized: false });
    idle.on('error', () => undefined);
    expect(peerFingerprint(idle)).to.equal(undefined);
    idle.destroy();
  });

  it('the CA rule really refuses another CA and accepts this one (the options as given to a TLS client)', async () => {
    const attempt = (o: object) => new Promise<string>((resolve) => {
      const s = connect({ ...o, host: '127.0.0.1', port, servername: 'localhost' } as never, () => { resolve('ok'); s.destroy(); });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    expect(await attempt(tlsOptionsFor({ ...base, caCert: ca.certPem }))).to.equal('ok');
    expect(await attempt(tlsOptionsFor({ ...base, caCert: makeCa('Other CA').certPem }))).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
    expect(await attempt(tlsOptionsFor(base))).to.match(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|UNABLE_TO_GET_ISSUER/);
  });

  it('isTlsError: handshake and certificate codes are TLS errors; network codes and codeless errors are not', () => {
    const err = (code: unknown) => Object.assign(new Error('x'), { code });
    for (const c of ['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_TLS_CERT_ALTNAME_INVALID', 'EPROTO', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
      'CERT_HAS_EXPIRED', 'KW_FINGERPRINT_MISMATCH', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']) {
      expect(isTlsError(err(c)), c).to.equal(true);
    }
    for (const c of ['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED', 'xERR_SSL', 'xERR_TLS']) {
      expect(isTlsError(err(c)), c).to.equal(false);
    }
    for (const x of [err(undefined), err(530), new Error('plain'), undefined, null, 'ERR_SSL']) expect(isTlsError(x), String(x)).to.equal(false);
  });

  it('fingerprint setting: 64 hex digits in any common spelling, normalised; anything else refused', () => {
    const want = fp;
    for (const v of [want, want.toLowerCase(), want.replace(/:/g, ''), want.replace(/:/g, ' '), `sha256:${want}`, `SHA256:${want}`, ` ${want} `]) {
      expect(normalizeFingerprint(v), v).to.equal(want);
    }
    for (const v of [want.slice(0, -1), `${want}:AB`, want.replace(/^../, 'GG'), '', 'sha1:' + want, `x${want}`, `xsha256:${want}`]) {
      expect(normalizeFingerprint(v), v).to.equal(undefined);
    }
    const r = readFtpSettings(view({ ...complete, ftpFingerprint: ` ${want.toLowerCase()} ` }));
    expect(r.state === 'ok' && r.settings.fingerprint).to.equal(want);
    const bad = readFtpSettings(view({ ...complete, ftpFingerprint: 'abc' }));
    expect(bad).to.deep.equal({ state: 'invalid', reason: 'Die Einstellung „Zertifikat-Fingerabdruck (SHA-256)“ ist ungültig: erwartet werden 64 Hexadezimalziffern (mit oder ohne Doppelpunkte).' });
    const none = readFtpSettings(view({ ...complete, ftpFingerprint: '   ' }));
    expect(none.state === 'ok' && none.settings.fingerprint).to.equal(undefined);
  });

  it('CA setting: a readable PEM certificate is kept as given; anything else refused; neither fits "unverschlüsselt"', () => {
    const r = readFtpSettings(view({ ...complete, ftpCaCert: ca.certPem }));
    expect(r.state === 'ok' && r.settings.caCert).to.equal(ca.certPem.trim());
    const bad = readFtpSettings(view({ ...complete, ftpCaCert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }));
    expect(bad).to.deep.equal({ state: 'invalid', reason: 'Die Einstellung „CA-Zertifikat (PEM)“ enthält kein lesbares Zertifikat (erwartet: PEM-Text ab „-----BEGIN CERTIFICATE-----“).' });
    const plain = 'Ein Zertifikat bzw. Fingerabdruck ist hinterlegt, aber die Einstellung „Verschlüsselung“ steht auf „unverschlüsselt“.';
    expect(readFtpSettings(view({ ...complete, ftpTls: 'none', ftpCaCert: ca.certPem }))).to.deep.equal({ state: 'invalid', reason: plain });
    expect(readFtpSettings(view({ ...complete, ftpTls: 'none', ftpFingerprint: fp }))).to.deep.equal({ state: 'invalid', reason: plain });
    expect(readFtpSettings(view({ ...complete, ftpTls: 'none' })).state).to.equal('ok');
    expect(readFtpSettings(view({ ...complete, ftpTls: 'implicit', ftpFingerprint: fp })).state).to.equal('ok');
  });
});
