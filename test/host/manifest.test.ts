import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';

/** Each malformed manifest, and a piece of the German reason the host must give for it. */
const BAD: [string, Record<string, unknown> | string, RegExp][] = [
  ['not-json', '{ "id": "not-json", ', /kein gültiges JSON/],
  ['empty-object', {}, /id/],
  ['missing-version', { id: 'missing-version', displayName: 'x', engines: { kassenwart: '^1.0.0' } }, /version/],
  ['missing-engines', { id: 'missing-engines', displayName: 'x', version: '1.0.0' }, /engines/],
  ['unknown-key', manifest('unknown-key', { colour: 'red' }), /unbekannter Schlüssel „colour“/],
  ['unknown-nested-key', manifest('unknown-nested-key', { engines: { kassenwart: '^1.0.0', node: '20' } }), /unbekannter Schlüssel „node“/],
  ['bad-id', manifest('Bad_ID'), /\/id/],
  ['bad-version', manifest('bad-version', { version: 'one.two' }), /keine gültige Semver-Version/],
  ['bad-engine-range', manifest('bad-engine-range', { engines: { kassenwart: 'neueste' } }), /kein gültiger Versionsbereich/],
  ['engine-too-new', manifest('engine-too-new', { engines: { kassenwart: '^2.0.0' } }), /Benötigt Kassenwart \^2\.0\.0, installiert ist 1\./],
  ['main-missing', manifest('main-missing', { main: 'nowhere.js' }), /main „nowhere\.js“ fehlt/],
  ['main-outside', manifest('main-outside', { main: '../../etc/passwd' }), /außerhalb des Plugin-Ordners/],
  ['bad-activation-event', manifest('bad-activation-event', { activationEvents: ['onMoonrise'] }), /activationEvents/],
  ['action-wrong-prefix', manifest('action-wrong-prefix', { contributes: { actions: [{ id: 'other.run', title: 'X' }] } }), /muss mit „action-wrong-prefix\.“ beginnen/],
  ['action-no-title', manifest('action-no-title', { contributes: { actions: [{ id: 'action-no-title.run' }] } }), /title/],
  ['action-bad-role', manifest('action-bad-role', { contributes: { actions: [{ id: 'action-bad-role.run', title: 'X', role: 'admin' }] } }), /role/],
  ['panel-bad-element', manifest('panel-bad-element', { contributes: { panels: [{ id: 'p', element: 'nodash', module: 'index.js', location: 'maintenance' }] } }), /element/],
  ['panel-module-missing', manifest('panel-module-missing', { contributes: { panels: [{ id: 'p', element: 'kw-x', module: 'ui/x.js', location: 'maintenance' }] } }), /Modul „ui\/x\.js“ fehlt/],
  ['panel-bad-location', manifest('panel-bad-location', { contributes: { panels: [{ id: 'p', element: 'kw-x', module: 'index.js', location: 'footer' }] } }), /location/],
  ['schedule-unknown-action', manifest('schedule-unknown-action', { contributes: { schedules: [{ id: 'schedule-unknown-action.s', action: 'schedule-unknown-action.nope', cron: '0 7 * * *' }] } }), /unbekannte Aktion/],
  ['settings-not-object', manifest('settings-not-object', { contributes: { settings: { type: 'array', properties: {} } } }), /settings/],
  ['settings-bad-default', manifest('settings-bad-default', { contributes: { settings: { type: 'object', properties: { n: { type: 'integer', default: 'viele' } } } } }), /Vorgabewert passt nicht/],
  ['dependency-bad-range', manifest('dependency-bad-range', { dependencies: { other: 'latest!' } }), /kein gültiger Versionsbereich/],
  ['self-dependency', manifest('self-dependency', { dependencies: { 'self-dependency': '^1.0.0' } }), /von sich selbst abhängen/],
  ['audit-name-not-text', manifest('audit-name-not-text', { contributes: { auditEvents: { 'password.reveal': 42 } } }), /auditEvents/],
  ['audit-bad-event-key', manifest('audit-bad-event-key', { contributes: { auditEvents: { 'Passwort zeigen!': 'Passwort angezeigt' } } }), /auditEvents/],
  ['actions-not-array', manifest('actions-not-array', { contributes: { actions: { id: 'x' } } }), /actions/],
];

describe('plugin manifests', function () {
  let root: string;
  let host: TestHost;
  let builtin: string;

  before(async function () {
    root = await tempDir();
    builtin = await tempDir();
    for (const [folder, m] of BAD) await writePlugin(root, folder, m, pluginCode());
    await writePlugin(root, 'good', manifest('good', { activationEvents: ['onStartup'] }), pluginCode());
    host = await startTestHost({ pluginDirs: [root], enable: ['good'], env: { KASSENWART_BUILTIN_DIR: builtin } });
  });
  after(async function () {
    await host?.stop();
    await removeDir(root);
    await removeDir(builtin);
  });

  it(`reports each of ${BAD.length} malformed manifests as failed with its reason, and keeps serving`, async function () {
    const r = await host.api('GET', '/api/plugins');
    expect(r.status).to.equal(200);
    const list = r.body as { id: string; dir: string; state: string; reasons: string[] }[];
    for (const [folder, , reason] of BAD) {
      const p = list.find((x) => x.dir.endsWith('/' + folder));
      expect(p, `plugin folder ${folder} listed`).to.exist;
      expect(p!.state, folder).to.equal('failed');
      expect(p!.reasons.join(' '), folder).to.match(reason);
    }
    const good = list.find((x) => x.id === 'good');
    expect(good?.state).to.equal('active');
    expect((await host.api('GET', '/api/health')).body.ok).to.equal(true);
  });

  it('activates no plugin whose manifest is bad (its activate() log; code run at import: guarantees.test.ts)', async function () {
    const { readFile } = await import('node:fs/promises');
    const log = await readFile(`${host.dataDir}/lifecycle.log`, 'utf8');
    expect(log.trim().split('\n')).to.deep.equal(['activate good']);
  });

  it('lists the failed plugins with their reasons on the CLI too', function () {
    const r = host.cli(['plugins', 'list', '--json']);
    expect(r.status).to.equal(0);
    const list = JSON.parse(r.stdout) as { dir: string; state: string; reasons: string[] }[];
    expect(list.filter((p) => p.state === 'failed')).to.have.length(BAD.length);
  });
});
