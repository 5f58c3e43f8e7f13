/**
 * The remote-write push against an HTTP receiver in the test that decodes what arrives (snappy + protobuf):
 * an outage keeps at most MAX_QUEUED_BATCHES batches, the push resumes by itself in order, refused data is
 * dropped, refused credentials are kept for a retry; and a backup on a real host finishes while the
 * vendor's endpoint hangs.
 */
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { makeCa, makeServerCert } from '#support/certs.js';
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { RemoteWriter, MAX_QUEUED_BATCHES, configProblem, type RemoteWriteConfig } from '../../../plugins/metrics/dist/src/remote-write.js';
import { decodeWriteRequest, type Series } from '../../../plugins/metrics/dist/src/remote-write-encode.js';
import { familyProblem } from '../../../plugins/metrics/dist/src/registry.js';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface Receiver { url: string; status: number; hang: boolean; got: { headers: IncomingMessage['headers']; series: Series[] }[]; close(): Promise<void> }

async function receiver(): Promise<Receiver> {
  const rec: Receiver = { url: '', status: 204, hang: false, got: [], close: async () => {} };
  const open = new Set<import('node:net').Socket>();
  const srv: HttpServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      if (rec.hang) return;
      if (rec.status < 300) rec.got.push({ headers: req.headers, series: decodeWriteRequest(new Uint8Array(Buffer.concat(chunks))) });
      res.writeHead(rec.status).end(rec.status >= 400 ? 'nein' : '');
    });
  });
  srv.on('connection', (s) => { open.add(s); s.on('close', () => open.delete(s)); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  rec.url = `http://127.0.0.1:${(srv.address() as { port: number }).port}/api/v1/write`;
  rec.close = () => new Promise((r) => { for (const s of open) s.destroy(); srv.close(() => r()); });
  return rec;
}

describe('remote-write push', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let rec: Receiver;
  let n = 0;
  const config = (): RemoteWriteConfig => ({ url: rec.url, auth: 'bearer', user: '', secret: 'geheim-123', caCert: '', intervalSeconds: 300 });
  const writer = () => new RemoteWriter(config, async () => [{ labels: { __name__: 'kassenwart_test_round', instance: 'x' }, value: ++n, timestampMs: 1_700_000_000_000 + n * 1000 }], quiet);

  beforeEach(async () => { rec = await receiver(); n = 0; });
  afterEach(async () => { await rec.close(); });

  it('keeps at most the newest batches during an outage and sends them in order once the endpoint is back', async () => {
    const w = writer();
    rec.status = 503;
    for (let i = 0; i < MAX_QUEUED_BATCHES + 3; i++) await w.pushNow();
    expect(w.state.queued).to.equal(MAX_QUEUED_BATCHES);
    expect(w.state.droppedBatches).to.equal(3);
    expect(w.state.lastError).to.contain('HTTP 503');
    rec.status = 204;
    await w.pushNow();
    expect(w.state.queued).to.equal(0);
    expect(w.state.lastError).to.equal(undefined);
    const values = rec.got.map((g) => g.series[0].value);
    // the 3 oldest rounds were dropped; the rest arrive oldest first, then the new round
    expect(values).to.deep.equal(Array.from({ length: MAX_QUEUED_BATCHES }, (_, i) => i + 5));
    const h = rec.got[0].headers;
    expect(h['content-encoding']).to.equal('snappy');
    expect(h['content-type']).to.equal('application/x-protobuf');
    expect(h['x-prometheus-remote-write-version']).to.equal('0.1.0');
    expect(h.authorization).to.equal('Bearer geheim-123');
  });

  it('drops a batch the server refuses as bad data (400) but keeps it when the credentials are refused (401)', async () => {
    const w = writer();
    rec.status = 400;
    await w.pushNow();
    expect(w.state.queued).to.equal(0);
    expect(w.state.droppedBatches).to.equal(1);
    expect(w.state.lastError).to.contain('HTTP 400');
    rec.status = 401;
    await w.pushNow();
    expect(w.state.lastError).to.contain('Anmeldung');
    rec.status = 204;
    await w.pushNow();
    expect(rec.got.map((g) => g.series[0].value)).to.deep.equal([2, 3]);
  });

  it('an endpoint that does not answer makes pushes wait, never pile up', async () => {
    const w = writer();
    rec.hang = true;
    const first = w.pushNow();
    const second = w.pushNow();
    expect(second).to.equal(first);
    await new Promise((r) => setTimeout(r, 300));
    expect(rec.got).to.have.length(0);
    await rec.close(); // the hanging request fails, the push settles without throwing
    await first;
    w.stop();
    expect(w.state.lastError).to.contain('nicht erreichbar');
  });

  it('refuses unencrypted http:// except to 127.0.0.1, and credentials in the URL', () => {
    const c = { auth: 'none', user: '', secret: '', caCert: '', intervalSeconds: 300 } as const;
    expect(configProblem({ ...c, url: 'http://metrics.example/api/v1/write' })).to.contain('https://');
    expect(configProblem({ ...c, url: 'https://u:p@metrics.example/api/v1/write' })).to.contain('nicht in die Adresse');
    expect(configProblem({ ...c, url: 'https://metrics.example/api/v1/write', auth: 'basic', secret: 'x' })).to.contain('Benutzer');
    expect(configProblem({ ...c, url: 'http://127.0.0.1:9090/api/v1/write' })).to.equal(undefined);
  });

  it('refuses metric families that break the naming rules or would explode cardinality', () => {
    const none = new Set<string>();
    expect(familyProblem({ name: 'backup_age', help: '', samples: [] }, none)).to.match(/does not match/);
    expect(familyProblem({ name: 'kassenwart_x_total', help: '', samples: [{ value: 1 }] }, none)).to.match(/must not end in _total/);
    expect(familyProblem({ name: 'kassenwart_x', help: '', samples: [{ value: 1, labels: { instance: 'a' } }] }, none)).to.match(/not allowed/);
    expect(familyProblem({ name: 'kassenwart_x', help: '', samples: Array.from({ length: 51 }, (_, i) => ({ value: i, labels: { file: String(i) } })) }, none)).to.match(/more than 50/);
    expect(familyProblem({ name: 'kassenwart_x', help: '', samples: [{ value: 1, labels: { target: 'a' } }] }, none)).to.equal(undefined);
  });

  it('pushes over TLS with basic auth, trusting an extra CA, and refuses a certificate it cannot verify', async () => {
    const ca = makeCa();
    const cert = makeServerCert(ca);
    const got: { auth?: string; series: Series[] }[] = [];
    const srv = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        got.push({ auth: req.headers.authorization, series: decodeWriteRequest(new Uint8Array(Buffer.concat(chunks))) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const url = `https://127.0.0.1:${(srv.address() as { port: number }).port}/api/v1/write`;
      const base: RemoteWriteConfig = { url, auth: 'basic', user: 'salon-17', secret: 'Pass wort:1', caCert: '', intervalSeconds: 300 };
      const untrusted = new RemoteWriter(() => base, async () => [{ labels: { __name__: 'kassenwart_tls_test' }, value: 1, timestampMs: Date.now() }], quiet);
      await untrusted.pushNow();
      expect(untrusted.state.lastError).to.match(/nicht erreichbar.*(certificate|self.signed|issuer)/i);
      expect(got).to.have.length(0);
      const trusted = new RemoteWriter(() => ({ ...base, caCert: ca.certPem }), async () => [{ labels: { __name__: 'kassenwart_tls_test' }, value: 2, timestampMs: Date.now() }], quiet);
      await trusted.pushNow();
      expect(trusted.state.lastError).to.equal(undefined);
      expect(got).to.have.length(1);
      expect(got[0].auth).to.equal('Basic ' + Buffer.from('salon-17:Pass wort:1').toString('base64'));
      expect(got[0].series[0]).to.deep.include({ value: 2 });
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  describe('on a real host', () => {
    let host: TestHost | undefined;
    after(async () => { await host?.stop(); });

    it('a backup finishes while the vendor endpoint hangs, and the host keeps answering', async () => {
      rec.hang = true;
      host = await startTestHost({ settings: { metrics: { remoteWriteUrl: rec.url, remoteWriteAuth: 'none', remoteWriteIntervalSeconds: 15 } }, env: { KASSENWART_DEMO_DB_MB: '1' } });
      const job = await host.runAction('backup.create');
      expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
      const second = await host.runAction('backup.create');
      expect(second.state).to.equal('succeeded');
      const status = await host.api('GET', '/api/ext/metrics/status');
      expect(status.status).to.equal(200);
      expect(status.body.remoteWrite.sentBatches).to.equal(0);
    });
  });
});
