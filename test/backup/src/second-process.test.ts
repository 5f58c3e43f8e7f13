import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';

/** A real second process on the same data folder; killed after `ms` (a second server that was not refused keeps running). */
function second(dataDir: string, args: string[], ms = 90_000) {
  return new Promise<{ status: number | null; out: string; killed: boolean }>((resolve) => {
    const c = spawn(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { env: { ...process.env, KASSENWART_LOG: 'warn' } });
    let out = '';
    let killed = false;
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const t = setTimeout(() => { killed = true; c.kill('SIGKILL'); }, ms);
    c.once('exit', (status) => { clearTimeout(t); resolve({ status, out, killed }); });
  });
}

describe('backup: a second process does not touch the running backup', function () {
  this.timeout(600_000);
  let dir: string;
  let host: TestHost | undefined;
  before(async () => { dir = await tempDir('kw-backup-2nd-'); });
  after(async () => {
    await host?.stop();
    await removeDir(dir);
  });

  it('`action run backup.create` (refused "läuft bereits") and a second `serve` while the server backs up: its .tmp file stays, its backup succeeds', async () => {
    const pos = join(dir, 'pos', 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 40, seed: 5 });
    const backups = join(dir, 'backups');
    host = await startTestHost({ settings: { backup: { posDatabasePath: pos, backupDir: backups } } });
    const start = await host.api('POST', '/api/actions/backup.create', { params: {} });
    expect(start.status).to.equal(202);
    // wait until the server writes its temp file, then hold the server right there (SIGSTOP: a very slow
    // machine), so the second processes run their start-up while the backup is in progress
    let tmp: string[] = [];
    for (;;) {
      tmp = (await readdir(backups).catch(() => [] as string[])).filter((n) => n.startsWith('.tmp-kasse-'));
      if (tmp.length) break;
      const j = await host.api('GET', `/api/jobs/${start.body.job.id}`);
      if (j.body.state !== 'running') throw new Error('backup finished before the second process could start: ' + JSON.stringify(j.body));
      await new Promise((r) => setTimeout(r, 5));
    }
    const serverPid = (JSON.parse(await readFile(join(host.dataDir, 'supervisor.json'), 'utf8')) as { childPid: number }).childPid;
    process.kill(serverPid, 'SIGSTOP');
    let cli, serve;
    try {
      cli = await second(host.dataDir, ['action', 'run', 'backup.create']);
      serve = await second(host.dataDir, ['serve', '--port', '0'], 60_000);
    } finally {
      process.kill(serverPid, 'SIGCONT');
    }
    // The stopped server accepts on its socket but never answers: the CLI says so and runs in-process, where
    // the plugins' start-up (the cleanup) runs and the maintenance lock refuses the second backup.
    expect(cli.out).to.match(/antwortet nicht/);
    expect(cli.status, cli.out).to.equal(4);
    expect(cli.out).to.match(/läuft bereits/);
    expect(serve.killed, 'a second serve was not refused:\n' + serve.out).to.equal(false);
    expect(serve.status, serve.out).to.equal(4);
    expect(serve.out).to.match(/Kassenwart läuft für den Datenordner .* bereits/);
    const present = await readdir(backups);
    for (const t of tmp) expect(present, `the server's temp file ${t} after the second processes`).to.include(t);

    const job = await host.waitForJob(start.body.job.id);
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    const name = String(job.result!.details!.name);
    const after = await readdir(backups);
    expect(after).to.include.members([name, name + '.json']);
    expect(after.filter((n) => n.startsWith('.tmp-')), 'nothing left behind').to.deep.equal([]);
  });
});
