/**
 * The FTP backup target against a real vsftpd with TLS on 127.0.0.1, driven through its BackupTarget API
 * with a settings stand-in built from plain values.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFtpTarget } from '../../../plugins/backup/dist/src/ftp/target.js';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { removeDir, tempDir } from '../../support/dist/tmp.js';
import { makeCa, makeServerCert, type CertPair } from '../../support/dist/certs.js';
import {
  fakeContext, makeBackup, namesIn, recorder, rejection, settingsFor, sha256File, whenPartFileExceeds,
} from './ftp-support.js';

const MB = 1024 * 1024;
const FAST_RETRIES = { retryDelaysMs: [200, 400, 800] };

describe('backup FTP target (real vsftpd, FTPS)', function () {
  this.timeout(120_000);
  let server: FtpServer;
  let work: string;

  before(async () => {
    server = await startFtpServer();
    work = await tempDir('kw-ftp-test-');
  });
  after(async () => {
    await server?.stop();
    if (work) await removeDir(work);
  });

  const remote = () => join(server.root, 'salon-17');

  describe('availability', () => {
    it('is skipped (not an error) while not coupled with an FTP server', async () => {
      const target = createFtpTarget(fakeContext({ ftpEnabled: false, ftpHost: 'x' }));
      expect(await target.availability()).to.deep.equal({
        available: false, kind: 'skipped',
        reason: 'Nicht mit einem FTP-Server gekoppelt (Einstellung „FTP-Server gekoppelt“ ist aus).',
      });
    });

    it('is unavailable with a German reason naming each missing setting', async () => {
      const target = createFtpTarget(fakeContext({ ftpEnabled: true, ftpHost: '', ftpUser: 'u', ftpPassword: '' }));
      const a = await target.availability();
      expect(a.available).to.equal(false);
      expect(a.kind).to.equal('unavailable');
      expect(a.reason).to.include('„FTP-Server“').and.to.include('„FTP-Passwort“').and.not.to.include('„FTP-Benutzer“');
    });

    it('is available with complete settings', async () => {
      expect(await createFtpTarget(fakeContext(settingsFor(server))).availability()).to.deep.equal({ available: true });
    });
  });

  describe('send', () => {
    it('uploads over explicit FTPS: right name, size and SHA-256 on the server, progress in bytes, no temp file left', async () => {
      const file = await makeBackup(work, 5 * MB + 123);
      const target = createFtpTarget(fakeContext(settingsFor(server)));
      const rec = recorder();
      const result = await target.send(file, rec.ctx);

      const onServer = join(remote(), file.name);
      expect(await namesIn(remote())).to.deep.equal([file.name]);
      expect((await stat(onServer)).size).to.equal(file.size);
      expect(await sha256File(onServer)).to.equal(file.sha256);
      expect(result.bytes).to.equal(file.size);
      expect(result.location).to.equal(`ftp://127.0.0.1:${server.port}/salon-17/${file.name}`);
      expect(result.message).to.match(/^Auf FTP-Server gesichert/);
      expect(rec.progress.at(-1)).to.equal(file.size);
      for (let i = 1; i < rec.progress.length; i++) expect(rec.progress[i]).to.be.at.least(rec.progress[i - 1]);
    });

    it('sending the same backup again replaces the copy on the server (same name, same content)', async () => {
      const file = await makeBackup(work, 300 * 1024, '2026-11-29_07-30-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpRemoteDir: 'resend' })));
      await target.send(file, recorder().ctx);
      // damage the copy on the server: a resend must really upload again, not skip a name that exists
      await writeFile(join(server.root, 'resend', file.name), 'kaputt');
      const again = await target.send(file, recorder().ctx);
      expect(again.bytes).to.equal(file.size);
      expect(await namesIn(join(server.root, 'resend'))).to.deep.equal([file.name]);
      expect(await sha256File(join(server.root, 'resend', file.name))).to.equal(file.sha256);
    });

    it('trusts the server through a CA certificate given as PEM (ftpCaCert) instead of a fingerprint', async () => {
      const file = await makeBackup(work, 64 * 1024, '2026-11-29_08-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: '', ftpCaCert: server.certPem })));
      await target.send(file, recorder().ctx);
      expect(await sha256File(join(remote(), file.name))).to.equal(file.sha256);
    });

    it('refuses a self-signed certificate that is not trusted, says so in German, shows its fingerprint, sends nothing', async () => {
      const before = await namesIn(remote());
      const file = await makeBackup(work, 64 * 1024, '2026-11-29_09-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: '' })));
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.name).to.equal('UserError');
      expect(e.code).to.equal('ftp.certSelfSigned');
      expect(e.message).to.include('selbst signiert');
      expect(e.hint).to.include('„Zertifikat-Fingerabdruck (SHA-256)“').and.to.include(server.certFingerprint256);
      expect(await namesIn(remote())).to.deep.equal(before);
    });

    it('refuses a server whose certificate does not match the pinned fingerprint', async () => {
      const before = await namesIn(remote());
      const file = await makeBackup(work, 1024, '2026-11-29_09-30-00');
      const wrong = 'AA:'.repeat(31) + 'AA';
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: wrong })));
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.code).to.equal('ftp.certPin');
      expect(e.message).to.include('passt nicht zum hinterlegten Fingerabdruck');
      expect(await namesIn(remote())).to.deep.equal(before);
    });

    it('reports a wrong password in German without retrying', async () => {
      const file = await makeBackup(work, 1024, '2026-11-29_10-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpPassword: 'falsch' })), FAST_RETRIES);
      const rec = recorder();
      const e = await rejection(target.send(file, rec.ctx));
      expect(e.code).to.equal('ftp.auth');
      expect(e.message).to.equal(`Anmeldung am FTP-Server 127.0.0.1:${server.port} fehlgeschlagen: Benutzername oder Passwort ist falsch.`);
      expect(e.hint).to.include('„FTP-Passwort“');
      expect(rec.logs.join('\n')).not.to.include('Neuer Versuch');
    });

    it('says the server demands encryption when plain FTP is chosen against an FTPS-only server', async () => {
      const file = await makeBackup(work, 1024, '2026-11-29_10-30-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpTls: 'none', ftpFingerprint: '' })));
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.code).to.equal('ftp.tlsRequired');
      expect(e.message).to.include('verlangt eine verschlüsselte Verbindung');
    });

    it('retries a refused connection, then gives up with a clear German error', async () => {
      const file = await makeBackup(work, 1024, '2026-11-29_11-00-00');
      const closedPort = server.port === 1 ? 2 : 1; // nothing listens on port 1 here
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpPort: closedPort })), FAST_RETRIES);
      const rec = recorder();
      const e = await rejection(target.send(file, rec.ctx));
      expect(e.code).to.equal('ftp.refused');
      expect(e.message).to.include('Verbindung wurde abgelehnt').and.to.include('(4 Versuche)');
      expect(rec.logs.filter((l) => l.includes('Neuer Versuch'))).to.have.length(3);
    });

    it('reports an unknown server name (DNS) at once, without retrying', async () => {
      const file = await makeBackup(work, 1024, '2026-11-29_11-10-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpHost: 'kassen-ftp.invalid' })), FAST_RETRIES);
      const rec = recorder();
      const e = await rejection(target.send(file, rec.ctx));
      expect(e.code).to.equal('ftp.dns');
      expect(e.message).to.equal('Der FTP-Server „kassen-ftp.invalid“ wurde nicht gefunden (Namensauflösung/DNS fehlgeschlagen).');
      expect(rec.logs.join('\n')).not.to.include('Neuer Versuch');
    });

    it('reports missing write permission on the remote folder, and leaves nothing behind', async () => {
      const file = await makeBackup(work, 64 * 1024, '2026-11-29_11-20-00');
      // vsftpd is not chrooted here: "/" is the real root folder, which the FTP user may not write to.
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpRemoteDir: '/' })), FAST_RETRIES);
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.code).to.equal('ftp.permission');
      expect(e.message).to.match(/^Keine Berechtigung auf dem FTP-Server/).and.not.to.include('entfernt');
      expect(e.hint).to.include('„FTP-Pfad“');
      expect(existsSync(join('/', file.name))).to.equal(false);
    });

    it('never renames an upload whose remote SIZE differs from the backup size (restarts once, then a clear error)', async () => {
      const real = await makeBackup(work, 256 * 1024, '2026-11-29_11-30-00');
      // The file on disk is shorter than the size the backup claims: the server ends up with too few bytes.
      const file = { ...real, size: real.size + 1000 };
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpRemoteDir: 'size-check' })), FAST_RETRIES);
      const rec = recorder();
      const e = await rejection(target.send(file, rec.ctx));
      expect(e.code).to.equal('ftp.size');
      expect(e.message).to.include(`(${real.size} statt ${file.size} Bytes)`);
      expect(rec.logs.join('\n')).to.include('Übertragung beginnt neu');
      expect(await namesIn(join(server.root, 'size-check'))).to.deep.equal([]);
    });

    it('keeps the newest ftpKeep backups, deletes only our backup files, never the one just sent, and removes old temp files', async () => {
      const dir = join(server.root, 'retention');
      await mkdir(dir, { recursive: true });
      const old = ['2026-11-20_07-00-00', '2026-11-21_07-00-00', '2026-11-22_07-00-00', '2026-11-23_21-00-00']
        .map((s) => `kasse-${s}.sqlite.gz`);
      const foreign = ['notizen.txt', 'kasse-export.sqlite.gz', 'kasse-2026-11-01_07-00-00.sqlite.gz.bak'];
      const leftover = 'kasse-2026-11-23_21-00-00.sqlite.gz.0badc0de.part';
      for (const n of [...old, ...foreign, leftover]) await writeFile(join(dir, n), 'x');
      // Make the files the FTP user's, like uploads would be.
      const { uid, gid } = await stat(server.root);
      const { chown } = await import('node:fs/promises');
      await chown(dir, uid, gid);
      for (const n of await namesIn(dir)) await chown(join(dir, n), uid, gid);

      const file = await makeBackup(work, 4096, '2026-11-29_12-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpRemoteDir: 'retention', ftpKeep: 3 })));
      const result = await target.send(file, recorder().ctx);
      expect(result.message).to.include('2 alte Sicherungen gelöscht');
      expect(await namesIn(dir)).to.deep.equal([...foreign, file.name, old[2], old[3]].sort());

      const listed = await target.list!();
      expect(listed.map((b) => b.name)).to.deep.equal([file.name, old[3], old[2]]);
      expect(listed[0].size).to.equal(4096);

      expect(await target.prune!(1)).to.deep.equal([old[3], old[2]]);
      expect(await namesIn(dir)).to.deep.equal([...foreign, file.name].sort());
    });
  });
});

describe('backup FTP target: certificates from a private CA (real vsftpd)', function () {
  this.timeout(120_000);
  let work: string;
  let ca: CertPair;
  let servers: FtpServer[] = [];

  before(async () => {
    work = await tempDir('kw-ftp-ca-');
    ca = makeCa('Salon-Kette Test-CA');
  });
  afterEach(async () => {
    for (const s of servers) await s.stop();
    servers = [];
  });
  after(async () => {
    if (work) await removeDir(work);
  });

  const serverWith = async (names: { ip?: string[]; dns?: string[] }) => {
    const s = await startFtpServer({ tlsCert: makeServerCert(ca, names) });
    servers.push(s);
    return s;
  };

  it('refuses a certificate from an unknown CA, saying so in German', async () => {
    const server = await serverWith({ ip: ['127.0.0.1'] });
    const file = await makeBackup(work, 1024, '2026-11-30_07-00-00');
    const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: '' })));
    const e = await rejection(target.send(file, recorder().ctx));
    expect(e.code).to.equal('ftp.certUnknownCa');
    expect(e.message).to.include('unbekannten Zertifizierungsstelle');
    expect(e.hint).to.include('„CA-Zertifikat (PEM)“');
    expect(await namesIn(join(server.root, 'salon-17'))).to.deep.equal([]);
  });

  it('trusts it once the CA certificate is set in ftpCaCert', async () => {
    const server = await serverWith({ ip: ['127.0.0.1'] });
    const file = await makeBackup(work, 512 * 1024, '2026-11-30_07-10-00');
    const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: '', ftpCaCert: ca.certPem })));
    await target.send(file, recorder().ctx);
    expect(await sha256File(join(server.root, 'salon-17', file.name))).to.equal(file.sha256);
  });

  it('refuses a trusted certificate issued for another name', async () => {
    const server = await serverWith({ dns: ['backup.salon-kette.example'] });
    const file = await makeBackup(work, 1024, '2026-11-30_07-20-00');
    const target = createFtpTarget(fakeContext(settingsFor(server, { ftpFingerprint: '', ftpCaCert: ca.certPem })));
    const e = await rejection(target.send(file, recorder().ctx));
    expect(e.code).to.equal('ftp.certName');
    expect(e.message).to.equal('Das Zertifikat des FTP-Servers ist nicht für den Namen „127.0.0.1“ ausgestellt. Es wurde nichts übertragen.');
  });
});

describe('backup FTP target: faults during the upload (real vsftpd)', function () {
  this.timeout(180_000);
  let work: string;
  let big: Awaited<ReturnType<typeof makeBackup>>;

  before(async () => {
    work = await tempDir('kw-ftp-fault-');
    big = await makeBackup(work, 96 * MB, '2026-11-29_21-00-00');
  });
  after(async () => {
    if (work) await removeDir(work);
  });

  it('server killed mid-upload and restarted: resumes on a new connection, the file arrives complete', async () => {
    const server = await startFtpServer();
    try {
      const target = createFtpTarget(fakeContext(settingsFor(server)), { retryDelaysMs: [1500, 1500, 1500] });
      const rec = recorder();
      const sending = target.send(big, rec.ctx);
      sending.catch(() => {});
      await whenPartFileExceeds(join(server.root, 'salon-17'), 8 * MB);
      await server.restart(); // kills every session, then listens again
      const result = await sending;
      const dir = join(server.root, 'salon-17');
      expect(await namesIn(dir)).to.deep.equal([big.name]);
      expect(await sha256File(join(dir, big.name))).to.equal(big.sha256);
      expect(result.bytes).to.equal(big.size);
      expect(rec.logs.join('\n')).to.match(/Übertragung wird bei [\d,]+ MB fortgesetzt/);
    } finally {
      await server.stop();
    }
  });

  it('server stopped mid-upload and staying down: retries, then a clear German error, nothing under the final name', async () => {
    const server = await startFtpServer();
    try {
      const target = createFtpTarget(fakeContext(settingsFor(server)), FAST_RETRIES);
      const rec = recorder();
      const sending = target.send(big, rec.ctx);
      sending.catch(() => {});
      const dir = join(server.root, 'salon-17');
      await whenPartFileExceeds(dir, 8 * MB);
      await server.kill();
      const e = await rejection(sending);
      expect(e.name).to.equal('UserError');
      expect(['ftp.refused', 'ftp.lost']).to.include(e.code);
      expect(e.message).to.include('(4 Versuche)').and.to.include('unter dem endgültigen Namen liegt nichts Unvollständiges');
      expect(rec.logs.filter((l) => l.includes('Neuer Versuch'))).to.have.length(3);
      expect(existsSync(join(dir, big.name))).to.equal(false);

      // The next send, with the server back, removes the leftover and stores the file.
      await server.restart();
      const small = await makeBackup(work, 2048, '2026-11-29_21-30-00');
      await target.send(small, recorder().ctx);
      expect(await namesIn(dir)).to.deep.equal([small.name]);
    } finally {
      await server.stop();
    }
  });

  it('disk full on the server (tmpfs): 451, temporary file removed, clear German error', async () => {
    const server = await startFtpServer({ diskLimitBytes: 3 * MB });
    try {
      const file = await makeBackup(work, 8 * MB, '2026-11-29_22-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server)), FAST_RETRIES);
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.code).to.equal('ftp.diskFull');
      expect(e.message).to.include('kein Speicherplatz mehr frei').and.to.include('451');
      expect(e.message).to.include('Die unvollständige Datei wurde vom FTP-Server entfernt.');
      expect(await namesIn(join(server.root, 'salon-17'))).to.deep.equal([]);
    } finally {
      await server.stop();
    }
  });

  it('cancel through the AbortSignal: stops, removes the temporary file, leaves nothing under the final name', async () => {
    const server = await startFtpServer();
    try {
      const target = createFtpTarget(fakeContext(settingsFor(server)));
      const ac = new AbortController();
      const sending = target.send(big, recorder(ac.signal).ctx);
      sending.catch(() => {});
      const dir = join(server.root, 'salon-17');
      await whenPartFileExceeds(dir, 4 * MB);
      ac.abort();
      const e = await rejection(sending);
      expect(e.name).to.equal('CancelledError');
      expect(await namesIn(dir)).to.deep.equal([]);
    } finally {
      await server.stop();
    }
  });

  it('explicit FTPS against an implicit-only server: times out, retries, then says to check the encryption setting', async () => {
    const server = await startFtpServer({ implicitTls: true });
    try {
      const file = await makeBackup(work, 1024, '2026-11-29_22-30-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpTls: 'explicit', ftpTimeoutSeconds: 1 })), FAST_RETRIES);
      const e = await rejection(target.send(file, recorder().ctx));
      expect(e.code).to.equal('ftp.timeout');
      expect(e.message).to.include('antwortet nicht (Zeitlimit von 1 Sekunde überschritten)').and.to.include('(4 Versuche)');
      expect(e.hint).to.include('„Verschlüsselung“');
    } finally {
      await server.stop();
    }
  });

  it('a server that demands TLS session reuse on data connections (vsftpd default require_ssl_reuse=YES), with the pinned certificate', async () => {
    const server = await startFtpServer({ requireSslReuse: true });
    try {
      const file = await makeBackup(work, 2 * MB, '2026-11-29_22-45-00');
      const target = createFtpTarget(fakeContext(settingsFor(server)));
      await target.send(file, recorder().ctx);
      expect(await sha256File(join(server.root, 'salon-17', file.name))).to.equal(file.sha256);
      expect((await target.list!()).map((b) => b.name)).to.deep.equal([file.name]);
    } finally {
      await server.stop();
    }
  });

  it('implicit FTPS on a second instance', async () => {
    const server = await startFtpServer({ implicitTls: true });
    try {
      const file = await makeBackup(work, 3 * MB, '2026-11-29_23-00-00');
      const target = createFtpTarget(fakeContext(settingsFor(server, { ftpTls: 'implicit', ftpRemoteDir: '' })));
      const result = await target.send(file, recorder().ctx);
      expect(result.location).to.equal(`ftps://127.0.0.1:${server.port}/${file.name}`);
      expect(await sha256File(join(server.root, file.name))).to.equal(file.sha256);
    } finally {
      await server.stop();
    }
  });
});
