/**
 * The settings registry on a real state database and secret box in a temp folder: defaults, validation as
 * a whole with every German problem, nothing stored on an invalid write, secrets sealed at rest and never in
 * the public view, roles per setting, resets, change events (secrets masked), changes by another process.
 * The HTTP and CLI paths over it are in settings-jobs.test.ts and guarantees.test.ts.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { StateDb } from '#host/state/db.js';
import { SecretBox } from '#host/state/secrets.js';
import { SettingsRegistry, isSecret, type SettingsChange } from '#host/settings/registry.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { rejection } from '#support/rejection.js';

const SCHEMA = {
  type: 'object' as const,
  properties: {
    mode: { type: 'string', enum: ['D', 'X', 'F'], default: 'D', 'x-role': 'operator' },
    path: { type: 'string', default: '/media/usb' },
    keep: { type: 'integer', minimum: 1, maximum: 99, default: 5 },
    tags: { type: 'array', items: { type: 'string' }, default: ['a'] },
    note: { type: 'string' },
    password: { type: 'string', format: 'password' },
    pin: { type: 'integer', format: 'password' },
  },
};

describe('settings registry (real state database and secret box)', function () {
  let dir: string;
  let db: StateDb;
  let box: SecretBox;
  let reg: SettingsRegistry;
  let changes: SettingsChange[];

  beforeEach(async () => {
    dir = await tempDir('kw-settings-units-');
    db = await StateDb.open(join(dir, 'state.sqlite'));
    box = await SecretBox.open(join(dir, 'secret.key'));
    reg = new SettingsRegistry(db, box);
    reg.register('usb', SCHEMA as never);
    changes = [];
    reg.onDidChange((c) => changes.push(c));
  });
  afterEach(async () => {
    db.close();
    await removeDir(dir);
  });

  it('knows its plugins and their schemas; an unknown plugin is a German 404', async () => {
    expect(reg.has('usb')).to.equal(true);
    expect(reg.has('ftp')).to.equal(false);
    expect(reg.plugins()).to.deep.equal(['usb']);
    expect(reg.schema('usb')).to.equal(SCHEMA);
    expect(reg.schema('ftp')).to.equal(undefined);
    const e = await rejection(reg.values('ftp'));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('settings.unknown');
    expect(e.status).to.equal(404);
    expect(e.message).to.equal('Das Plugin „ftp“ hat keine Einstellungen.');
    expect(() => reg.roleFor('ftp', 'x')).to.throw('Das Plugin „ftp“ hat keine Einstellungen.');
  });

  it('fills in defaults, as copies (changing a returned value changes no default)', async () => {
    const v = await reg.values('usb');
    expect(v).to.deep.equal({ mode: 'D', path: '/media/usb', keep: 5, tags: ['a'] });
    (v.tags as string[]).push('b');
    expect((await reg.values('usb')).tags).to.deep.equal(['a']);
    expect(SCHEMA.properties.tags.default).to.deep.equal(['a']);
    expect(reg.cached('usb')).to.deep.equal({ mode: 'D', path: '/media/usb', keep: 5, tags: ['a'] });
  });

  it('stores a valid change and reports it (by whom, before and after, secrets masked)', async () => {
    const c = await reg.set('usb', { mode: 'X', keep: 7, password: 'Sehr-Geheim-1' }, 'tech');
    expect(c).to.deep.equal({
      plugin: 'usb', keys: ['mode', 'keep', 'password'], by: 'tech',
      before: { mode: 'D', keep: 5, password: '(nicht gesetzt)' }, after: { mode: 'X', keep: 7, password: '(gesetzt)' },
    });
    expect(changes).to.deep.equal([c]);
    expect(await reg.values('usb')).to.deep.equal({ mode: 'X', path: '/media/usb', keep: 7, tags: ['a'], password: 'Sehr-Geheim-1' });
    expect(reg.cached('usb')).to.deep.equal({ mode: 'X', path: '/media/usb', keep: 7, tags: ['a'], password: 'Sehr-Geheim-1' });
    const rows = await db.all<{ key: string; changed_by: string; secret: number }>('SELECT key, changed_by, secret FROM settings ORDER BY key');
    expect(rows.map((r) => [r.key, r.changed_by, r.secret])).to.deep.equal([['keep', 'tech', 0], ['mode', 'tech', 0], ['password', 'tech', 1]]);
  });

  it('seals secrets at rest: neither the database rows nor the file hold the plain value', async () => {
    await reg.set('usb', { password: 'Sehr-Geheim-2', pin: 4711 }, 'tech');
    const rows = await db.all<{ key: string; value: string }>('SELECT key, value FROM settings');
    for (const r of rows) {
      expect(r.value).to.not.contain('Sehr-Geheim-2');
      expect(r.value).to.not.contain('4711');
    }
    db.close();
    expect((await readFile(join(dir, 'state.sqlite'))).includes('Sehr-Geheim-2')).to.equal(false);
    db = await StateDb.open(join(dir, 'state.sqlite'));
    const again = new SettingsRegistry(db, await SecretBox.open(join(dir, 'secret.key')));
    again.register('usb', SCHEMA as never);
    expect(await again.values('usb')).to.include({ password: 'Sehr-Geheim-2', pin: 4711 });
  });

  it('shows secrets only as set / not set in the public view', async () => {
    let view = await reg.publicView('usb');
    expect(view.secrets).to.deep.equal({ password: false, pin: false });
    expect(view.values).to.deep.equal({ mode: 'D', path: '/media/usb', keep: 5, tags: ['a'] });
    expect(view.plugin).to.equal('usb');
    expect(view.schema).to.equal(SCHEMA);
    await reg.set('usb', { password: '', pin: 0 }, 'tech');
    view = await reg.publicView('usb');
    expect(view.secrets).to.deep.equal({ password: false, pin: true });
    await reg.set('usb', { password: 'x' }, 'tech');
    view = await reg.publicView('usb');
    expect(view.secrets).to.deep.equal({ password: true, pin: true });
    expect(JSON.stringify(view)).to.not.match(/"password":"x"|"pin":0/);
    expect(view.values).to.not.have.any.keys('password', 'pin');
  });

  it('refuses an invalid change with every problem in German, stores nothing and reports nothing', async () => {
    await reg.set('usb', { note: 'vorher' }, 'tech');
    changes.length = 0;
    const e = await rejection(reg.set('usb', { mode: 'Z', keep: 0, colour: 'rot', note: 'nachher' }, 'tech'));
    expect(e.name).to.equal('UserError');
    expect(e.code).to.equal('settings.invalid');
    expect(e.status).to.equal(400);
    expect(e.hint).to.equal('Bitte die markierten Felder korrigieren und erneut speichern.');
    expect(e.details.map((p: { path: string }) => p.path)).to.deep.equal(['/colour', '/mode', '/keep']);
    expect(e.details[0].message).to.equal('unbekannte Einstellung „colour“');
    expect(e.message).to.match(/^Die Einstellungen wurden nicht gespeichert: colour: unbekannte Einstellung „colour“; mode: .+; keep: .+\.$/);
    expect(e.message).to.not.match(/\.;/);
    expect((await reg.values('usb')).note).to.equal('vorher');
    expect(changes).to.deep.equal([]);
    expect(await reg.check('usb', { keep: 100 })).to.have.length(1);
    expect(await reg.check('usb', { keep: 99, mode: 'F' })).to.deep.equal([]);
  });

  it('names the path of a value of the wrong type; an empty change of valid values has no problem', async () => {
    expect((await reg.check('usb', { keep: 'viele' }))[0].path).to.equal('/keep');
    expect(await reg.check('usb', {})).to.deep.equal([]);
  });

  it('resets a key to its default with null, and removes a key without default', async () => {
    await reg.set('usb', { mode: 'F', note: 'weg damit' }, 'tech');
    const c = await reg.set('usb', { mode: null, note: null }, 'tech');
    expect(c.before).to.deep.equal({ mode: 'F', note: 'weg damit' });
    expect(c.after).to.deep.equal({ mode: 'D', note: undefined });
    expect(await reg.values('usb')).to.deep.equal({ mode: 'D', path: '/media/usb', keep: 5, tags: ['a'] });
    expect(await db.all('SELECT key FROM settings')).to.deep.equal([]);
    expect(await reg.check('usb', { mode: null, note: null })).to.deep.equal([]);
  });

  it('names the role each setting needs: x-role, else technician', () => {
    expect(reg.roleFor('usb', 'mode')).to.equal('operator');
    expect(reg.roleFor('usb', 'path')).to.equal('technician');
    expect(reg.roleFor('usb', 'password')).to.equal('technician');
    expect(reg.roleFor('usb', 'no-such-key')).to.equal('technician');
  });

  it('tells listeners about changes another process made, once, secrets masked; a failing listener stops no one', async () => {
    await reg.values('usb');
    const other = new SettingsRegistry(db, box);
    other.register('usb', SCHEMA as never);
    await other.set('usb', { keep: 9, password: 'neu' }, 'cli');
    reg.onDidChange(() => { throw new Error('listener kaputt'); });
    const late: SettingsChange[] = [];
    const off = reg.onDidChange((c) => late.push(c));
    await reg.reloadExternal('usb');
    expect(changes).to.deep.equal([{ plugin: 'usb', keys: ['keep', 'password'], by: 'extern', before: { keep: 5, password: '(nicht gesetzt)' }, after: { keep: 9, password: '(gesetzt)' }, external: true }]);
    expect(late).to.have.length(1);
    await reg.reloadExternal('usb');
    expect(changes).to.have.length(1);
    off();
    await other.set('usb', { keep: 10 }, 'cli');
    await reg.reloadExternal('usb');
    expect(changes).to.have.length(2);
    expect(late).to.have.length(1);
  });

  it('treats format "password" as secret, nothing else', () => {
    expect(isSecret({ type: 'string', format: 'password' } as never)).to.equal(true);
    expect(isSecret({ type: 'string', format: 'uri' } as never)).to.equal(false);
    expect(isSecret({ type: 'string' } as never)).to.equal(false);
  });
});

describe("settings registry: a plugin's own validator (contributes.settings.validator)", function () {
  let dir: string;
  let pluginDir: string;
  let db: StateDb;
  let reg: SettingsRegistry;
  interface Call { values: Record<string, unknown>; changed: string[] }
  const calls = (): Call[] => (globalThis as any).__kwValidatorCalls;
  const CHECKED = {
    type: 'object' as const,
    validator: './check.js',
    properties: {
      host: { type: 'string', default: 'nas.local' },
      share: { type: 'string', default: 'kasse' },
      keep: { type: 'integer', minimum: 1, default: 5 },
      note: { type: 'string' },
    },
  };

  beforeEach(async () => {
    dir = await tempDir('kw-settings-validator-');
    pluginDir = join(dir, 'plugin');
    await mkdir(pluginDir, { recursive: true });
    // refuses a host with a space, and (always) complains about "share": only problems of changed keys count
    await writeFile(join(pluginDir, 'check.js'), `export default (values, { changed }) => {
      globalThis.__kwValidatorCalls.push({ values: { ...values }, changed: [...changed] });
      const out = [{ key: 'share', message: 'Freigabe nicht erreichbar' }];
      if (String(values.host).includes(' ')) out.push({ key: 'host', message: 'Rechnername ohne Leerzeichen angeben' });
      return out;
    };\n`);
    await writeFile(join(pluginDir, 'throws.js'), 'export default () => { throw new Error("NAS antwortet nicht"); };\n');
    (globalThis as any).__kwValidatorCalls = [];
    db = await StateDb.open(join(dir, 'state.sqlite'));
    reg = new SettingsRegistry(db, await SecretBox.open(join(dir, 'secret.key')));
    reg.register('nas', CHECKED as never, pluginDir);
  });
  afterEach(async () => {
    db.close();
    await removeDir(dir);
  });

  it('asks it about the keys being set, with the merged values; its problem refuses the change in German, nothing stored', async () => {
    await reg.set('nas', { keep: 7, note: 'Büro' }, 'tech');
    expect(calls().at(-1)).to.deep.equal({ values: { host: 'nas.local', share: 'kasse', keep: 7, note: 'Büro' }, changed: ['keep', 'note'] });
    const e = await rejection(reg.set('nas', { host: 'nas 2' }, 'tech'));
    expect([e.code, e.status, e.message]).to.deep.equal(['settings.invalid', 400, 'Die Einstellungen wurden nicht gespeichert: host: Rechnername ohne Leerzeichen angeben.']);
    expect(e.details).to.deep.equal([{ path: '/host', message: 'Rechnername ohne Leerzeichen angeben' }]);
    expect(calls().at(-1)).to.deep.equal({ values: { host: 'nas 2', share: 'kasse', keep: 7, note: 'Büro' }, changed: ['host'] });
    expect((await reg.values('nas')).host, 'nothing stored').to.equal('nas.local');
  });

  it('a reset (null) is not asked about, and the validator sees the default (or no value) for it', async () => {
    await reg.set('nas', { keep: 7, note: 'Büro' }, 'tech');
    const n = calls().length;
    await reg.set('nas', { keep: null, note: null }, 'tech');
    expect(calls().length, 'a change that only resets is not checked').to.equal(n);
    await reg.set('nas', { keep: 9 }, 'tech');
    await reg.set('nas', { keep: null, host: 'nas2.local' }, 'tech');
    expect(calls().at(-1)).to.deep.equal({ values: { host: 'nas2.local', share: 'kasse', keep: 5 }, changed: ['host'] });
    expect(await reg.values('nas')).to.include({ host: 'nas2.local', keep: 5 });
  });

  it('is not asked when the schema or the text already refuses the change', async () => {
    const n = calls().length;
    expect((await rejection(reg.set('nas', { keep: 0 }, 'tech'))).code).to.equal('settings.invalid');
    expect((await rejection(reg.set('nas', { host: 'a\uD800b' }, 'tech'))).code).to.equal('settings.invalid');
    expect(calls().length).to.equal(n);
  });

  it('a validator that fails, is missing or lies outside the plugin folder: a German refusal, nothing stored', async () => {
    const cases: Array<[string, RegExp]> = [
      ['./throws.js', /^Die Einstellungen von „nas“ konnten nicht geprüft werden: NAS antwortet nicht$/],
      ['./fehlt.js', /^Die Einstellungen von „nas“ konnten nicht geprüft werden: /],
      ['../check.js', /^Die Einstellungen von „nas“ konnten nicht geprüft werden: Prüfmodul „\.\.\/check\.js“ liegt außerhalb des Plugin-Ordners\.$/],
    ];
    for (const [validator, message] of cases) {
      reg.register('nas', { ...CHECKED, validator } as never, pluginDir);
      const e = await rejection(reg.set('nas', { host: 'nas3.local' }, 'tech'));
      expect([e.code, e.status, e.hint], validator).to.deep.equal(['settings.validator', 400, 'Nichts wurde gespeichert. Das Plugin neu installieren oder den Support anrufen.']);
      expect(e.message, validator).to.match(message);
      expect((await reg.values('nas')).host, validator).to.equal('nas.local');
    }
  });

  it('without the plugin folder (settings registered by the host itself) no validator is loaded', async () => {
    reg.register('bare', CHECKED as never);
    await reg.set('bare', { host: 'mit leerzeichen' }, 'tech');
    expect(calls()).to.deep.equal([]);
    expect((await reg.values('bare')).host).to.equal('mit leerzeichen');
  });
});
