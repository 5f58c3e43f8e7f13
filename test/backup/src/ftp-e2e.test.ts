/**
 * End to end: a real host (startTestHost) with the backup plugin coupled to a real vsftpd over FTPS:
 * "Datensicherung" then "Backup an FTP" puts the very same verified .gz file on the FTP server.
 */
import { expect } from 'chai';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { namesIn, sha256File } from './ftp-support.js';

/** All files below `dir` with their paths. */
async function findFiles(dir: string, match: (name: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await findFiles(p, match)));
    else if (match(e.name)) out.push(p);
  }
  return out;
}

describe('backup FTP target end to end (host + vsftpd)', function () {
  this.timeout(300_000);
  let server: FtpServer | undefined;
  let host: TestHost | undefined;

  after(async () => {
    await host?.stop();
    await server?.stop();
  });

  it('"Datensicherung" then "Backup an FTP" stores the verified backup on the FTP server ("Datenbank gesendet!")', async () => {
    server = await startFtpServer();
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
    const created = await host.runAction('backup.create');
    expect(created.state, JSON.stringify(created)).to.equal('succeeded');

    const sent = await host.runAction('backup.send');
    expect(sent.state, JSON.stringify(sent)).to.be.oneOf(['succeeded', 'warning']);
    expect(sent.result?.message).to.include('Datenbank gesendet!');
    const remoteDir = join(server.root, 'salon-e2e');
    const remote = (await namesIn(remoteDir)).filter((n) => /^kasse-.*\.sqlite\.gz$/.test(n));
    expect(remote, 'one backup on the FTP server').to.have.length(1);
    expect(await namesIn(remoteDir), 'no temporary file left').to.deep.equal(remote);

    const local = await findFiles(host.dataDir, (n) => n === remote[0]);
    expect(local, 'the same file in the local backup folder').to.have.length(1);
    expect(await sha256File(join(remoteDir, remote[0]))).to.equal(await sha256File(local[0]));

    // The job names the FTP target's result; the secret never shows up in it.
    const job = await host.api('GET', `/api/jobs/${sent.id}`);
    if (process.env.KW_SHOW_JOB) console.log(JSON.stringify(job.body, null, 1));
    const text = JSON.stringify(job.body);
    expect(text).to.include('FTP-Server');
    expect(text).not.to.include(server.password);
  });
});
