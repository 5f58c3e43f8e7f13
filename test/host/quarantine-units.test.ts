/**
 * "One bad plugin must not take the host down" (issue 11.8), its decisions in the test process: who the
 * supervisor blames for a process that died or stalled (host/src/plugins/quarantine.ts blame(), from the evidence
 * only), how a quarantine is stored in a real state database (disabled, reason, audit), and the crash evidence
 * itself (host/src/plugins/activity.ts: the activity file a dying process leaves, the first-wins verdict, evidence
 * of another process never misread, which plugin folder a stack frame belongs to). Real files, a real StateDb;
 * nothing replaced. The same rules end to end — real plugins that exit, busy-loop, exhaust the heap or never
 * answer, under the real supervisor — are in hostile-plugins.test.ts; this file exists so mutation testing
 * (host-quarantine) can see the code. installExitEvidence (it wraps process.exit) is not called here.
 */
import { expect } from 'chai';
import { mkdir, readFile, symlink, writeFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { blame, quarantine, quarantineIn, quarantines, clearQuarantine, type Culprit } from '#host/plugins/quarantine.js';
import {
  PluginActivity, writeVerdict, readEvidence, clearEvidence, pluginDirs, ownerOf, culpritOfStack,
  ACTIVITY_FILE, VERDICT_FILE, type ActivityRecord, type Verdict, type PluginDir,
} from '#host/plugins/activity.js';
import { processStart } from '#host/state/file-lock.js';
import { StateDb } from '#host/state/db.js';
import { tempDir, removeDir } from '#support/tmp.js';

/** The locale date and time blame() puts into a reason (de-DE, e.g. "2.12.2026, 03:25:52"). */
const WHEN = String.raw`\d{1,2}\.\d{1,2}\.\d{4}, \d{1,2}:\d{2}:\d{2}`;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A reason as blame() builds it: `before` + "; <date>)" + the closing advice. */
const reason = (before: string) => new RegExp('^' + esc(before) + '; ' + WHEN + esc('). Erst nach Rücksprache mit dem Hersteller des Plugins wieder aktivieren.') + '$');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const HEAP = 'der Arbeitsspeicher (Heap) war erschöpft oder der Prozess wurde abgebrochen';

const START = processStart(process.pid);

function activity(loading: [string, boolean][] = [], inFlight: [string, boolean, number][] = []): ActivityRecord {
  return {
    pid: 4242, start: '99', listening: true,
    loading: loading.map(([plugin, builtin]) => ({ plugin, builtin, phase: 'activate', since: '2026-12-01T07:00:00.000Z' })),
    inFlight: inFlight.map(([plugin, builtin, count]) => ({ plugin, builtin, count })),
  };
}
function verdict(kind: Verdict['kind'], plugin = 'acme-export', builtin = false): Verdict {
  return {
    pid: 4242, start: '99', plugin, builtin, kind, detail: 'process.exit(1) in file:///p/acme-export/dist/index.js:3:9',
    frames: ['at Object.run (file:///p/acme-export/dist/index.js:3:9)'], at: '2026-12-01T07:00:00.000Z',
  };
}

describe('host: who is blamed when the process dies or stalls (blame, in-process)', () => {
  it('a verdict wins: stall → "hat Kassenwart blockiert", with the plugin, its builtin flag and the evidence', () => {
    const c = blame({ verdict: verdict('stall'), activity: activity([['other', false]]) }, null, 'SIGKILL')!;
    expect(c.plugin).to.equal('acme-export');
    expect(c.builtin).to.equal(false);
    expect(c.kind).to.equal('stall');
    expect(c.reason).to.match(reason('Automatisch deaktiviert: das Plugin hat Kassenwart blockiert (process.exit(1) in file:///p/acme-export/dist/index.js:3:9'));
    expect(c.details).to.deep.equal({
      detail: 'process.exit(1) in file:///p/acme-export/dist/index.js:3:9',
      frames: ['at Object.run (file:///p/acme-export/dist/index.js:3:9)'], code: null, signal: 'SIGKILL',
    });
  });

  it('a verdict wins: exit and exception → "hat Kassenwart beendet"; a built-in caught in the act is blamed too', () => {
    for (const kind of ['exit', 'exception'] as const) {
      const c = blame({ verdict: verdict(kind, 'backup', true) }, 1, null)!;
      expect(c).to.include({ plugin: 'backup', builtin: true, kind });
      expect(c.reason).to.match(reason('Automatisch deaktiviert: das Plugin hat Kassenwart beendet (process.exit(1) in file:///p/acme-export/dist/index.js:3:9'));
      expect(c.details).to.deep.include({ code: 1, signal: null });
    }
  });

  it('a verdict wins even over SIGTERM and SIGINT (the watchdog or the supervisor ended the process)', () => {
    for (const signal of ['SIGTERM', 'SIGINT']) expect(blame({ verdict: verdict('stall') }, null, signal)?.plugin).to.equal('acme-export');
  });

  it('without a verdict, SIGKILL, SIGTERM and SIGINT (from outside, the OOM killer) blame nobody, even while a plugin was loading or busy', () => {
    for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT']) {
      expect(blame({ activity: activity([['acme-export', false]]) }, null, signal), signal).to.equal(undefined);
      expect(blame({ activity: activity([], [['acme-export', false, 1]]) }, null, signal), signal).to.equal(undefined);
    }
  });

  it('no evidence at all, or an activity file with nothing going on: nobody', () => {
    expect(blame({}, 1, null)).to.equal(undefined);
    expect(blame({}, null, 'SIGABRT')).to.equal(undefined);
    expect(blame({ activity: activity() }, 134, null)).to.equal(undefined);
  });

  it('exactly one plugin loading: that plugin (a built-in too), kind crash, with how the process ended', () => {
    const loading = (before: string) => reason(`Automatisch deaktiviert: das Plugin hat Kassenwart beendet, während es geladen wurde (${before}`);
    const a = blame({ activity: activity([['acme-export', false]]) }, null, 'SIGABRT')!;
    expect(a).to.include({ plugin: 'acme-export', builtin: false, kind: 'crash' });
    expect(a.reason).to.match(loading(HEAP));
    expect(a.details).to.deep.equal({ phase: 'activate', code: null, signal: 'SIGABRT' });

    const b = blame({ activity: activity([['backup', true]]) }, 134, null)!;
    expect(b).to.include({ plugin: 'backup', builtin: true, kind: 'crash' });
    expect(b.reason).to.match(loading(HEAP));
    expect(b.details).to.deep.equal({ phase: 'activate', code: 134, signal: null });

    expect(blame({ activity: activity([['acme-export', false]]) }, null, 'SIGSEGV')!.reason).to.match(loading('Signal SIGSEGV'));
    expect(blame({ activity: activity([['acme-export', false]]) }, 1, null)!.reason).to.match(loading('Exit-Code 1'));
    // the plugin being loaded wins over one with a request in flight
    expect(blame({ activity: activity([['acme-export', false]], [['other', false, 1]]) }, 1, null)!.plugin).to.equal('acme-export');
  });

  it('two plugins loading: nobody (even with one third-party plugin in flight)', () => {
    expect(blame({ activity: activity([['a', false], ['b', false]]) }, 1, null)).to.equal(undefined);
    expect(blame({ activity: activity([['a', false], ['b', false]], [['c', false, 1]]) }, null, 'SIGABRT')).to.equal(undefined);
  });

  it('nothing loading and exactly one third-party plugin in flight: that plugin, with how many runs it had', () => {
    const c = blame({ activity: activity([], [['acme-export', false, 2]]) }, null, 'SIGABRT')!;
    expect(c).to.include({ plugin: 'acme-export', builtin: false, kind: 'crash' });
    expect(c.reason).to.match(reason(`Automatisch deaktiviert: das Plugin hat Kassenwart beendet, während es eine Anfrage oder Aktion bearbeitete (${HEAP}`));
    expect(c.details).to.deep.equal({ inFlight: 2, code: null, signal: 'SIGABRT' });
    expect(blame({ activity: activity([], [['acme-export', false, 1]]) }, 3, null)!.reason).to.contain('(Exit-Code 3; ');
  });

  it('a built-in in flight (a backup running while something else exhausts the heap), or two in flight: nobody', () => {
    expect(blame({ activity: activity([], [['backup', true, 1]]) }, null, 'SIGABRT')).to.equal(undefined);
    expect(blame({ activity: activity([], [['a', false, 1], ['b', false, 1]]) }, null, 'SIGABRT')).to.equal(undefined);
    expect(blame({ activity: activity([], [['a', false, 1], ['backup', true, 1]]) }, null, 'SIGABRT')).to.equal(undefined);
  });
});

describe('host: quarantine in the state database (real StateDb on a temp file)', () => {
  let dir: string;
  let db: StateDb;
  beforeEach(async () => { dir = await tempDir('kw-quar-'); db = await StateDb.open(join(dir, 'state.sqlite')); });
  afterEach(async () => { db.close(); await removeDir(dir); });

  const culprit = (plugin = 'acme-export'): Culprit => ({
    plugin, builtin: false, kind: 'stall', reason: 'Automatisch deaktiviert: das Plugin hat Kassenwart blockiert (x).',
    details: { detail: 'x', frames: ['at f (/p/a.js:1:2)'], code: null, signal: 'SIGKILL' },
  });
  const state = async (d: StateDb, plugin: string) => ({
    enablement: await d.all<{ enabled: number; changed_at: string }>('SELECT enabled, changed_at FROM plugin_enablement WHERE plugin = ?', [plugin]),
    meta: await d.all<{ value: string }>('SELECT value FROM meta WHERE key = ?', ['quarantine:' + plugin]),
    audit: await d.all<{ at: string; user: string; event: string; target: string; details: string }>(
      "SELECT at, user, event, target, details FROM audit WHERE event = 'plugin.quarantine' AND target = ?", [plugin]),
  });

  it('disables the plugin, stores the reason as meta quarantine:<id>, and audits it as "system" — all at one time', async () => {
    const before = Date.now();
    await quarantine(db, culprit());
    // read through a second connection: what was persisted, not the in-memory copy
    const other = await StateDb.open(db.path);
    try {
      const s = await state(other, 'acme-export');
      expect(s.enablement).to.have.length(1);
      expect(s.enablement[0].enabled).to.equal(0);
      const at = s.enablement[0].changed_at;
      expect(at).to.match(ISO);
      expect(Date.parse(at)).to.be.within(before, Date.now());
      expect(JSON.parse(s.meta[0].value)).to.deep.equal({
        reason: culprit().reason, at, kind: 'stall', details: culprit().details,
      });
      expect(s.audit).to.have.length(1);
      expect(s.audit[0]).to.include({ at, user: 'system', event: 'plugin.quarantine', target: 'acme-export' });
      expect(JSON.parse(s.audit[0].details)).to.deep.equal({ reason: culprit().reason, kind: 'stall', ...culprit().details });
    } finally { other.close(); }
  });

  it('an enabled plugin is switched off; a second quarantine replaces the reason and audits again', async () => {
    await db.write((tx) => tx.run("INSERT INTO plugin_enablement (plugin, enabled, changed_at) VALUES ('acme-export', 1, '2026-01-01T00:00:00.000Z')"));
    await quarantine(db, culprit());
    await quarantine(db, { ...culprit(), kind: 'crash', reason: 'zweiter Grund', details: { inFlight: 1 } });
    const s = await state(db, 'acme-export');
    expect(s.enablement).to.have.length(1);
    expect(s.enablement[0].enabled).to.equal(0);
    expect(s.enablement[0].changed_at).to.not.equal('2026-01-01T00:00:00.000Z');
    expect(s.meta).to.have.length(1);
    expect(JSON.parse(s.meta[0].value)).to.include({ reason: 'zweiter Grund', kind: 'crash' });
    expect(s.audit).to.have.length(2);
  });

  it('quarantines() lists every record by plugin id, skips an unreadable one and other meta rows', async () => {
    await quarantine(db, culprit('acme-export'));
    await quarantine(db, culprit('foto-sync'));
    await db.write((tx) => {
      tx.run("INSERT INTO meta (key, value) VALUES ('quarantine:kaputt', '{nicht json')");
      tx.run("INSERT INTO meta (key, value) VALUES ('schema-note', '{\"reason\":\"x\"}')");
    });
    const q = await quarantines(db);
    expect([...q.keys()].sort()).to.deep.equal(['acme-export', 'foto-sync']);
    expect(q.get('foto-sync')).to.include({ reason: culprit().reason, kind: 'stall' });
    expect(q.get('foto-sync')!.at).to.match(ISO);
  });

  it('clearQuarantine() removes that plugin\'s record only (it stays disabled until enabled), and keeps the others', async () => {
    await quarantine(db, culprit('acme-export'));
    await quarantine(db, culprit('foto-sync'));
    await clearQuarantine(db, 'acme-export');
    expect([...(await quarantines(db)).keys()]).to.deep.equal(['foto-sync']);
    const other = await StateDb.open(db.path);
    try { expect([...(await quarantines(other)).keys()], 'persisted').to.deep.equal(['foto-sync']); } finally { other.close(); }
  });

  it('clearQuarantine() for a plugin without a record writes nothing (enabling any plugin calls it)', async () => {
    await quarantine(db, culprit('foto-sync'));
    const file = db.path;
    const before = await stat(file);
    const other = await StateDb.open(file);
    try {
      await clearQuarantine(db, 'acme-export');
      await clearQuarantine(db, 'quarantine:foto');
      await other.all('SELECT 1');
      expect(other.externalChanges, 'the database file was not rewritten').to.equal(0);
      expect((await stat(file)).ino).to.equal(before.ino);
      expect([...(await quarantines(db)).keys()]).to.deep.equal(['foto-sync']);
    } finally { other.close(); }
  });

  it('quarantineIn(dataDir) opens the data folder\'s state.sqlite itself (the supervisor has no kernel)', async () => {
    const dataDir = await tempDir('kw-quar-in-');
    try {
      await quarantineIn(dataDir, culprit('acme-export'));
      await quarantineIn(dataDir, culprit('foto-sync')); // the first one released the lock
      const d = await StateDb.open(join(dataDir, 'state.sqlite'));
      try {
        expect([...(await quarantines(d)).keys()].sort()).to.deep.equal(['acme-export', 'foto-sync']);
        expect((await state(d, 'acme-export')).enablement[0].enabled).to.equal(0);
      } finally { d.close(); }
    } finally { await removeDir(dataDir); }
  });
});

describe('host: crash evidence files (PluginActivity, verdicts, in-process)', () => {
  let dir: string;
  beforeEach(async () => { dir = await tempDir('kw-evidence-'); });
  afterEach(async () => { await removeDir(dir); });
  const file = async (): Promise<ActivityRecord> => JSON.parse(await readFile(join(dir, ACTIVITY_FILE), 'utf8'));

  it('a new PluginActivity writes its file at once: this pid and start time, nothing going on, not listening', async () => {
    new PluginActivity(dir);
    expect(await file()).to.deep.equal({ pid: process.pid, start: START, listening: false, loading: [], inFlight: [] });
    expect(START, 'this machine has /proc').to.be.a('string');
  });

  it('load(): the plugin is in the file while it loads and gone when done; done() twice does not end a later load', async () => {
    const a = new PluginActivity(dir);
    const done = a.load('acme-export', false, 'import');
    const rec = await file();
    expect(rec.loading).to.have.length(1);
    expect(rec.loading[0]).to.include({ plugin: 'acme-export', builtin: false, phase: 'import' });
    expect(rec.loading[0].since).to.match(ISO);
    const done2 = a.load('backup', true, 'activate');
    expect((await file()).loading.map((l) => [l.plugin, l.builtin, l.phase])).to.deep.equal([['acme-export', false, 'import'], ['backup', true, 'activate']]);
    done();
    expect((await file()).loading.map((l) => l.plugin)).to.deep.equal(['backup']);
    done2();
    expect((await file()).loading).to.deep.equal([]);
    const again = a.load('acme-export', false, 'activate');
    done(); // a stale done() of the first load
    expect((await file()).loading.map((l) => l.plugin), 'idempotent done').to.deep.equal(['acme-export']);
    again();
    expect((await file()).loading).to.deep.equal([]);
  });

  it('run(): counts runs per plugin; one done → count 1, both → gone; done() twice counts once', async () => {
    const a = new PluginActivity(dir);
    const r1 = a.run('acme-export', false);
    const r2 = a.run('acme-export', false);
    const b = a.run('backup', true);
    expect((await file()).inFlight).to.deep.equal([{ plugin: 'acme-export', builtin: false, count: 2 }, { plugin: 'backup', builtin: true, count: 1 }]);
    r1();
    r1();
    expect((await file()).inFlight).to.deep.equal([{ plugin: 'acme-export', builtin: false, count: 1 }, { plugin: 'backup', builtin: true, count: 1 }]);
    r2();
    expect((await file()).inFlight).to.deep.equal([{ plugin: 'backup', builtin: true, count: 1 }]);
    b();
    expect((await file()).inFlight).to.deep.equal([]);
    const r3 = a.run('acme-export', false);
    expect((await file()).inFlight).to.deep.equal([{ plugin: 'acme-export', builtin: false, count: 1 }]);
    r3();
  });

  it('setListening() is recorded; loading and runs kept', async () => {
    const a = new PluginActivity(dir);
    a.run('acme-export', false);
    a.setListening();
    const rec = await file();
    expect(rec.listening).to.equal(true);
    expect(rec.inFlight).to.have.length(1);
  });

  it('without a data folder (the CLI) no file is written; a folder that is gone does not throw', async () => {
    const cli = new PluginActivity();
    cli.load('acme-export', false, 'import')();
    cli.run('acme-export', false)();
    cli.setListening();
    expect(existsSync(join(process.cwd(), ACTIVITY_FILE))).to.equal(false);
    const gone = new PluginActivity(join(dir, 'gone'));
    gone.load('acme-export', false, 'import')();
    expect(existsSync(join(dir, 'gone'))).to.equal(false);
  });

  it('the activity file is what readEvidence gives the supervisor for this pid', async () => {
    const a = new PluginActivity(dir);
    a.load('acme-export', false, 'activate');
    const ev = readEvidence(dir, process.pid, START);
    expect(ev.activity?.loading.map((l) => l.plugin)).to.deep.equal(['acme-export']);
    expect(ev.verdict).to.equal(undefined);
    expect(blame(ev, null, 'SIGABRT')?.plugin).to.equal('acme-export');
  });

  const caught = { plugin: 'acme-export', builtin: false, kind: 'exit' as const, detail: 'process.exit(1) in a.js:1:1', frames: ['at a.js:1:1'] };

  it('writeVerdict: the first verdict of this process wins, with pid, start and time', async () => {
    writeVerdict(dir, caught);
    writeVerdict(dir, { ...caught, plugin: 'foto-sync', kind: 'stall' });
    const v = JSON.parse(await readFile(join(dir, VERDICT_FILE), 'utf8')) as Verdict;
    expect(v).to.deep.include({ pid: process.pid, start: START, ...caught });
    expect(v.at).to.match(ISO);
    expect(readEvidence(dir, process.pid, START).verdict?.plugin).to.equal('acme-export');
  });

  it('writeVerdict: a verdict left by another process (other pid, or the same pid started at another time) is replaced', async () => {
    for (const old of [{ pid: process.pid + 100000, start: START }, { pid: process.pid, start: 'not-now' }]) {
      await writeFile(join(dir, VERDICT_FILE), JSON.stringify({ ...old, plugin: 'old', builtin: false, kind: 'exit', detail: 'd', at: 'x' }));
      writeVerdict(dir, caught);
      const v = JSON.parse(await readFile(join(dir, VERDICT_FILE), 'utf8')) as Verdict;
      expect(v).to.include({ pid: process.pid, plugin: 'acme-export' });
    }
  });

  it('writeVerdict: a data folder that is gone does not throw (best effort in a dying process)', () => {
    writeVerdict(join(dir, 'gone'), caught);
    expect(existsSync(join(dir, 'gone'))).to.equal(false);
  });

  it('readEvidence: only the process with this pid — and start time, when both are known — is read', async () => {
    const put = (name: string, v: object) => writeFile(join(dir, name), JSON.stringify(v));
    await put(ACTIVITY_FILE, { ...activity([['a', false]]), pid: 77, start: '500' });
    await put(VERDICT_FILE, { ...verdict('exit'), pid: 77, start: '500' });
    expect(readEvidence(dir, 77, '500').activity?.loading[0].plugin).to.equal('a');
    expect(readEvidence(dir, 77, '500').verdict?.plugin).to.equal('acme-export');
    expect(readEvidence(dir, 77).verdict?.plugin, 'start unknown to the caller').to.equal('acme-export');
    expect(readEvidence(dir, 78, '500')).to.deep.equal({ activity: undefined, verdict: undefined });
    expect(readEvidence(dir, 78)).to.deep.equal({ activity: undefined, verdict: undefined });
    expect(readEvidence(dir, 77, '501'), 'pid reused by a later process').to.deep.equal({ activity: undefined, verdict: undefined });
    await put(VERDICT_FILE, { ...verdict('exit'), pid: 77, start: undefined });
    expect(readEvidence(dir, 77, '501').verdict?.plugin, 'start unknown in the file').to.equal('acme-export');
  });

  it('readEvidence: a broken or missing file is no evidence; the other file is still read', async () => {
    expect(readEvidence(dir, 77)).to.deep.equal({ activity: undefined, verdict: undefined });
    await writeFile(join(dir, ACTIVITY_FILE), '{"pid": 77, "loading": [');
    await writeFile(join(dir, VERDICT_FILE), JSON.stringify({ ...verdict('stall'), pid: 77 }));
    const ev = readEvidence(dir, 77);
    expect(ev.activity).to.equal(undefined);
    expect(ev.verdict?.kind).to.equal('stall');
  });

  it('clearEvidence removes both files, and is quiet when they are not there', async () => {
    new PluginActivity(dir);
    writeVerdict(dir, caught);
    clearEvidence(dir);
    expect(existsSync(join(dir, ACTIVITY_FILE))).to.equal(false);
    expect(existsSync(join(dir, VERDICT_FILE))).to.equal(false);
    clearEvidence(dir);
  });
});

describe('host: which plugin a frame belongs to (pluginDirs, ownerOf, culpritOfStack)', () => {
  let dir: string;
  before(async () => { dir = await tempDir('kw-dirs-'); });
  after(async () => { await removeDir(dir); });

  it('pluginDirs skips ids with "@" or starting with "?", adds the real path of a symlinked folder, longest first', async () => {
    await mkdir(join(dir, 'real', 'acme-export-real'), { recursive: true });
    await mkdir(join(dir, 'b'));
    await symlink(join(dir, 'real', 'acme-export-real'), join(dir, 'acme'));
    const dirs = pluginDirs([
      { id: 'b', dir: join(dir, 'b'), builtin: true },
      { id: 'acme-export', dir: join(dir, 'acme'), builtin: false },
      { id: 'acme-export@2', dir: join(dir, 'x-very-long-folder-name-for-a-duplicate'), builtin: false },
      { id: '?broken', dir: join(dir, 'x-very-long-folder-name-for-a-broken-one'), builtin: false },
      { id: 'gone', dir: join(dir, 'gone-folder'), builtin: false },
    ]);
    expect(dirs).to.deep.equal([
      { id: 'acme-export', dir: join(dir, 'real', 'acme-export-real'), builtin: false },
      { id: 'gone', dir: join(dir, 'gone-folder'), builtin: false },
      { id: 'acme-export', dir: join(dir, 'acme'), builtin: false },
      { id: 'b', dir: join(dir, 'b'), builtin: true },
    ]);
  });

  const dirs: PluginDir[] = pluginDirs([
    { id: 'plug', dir: '/x/plug', builtin: false },
    { id: 'inner', dir: '/x/plug/node_modules/inner', builtin: true },
    { id: 'slash', dir: '/y/slash/', builtin: false },
  ]);

  it('ownerOf: file paths and file:// URLs, the longest folder wins, a folder only owns what is inside it', () => {
    expect(ownerOf('/x/plug/dist/a.js', dirs)?.id).to.equal('plug');
    expect(ownerOf('file:///x/plug/dist/a.js', dirs)?.id).to.equal('plug');
    expect(ownerOf(pathToFileURL('/x/plug/dist/ä b.js').href, dirs)?.id, 'an encoded URL').to.equal('plug');
    expect(ownerOf('/x/plug/node_modules/inner/i.js', dirs)?.id).to.equal('inner');
    expect(ownerOf('/x/plugin2/a.js', dirs)).to.equal(undefined);
    expect(ownerOf('/x/plug', dirs), 'the folder itself is no file of it').to.equal(undefined);
    expect(ownerOf('/y/slash/a.js', dirs)?.id, 'a folder given with a trailing slash').to.equal('slash');
    expect(ownerOf('/y/slashes/a.js', dirs)).to.equal(undefined);
    expect(ownerOf('/host/dist/kernel.js', dirs)).to.equal(undefined);
    expect(ownerOf('file://server/x/plug/a.js', dirs), 'a malformed file URL').to.equal(undefined);
    expect(ownerOf('node:internal/process/task_queues', dirs)).to.equal(undefined);
  });

  it('culpritOfStack: the innermost plugin frame and the frames from the top down to it, in both frame forms', () => {
    const stack = [
      '    at process.exit (file:///opt/kassenwart/host/dist/plugins/activity.js:90:9)',
      '    at node:internal/process/task_queues:95:5',
      '    at helper (file:///x/plug/node_modules/inner/i.js:4:2)',
      '    at Object.run (file:///x/plug/dist/a.js:1:2)',
    ];
    const c = culpritOfStack(stack, dirs)!;
    expect(c.plugin.id).to.equal('inner');
    expect(c.frames).to.deep.equal([
      'at process.exit (file:///opt/kassenwart/host/dist/plugins/activity.js:90:9)',
      'at node:internal/process/task_queues:95:5',
      'at helper (file:///x/plug/node_modules/inner/i.js:4:2)',
    ]);
    const d = culpritOfStack(['at /opt/kassenwart/host/dist/kernel.js:1:1', '   at /x/plug/dist/a.js:3:4', 'at /y/slash/b.js:1:1'], dirs)!;
    expect(d.plugin.id).to.equal('plug');
    expect(d.frames).to.deep.equal(['at /opt/kassenwart/host/dist/kernel.js:1:1', 'at /x/plug/dist/a.js:3:4']);
    expect(culpritOfStack(['at f (/x/plug/a.js:1:1)'], dirs)?.plugin.id, 'a path in parentheses').to.equal('plug');
  });

  it('culpritOfStack: a stack without a plugin frame (host code) blames nobody', () => {
    expect(culpritOfStack([
      'Error: boom', '    at Kernel.start (file:///opt/kassenwart/host/dist/kernel.js:10:3)', '    at async Promise.all (index 0)',
      '    at /x/plugin2/a.js:1:1',
    ], dirs)).to.equal(undefined);
    expect(culpritOfStack([], dirs)).to.equal(undefined);
  });
});
