/**
 * Off-site copies, end to end on a real host with a real FTP server (vsftpd with TLS): the FTP target counts
 * as off-site and configured while coupled; after "Backup an FTP" the newest off-site copy's time and the
 * copy's size show in /metrics; decoupling FTP switches "configured" off (so the off-site alert stops).
 */
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { startFtpServer, type FtpServer } from '#support/vsftpd.js';

function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('off-site backup gauges with a real FTP server', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let server: FtpServer | undefined;
  let host: TestHost | undefined;

  before(async function () {
    if (process.getuid?.() !== 0) this.skip(); // vsftpd needs a system user
    server = await startFtpServer();
    host = await startTestHost({
      settings: {
        metrics: { enabled: true },
        backup: { ftpEnabled: true, ftpHost: server.host, ftpPort: server.port, ftpUser: server.user, ftpRemoteDir: 'salon-metrics', ftpFingerprint: server.certFingerprint256 },
      },
      env: { KASSENWART_DEMO_DB_MB: '1' },
    });
    const pw = await host.api('PUT', '/api/settings/backup', { ftpPassword: server.password });
    expect(pw.status).to.equal(200);
  });
  after(async () => {
    await host?.stop();
    await server?.stop();
  });

  const scrape = async () => (await fetch(host!.url + '/api/ext/metrics/metrics')).text();

  it('counts the coupled FTP server as a configured off-site target, with no copy yet', async () => {
    const text = await scrape();
    expect(value(text, 'kassenwart_backup_offsite_configured')).to.equal(1);
    expect(text).to.not.contain('kassenwart_backup_offsite_last_success_timestamp_seconds');
  });

  it('after "Backup an FTP" shows the off-site copy\'s time and size', async () => {
    const job = await host!.runAction('backup.send');
    expect(job.state, JSON.stringify(job.error ?? job.result)).to.equal('succeeded');
    const status = (await host!.api('GET', '/api/ext/backup/status')).body as { targets: { id: string; lastSuccess: { at: string } | null }[]; backups: { name: string; size: number }[] };
    const ftpAt = Date.parse(status.targets.find((t) => t.id === 'backup.ftp')!.lastSuccess!.at) / 1000;
    const text = await scrape();
    expect(value(text, 'kassenwart_backup_offsite_last_success_timestamp_seconds')).to.equal(ftpAt);
    expect(value(text, 'kassenwart_backup_last_success_timestamp_seconds{target="backup.ftp"}')).to.equal(ftpAt);
    expect(value(text, 'kassenwart_backup_last_size_bytes{target="backup.ftp"}')).to.equal(status.backups[0].size);
    expect(value(text, 'kassenwart_backup_last_duration_seconds{target="backup.ftp"}')).to.be.greaterThan(0);
  });

  it('decoupling the FTP server makes off-site "not configured"', async () => {
    const off = await host!.api('PUT', '/api/settings/backup', { ftpEnabled: false });
    expect(off.status).to.equal(200);
    expect(value(await scrape(), 'kassenwart_backup_offsite_configured')).to.equal(0);
  });
});
