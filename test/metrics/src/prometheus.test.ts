/**
 * Fleet watch against a real Prometheus (Debian 2.42, remote-write receiver on): installation A is scraped
 * with its bearer token, installation B (not scrapable) pushes over remote-write; both show up in the same
 * Prometheus with their backup times. One Prometheus for the whole file.
 */
import { request } from 'node:http';
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { startPrometheus, query, waitForQuery, type Server } from './servers.js';

const TOKEN = 'scrape-token-' + Math.random().toString(36).slice(2, 12);
const METRICS = '/api/ext/metrics/metrics';
const env = { KASSENWART_DEMO_DB_MB: '1' };

/** A GET from a chosen local source address (127.0.0.2 is loopback too, but not 127.0.0.1). */
function getFrom(url: string, localAddress: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request(url, { localAddress, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

async function backupStatus(host: TestHost) {
  const r = await host.api('GET', '/api/ext/backup/status');
  expect(r.status).to.equal(200);
  return r.body as { targets: { id: string; lastSuccess: { at: string } | null; lastFailure: { at: string } | null }[] };
}

describe('fleet watch with a real Prometheus', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let a: TestHost | undefined;
  let b: TestHost | undefined;
  let prom: Server | undefined;

  before(async function () {
    a = await startTestHost({ settings: { metrics: { enabled: true } }, env });
    const put = await a.api('PUT', '/api/settings/metrics', { token: TOKEN });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    const target = new URL(a.url).host;
    prom = await startPrometheus({
      config: `scrape_configs:
  - job_name: kassenwart
    metrics_path: ${METRICS}
    authorization: { type: Bearer, credentials: ${TOKEN} }
    static_configs: [{ targets: ['${target}'], labels: { salon: 'Salon Eins' } }]
  - job_name: kassenwart-without-token
    metrics_path: ${METRICS}
    static_configs: [{ targets: ['${target}'] }]
`,
    });
    b = await startTestHost({
      settings: { metrics: { installationId: 'salon-b-test', salonName: 'Salon Zwei', remoteWriteUrl: `${prom.url}/api/v1/write`, remoteWriteAuth: 'none', remoteWriteIntervalSeconds: 15 } },
      env,
    });
  });

  after(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await prom?.stop();
  });

  it('Prometheus scrapes /metrics with the token and shows the last backup time per target', async () => {
    const job = await a!.runAction('backup.create');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    const at = (await backupStatus(a!)).targets.find((t) => t.id === 'local')!.lastSuccess!.at;
    const r = await waitForQuery(prom!, 'kassenwart_backup_last_success_timestamp_seconds{job="kassenwart",target="local"}');
    expect(r).to.have.length(1);
    expect(r[0].metric.salon).to.equal('Salon Eins');
    expect(Number(r[0].value[1])).to.be.closeTo(Date.parse(at) / 1000, 0.001);
    const size = await waitForQuery(prom!, 'kassenwart_backup_last_size_bytes{job="kassenwart",target="local"}');
    expect(Number(size[0].value[1])).to.be.greaterThan(1000);
    const plugins = await query(prom!, 'kassenwart_plugin_state{job="kassenwart",state="active"} == 1');
    expect(plugins.map((p) => p.metric.plugin)).to.include.members(['backup', 'metrics']);
    const durations = await waitForQuery(prom!, 'kassenwart_job_duration_seconds_count{job="kassenwart",action="backup.create"}');
    expect(Number(durations[0].value[1])).to.equal(1);
  });

  it('after a failed backup the failure timestamp shows in a query', async () => {
    const set = await a!.api('PUT', '/api/settings/backup', { posDatabasePath: '/nonexistent/kasse.sqlite' });
    expect(set.status).to.equal(200);
    try {
      const job = await a!.runAction('backup.create');
      expect(job.state).to.equal('failed');
      const failedAt = (await backupStatus(a!)).targets.find((t) => t.id === 'local')!.lastFailure!.at;
      const want = Date.parse(failedAt) / 1000;
      const r = await waitForQuery(prom!, 'kassenwart_backup_last_failure_timestamp_seconds{job="kassenwart",target="local"}',
        (res) => res.length === 1 && Math.abs(Number(res[0].value[1]) - want) < 0.001);
      expect(r[0].metric.instance).to.equal(new URL(a!.url).host);
      const failedJobs = await waitForQuery(prom!, 'kassenwart_jobs_total{job="kassenwart",action="backup.create",outcome="failed"}');
      expect(Number(failedJobs[0].value[1])).to.equal(1);
    } finally {
      await a!.api('PUT', '/api/settings/backup', { posDatabasePath: '' });
    }
  });

  it('refuses a scrape without the token or with a wrong one (401), also from 127.0.0.1', async () => {
    const none = await fetch(a!.url + METRICS);
    expect(none.status).to.equal(401);
    expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
    expect(await none.text()).to.contain('Zugangstoken fehlt');
    const wrong = await fetch(a!.url + METRICS, { headers: { authorization: `Bearer ${TOKEN}x` } });
    expect(wrong.status).to.equal(401);
    expect(await wrong.text()).to.not.contain('kassenwart_');
    const right = await fetch(a!.url + METRICS, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.status).to.equal(200);
    // Prometheus' job without the token is down with the 401 as its reason.
    const up = await waitForQuery(prom!, 'up{job="kassenwart-without-token"}');
    expect(up[0].value[1]).to.equal('0');
    const targets = await (await fetch(`${prom!.url}/api/v1/targets`)).json() as { data: { activeTargets: { labels: { job: string }; lastError: string }[] } };
    expect(targets.data.activeTargets.find((t) => t.labels.job === 'kassenwart-without-token')!.lastError).to.contain('401');
  });

  it('without a token answers only a peer at 127.0.0.1 that was not forwarded by a proxy', async () => {
    const url = b!.url + METRICS;
    const off = await fetch(url);
    expect(off.status, 'B has the endpoint switched off').to.equal(404);
    expect(await off.text()).to.contain('ausgeschaltet');
    const on = await b!.api('PUT', '/api/settings/metrics', { enabled: true });
    expect(on.status).to.equal(200);
    expect((await getFrom(url, '127.0.0.1')).status).to.equal(200);
    const other = await getFrom(url, '127.0.0.2');
    expect(other.status).to.equal(401);
    expect(other.body).to.contain('nur vom Kassenserver selbst');
    expect((await getFrom(url, '127.0.0.1', { 'x-forwarded-for': '203.0.113.9' })).status).to.equal(401);
    const off2 = await b!.api('PUT', '/api/settings/metrics', { enabled: false });
    expect(off2.status).to.equal(200);
  });

  it('a second installation pushing over remote-write appears in the same Prometheus, with instance and salon labels', async () => {
    const info = await waitForQuery(prom!, 'kassenwart_installation_info{instance="salon-b-test"}');
    expect(info[0].metric.salon).to.equal('Salon Zwei');
    expect(info[0].metric.job).to.equal('kassenwart');
    const job = await b!.runAction('backup.create');
    expect(job.state).to.equal('succeeded');
    const at = (await backupStatus(b!)).targets.find((t) => t.id === 'local')!.lastSuccess!.at;
    // Pushed shortly after the job (not only at the next interval); both installations side by side.
    const r = await waitForQuery(prom!, 'kassenwart_backup_last_success_timestamp_seconds{target="local"}',
      (res) => res.some((s) => s.metric.instance === 'salon-b-test' && Math.abs(Number(s.value[1]) - Date.parse(at) / 1000) < 0.001));
    expect(r.map((s) => s.metric.salon).sort()).to.deep.equal(['Salon Eins', 'Salon Zwei']);
    const status = await b!.api('GET', '/api/ext/metrics/status');
    expect(status.body.remoteWrite.sentBatches).to.be.greaterThan(0);
    expect(status.body.remoteWrite.lastError).to.equal(null);
  });
});
