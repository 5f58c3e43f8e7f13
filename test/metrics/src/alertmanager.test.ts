/**
 * End to end for the vendor: an installation whose last local backup is 27 h old is pushed over
 * remote-write to Prometheus, which evaluates the shipped rules and sends BackupTooOld to Alertmanager,
 * which delivers it to a webhook (an HTTP server in this test). Real Debian prometheus and
 * prometheus-alertmanager. The only change to the shipped rules: `for:` is shortened to 1 s so the test
 * need not wait 5 minutes (the promtool tests cover the `for:` durations).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS, type Series } from '../../../plugins/metrics/dist/src/remote-write-encode.js';
import { startAlertmanager, startPrometheus, type Server } from './servers.js';

const RULES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'monitoring', 'kassenwart.rules.yml');

interface WebhookAlert { status: string; labels: Record<string, string>; annotations: Record<string, string> }

describe('BackupTooOld from Prometheus through Alertmanager to a webhook', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let prom: Server | undefined;
  let am: Server | undefined;
  let hook: HttpServer | undefined;
  const received: WebhookAlert[] = [];

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        try { received.push(...(JSON.parse(body) as { alerts: WebhookAlert[] }).alerts); } catch { /* not ours */ }
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => hook!.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/alerts`;
    am = await startAlertmanager(`route:
  receiver: vendor-oncall
  group_by: [alertname, instance]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: vendor-oncall
    webhook_configs:
      - url: ${hookUrl}
        send_resolved: false
`);
    const rules = (await readFile(RULES, 'utf8')).replace(/for: \d+[smhd]/g, 'for: 1s');
    prom = await startPrometheus({
      config: `rule_files: [kassenwart.rules.yml]
alerting:
  alertmanagers:
    - static_configs: [{ targets: ['127.0.0.1:${am.port}'] }]
`,
      files: { 'kassenwart.rules.yml': rules },
    });
  });

  after(async () => {
    await Promise.allSettled([prom?.stop(), am?.stop()]);
    await new Promise((r) => hook ? hook.close(r) : r(undefined));
  });

  it('delivers BackupTooOld with its German summary for the installation without a fresh backup, and only for it', async () => {
    const now = Date.now();
    const series = (instance: string, salon: string, ageHours: number): Series[] => [
      { labels: { __name__: 'kassenwart_backup_last_success_timestamp_seconds', instance, job: 'kassenwart', salon, target: 'local' }, value: (now - ageHours * 3600_000) / 1000, timestampMs: now },
      { labels: { __name__: 'kassenwart_installation_info', instance, job: 'kassenwart', salon, installation: instance, salon_name: salon }, value: 1, timestampMs: now },
    ];
    const body = encodeWriteRequest([...series('salon-alt', 'Salon Drei', 27), ...series('salon-frisch', 'Salon Vier', 2)]);
    const push = await fetch(`${prom!.url}/api/v1/write`, { method: 'POST', headers: REMOTE_WRITE_HEADERS, body: Buffer.from(body) });
    expect(push.status, await push.text()).to.equal(204);

    const until = Date.now() + 90_000;
    while (!received.some((a) => a.labels.alertname === 'BackupTooOld') && Date.now() < until) await new Promise((r) => setTimeout(r, 500));
    const alerts = received.filter((a) => a.labels.alertname === 'BackupTooOld');
    expect(alerts, `nothing delivered; prometheus: ${prom!.output().slice(-500)} alertmanager: ${am!.output().slice(-500)}`).to.not.be.empty;
    expect(new Set(alerts.map((a) => a.labels.instance))).to.deep.equal(new Set(['salon-alt']));
    const a = alerts[0];
    expect(a.status).to.equal('firing');
    expect(a.labels).to.include({ severity: 'critical', salon: 'Salon Drei', target: 'local' });
    expect(a.annotations.summary).to.match(/^Salon Salon Drei \(salon-alt\): seit 1d 3h \d+m \d+s keine erfolgreiche lokale Datensicherung\.$/);
    expect(a.annotations.description).to.contain('Datensicherung');
  });
});
