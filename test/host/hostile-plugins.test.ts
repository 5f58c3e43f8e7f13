import { expect } from 'chai';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';
import { launch, type Launched } from './launch.js';

/**
 * Plugins that break the process, as real plugin folders in a real `kassenwart start` (supervisor + server):
 * each time the host must come back by itself, serve, and name the plugin — in "Plugins" (GET /api/plugins),
 * in the audit log and in its output.
 */

/** A plugin that serves GET /api/ext/good/ping: the host still does its work for the well-behaved ones. */
async function writeGood(root: string): Promise<void> {
  await writePlugin(root, 'good', manifest('good', { activationEvents: ['onStartup'] }),
    pluginCode(`ctx.registerRoute('GET', '/ping', () => ({ pong: true }));`));
}

type PluginView = { id: string; state: string; enabled: boolean; reasons: string[] };

async function pluginView(l: Launched, id: string): Promise<PluginView> {
  const s = await l.session();
  const list = (await s.api<PluginView[]>('GET', '/api/plugins')).body;
  return list.find((p) => p.id === id)!;
}

/** Polls until the plugin shows as quarantined and the host is healthy again; returns its view. */
async function quarantined(l: Launched, id: string, ms = 120_000): Promise<PluginView> {
  const end = Date.now() + ms;
  for (;;) {
    await l.healthy(ms);
    const v = await pluginView(l, id).catch(() => undefined);
    if (v && v.state === 'disabled' && v.reasons.some((r) => /Automatisch deaktiviert/.test(r))) return v;
    if (Date.now() > end) throw new Error(`${id} not quarantined: ${JSON.stringify(v)}\n${l.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function expectServesAndAudits(l: Launched, id: string, event = 'plugin.quarantine'): Promise<void> {
  const s = await l.session();
  const ping = await s.api('GET', '/api/ext/good/ping');
  expect(ping.status, 'the well-behaved plugin still serves').to.equal(200);
  expect(ping.body).to.deep.equal({ pong: true });
  const audit = (await s.api<{ event: string; target: string; user: string; details: { reason: string } }[]>('GET', '/api/audit')).body;
  const entry = audit.find((a) => a.event === event && a.target === id);
  expect(entry, 'quarantine in the audit log').to.exist;
  expect(entry!.user).to.equal('system');
  expect(entry!.details.reason).to.match(/hat Kassenwart (beendet|blockiert)/);
}

describe('plugins that break the process (real plugin folders, real supervisor)', function () {
  this.timeout(300_000);
  let root: string;
  let host: Launched | undefined;
  beforeEach(async () => { root = await tempDir('kw-hostile-'); });
  afterEach(async () => {
    await host?.stop();
    host = undefined;
    await removeDir(root);
  });

  it('a plugin that calls process.exit(1) at import: the host comes back without it, serves, and names it', async () => {
    await writeGood(root);
    await writePlugin(root, 'exiter', manifest('exiter', { activationEvents: ['onStartup'] }),
      `process.exit(1);\nexport default class P {}\n`);
    host = await launch({ pluginDirs: [root], enable: ['good', 'exiter'] });
    const v = await quarantined(host, 'exiter');
    expect(v.enabled).to.equal(false);
    expect(v.reasons.join(' ')).to.match(/hat Kassenwart beendet \(process\.exit\(1\)/);
    await expectServesAndAudits(host, 'exiter');
    expect(host.output()).to.match(/Plugin „exiter“ wurde deaktiviert; Kassenwart startet ohne das Plugin neu/);
    expect(host.proc.exitCode, 'the supervisor runs on').to.equal(null);

    // enabled again by a technician: the reason is cleared, the plugin runs again — and is caught again
    const s = await host.session();
    // (the request itself may get no answer: the plugin ends the server while it is being activated)
    const enabled = await s.api('POST', '/api/plugins/exiter/enable', {}).then((r) => r.status, () => 'connection closed');
    expect(enabled).to.be.oneOf([200, 'connection closed']);
    await host.waitFor(/Plugin „exiter“ wurde deaktiviert[^]*Plugin „exiter“ wurde deaktiviert/, 60_000);
    const again = await quarantined(host, 'exiter');
    expect(again.reasons.filter((r) => /Automatisch deaktiviert/.test(r)), 'one reason, not a pile').to.have.length(1);
  });

  it('a plugin that busy-loops 5 s in activate() and one that does in a route: the watchdog names each, the host restarts without it', async () => {
    await writeGood(root);
    await writePlugin(root, 'spin-start', manifest('spin-start', { activationEvents: ['onStartup'] }),
      pluginCode(`const end = Date.now() + 5000; while (Date.now() < end) { /* spin */ }`));
    await writePlugin(root, 'spin-route', manifest('spin-route', { activationEvents: ['onStartup'] }),
      pluginCode(`ctx.registerRoute('GET', '/spin', function spinForFiveSeconds() { const end = Date.now() + 5000; while (Date.now() < end) { /* spin */ } return { done: true }; });`));
    host = await launch({ pluginDirs: [root], enable: ['good', 'spin-start', 'spin-route'], env: { KASSENWART_STALL_MS: '2000' } });
    const start = await quarantined(host, 'spin-start');
    expect(start.reasons.join(' ')).to.match(/hat Kassenwart blockiert \(Ereignisschleife \d+,?\.?\d* s blockiert in activate .*spin-start/);
    await expectServesAndAudits(host, 'spin-start');
    expect((await pluginView(host, 'spin-route')).state, 'the route plugin itself is fine until its route is called').to.equal('active');

    const s = await host.session();
    const mark = host.output().length;
    const spun = await s.api('GET', '/api/ext/spin-route/spin').then((r) => r.status, () => 0);
    expect(spun, 'the blocked request never gets its answer').to.not.equal(200);
    const route = await quarantined(host, 'spin-route');
    expect(route.reasons.join(' ')).to.match(/hat Kassenwart blockiert \(Ereignisschleife .* in spinForFiveSeconds .*spin-route/);
    await expectServesAndAudits(host, 'spin-route');
    expect(host.output().slice(mark)).to.match(/Plugin „spin-route“ blockiert Kassenwart/);
  });

  it('a plugin that exhausts the heap at start (server with a small heap): the crash loop is broken, the host serves without it', async () => {
    await writeGood(root);
    await writePlugin(root, 'hog', manifest('hog', { activationEvents: ['onStartup'] }),
      pluginCode(`const keep = []; for (;;) keep.push(new Array(1e6).fill(1.5));`));
    // only the heap limit ends it here (no stall verdict first): KASSENWART_STALL_MS off
    host = await launch({ pluginDirs: [root], enable: ['good', 'hog'], env: { NODE_OPTIONS: '--max-old-space-size=96', KASSENWART_STALL_MS: '0' } });
    const v = await quarantined(host, 'hog');
    expect(v.reasons.join(' ')).to.match(/hat Kassenwart beendet, während es geladen wurde \(der Arbeitsspeicher \(Heap\) war erschöpft/);
    await expectServesAndAudits(host, 'hog');
  });

  it('a plugin whose activate() never answers: the server listens meanwhile, then names the plugin', async () => {
    await writeGood(root);
    await writePlugin(root, 'a-hanger', manifest('a-hanger', { activationEvents: ['onStartup'] }), pluginCode(`await new Promise(() => {});`));
    host = await launch({ pluginDirs: [root], enable: ['good', 'a-hanger'], env: { KASSENWART_ACTIVATION_TIMEOUT_MS: '8000' } });
    // listening while the activation still hangs: the session answers, health says "starting"
    await host.answering();
    const health = await fetch(host.url + '/api/health');
    expect(health.status).to.equal(503);
    expect(await health.json()).to.include({ ok: false, starting: true });
    const s = await host.session();
    const during = (await s.api<PluginView[]>('GET', '/api/plugins')).body.find((p) => p.id === 'a-hanger')!;
    expect(during.state, 'still activating').to.equal('inactive');
    await host.healthy();
    await host.waitFor(/läuft auf http/);
    const after = await pluginView(host, 'a-hanger');
    expect(after.state).to.equal('failed');
    expect(after.reasons.join(' ')).to.match(/activate\(\) hat nicht innerhalb von 8 s geantwortet/);
    expect((await s.api('GET', '/api/ext/good/ping')).status).to.equal(200);
  });
});
