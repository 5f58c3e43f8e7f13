/**
 * readManifest, the host's manifest check, called directly on real plugin folders: every rule with the exact
 * German sentence it produces, each rule also shown passing for a manifest that keeps it (so a check that
 * always or never fires is noticed). The end-to-end view (failed plugins listed, nothing loaded) is in
 * manifest.test.ts and guarantees.test.ts.
 */
import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readManifest } from '#host/plugins/manifest.js';
import { tempDir, removeDir } from '#support/tmp.js';

describe('plugin manifests: each rule of readManifest (direct, real folders)', function () {
  let root: string;
  let n = 0;
  before(async () => { root = await tempDir('kw-manifest-units-'); });
  after(async () => { if (root) await removeDir(root); });

  /** A plugin folder with `plugin.json` (object or raw text) and the given files; returns readManifest's answer. */
  async function check(m: Record<string, unknown> | string | undefined, files: string[] = ['index.js'], hostVersion = '1.0.0') {
    const dir = join(root, `p${++n}`);
    await mkdir(dir, { recursive: true });
    if (m !== undefined) await writeFile(join(dir, 'plugin.json'), typeof m === 'string' ? m : JSON.stringify(m));
    for (const f of files) {
      await mkdir(join(dir, f, '..'), { recursive: true });
      await writeFile(join(dir, f), 'export default class {}\n');
    }
    return readManifest(dir, hostVersion);
  }
  const base = (extra: Record<string, unknown> = {}) => ({ id: 'probe', displayName: 'Probe', version: '1.0.0', engines: { kassenwart: '^1.0.0' }, main: 'index.js', ...extra });
  const errorsOf = async (extra: Record<string, unknown>, files?: string[], hostVersion?: string) => (await check(base(extra), files, hostVersion)).errors;
  const contributes = (c: Record<string, unknown>) => ({ contributes: c });

  it('accepts a complete valid manifest and returns it', async () => {
    const r = await check(base(contributes({
      settings: { type: 'object', properties: { n: { type: 'integer', default: 3 }, s: { type: 'string' }, t: { type: 'string', default: 'x' } } },
      actions: [{ id: 'probe.run', title: 'Los' }, { id: 'probe.two', title: 'Zwei' }],
      schedules: [{ id: 'probe.nightly', action: 'probe.run', cron: '0 7 * * *', cronSetting: 'n' }],
      extensionPoints: [{ id: 'probe.targets' }],
      panels: [{ id: 'main', element: 'kw-probe', module: 'ui/panel.js', location: 'maintenance' }, { id: 'two', element: 'kw-two', module: 'ui/two.js', location: 'sidebar' }],
      commands: [{ id: 'probe', description: 'Befehl' }],
    })), ['index.js', 'ui/panel.js', 'ui/two.js']);
    expect(r.errors).to.deep.equal([]);
    expect(r.manifest?.id).to.equal('probe');
    const events = await errorsOf({
      activationEvents: ['onStartup', 'onAction:probe.run', 'onPanel:main', 'onSchedule:probe.nightly', 'onCommand:probe'],
      ...contributes({
        actions: [{ id: 'probe.run', title: 'Los' }], panels: [{ id: 'main', element: 'kw-probe', module: 'index.js', location: 'maintenance' }],
        schedules: [{ id: 'probe.nightly', action: 'probe.run', cron: '0 7 * * *' }], commands: [{ id: 'probe', description: 'B' }],
      }),
    });
    expect(events).to.deep.equal([]);
  });

  it('reports a missing, an unreadable-as-JSON and a schema-invalid plugin.json', async () => {
    expect((await check(undefined)).errors).to.deep.equal(['plugin.json kann nicht gelesen werden (ENOENT).']);
    const broken = await check('{ "id": ');
    expect(broken.errors).to.have.length(1);
    expect(broken.errors[0]).to.match(/^plugin\.json ist kein gültiges JSON: \S/);
    expect(broken.manifest).to.equal(undefined);
    const unknown = await check(base({ colour: 'red' }));
    expect(unknown.errors).to.deep.equal(['plugin.json /colour: unbekannter Schlüssel „colour“']);
    expect(unknown.manifest).to.equal(undefined);
  });

  it('explains a JSON syntax error in German with line and column of its first problem', async () => {
    const msg = (line: number, col: number, what: string) => `plugin.json ist kein gültiges JSON: Zeile ${line}, Spalte ${col}: ${what}.`;
    const cases: Array<[string, string]> = [
      ['{\n  "id": "a",\n}', msg(3, 1, 'hier wird ein Schlüssel in doppelten Anführungszeichen erwartet (steht ein Komma zu viel davor?)')],
      ['{"id" "a"}', msg(1, 7, 'hier wird ein Doppelpunkt erwartet')],
      ['{"id": "a"\n  "b": 1}', msg(2, 3, 'hier fehlt ein Komma')],
      ['{"id": 1} x', msg(1, 11, 'unerwartetes Zeichen „x“')],
      ['{"id": abcdefghijklmnopqrstuvwxyz}', msg(1, 8, 'unerwartetes Zeichen „abcdefghijklmnopqrst“')],
      ['{"id": 1 // Kommentar\n}', msg(1, 10, 'Kommentare sind in plugin.json nicht erlaubt')],
      ['{"id": "\\q"}', msg(1, 8, 'ungültige Escape-Sequenz')],
      ['{"id": "\\u12"}', msg(1, 8, 'ungültige Unicode-Escape-Sequenz')],
      ['{"id": 1.}', msg(1, 8, 'unvollständige Zahl')],
      ['{\n  "a": {\n    "b": 1\n  }', msg(4, 4, 'die Datei endet, bevor das JSON-Objekt vollständig ist (fehlt ein Wert oder eine schließende Klammer „}“?)')],
      ['{"id": [1, 2}', msg(1, 13, 'hier fehlt ein Komma')],
    ];
    for (const [raw, want] of cases) expect((await check(raw)).errors, JSON.stringify(raw)).to.deep.equal([want]);
    expect((await check('  \n\t')).errors).to.deep.equal(['plugin.json ist leer: erwartet wird ein JSON-Objekt.']);
    expect((await check('')).errors).to.deep.equal(['plugin.json ist leer: erwartet wird ein JSON-Objekt.']);
  });

  it('names the plugin of a schema-invalid manifest only by a well-formed id', async () => {
    expect((await check(base({ colour: 'red' }))).id).to.equal('probe');
    for (const id of ['Probe', 'p', 'x'.repeat(41), 'probe!', '1probe', 'pr obe', 42]) {
      const r = await check({ ...base({ colour: 'red' }), id });
      expect(r.id, JSON.stringify(id)).to.equal(undefined);
      expect(r.errors.length, JSON.stringify(id)).to.be.greaterThan(0);
    }
    expect((await check({ ...base({ colour: 'red' }), id: 'a'.repeat(40) })).id).to.equal('a'.repeat(40));
    for (const raw of ['null', '[]', '"probe"']) {
      const r = await check(raw);
      expect([r.id, r.manifest], raw).to.deep.equal([undefined, undefined]);
      expect(r.errors.length, raw).to.be.greaterThan(0);
    }
  });

  it('checks optional dependencies: not on itself, not also required, valid ranges', async () => {
    expect(await errorsOf({ optionalDependencies: { probe: '^1.0.0' } })).to.deep.equal(['Ein Plugin kann nicht optional von sich selbst abhängen.']);
    expect(await errorsOf({ dependencies: { usb: '^1.0.0' }, optionalDependencies: { usb: '^1.0.0' } })).to.deep.equal(['„usb“ steht in dependencies und optionalDependencies; bitte nur einmal angeben.']);
    expect(await errorsOf({ optionalDependencies: { cloud: 'bald' } })).to.deep.equal(['Optionale Abhängigkeit „cloud“: „bald“ ist kein gültiger Versionsbereich.']);
    expect(await errorsOf({ dependencies: { backup: '^1.0.0' }, optionalDependencies: { cloud: '^1.0.0', usb: '>=1' } })).to.deep.equal([]);
  });

  it('checks version and engine range, prereleases of the host included', async () => {
    expect(await errorsOf({ version: 'one.two' })).to.deep.equal(['Version „one.two“ ist keine gültige Semver-Version (z. B. 1.0.0).']);
    expect(await errorsOf({ engines: { kassenwart: 'neu' } })).to.deep.equal(['engines.kassenwart „neu“ ist kein gültiger Versionsbereich.']);
    expect(await errorsOf({ engines: { kassenwart: '^2.0.0' } })).to.deep.equal(['Benötigt Kassenwart ^2.0.0, installiert ist 1.0.0.']);
    expect(await errorsOf({ engines: { kassenwart: '^1.2.0' } }, undefined, '1.2.0-beta.1')).to.deep.equal(['Benötigt Kassenwart ^1.2.0, installiert ist 1.2.0-beta.1.']);
    expect(await errorsOf({ engines: { kassenwart: '^1.1.0-0' } }, undefined, '1.2.0-beta.1')).to.deep.equal([]);
    expect(await errorsOf({ engines: { kassenwart: '>=1.0.0' } }, undefined, '1.3.0-rc.1')).to.deep.equal([]);
  });

  it('checks dependencies: not on itself, valid ranges', async () => {
    expect(await errorsOf({ dependencies: { probe: '^1.0.0' } })).to.deep.equal(['Ein Plugin kann nicht von sich selbst abhängen.']);
    expect(await errorsOf({ dependencies: { other: 'latest!' } })).to.deep.equal(['Abhängigkeit „other“: „latest!“ ist kein gültiger Versionsbereich.']);
    expect(await errorsOf({ dependencies: { other: '^1.0.0', third: '>=2' } })).to.deep.equal([]);
  });

  it('checks main: inside the folder, present, and needed by actions and commands', async () => {
    expect(await errorsOf({ main: '../outside.js' })).to.deep.equal(['main „../outside.js“ liegt außerhalb des Plugin-Ordners.']);
    expect(await errorsOf({ main: '/etc/passwd' })).to.deep.equal(['main „/etc/passwd“ liegt außerhalb des Plugin-Ordners.']);
    expect(await errorsOf({ main: 'dist/index.js' })).to.deep.equal(['main „dist/index.js“ fehlt (Plugin nicht gebaut? „npm run build“ ausführen).']);
    expect(await errorsOf({ main: 'sub/../index.js' })).to.deep.equal([]);
    const noMain = (c: Record<string, unknown>) => check({ ...base(), main: undefined, ...contributes(c) });
    expect((await noMain({ actions: [{ id: 'probe.run', title: 'Los' }] })).errors).to.deep.equal(['Aktionen oder Befehle brauchen ein „main“-Modul, es ist keines angegeben.']);
    expect((await noMain({ commands: [{ id: 'probe', description: 'B' }] })).errors).to.deep.equal(['Aktionen oder Befehle brauchen ein „main“-Modul, es ist keines angegeben.']);
    expect((await noMain({ actions: [], commands: [] })).errors).to.deep.equal([]);
    expect((await noMain({ extensionPoints: [{ id: 'probe.x' }] })).errors).to.deep.equal([]);
  });

  it('checks that ids carry the plugin id, actions are unique, schedules start known actions and name existing settings', async () => {
    expect(await errorsOf(contributes({ actions: [{ id: 'other.run', title: 'X' }] }))).to.deep.equal(['Aktion „other.run“ muss mit „probe.“ beginnen.']);
    expect(await errorsOf(contributes({ actions: [{ id: 'prober.run', title: 'X' }] }))).to.deep.equal(['Aktion „prober.run“ muss mit „probe.“ beginnen.']);
    expect(await errorsOf(contributes({ actions: [{ id: 'probe.run', title: 'X' }, { id: 'probe.run', title: 'Y' }] }))).to.deep.equal(['Aktion „probe.run“ ist doppelt.']);
    expect(await errorsOf(contributes({ actions: [{ id: 'probe.run', title: 'X' }], schedules: [{ id: 'other.s', action: 'probe.run', cron: '0 7 * * *' }] })))
      .to.deep.equal(['Zeitplan „other.s“ muss mit „probe.“ beginnen.']);
    expect(await errorsOf(contributes({ schedules: [{ id: 'probe.s', action: 'probe.nope', cron: '0 7 * * *' }] })))
      .to.deep.equal(['Zeitplan „probe.s“ startet die unbekannte Aktion „probe.nope“.']);
    expect(await errorsOf(contributes({ actions: [{ id: 'probe.run', title: 'X' }], schedules: [{ id: 'probe.s', action: 'probe.run', cron: '0 7 * * *', cronSetting: 'when' }] })))
      .to.deep.equal(['Zeitplan „probe.s“: Einstellung „when“ gibt es nicht.']);
    expect(await errorsOf(contributes({
      settings: { type: 'object', properties: { other: { type: 'string' } } },
      actions: [{ id: 'probe.run', title: 'X' }], schedules: [{ id: 'probe.s', action: 'probe.run', cron: '0 7 * * *', cronSetting: 'when' }],
    }))).to.deep.equal(['Zeitplan „probe.s“: Einstellung „when“ gibt es nicht.']);
    expect(await errorsOf(contributes({ extensionPoints: [{ id: 'other.targets' }] }))).to.deep.equal(['Erweiterungspunkt „other.targets“ muss mit „probe.“ beginnen.']);
  });

  it('checks panels: unique ids, module inside the folder and present', async () => {
    const panel = (id: string, module: string) => ({ id, element: 'kw-probe', module, location: 'maintenance' });
    expect(await errorsOf(contributes({ panels: [panel('a', 'index.js'), panel('a', 'index.js')] }))).to.deep.equal(['Panel „a“ ist doppelt.']);
    expect(await errorsOf(contributes({ panels: [panel('a', '../x.js')] }))).to.deep.equal(['Panel „a“: Modul „../x.js“ liegt außerhalb des Plugin-Ordners.']);
    expect(await errorsOf(contributes({ panels: [panel('a', 'ui/x.js')] }))).to.deep.equal(['Panel „a“: Modul „ui/x.js“ fehlt.']);
  });

  it('checks activation events against what the manifest declares', async () => {
    expect(await errorsOf({ activationEvents: ['onAction:probe.nope'] })).to.deep.equal(['Aktivierungsereignis „onAction:probe.nope“: Aktion gibt es nicht.']);
    expect(await errorsOf({ activationEvents: ['onPanel:nope'] })).to.deep.equal(['Aktivierungsereignis „onPanel:nope“: Panel gibt es nicht.']);
    expect(await errorsOf({ activationEvents: ['onSchedule:probe.nope'] })).to.deep.equal(['Aktivierungsereignis „onSchedule:probe.nope“: Zeitplan gibt es nicht.']);
    expect(await errorsOf({ activationEvents: ['onCommand:nope'] })).to.deep.equal(['Aktivierungsereignis „onCommand:nope“: Befehl gibt es nicht.']);
    // another schedule or command of the same plugin does not make an unknown one known
    expect(await errorsOf({
      activationEvents: ['onSchedule:probe.nope', 'onCommand:nope'],
      ...contributes({ actions: [{ id: 'probe.run', title: 'X' }], schedules: [{ id: 'probe.s', action: 'probe.run', cron: '0 7 * * *' }], commands: [{ id: 'probe', description: 'B' }] }),
    })).to.deep.equal(['Aktivierungsereignis „onSchedule:probe.nope“: Zeitplan gibt es nicht.', 'Aktivierungsereignis „onCommand:nope“: Befehl gibt es nicht.']);
    expect(await errorsOf({ activationEvents: ['onStartup', 'onRoute', '*', 'onExtensionPoint:probe.x'] })).to.deep.equal([]);
  });

  it('checks the settings schema and that each default fits it', async () => {
    const settings = (properties: Record<string, unknown>) => contributes({ settings: { type: 'object', properties } });
    expect(await errorsOf(settings({ n: { type: 'integer', default: 'viele' } }))).to.deep.equal(['Einstellung „n“: Vorgabewert passt nicht zum Schema.']);
    expect(await errorsOf(settings({ n: { type: 'integer', minimum: 1, default: 0 } }))).to.deep.equal(['Einstellung „n“: Vorgabewert passt nicht zum Schema.']);
    expect(await errorsOf(settings({ n: { type: 'integer', minimum: 1, default: 1 }, m: { type: 'string' } }))).to.deep.equal([]);
    const invalid = await errorsOf(settings({ n: { type: 'ganzzahl' } }));
    expect(invalid).to.have.length(1);
    expect(invalid[0]).to.match(/^Einstellungs-Schema ist ungültig: \S/);
  });

  it('collects every problem, not just the first', async () => {
    expect(await errorsOf({
      version: 'one.two', dependencies: { probe: '^1' }, main: 'missing.js',
      ...contributes({ actions: [{ id: 'other.run', title: 'X' }] }),
    })).to.deep.equal([
      'Version „one.two“ ist keine gültige Semver-Version (z. B. 1.0.0).',
      'Ein Plugin kann nicht von sich selbst abhängen.',
      'main „missing.js“ fehlt (Plugin nicht gebaut? „npm run build“ ausführen).',
      'Aktion „other.run“ muss mit „probe.“ beginnen.',
    ]);
  });
});
