import { expect } from 'chai';
import { readFile, readlink, access } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { KASSENWART_BIN } from 'kassenwart/sdk/testing';
import { join } from 'node:path';
import { makeHarness, type Harness } from './harness.js';
import { freePort, readDb, startSupervisor, writeSalonDb, type Supervisor } from './supervisor-proc.js';

const BASE_VERSION = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')).version as string;
const current = (data: string) => readlink(join(data, 'releases', 'current')).catch(() => null);
const exists = (p: string) => access(p).then(() => true, () => false);
const result = async (data: string) => JSON.parse(await readFile(join(data, 'releases', 'switch-result.json'), 'utf8'));
const journal = async (data: string) => JSON.parse(await readFile(join(data, 'releases', 'switch.json'), 'utf8').catch(() => 'null'));

/** Runs the CLI asynchronously (the update server lives in this process and must keep answering). */
function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [KASSENWART_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KASSENWART_LOG: 'warn' } });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => { stdout += d.toString('utf8'); });
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString('utf8'); });
    c.on('exit', (status) => resolve({ status, stdout, stderr }));
  });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

describe('update: switching releases through the real supervisor (kassenwart start), between stand-in release trees (a small bin/kassenwart.js that only answers /api/health)', function () {
  this.timeout(180_000);
  let h: Harness;
  let sup: Supervisor | undefined;
  beforeEach(async () => { h = await makeHarness(); });
  afterEach(async () => {
    await sup?.stop();
    sup = undefined;
    await h.cleanup();
  });

  /** Prepares 1.1.0 through the updater (as the plugin does), with a migration, and returns the port to use. */
  async function prepare(behaviour: 'ok' | 'slow' | 'breaks-on-real-data'): Promise<number> {
    await writeSalonDb(join(h.data, 'state.sqlite'));
    await h.publish({ version: '1.1.0', behaviour, migrations: { '001-new-table.sql': 'CREATE TABLE salon_new (id INTEGER);' }, changes: 'Neue Tabelle' });
    const r = await h.updater(BASE_VERSION, { supervised: false }).check(h.job());
    expect(r.message).to.match(/^Update fertig! Version 1\.1\.0 ist eingespielt\. Sie wird beim nächsten Start von Kassenwart aktiv\./);
    return freePort();
  }

  it('starts the new release with its migrations applied, and then reports "Kein Update notwendig!"', async () => {
    const port = await prepare('ok');
    sup = await startSupervisor(h.data, port);
    await sup.waitVersion('1.1.0');
    await until('switch committed', async () => (await journal(h.data)) === null);
    // the journal's removal is the commit point; the result file is written right after it
    await until('switch result recorded', async () => exists(join(h.data, 'releases', 'switch-result.json')));
    expect(await current(h.data)).to.equal('1.1.0');
    expect(await result(h.data)).to.include({ ok: true, to: '1.1.0' });
    const db = await readDb(join(h.data, 'state.sqlite'));
    expect(db.migrations).to.deep.equal(['001-new-table.sql']);
    expect(db.tables).to.include.members(['salon_marker', 'salon_new']);
    const state = await h.updater('1.1.0').store.loadReconciled();
    expect(state.history[0]).to.include({ version: '1.1.0', status: 'installed' });
    expect((await h.updater('1.1.0').check(h.job())).message).to.equal('Kein Update notwendig!');
  });

  it('rolls back automatically when the new release fails its health check on the real data', async () => {
    const port = await prepare('breaks-on-real-data');
    sup = await startSupervisor(h.data, port, { KASSENWART_HEALTH_TIMEOUT: '4' });
    await until('rollback recorded', async () => exists(join(h.data, 'releases', 'switch-result.json')), 90_000);
    await sup.waitVersion(BASE_VERSION);
    expect(await current(h.data)).to.equal(null);
    const r = await result(h.data);
    expect(r.ok).to.equal(false);
    expect(r.reason).to.contain('Health-Check');
    expect(r.reason).to.contain(`zurückgesetzt auf Version ${BASE_VERSION}`);
    const db = await readDb(join(h.data, 'state.sqlite'));
    expect(db.migrations).to.deep.equal([]);
    expect(db.tables).to.include('salon_marker');
    expect(db.tables).to.not.include('salon_new');
    const state = await h.updater(BASE_VERSION).store.loadReconciled();
    expect(state.history[0]).to.include({ version: '1.1.0', status: 'rolled-back' });
    expect(state.history[0].reason).to.contain('Health-Check');
  });

  it('kill -9 during the switch: afterwards the old release runs on its own (unmigrated) database', async () => {
    const port = await prepare('slow');
    sup = await startSupervisor(h.data, port);
    await until('switch in progress with the new child started', async () => {
      const j = await journal(h.data);
      const info = await readFile(join(h.data, 'supervisor.json'), 'utf8').catch(() => '');
      return j?.state === 'switching' && info.includes('1.1.0');
    });
    // On disk this is the dangerous moment: new `current`, migrated database, switch not yet confirmed.
    expect(await current(h.data)).to.equal('1.1.0');
    expect((await readDb(join(h.data, 'state.sqlite'))).migrations).to.deep.equal(['001-new-table.sql']);
    await sup.killHard();
    sup = await startSupervisor(h.data, port);
    await sup.waitVersion(BASE_VERSION);
    expect(await current(h.data)).to.equal(null);
    expect(await journal(h.data)).to.equal(null);
    const db = await readDb(join(h.data, 'state.sqlite'));
    expect(db.migrations).to.deep.equal([]);
    expect(db.tables).to.not.include('salon_new');
    expect((await result(h.data)).reason).to.contain('unterbrochen');
  });

  it('kill -9 of the supervisor alone during the switch: the orphaned new release is stopped, the old one runs', async () => {
    const port = await prepare('slow');
    sup = await startSupervisor(h.data, port);
    await until('switch in progress with the new child started', async () => {
      const j = await journal(h.data);
      const info = await readFile(join(h.data, 'supervisor.json'), 'utf8').catch(() => '');
      return j?.state === 'switching' && info.includes('1.1.0');
    });
    const orphan = await sup.killHard(true);
    expect(orphan).to.be.a('number');
    sup = await startSupervisor(h.data, port);
    await sup.waitVersion(BASE_VERSION);
    // Gone (or at most a zombie waiting to be reaped by init: no command line any more).
    expect(await readFile(`/proc/${orphan}/cmdline`, 'utf8').catch(() => '')).to.equal('');
    expect(await current(h.data)).to.equal(null);
    expect((await readDb(join(h.data, 'state.sqlite'))).migrations).to.deep.equal([]);
  });

  it('kill -9 right after a confirmed switch: afterwards the new release runs on the migrated database', async () => {
    const port = await prepare('ok');
    sup = await startSupervisor(h.data, port);
    await until('switch confirmed', async () => (await exists(join(h.data, 'releases', 'switch-result.json'))) && (await journal(h.data)) === null);
    await sup.killHard();
    sup = await startSupervisor(h.data, port);
    await sup.waitVersion('1.1.0');
    expect(await current(h.data)).to.equal('1.1.0');
    expect((await readDb(join(h.data, 'state.sqlite'))).migrations).to.deep.equal(['001-new-table.sql']);
  });

  it('`kassenwart action run update.check` from the CLI installs the update and restarts the running server', async () => {
    await h.publish({ version: '1.1.0', changes: 'Neu' });
    const set = await cli(['settings', 'set', 'update', '--json-values', JSON.stringify({ feedUrl: h.server.url + '/index.json', publicKeys: h.publicKey }), '--data', h.data]);
    expect(set.status, set.stderr).to.equal(0);
    const port = await freePort();
    sup = await startSupervisor(h.data, port);
    await sup.waitVersion(BASE_VERSION);
    const run = await cli(['action', 'run', 'update.check', '--data', h.data]);
    expect(run.status, run.stderr).to.equal(0);
    expect(run.stdout).to.match(/^Update fertig! Version 1\.1\.0 ist eingespielt\. Kassenwart startet jetzt neu\./);
    expect(run.stderr).to.contain('% Update-Index wird geladen');
    await sup.waitVersion('1.1.0');
    await until('switch committed', async () => (await journal(h.data)) === null);
    // the journal's removal is the commit point; the result file is written right after it
    await until('switch result recorded', async () => exists(join(h.data, 'releases', 'switch-result.json')));
    expect(await current(h.data)).to.equal('1.1.0');
  });
});
