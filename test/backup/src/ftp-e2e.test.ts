/**
 * End to end: a real host (startTestHost) with the backup plugin coupled to a real vsftpd over FTPS:
 * "Datensicherung" then "Backup an FTP" puts the very same verified .gz file on the FTP server, and a
 * kill -9 of the host during the upload leaves nothing under the final name; the next send cleans up.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type JobView, type TestHost } from 'kassenwart/sdk/testing';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { namesIn, sha256File, whenPartFileExceeds } from './ftp-support.js';

/** All files below `dir` named `name`. */
async function findFiles(dir: string, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findFiles(p, name)));
    else if (e.name === name) out.push(p);
  }
  return out;
}

const isBackup = (n: string) => /^kasse-.*\.sqlite\.gz$/.test(n);

describe('backup FTP target end to end (host + vsftpd)', function () {
  this.timeout(300_000);
  let server: FtpServer;
  let host: TestHost;
  const remoteDir = () => join(server.root, 'salon-e2e');

  /** Runs backup.send; if a caught-up scheduled send is already running, waits for that one instead. */
  async function send(): Promise<JobView> {
    const r = await host.api<{ job: JobView }>('POST', '/api/actions/backup.send', { params: {} });
    if (r.status === 202) return host.waitForJob(r.body.job.id);
    expect(r.status, JSON.stringify(r.body)).to.equal(409);
    const actions = await host.api<{ id: string; running: string | null }[]>('GET', '/api/actions');
    const running = actions.body.find((a) => a.id === 'backup.send')?.running;
    expect(running, 'the running send').to.be.a('string');
    return host.waitForJob(running!);
  }

  before(async () => {
    // Throttled (2 MB/s per transfer) so that the upload of the demo backup can be caught midway.
    server = await startFtpServer({ maxRateBytesPerSecond: 2 * 1024 * 1024 });
    host = await startTestHost({
      settings: {
        backup: {
          ftpEnabled: true,
          ftpHost: server.host,
          ftpPort: server.port,
          ftpUser: server.user,
          ftpPassword: server.password,
          ftpRemoteDir: 'salon-e2e',
          ftpFingerprint: server.certFingerprint256,
        },
      },
    });
  });
  after(async () => {
    await host?.stop();
    await server?.stop();
  });

  it('"Datensicherung" then "Backup an FTP" stores the verified backup on the FTP server ("Datenbank gesendet!")', async () => {
    const created = await host.runAction('backup.create');
    expect(created.state, JSON.stringify(created)).to.equal('succeeded');

    const sent = await send();
    expect(sent.state, JSON.stringify(sent)).to.be.oneOf(['succeeded', 'warning']);
    expect(sent.result?.message).to.include('Datenbank gesendet!');
    const remote = (await namesIn(remoteDir())).filter(isBackup);
    expect(remote, 'one backup on the FTP server').to.have.length(1);
    expect(await namesIn(remoteDir()), 'no temporary file left').to.deep.equal(remote);

    const local = await findFiles(host.dataDir, remote[0]);
    expect(local, 'the same file in the local backup folder').to.have.length(1);
    expect(await sha256File(join(remoteDir(), remote[0]))).to.equal(await sha256File(local[0]));

    // The job names the FTP target's result; the secret never shows up in it.
    const job = await host.api('GET', `/api/jobs/${sent.id}`);
    const text = JSON.stringify(job.body);
    expect(text).to.include('Auf FTP-Server gesichert');
    expect(text).not.to.include(server.password);
  });

  it('kill -9 of the host during the upload: nothing under the final name; after restart the send completes and the leftover is gone', async () => {
    const created = await host.runAction('backup.create');
    expect(created.state).to.equal('succeeded');
    const before = (await namesIn(remoteDir())).filter(isBackup);

    const start = await host.api<{ job: JobView }>('POST', '/api/actions/backup.send', { params: {} });
    expect(start.status).to.equal(202);
    await whenPartFileExceeds(remoteDir(), 256 * 1024);
    await host.kill();

    const afterKill = await namesIn(remoteDir());
    expect(afterKill.filter(isBackup), 'no new file under a final name').to.deep.equal(before);
    expect(afterKill.filter((n) => n.endsWith('.part')), 'the partial upload, under its temporary name').to.have.length(1);

    await host.restart();
    const sent = await send();
    expect(sent.state, JSON.stringify(sent)).to.be.oneOf(['succeeded', 'warning']);
    const names = await namesIn(remoteDir());
    expect(names.filter((n) => n.endsWith('.part')), 'leftover removed').to.deep.equal([]);
    const newest = names.filter(isBackup).sort().at(-1)!;
    expect(before).not.to.include(newest);
    const local = await findFiles(host.dataDir, newest);
    expect(local).to.have.length(1);
    expect(await sha256File(join(remoteDir(), newest))).to.equal(await sha256File(local[0]));
  });
});
