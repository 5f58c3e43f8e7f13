import { expect } from 'chai';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';

const lifecycle = async (host: TestHost) => (await readFile(`${host.dataDir}/lifecycle.log`, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);
const plugin = async (host: TestHost, id: string) =>
  ((await host.api('GET', '/api/plugins')).body as { id: string; state: string; reasons: string[]; enabled: boolean }[]).find((p) => p.id === id)!;

describe('plugin lifecycle', function () {
  let fixture: FixtureHost;
  let host: TestHost;

  before(async function () {
    const ids = ['top', 'base', 'middle', 'cyc-x', 'cyc-y', 'thrower', 'needs-thrower', 'hanger', 'wrong-range', 'missing-dep',
      'no-injectable', 'lazy', 'owner', 'contrib-one', 'contrib-two', 'sneaky', 'own-copy'];
    fixture = await startFixtureHost(async (root) => {
    const onStartup = { activationEvents: ['onStartup'] };
    // a chain: top → middle → base (declared out of order on disk)
    await writePlugin(root, 'a-top', manifest('top', { ...onStartup, dependencies: { middle: '^1.0.0' } }), pluginCode());
    await writePlugin(root, 'b-base', manifest('base', onStartup), pluginCode());
    await writePlugin(root, 'c-middle', manifest('middle', { ...onStartup, dependencies: { base: '^1.0.0' } }), pluginCode());
    // a cycle
    await writePlugin(root, 'cyc-x', manifest('cyc-x', { ...onStartup, dependencies: { 'cyc-y': '^1.0.0' } }), pluginCode());
    await writePlugin(root, 'cyc-y', manifest('cyc-y', { ...onStartup, dependencies: { 'cyc-x': '^1.0.0' } }), pluginCode());
    // failures
    await writePlugin(root, 'thrower', manifest('thrower', onStartup), pluginCode(`throw new Error('Datenbank nicht erreichbar');`));
    await writePlugin(root, 'needs-thrower', manifest('needs-thrower', { ...onStartup, dependencies: { thrower: '^1.0.0' } }), pluginCode());
    await writePlugin(root, 'hanger', manifest('hanger', onStartup), pluginCode(`await new Promise(() => {});`));
    await writePlugin(root, 'wrong-range', manifest('wrong-range', { ...onStartup, dependencies: { base: '^2.0.0' } }), pluginCode());
    await writePlugin(root, 'missing-dep', manifest('missing-dep', { ...onStartup, dependencies: { ghost: '^1.0.0' } }), pluginCode());
    await writePlugin(root, 'no-injectable', manifest('no-injectable', onStartup), `export default class P { constructor(x) {} }`);
    // lazy: only activated when its action runs
    await writePlugin(root, 'lazy', manifest('lazy', {
      activationEvents: ['onAction:lazy.hello'],
      contributes: { actions: [{ id: 'lazy.hello', title: 'Hallo', success: 'Hallo gesagt' }] },
    }), pluginCode(`ctx.registerAction('lazy.hello', async (job) => { job.progress(50, 'halb'); return { message: 'Hallo von ' + ctx.manifest.id, details: { user: job.user } }; });`));
    // extension point owner and two contributors; the owner's action reports what it sees
    await writePlugin(root, 'owner', manifest('owner', {
      activationEvents: ['onStartup'],
      contributes: {
        extensionPoints: [{ id: 'owner.greeters', description: 'say hello' }],
        actions: [{ id: 'owner.greet', title: 'Grüßen' }],
      },
    }), pluginCode(`
      const ep = ctx.extensionPoint({ id: 'owner.greeters' });
      ctx.registerAction('owner.greet', async () => ({ message: ep.all().map((c) => c.pluginId + ':' + c.value.greet()).sort().join(',') }));
      ctx.registerRoute('GET', '/greeters', () => ep.all().map((c) => c.pluginId).sort());
      ctx.registerRoute('POST', '/echo', (req) => ({ got: req.body, user: req.user.name }));
    `));
    for (const who of ['contrib-one', 'contrib-two']) {
      await writePlugin(root, who, manifest(who, {
        dependencies: { owner: '^1.0.0' }, activationEvents: ['onExtensionPoint:owner.greeters'],
      }), pluginCode(`ctx.extensionPoint({ id: 'owner.greeters' }).register({ greet: () => 'hallo' });`));
    }
    // a plugin folder that brings its own (different) copy of kassenwart in node_modules still gets the host's
    await writePlugin(root, 'own-copy', manifest('own-copy', { activationEvents: ['onStartup'] }), pluginCode());
    await mkdir(join(root, 'own-copy', 'node_modules', 'kassenwart'), { recursive: true });
    await writeFile(join(root, 'own-copy', 'node_modules', 'kassenwart', 'package.json'), JSON.stringify({ name: 'kassenwart', type: 'module', exports: { './sdk': './sdk.js' } }));
    await writeFile(join(root, 'own-copy', 'node_modules', 'kassenwart', 'sdk.js'), 'export const TOKENS = {}; export function inject() { return () => {}; } export function injectable() { return () => {}; }');
    await writePlugin(root, 'sneaky', manifest('sneaky', { activationEvents: ['onStartup'] }),
      pluginCode(`ctx.extensionPoint({ id: 'owner.greeters' }).register({ greet: () => 'sneaky' });`));
    }, { enable: ids.filter((i) => !['missing-dep', 'cyc-x', 'cyc-y'].includes(i)), env: { KASSENWART_ACTIVATION_TIMEOUT_MS: '1500' } });
    host = fixture.host;
  });

  after(async function () {
    await fixture?.dispose();
  });

  it('refuses to enable a plugin whose dependency is not installed, with a clear message', async function () {
    const r = await host.api('POST', '/api/plugins/missing-dep/enable');
    expect(r.status).to.equal(409);
    expect(r.body.error.message).to.match(/benötigtes Plugin „ghost“ ist nicht installiert/);
  });

  it('activates dependencies before dependants', async function () {
    const log = await lifecycle(host);
    const pos = (id: string) => log.indexOf(`activate ${id}`);
    expect(pos('base')).to.be.greaterThan(-1);
    expect(pos('base')).to.be.lessThan(pos('middle'));
    expect(pos('middle')).to.be.lessThan(pos('top'));
    expect((await plugin(host, 'top')).state).to.equal('active');
  });

  it('reports a dependency cycle with its path, and serves on', async function () {
    // switched on, but it cannot run: the CLI (through the running server) says so and exits 1
    const r = host.cli(['plugins', 'enable', 'cyc-x']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/ist eingeschaltet, aber ausgefallen: .*Zyklische Abhängigkeit/);
    await host.stop();
    await host.restart();
    const x = await plugin(host, 'cyc-x');
    expect(x.state).to.equal('failed');
    expect(x.reasons.join(' ')).to.match(/Zyklische Abhängigkeit: cyc-(x|y) → cyc-(x|y) → cyc-(x|y)/);
    expect((await plugin(host, 'cyc-y')).state).to.equal('failed');
    expect((await host.api('GET', '/api/health')).status).to.equal(200);
  });

  it('marks a throwing plugin failed with its error, and disables its dependants with the reason', async function () {
    const t = await plugin(host, 'thrower');
    expect(t.state).to.equal('failed');
    expect(t.reasons.join(' ')).to.contain('Datenbank nicht erreichbar');
    const d = await plugin(host, 'needs-thrower');
    expect(d.state).to.not.equal('active');
    expect(d.reasons.join(' ')).to.match(/thrower/);
  });

  it('gives up on an activate() that hangs, after the timeout', async function () {
    const h = await plugin(host, 'hanger');
    expect(h.state).to.equal('failed');
    expect(h.reasons.join(' ')).to.match(/nicht innerhalb von 1\.5 s/);
  });

  it('explains wrong dependency versions, missing @injectable, and keeps the rest running', async function () {
    expect((await plugin(host, 'wrong-range')).reasons.join(' ')).to.match(/Benötigt „base“ \^2\.0\.0, installiert ist 1\.0\.0/);
    expect((await plugin(host, 'no-injectable')).reasons.join(' ')).to.match(/@injectable/);
    expect((await plugin(host, 'base')).state).to.equal('active');
  });

  it('gives a plugin that ships its own copy of kassenwart the host’s SDK', async function () {
    expect((await plugin(host, 'own-copy')).state).to.equal('active');
  });

  it('activates a lazy plugin only when its action runs', async function () {
    expect((await plugin(host, 'lazy')).state).to.equal('inactive');
    expect(await lifecycle(host)).to.not.include('activate lazy');
    const job = await host.runAction('lazy.hello');
    expect(job.state).to.equal('succeeded');
    expect(job.result?.message).to.equal('Hallo von lazy');
    expect((await plugin(host, 'lazy')).state).to.equal('active');
  });

  it('lets the owner of an extension point see every contribution, and refuses non-dependants', async function () {
    const job = await host.runAction('owner.greet');
    expect(job.result?.message).to.equal('contrib-one:hallo,contrib-two:hallo');
    const sneaky = await plugin(host, 'sneaky');
    expect(sneaky.state).to.equal('failed');
    expect(sneaky.reasons.join(' ')).to.match(/gehört „owner“/);
  });

  it('serves plugin routes under /api/ext/<id> with the host’s auth and error shape', async function () {
    const r = await host.api('GET', '/api/ext/owner/greeters');
    expect(r.status).to.equal(200);
    expect(r.body).to.deep.equal(['contrib-one', 'contrib-two']);
    const echo = await host.api('POST', '/api/ext/owner/echo', { a: 1 });
    expect(echo.body).to.deep.equal({ got: { a: 1 }, user: 'tech' });
    const anon = await fetch(host.url + '/api/ext/owner/greeters');
    expect(anon.status).to.equal(401);
    const missing = await host.api('GET', '/api/ext/owner/nope');
    expect(missing.status).to.equal(404);
    expect(missing.body.error.message).to.match(/gibt es nicht/);
  });

  it('refuses to disable a plugin while enabled dependants exist, and disables them when asked', async function () {
    const refused = await host.api('POST', '/api/plugins/owner/disable');
    expect(refused.status).to.equal(409);
    expect(refused.body.error.message).to.match(/solange .*Test contrib-one.* aktiviert sind/);
    const ok = await host.api('POST', '/api/plugins/owner/disable', { cascade: true });
    expect(ok.status).to.equal(200);
    expect(ok.body.disabled).to.have.members(['owner', 'contrib-one', 'contrib-two', 'sneaky'].filter((x) => x !== 'sneaky'));
    expect((await plugin(host, 'contrib-one')).state).to.equal('disabled');
    expect(await lifecycle(host)).to.include('deactivate owner');
    const actions = (await host.api('GET', '/api/actions')).body as { id: string }[];
    expect(actions.map((a) => a.id)).to.not.include('owner.greet');
  });

  it('enabling pulls in required dependencies', async function () {
    const r = await host.api('POST', '/api/plugins/contrib-one/enable');
    expect(r.status).to.equal(200);
    expect(r.body.enabled).to.have.members(['owner', 'contrib-one']);
    expect((await plugin(host, 'owner')).state).to.equal('active');
    expect((await plugin(host, 'contrib-one')).state).to.equal('active');
    const job = await host.runAction('owner.greet');
    expect(job.result?.message).to.equal('contrib-one:hallo');
  });

  it('deactivates plugins in reverse order on SIGTERM and exits cleanly', async function () {
    const before = (await lifecycle(host)).length;
    const proc = host.process;
    await host.stop();
    expect(proc.exitCode).to.equal(0);
    const log = (await lifecycle(host)).slice(before);
    const deact = log.filter((l) => l.startsWith('deactivate')).map((l) => l.split(' ')[1]);
    expect(deact.indexOf('top')).to.be.lessThan(deact.indexOf('middle'));
    expect(deact.indexOf('middle')).to.be.lessThan(deact.indexOf('base'));
  });
});

describe('changes made with the CLI while the server runs', function () {
  let fixture: FixtureHost;
  before(async function () {
    fixture = await startFixtureHost(async (root) => {
      await writePlugin(root, 'first', manifest('first', { activationEvents: ['onStartup'] }), pluginCode());
    }, { enable: ['first'] });
  });
  after(async function () { await fixture?.dispose(); });

  const until = async (check: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      if (await check()) return true;
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };

  it('applies a plugin folder added and enabled with the CLI, without a restart', async function () {
    const { host } = fixture;
    const extra = await tempDir();
    try {
      await writePlugin(extra, 'later', manifest('later', { activationEvents: ['onStartup'] }), pluginCode());
      expect((await host.cliAsync(['plugins', 'add-folder', extra])).status).to.equal(0);
      expect((await host.cliAsync(['plugins', 'enable', 'later'])).status).to.equal(0);
      expect(await until(async () => (await plugin(host, 'later'))?.state === 'active')).to.equal(true);
      expect((await host.cliAsync(['plugins', 'disable', 'first'])).status).to.equal(0);
      expect(await until(async () => (await plugin(host, 'first'))?.state === 'disabled')).to.equal(true);
      expect(await lifecycle(host)).to.include('deactivate first');
    } finally {
      await removeDir(extra);
    }
  });
});
