import { expect } from 'chai';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { startTestHost, type TestHost, type JobView } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { FIXTURES, withDb } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const results = (job: JobView) => (job.result?.details?.results ?? []) as Array<{ target: string; status: string; message: string; location?: string }>;

describe('backup: through the real host', function () {
  this.timeout(300_000);
  let host: TestHost | undefined;
  let dir: string;
  before(async () => { dir = await tempDir('kw-backup-host-'); });
  afterEach(async () => { await host?.stop(); host = undefined; });
  after(async () => { await removeDir(dir); });

  it('"Datensicherung" on a new installation backs up the demo database; the status route shows it', async () => {
    host = await startTestHost();
    const job = await host.runAction('backup.create');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    expect(job.result?.message).to.match(/^Datenbank gesichert \(kasse-.*\.sqlite\.gz/);
    const details = job.result!.details as { path: string; name: string; sha256: string; pauseMs: number };
    expect(sha(await readFile(details.path))).to.equal(details.sha256);
    const status = await host.api('GET', '/api/ext/backup/status');
    expect(status.status).to.equal(200);
    expect(status.body.posDatabase.demo).to.equal(true);
    const local = status.body.targets.find((t: any) => t.id === 'local');
    expect(local.lastSuccess.backup).to.equal(details.name);
    expect(local.overdue).to.equal(false);
    expect(status.body.backups.map((b: any) => [b.name, b.verified])).to.deep.equal([[details.name, true]]);
    expect(status.body.schedule.backupTimes).to.deep.equal(['07:00', '21:00']);
    expect(new Date(status.body.schedule.nextBackup).getTime()).to.be.greaterThan(Date.now());
    // the FTP target is there (contributed by the plugin itself), not yet sent to
    expect(status.body.targets.map((t: any) => t.id)).to.include('backup.ftp');
  });

  it('the backup times cannot be switched off: an empty or malformed list is refused with nothing stored', async () => {
    host = await startTestHost();
    for (const bad of ['', '7 Uhr', '25:00', '07:00,']) {
      const r = await host.api('PUT', '/api/settings/backup', { backupTimes: bad });
      expect(r.status, `"${bad}"`).to.equal(400);
    }
    const ok = await host.api('PUT', '/api/settings/backup', { backupTimes: '06:30, 13:00,20:00' });
    expect(ok.status).to.equal(200);
    const s = await host.api('GET', '/api/ext/backup/status');
    expect(s.body.schedule.backupTimes).to.deep.equal(['06:30', '13:00', '20:00']);
  });

  it('"Backup an FTP": one failed target does not hide the others; the job names the failed one and why', async () => {
    const folder = join(dir, 'fake-target');
    await (await import('node:fs/promises')).mkdir(folder, { recursive: true });
    host = await startTestHost({
      pluginDirs: [join(FIXTURES, 'fake-targets')], enable: ['fake-targets'],
      settings: { 'fake-targets': { folder } },
    });
    const job = await host.runAction('backup.send');
    expect(job.state, JSON.stringify(job.error)).to.equal('warning');
    expect(job.result?.message).to.contain('Defektes Testziel: Das Testziel ist absichtlich defekt.');
    expect(job.result?.message).to.match(/^Datenbank gesendet an: .*Testordner/);
    const byId = Object.fromEntries(results(job).map((r) => [r.target, r]));
    expect(byId['fake-targets.folder'].status).to.equal('sent');
    expect(byId['fake-targets.broken'].status).to.equal('failed');
    expect(byId['fake-targets.broken'].message).to.equal('Das Testziel ist absichtlich defekt.');
    expect(byId['backup.ftp'].status).to.equal('skipped'); // not coupled
    // a backup was made first (none existed), and the folder target holds exactly that verified file
    const name = String(job.result!.details!.backup);
    const local = await host.api('GET', '/api/ext/backup/status');
    const sent = await readFile(join(folder, name));
    expect(local.body.backups[0].name).to.equal(name);
    expect(local.body.backups[0].verified).to.equal(true);
    await withDb(sent, (q) => expect(q('PRAGMA integrity_check')[0][0]).to.equal('ok'));
    // the status panel's data shows the failure with its reason
    expect(local.body.failures[0].message).to.equal('Das Testziel ist absichtlich defekt.');
    expect(local.body.targets.find((t: any) => t.id === 'fake-targets.folder').lastSuccess.backup).to.equal(name);

    // when every target that is tried fails, the job fails and still says which and why
    const reset = await host.api('PUT', '/api/settings/fake-targets', { folder: null });
    expect(reset.status).to.equal(200);
    const failed = await host.runAction('backup.send');
    expect(failed.state).to.equal('failed');
    expect(failed.error?.message).to.contain('Defektes Testziel: Das Testziel ist absichtlich defekt.');
  });

  it('kill -9 during a backup leaves no partial file under a final name; the next start cleans up and catches up the missed run', async function () {
    const pos = join(dir, 'big', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 150, seed: 11 });
    const backups = join(dir, 'big-backups');
    host = await startTestHost({ settings: { backup: { posDatabasePath: pos, backupDir: backups } } });
    const start = await host.api('POST', '/api/actions/backup.create', { params: {} });
    expect(start.status).to.equal(202);
    // wait until it is writing, then pull the plug
    for (let i = 0; ; i++) {
      const j = await host.api('GET', `/api/jobs/${start.body.job.id}`);
      if (j.body.state !== 'running') throw new Error('backup finished before it could be killed: ' + JSON.stringify(j.body));
      if ((j.body.percent ?? 0) >= 10) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await host.kill();
    const left = await readdir(backups);
    expect(left.filter((n) => !n.startsWith('.tmp-')), 'files under a final name after kill -9').to.deep.equal([]);
    expect(left.some((n) => n.startsWith('.tmp-')), 'the interrupted backup was writing a temp file').to.equal(true);

    // while the server is off, a scheduled time passes (the technician's time setting: the next full minute)
    const at = new Date();
    at.setSeconds(0, 0);
    at.setMinutes(at.getMinutes() + 1);
    const hhmm = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}`;
    const set = host.cli(['settings', 'set', 'backup', 'backupTimes', hhmm]);
    expect(set.status, set.stderr).to.equal(0);
    const wait = at.getTime() - Date.now() + 2000;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await host.restart();
    let done: JobView | undefined;
    for (let i = 0; i < 600 && !done; i++) {
      const jobs = await host.api<JobView[]>('GET', '/api/jobs?action=backup.create&limit=5');
      const caught = jobs.body.find((j: any) => j.trigger === 'catch-up');
      if (caught && caught.state !== 'running') done = caught;
      else await new Promise((r) => setTimeout(r, 200));
    }
    expect(done, 'a catch-up run of the missed schedule\n' + host.output()).to.exist;
    expect(done!.state, JSON.stringify(done!.error)).to.equal('succeeded');
    const after = await readdir(backups);
    expect(after.filter((n) => n.startsWith('.tmp-')), 'leftovers cleaned up').to.deep.equal([]);
    const gz = after.filter((n) => n.endsWith('.sqlite.gz'));
    expect(gz).to.have.length(1);
    const manifest = JSON.parse(await readFile(join(backups, gz[0] + '.json'), 'utf8'));
    expect(manifest.kind).to.equal('catch-up');
    expect((await stat(join(backups, gz[0]))).size).to.equal(manifest.size);
  });
});
