/**
 * What the update and remote-support plugins report, read from a real host's /metrics after real actions:
 * an Updatecheck against a signed feed (node:http in the test, real Ed25519 signature) whose newer release
 * cannot be downloaded — the check failed, and the installation is outdated since that release's date (a
 * beta release on a stable installation does not count); RustDesk absent.
 */
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, sign } from 'node:crypto';
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';

const DAY = 86_400_000;

function metricValue(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('update and remote-support gauges on a real host', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let host: TestHost | undefined;
  let feed: Server | undefined;
  const stableDate = new Date(Date.now() - 70 * DAY).toISOString();

  before(async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const index = Buffer.from(JSON.stringify({
      format: 1, product: 'kassenwart', sequence: 1, issuedAt: new Date().toISOString(), expires: new Date(Date.now() + 10 * DAY).toISOString(),
      releases: [
        { version: '0.9.0', channel: 'stable', date: new Date(Date.now() - 200 * DAY).toISOString(), changes: { kassenwart: ['alt'] }, url: 'kassenwart-0.9.0.tar.gz', size: 10, sha256: '0'.repeat(64) },
        { version: '1.0.5-beta.1', channel: 'beta', date: new Date(Date.now() - 90 * DAY).toISOString(), changes: { kassenwart: ['beta'] }, url: 'kassenwart-1.0.5-beta.1.tar.gz', size: 10, sha256: '1'.repeat(64) },
        { version: '1.1.0', channel: 'stable', date: stableDate, changes: { kassenwart: ['neu'] }, url: 'kassenwart-1.1.0.tar.gz', size: 10, sha256: '2'.repeat(64) },
      ],
    }));
    const sig = sign(null, index, privateKey).toString('base64');
    feed = createServer((req, res) => {
      if (req.url === '/index.json') res.writeHead(200, { 'content-type': 'application/json' }).end(index);
      else if (req.url === '/index.json.sig') res.writeHead(200).end(sig);
      else res.writeHead(404).end('not found');
    });
    await new Promise<void>((r) => feed!.listen(0, '127.0.0.1', r));
    const feedUrl = `http://127.0.0.1:${(feed.address() as { port: number }).port}/index.json`;
    host = await startTestHost({ settings: { metrics: { enabled: true } }, env: { KASSENWART_DEMO_DB_MB: '1' } });
    const put = await host.api('PUT', '/api/settings/update', { feedUrl, publicKeys: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
  });

  after(async () => {
    await host?.stop();
    await new Promise((r) => feed ? feed.close(r) : r(undefined));
  });

  it('a failed Updatecheck shows as last_check_success 0 with its time, and the version as outdated since the newer stable release', async () => {
    const job = await host!.runAction('update.check');
    expect(job.state).to.equal('failed');
    const text = await (await fetch(host!.url + '/api/ext/metrics/metrics')).text();
    expect(metricValue(text, 'kassenwart_update_last_check_success')).to.equal(0);
    const at = metricValue(text, 'kassenwart_update_last_check_timestamp_seconds')!;
    expect(at * 1000).to.be.closeTo(Date.parse(job.finishedAt as string), 5_000);
    expect(metricValue(text, 'kassenwart_update_outdated_since_timestamp_seconds')).to.equal(Date.parse(stableDate) / 1000);
    expect(text).to.match(/^kassenwart_jobs_total\{action="update.check",outcome="failed"\} 1$/m);
  });

  it('reports RustDesk as not installed when it is not there', async () => {
    const text = await (await fetch(host!.url + '/api/ext/metrics/metrics')).text();
    expect(metricValue(text, 'kassenwart_rustdesk_installed')).to.equal(0);
    expect(text).to.not.contain('kassenwart_rustdesk_service_running');
  });
});
