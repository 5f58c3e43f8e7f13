/**
 * Enabling a plugin while the server runs takes effect at once, for every activation event: a third-party
 * backup target (a real plugin folder outside the repository, `onExtensionPoint:backup.targets`) enabled at
 * run time — over the API or with the CLI — receives the very next server-side "Backup an FTP", beside a real
 * vsftpd.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFile, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type JobView, type TestHost } from 'kassenwart/sdk/testing';
import type { SendDetails, TargetResult } from 'kassenwart/plugins/backup/api';
import { tempDir, removeDir } from '#support/tmp.js';
import { startFtpServer, type FtpServer } from '#support/vsftpd.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';

/** A third-party target in plain ESM JavaScript: copies each backup into `<installation>/drop-<id>/`. */
function dropTarget(id: string): string {
  return `
import { injectable, inject, TOKENS, UserError } from 'kassenwart/sdk';
import { backupTargetsExtensionPoint } from 'kassenwart/plugins/backup/api';
import fs from 'node:fs/promises';
import path from 'node:path';
class DropTarget {
  constructor(ctx) { this.ctx = ctx; }
  activate() {
    const dir = path.join(this.ctx.installationDir, 'drop-${id}');
    this.ctx.extensionPoint(backupTargetsExtensionPoint).register({
      id: '${id}.drop', displayName: 'Ablage ${id}',
      async availability() { return { available: true }; },
      async send(file, sctx) {
        await fs.mkdir(dir, { recursive: true });
        const tmp = path.join(dir, '.' + file.name + '.part');
        await fs.copyFile(file.path, tmp);
        await fs.rename(tmp, path.join(dir, file.name));
        sctx.progress(file.size);
        return { location: 'drop://' + file.name, bytes: file.size };
      },
    });
  }
}
inject(TOKENS.Context)(DropTarget, undefined, 0);
injectable()(DropTarget);
export default DropTarget;
`;
}

// a failed send keeps its per-target results under error.details (typed in the SDK's JobView)
const results = (job: JobView): TargetResult[] => ((job.result?.details ?? job.error?.details) as SendDetails | undefined)?.results ?? [];
const pluginState = async (host: TestHost, id: string) =>
  ((await host.api('GET', '/api/plugins')).body as { id: string; state: string }[]).find((p) => p.id === id)?.state;

describe('a plugin enabled while the server runs (real plugin folder, real vsftpd)', function () {
  this.timeout(300_000);
  let ftp: FtpServer;
  let host: TestHost;
  let root: string;

  before(async () => {
    ftp = await startFtpServer();
    root = await tempDir('kw-third-party-');
    const target = (id: string, events: string[]) =>
      writePlugin(root, id, manifest(id, { dependencies: { backup: '^1.0.0' }, activationEvents: events }), dropTarget(id));
    await target('drop-ep', ['onExtensionPoint:backup.targets']);
    await target('drop-cli', ['onExtensionPoint:backup.targets']);
    await target('drop-sync', ['onExtensionPoint:backup.targets']);
    await target('drop-startup', ['onStartup']);
    await target('drop-star', ['*']);
    await writePlugin(root, 'lazy-action', manifest('lazy-action', {
      activationEvents: ['onAction:lazy-action.hello'],
      contributes: { actions: [{ id: 'lazy-action.hello', title: 'Hallo' }] },
    }), pluginCode(`ctx.registerAction('lazy-action.hello', async () => 'Hallo von ' + ctx.manifest.id);`));
    await writePlugin(root, 'plain-startup', manifest('plain-startup', { activationEvents: ['onStartup'] }), pluginCode());
    host = await startTestHost({
      pluginDirs: [root],
      disable: ['usb', 'update', 'remote-support'],
      env: { KASSENWART_DEMO_DB_MB: '1' },
      settings: {
        backup: {
          ftpEnabled: true, ftpHost: ftp.host, ftpPort: ftp.port, ftpUser: ftp.user, ftpPassword: ftp.password,
          ftpRemoteDir: 'salon-rt', ftpFingerprint: ftp.certFingerprint256,
        },
      },
    });
    // the backup plugin is active before any target is enabled: onExtensionPoint:backup.targets has fired
    expect(await pluginState(host, 'backup')).to.equal('active');
  });
  after(async () => {
    await host?.stop();
    await ftp?.stop();
    if (root) await removeDir(root);
  });

  async function sendAndCheck(ids: string[]): Promise<JobView> {
    const job = await host.runAction('backup.send');
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    const byTarget = Object.fromEntries(results(job).map((r) => [r.target, r.status]));
    expect(byTarget['backup.ftp'], 'FTP target').to.equal('sent');
    for (const id of ids) expect(byTarget[`${id}.drop`], `${id} received the send`).to.equal('sent');
    // the copy in the third-party target's folder is the file the FTP server got
    const name = String(job.result?.details?.backup);
    const onFtp = createHash('sha256').update(await readFile(join(ftp.root, 'salon-rt', name))).digest('hex');
    for (const id of ids) {
      const copy = createHash('sha256').update(await readFile(join(host.dataDir, `drop-${id}`, name))).digest('hex');
      expect(copy).to.equal(onFtp);
      expect((await readdir(join(host.dataDir, `drop-${id}`))).filter((n) => n.endsWith('.part'))).to.deep.equal([]);
    }
    return job;
  }

  it('onExtensionPoint:backup.targets, enabled over the API: active at once and in the very next "Backup an FTP"', async () => {
    const r = await host.api('POST', '/api/plugins/drop-ep/enable');
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect((r.body.plugins as { id: string; state: string }[]).find((p) => p.id === 'drop-ep')?.state).to.equal('active');
    await sendAndCheck(['drop-ep']);
  });

  it('onExtensionPoint:backup.targets, enabled with the CLI while the server runs: in the very next "Backup an FTP"', async () => {
    const cli = await host.cliAsync(['plugins', 'enable', 'drop-cli']);
    expect(cli.status, cli.stderr).to.equal(0);
    // no waiting for the server to notice: the very next send includes it
    await sendAndCheck(['drop-ep', 'drop-cli']);
  });

  it('enabled by a CLI that wrote the data folder itself: the server applies it from disk and activates it', async () => {
    // hide the server's socket, so the CLI works on the data folder in its own process, as an older CLI would
    const sock = join(host.dataDir, 'kassenwart.sock');
    await rename(sock, sock + '.hidden');
    try {
      const cli = await host.cliAsync(['plugins', 'enable', 'drop-sync']);
      expect(cli.status, cli.stderr).to.equal(0);
      expect(cli.stdout).to.match(/es läuft kein Server/);
    } finally {
      await rename(sock + '.hidden', sock);
    }
    let state: string | undefined;
    for (let i = 0; i < 100 && state !== 'active'; i++) {
      state = await pluginState(host, 'drop-sync');
      if (state !== 'active') await new Promise((r) => setTimeout(r, 200));
    }
    expect(state, 'picked up from the state database (every 2 s) and activated').to.equal('active');
    await sendAndCheck(['drop-ep', 'drop-cli', 'drop-sync']);
  });

  it('onStartup and "*", enabled at run time: active at once, and their targets receive the next send', async () => {
    for (const id of ['drop-startup', 'drop-star', 'plain-startup']) {
      const r = await host.api('POST', `/api/plugins/${id}/enable`);
      expect(r.status, JSON.stringify(r.body)).to.equal(200);
      expect(await pluginState(host, id), id).to.equal('active');
    }
    await sendAndCheck(['drop-ep', 'drop-cli', 'drop-sync', 'drop-startup', 'drop-star']);
  });

  it('onAction:<own action>, enabled at run time: its action is offered at once and activates it', async () => {
    const r = await host.api('POST', '/api/plugins/lazy-action/enable');
    expect(r.status).to.equal(200);
    expect(await pluginState(host, 'lazy-action')).to.equal('inactive');
    expect(((await host.api('GET', '/api/actions')).body as { id: string }[]).map((a) => a.id)).to.include('lazy-action.hello');
    const job = await host.runAction('lazy-action.hello');
    expect(job.result?.message).to.equal('Hallo von lazy-action');
    expect(await pluginState(host, 'lazy-action')).to.equal('active');
  });

  it('disabled and enabled again while the server runs: gone from the send, then back in the next one', async () => {
    expect((await host.api('POST', '/api/plugins/drop-ep/disable')).status).to.equal(200);
    expect(await pluginState(host, 'drop-ep')).to.equal('disabled');
    const without = await host.runAction('backup.send');
    expect(results(without).map((x) => x.target)).to.not.include('drop-ep.drop');
    expect((await host.api('POST', '/api/plugins/drop-ep/enable')).status).to.equal(200);
    expect(await pluginState(host, 'drop-ep')).to.equal('active');
    await sendAndCheck(['drop-ep']);
  });

  it('the backup plugin disabled and enabled again at run time: its contributors come back with it', async () => {
    const off = await host.api('POST', '/api/plugins/backup/disable', { cascade: true });
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    const on = await host.api('POST', '/api/plugins/drop-ep/enable'); // pulls in backup
    expect(on.status, JSON.stringify(on.body)).to.equal(200);
    expect(await pluginState(host, 'backup')).to.equal('active');
    expect(await pluginState(host, 'drop-ep')).to.equal('active');
    await sendAndCheck(['drop-ep']);
  });
});
