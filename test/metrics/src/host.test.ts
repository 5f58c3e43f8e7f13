/**
 * The host mechanisms the metrics plugin rests on, on a real host: plugins that list metrics only in
 * `optionalDependencies` run without it; enabling metrics at run time shows their gauges without a restart;
 * `auth: 'plugin'` routes do not open the plugin's session routes to anonymous callers.
 */
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';

describe('metrics plugin in the host', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let host: TestHost | undefined;
  before(async () => {
    host = await startTestHost({ disable: ['metrics'], env: { KASSENWART_DEMO_DB_MB: '1' } });
  });
  after(async () => { await host?.stop(); });

  const state = async (id: string) => ((await host!.api('GET', '/api/plugins')).body as { id: string; state: string; reasons: string[] }[]).find((p) => p.id === id)!;

  it('backup, update and remote-support run while metrics is disabled (optional dependency)', async () => {
    expect((await state('metrics')).state).to.equal('disabled');
    const backup = await state('backup');
    expect(backup.state, backup.reasons.join(' ')).to.equal('active');
    const job = await host!.runAction('backup.create');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    const r = await fetch(host!.url + '/api/ext/metrics/metrics');
    expect(r.status).to.not.equal(200);
  });

  it('enabling metrics at run time shows the already active backup plugin\'s gauges without a restart', async () => {
    const en = await host!.api('POST', '/api/plugins/metrics/enable');
    expect(en.status, JSON.stringify(en.body)).to.equal(200);
    expect((await state('metrics')).state).to.equal('active');
    const set = await host!.api('PUT', '/api/settings/metrics', { enabled: true });
    expect(set.status).to.equal(200);
    const text = await (await fetch(host!.url + '/api/ext/metrics/metrics')).text();
    expect(text).to.match(/^kassenwart_backup_last_success_timestamp_seconds\{target="local"\} \d+/m);
    expect(text).to.match(/^kassenwart_plugin_state\{plugin="backup",state="active"\} 1$/m);
    expect(text).to.not.match(/kasse-\d{4}-/); // no backup file names as labels
  });

  it('an anonymous caller reaches only the auth:"plugin" route, never the plugin\'s session routes', async () => {
    const status = await fetch(host!.url + '/api/ext/metrics/status');
    expect(status.status).to.equal(401);
    const other = await fetch(host!.url + '/api/ext/metrics/nothing-here');
    expect(other.status).to.equal(401);
    const routes = (await host!.api('GET', '/api/routes')).body as { method: string; path: string; role: string }[];
    expect(routes).to.deep.include({ method: 'GET', path: '/api/ext/metrics/metrics', role: 'plugin' });
    expect(routes).to.deep.include({ method: 'GET', path: '/api/ext/metrics/status', role: 'technician' });
    expect((await host!.api('GET', '/api/ext/metrics/status')).status).to.equal(200);
  });
});
