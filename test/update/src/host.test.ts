import { expect } from 'chai';
import { readFile, readlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { startTestHost, KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { startUpdateServer, type UpdateServer } from './update-server.js';

const REPO = new URL('../../../', import.meta.url).pathname;
const BASE_VERSION = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version as string;
const NEXT = BASE_VERSION.replace(/(\d+)$/, (n) => String(Number(n) + 1));

function kassenwart(args: string[]) {
  const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args], { encoding: 'utf8', timeout: 170_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Like host.cli, but asynchronous: the update server runs in this process and must keep answering. */
function kassenwartAsync(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [KASSENWART_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

async function waitVersion(url: string, version: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    try {
      const body = (await (await fetch(url + '/api/health', { signal: AbortSignal.timeout(3000) })).json()) as { version?: string };
      last = JSON.stringify(body);
      if (body.version === version) return;
    } catch (e) { last = (e as Error).message; }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`version ${version} not up (last: ${last})`);
}

describe('update: a release of this repository, published with `kassenwart release`, installed through the host', function () {
  this.timeout(600_000);
  let root: string;
  let server: UpdateServer;
  let host: TestHost | undefined;

  before(async () => {
    root = await tempDir('kw-update-e2e-');
    const keys = join(root, 'keys');
    const feed = join(root, 'feed');
    await mkdir(feed, { recursive: true });
    const kg = kassenwart(['release', 'keygen', '--out', keys]);
    expect(kg.status, kg.stderr).to.equal(0);
    const publicKey = /\n(MC[A-Za-z0-9+/=]+)\n/.exec(kg.stdout)?.[1];
    expect(publicKey, kg.stdout).to.be.a('string');
    await writeFile(join(root, 'CHANGES.txt'), 'kassenwart: Updates mit Signaturprüfung\nupdate: Verlauf der Updates rechts auf der Wartungsseite\n');
    const b = kassenwart(['release', 'build', '--key', join(keys, 'kassenwart-release.key'), '--out', feed, '--version', NEXT, '--changes', join(root, 'CHANGES.txt'), '--source', REPO]);
    expect(b.status, b.stderr).to.equal(0);
    expect(b.stdout).to.contain(`Release ${NEXT} (stable) veröffentlicht`);
    server = await startUpdateServer(feed);
    host = await startTestHost({ settings: { update: { feedUrl: server.url + '/index.json', publicKeys: publicKey! } } });
  });

  after(async () => {
    await host?.stop();
    await server?.close();
    await removeDir(root);
  });

  it('"Updatecheck" installs it: "Update fertig!", restart into the new version, history newest first', async () => {
    const actions = await host!.api('GET', '/api/actions');
    const action = actions.body.find((a: { id: string }) => a.id === 'update.check');
    expect(action).to.include({ title: 'Updatecheck', confirm: 'Soll auf ein aktuelles Update geprüft werden?', role: 'operator', exclusive: true });

    const job = await host!.runAction('update.check');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    expect(job.result?.message).to.match(new RegExp(`^Update fertig! Version ${NEXT.replace(/\./g, '\\.')} ist eingespielt\\. Kassenwart startet jetzt neu\\.`));
    expect(job.result?.message).to.contain('Kassenwart: Updates mit Signaturprüfung');

    await waitVersion(host!.url, NEXT);
    expect(await readlink(join(host!.dataDir, 'releases', 'current'))).to.equal(NEXT);
    // The session survives the restart (it is in the state database that moved along). The supervisor confirms
    // the switch a moment after the new version answers; the panel shows "installed" from then on.
    let hist = await host!.api('GET', '/api/ext/update/history');
    for (let i = 0; i < 120 && hist.body?.updates?.[0]?.status !== 'installed'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      hist = await host!.api('GET', '/api/ext/update/history');
    }
    expect(hist.status).to.equal(200);
    expect(hist.body.runningVersion).to.equal(NEXT);
    expect(hist.body.lastUpdate.version).to.equal(NEXT);
    expect(hist.body.updates[0]).to.include({ version: NEXT, status: 'installed' });
    expect(hist.body.updates[0].notes[0].lines).to.deep.equal(['Kassenwart: Updates mit Signaturprüfung', 'Updates: Verlauf der Updates rechts auf der Wartungsseite']);
    expect(hist.body.reminder).to.equal(false);
  });

  it('pressing it again says "Kein Update notwendig!", in the UI and from the CLI with a progress bar', async () => {
    // The register is not set up on this installation: said, never skipped silently.
    const skipped = 'Kassensoftware: nicht eingerichtet (es fehlt: Installationsordner, systemd-Unit oder Start- und Stoppbefehl, Funktionsprüfung (URL oder Befehl), Kassendatenbank) – übersprungen.';
    const job = await host!.runAction('update.check');
    expect(job.state).to.equal('succeeded');
    expect(job.result?.message).to.equal(`Kein Update notwendig!\n${skipped}`);
    const cli = await kassenwartAsync(['action', 'run', 'update.check', '--data', host!.dataDir]);
    expect(cli.status, cli.stderr).to.equal(0);
    expect(cli.stdout.trim()).to.equal(`Kein Update notwendig!\n${skipped}`);
    expect(cli.stderr).to.contain('% Update-Index wird geladen');
    const hist = await host!.api('GET', '/api/ext/update/history');
    expect(hist.body.lastCheck).to.include({ ok: true, message: `Kein Update notwendig!\n${skipped}` });
    expect(hist.body.components[0]).to.include({ id: 'kasse', displayName: 'Kassensoftware', installedVersion: null });
    expect(hist.body.components[0].skipped).to.match(/^nicht eingerichtet/);
  });

  it('a salon owner (operator) may press "Updatecheck" but not change feed, channel or keys', async () => {
    const salon = await host!.asUser({ name: 'salon', password: 'Salon-' + Math.random().toString(36).slice(2) + '!', role: 'operator' });
    expect(salon.user.role).to.equal('operator');
    const put = await salon.api('PUT', '/api/settings/update', { feedUrl: 'http://127.0.0.1:1/evil.json' });
    expect(put.status).to.equal(403);
    const start = await salon.api('POST', '/api/actions/update.check', { params: {} });
    expect(start.status).to.equal(202);
    const job = await host!.waitForJob((start.body as { job: { id: string } }).job.id);
    expect(job.result?.message?.split('\n')[0]).to.equal('Kein Update notwendig!');
    const settings = await host!.api('GET', '/api/settings/update');
    expect(settings.body.values.feedUrl).to.equal(server.url + '/index.json');
  });
});
