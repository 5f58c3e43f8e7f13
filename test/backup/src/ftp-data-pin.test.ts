/**
 * The pinned fingerprint on DATA connections. A real vsftpd (explicit FTPS) sits behind a TLS-terminating
 * proxy written here with node:net/node:tls: the proxy presents vsftpd's own certificate on the control
 * connection (so the pin the technician copied from the real server matches), rewrites the server's
 * EPSV/PASV answers to data ports of its own, and on those presents another certificate before relaying to
 * vsftpd's data port. That is what a machine in the middle of only the data connections would look like.
 * The first test runs the same proxy with the right certificate on data connections too, proving the proxy
 * itself relays a transfer correctly, so the second test fails for the certificate and nothing else.
 */
import { expect } from 'chai';
import { connect as netConnect, createServer as netCreateServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, createServer as tlsCreateServer, TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createFtpTarget } from '../../../plugins/backup/dist/src/ftp/target.js';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { removeDir, tempDir } from '../../support/dist/tmp.js';
import { makeCa, makeServerCert, type CertPair } from '../../support/dist/certs.js';
import { fakeContext, makeBackup, namesIn, recorder, rejection, settingsFor, sha256File } from './ftp-support.js';

interface Proxy {
  port: number;
  /** Data connections clients opened to the proxy (counted at TCP level, before the TLS handshake). */
  dataConnections: number;
  /** Data connections whose TLS handshake was complete (not a resumed session): the client saw a certificate. */
  fullHandshakes: number;
  close(): Promise<void>;
}

/**
 * A TLS-terminating FTP proxy on 127.0.0.1 in front of `upstreamPort`: control connection with `controlCert`,
 * data connections with `dataCert`.
 */
async function startProxy(upstreamPort: number, controlCert: CertPair, dataCert: CertPair): Promise<Proxy> {
  const sockets = new Set<Socket>();
  const servers = new Set<Server>();
  const track = <T extends Socket>(s: T): T => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    return s;
  };
  const proxy: Proxy = { port: 0, dataConnections: 0, fullHandshakes: 0, close: async () => {} };

  /** A one-shot TLS listener that relays one data connection to vsftpd's data port `target`. */
  const dataListener = async (target: number): Promise<number> => {
    const srv = tlsCreateServer({ cert: dataCert.certPem, key: dataCert.keyPem }, (client) => {
      track(client);
      if (!client.isSessionReused()) proxy.fullHandshakes++;
      const up = track(tlsConnect({ host: '127.0.0.1', port: target, rejectUnauthorized: false }));
      client.pipe(up);
      up.pipe(client);
      client.on('close', () => up.destroy());
      up.on('close', () => client.end());
      srv.close();
    });
    srv.on('connection', () => { proxy.dataConnections++; });
    srv.on('tlsClientError', () => {});
    servers.add(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return (srv.address() as { port: number }).port;
  };

  const control = netCreateServer((rawClient) => {
    track(rawClient);
    const rawUp = track(netConnect(upstreamPort, '127.0.0.1'));
    let client: Socket = rawClient;
    let up: Socket = rawUp;
    let fromClient = '';
    let fromServer = '';
    let upgrading = false;

    const onServerLine = async (line: string) => {
      let m: RegExpExecArray | null;
      if ((m = /^229 (.*)\(\|\|\|(\d+)\|\)/.exec(line))) {
        const port = await dataListener(Number(m[2]));
        line = `229 ${m[1]}(|||${port}|)`;
      } else if ((m = /^227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/.exec(line))) {
        const port = await dataListener(Number(m[5]) * 256 + Number(m[6]));
        line = `227 Entering Passive Mode (127,0,0,1,${port >> 8},${port & 255}).`;
      }
      client.write(line + '\r\n');
      if (upgrading && /^234 /.test(line)) {
        // AUTH TLS accepted: TLS towards vsftpd, and towards the client with the control certificate
        upgrading = false;
        up.removeAllListeners('data');
        client.removeAllListeners('data');
        up = track(tlsConnect({ socket: rawUp, rejectUnauthorized: false }));
        client = track(new TLSSocket(rawClient, { isServer: true, cert: controlCert.certPem, key: controlCert.keyPem }));
        wire();
      }
    };
    let serverQueue = Promise.resolve();
    const wire = () => {
      up.setEncoding('latin1');
      client.setEncoding('latin1');
      up.on('data', (d: string) => {
        fromServer += d;
        let i: number;
        while ((i = fromServer.indexOf('\n')) >= 0) {
          const line = fromServer.slice(0, i).replace(/\r$/, '');
          fromServer = fromServer.slice(i + 1);
          serverQueue = serverQueue.then(() => onServerLine(line));
        }
      });
      client.on('data', (d: string) => {
        fromClient += d;
        let i: number;
        while ((i = fromClient.indexOf('\n')) >= 0) {
          const line = fromClient.slice(0, i + 1);
          fromClient = fromClient.slice(i + 1);
          if (/^AUTH TLS/i.test(line)) upgrading = true;
          up.write(line);
        }
      });
      up.on('close', () => client.destroy());
      client.on('close', () => up.destroy());
    };
    wire();
  });
  servers.add(control);
  await new Promise<void>((r) => control.listen(0, '127.0.0.1', () => r()));
  proxy.port = (control.address() as { port: number }).port;
  proxy.close = async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([...servers].map((s) => new Promise((r) => s.close(() => r(undefined)))));
  };
  return proxy;
}

describe('backup FTP target: the pinned fingerprint on data connections (real vsftpd behind a TLS-terminating proxy)', function () {
  this.timeout(120_000);
  let server: FtpServer;
  let work: string;
  let serverCert: CertPair;
  let otherCert: CertPair;
  let ca: CertPair;
  let foreignCert: CertPair;
  let proxy: Proxy | undefined;

  before(async () => {
    ca = makeCa();
    serverCert = makeServerCert(ca);
    otherCert = makeServerCert(ca);
    foreignCert = makeServerCert(makeCa('Fremde CA'));
    server = await startFtpServer({ tlsCert: serverCert });
    work = await tempDir('kw-ftp-datapin-');
  });
  afterEach(async () => { await proxy?.close(); proxy = undefined; });
  after(async () => {
    await server?.stop();
    if (work) await removeDir(work);
  });

  const viaProxy = (p: Proxy, folder: string) => ({ ...settingsFor(server, { ftpRemoteDir: folder }), ftpPort: p.port });

  it('uploads through the proxy when it shows the server\'s own certificate on data connections too (the proxy works)', async () => {
    proxy = await startProxy(server.port, serverCert, serverCert);
    const file = await makeBackup(work, 512 * 1024, '2026-11-29_07-00-00');
    const target = createFtpTarget(fakeContext(viaProxy(proxy, 'same-cert')), { retryDelaysMs: [] });
    await target.send(file, recorder().ctx);
    expect(await namesIn(join(server.root, 'same-cert'))).to.deep.equal([file.name]);
    expect(await sha256File(join(server.root, 'same-cert', file.name))).to.equal(file.sha256);
    expect(proxy.dataConnections).to.be.greaterThan(0);
  });

  it('refuses a data connection that shows another certificate than the pinned one: ftp.certPin, nothing stored', async () => {
    expect(new X509Certificate(otherCert.certPem).fingerprint256).to.not.equal(server.certFingerprint256);
    proxy = await startProxy(server.port, serverCert, otherCert);
    const file = await makeBackup(work, 512 * 1024, '2026-11-29_08-00-00');
    const target = createFtpTarget(fakeContext(viaProxy(proxy, 'other-cert')), { retryDelaysMs: [] });
    const e = await rejection(target.send(file, recorder().ctx));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('ftp.certPin');
    expect(e.message).to.include('passt nicht zum hinterlegten Fingerabdruck');
    expect(proxy.dataConnections).to.be.greaterThan(0);
    // not one byte of the backup reached the server through the foreign data connection
    for (const n of await namesIn(join(server.root, 'other-cert'))) {
      expect(n.endsWith('.part') ? 'a partial upload' : n, 'left on the server').to.equal('nothing');
    }
  });

  // Without a pin the trust anchor is the CA (ftpCaCert): data connections are checked by the TLS chain, not by
  // a fingerprint. The proxy is another TLS server than vsftpd, so it cannot resume the control connection's
  // session: every data connection is a full handshake with a certificate.
  const viaProxyWithCa = (p: Proxy, folder: string) => ({ ...viaProxy(p, folder), ftpFingerprint: '', ftpCaCert: ca.certPem });

  it('with a CA and no pin: a data connection showing another certificate of that CA (full handshake) is accepted', async () => {
    proxy = await startProxy(server.port, serverCert, otherCert);
    const file = await makeBackup(work, 512 * 1024, '2026-11-29_09-00-00');
    const target = createFtpTarget(fakeContext(viaProxyWithCa(proxy, 'ca-trusted')), { retryDelaysMs: [] });
    await target.send(file, recorder().ctx);
    expect(await sha256File(join(server.root, 'ca-trusted', file.name))).to.equal(file.sha256);
    expect(proxy.fullHandshakes, 'data connections with a full handshake').to.be.greaterThan(0);
  });

  it('with a CA and no pin: a data connection whose certificate another CA signed is refused, nothing stored', async () => {
    proxy = await startProxy(server.port, serverCert, foreignCert);
    const file = await makeBackup(work, 512 * 1024, '2026-11-29_10-00-00');
    const target = createFtpTarget(fakeContext(viaProxyWithCa(proxy, 'foreign-ca')), { retryDelaysMs: [] });
    const e = await rejection(target.send(file, recorder().ctx));
    expect(e.name).to.equal('UserError');
    expect(e.code, e.message).to.equal('ftp.certUnknownCa');
    expect(e.message).to.include('unbekannten Zertifizierungsstelle');
    expect(proxy.dataConnections).to.be.greaterThan(0);
    for (const n of await namesIn(join(server.root, 'foreign-ca'))) {
      expect(n.endsWith('.part') ? 'a partial upload' : n, 'left on the server').to.equal('nothing');
    }
  });
});
