/**
 * The CLI beside a running server: it asks the server (over the unix socket in the data folder) instead of
 * working on its own, and never says "Aktiviert" or "ok" where that is not true.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';

/** Fixture plugins: some that cannot run, one with actions that show in which process they ran. */
async function writeFixtures(root: string): Promise<void> {
  await writePlugin(root, 'too-new', manifest('too-new', { engines: { kassenwart: '^9.0.0' } }), pluginCode());
  await writePlugin(root, 'no-main', manifest('no-main', { main: 'dist/index.js' }));
  await writePlugin(root, 'needs-broken', manifest('needs-broken', { dependencies: { 'too-new': '^1.0.0' } }), pluginCode());
  await writePlugin(root, 'bad-keys', manifest('bad-keys', { colour: 'rot' }), pluginCode());
  await writePlugin(root, 'bad-json', '{\n  "id": "bad-json",\n  "displayName": "Kaputt",\n}\n');
  // plain JavaScript with the decorators applied in the wrong order (injectable() before inject())
  await writePlugin(root, 'wrong-order', manifest('wrong-order', { activationEvents: ['onStartup'] }),
    pluginCode().replace(/inject\(TOKENS\.Context\)\(P, undefined, 0\);\ninject\(TOKENS\.Settings\)\(P, undefined, 1\);\ninjectable\(\)\(P\);/,
      'injectable()(P);\ninject(TOKENS.Context)(P, undefined, 0);\ninject(TOKENS.Settings)(P, undefined, 1);'));
  await writePlugin(root, 'throws', manifest('throws', { activationEvents: ['onStartup'] }), pluginCode(`throw new Error('Kartenleser fehlt');`));
  await writePlugin(root, 'worker', manifest('worker', {
    activationEvents: ['onStartup'],
    contributes: {
      actions: [
        { id: 'worker.count', title: 'Zählen', exclusive: true },
        { id: 'worker.partial', title: 'Teilweise' },
        { id: 'worker.slow', title: 'Langsam', exclusive: true },
      ],
    },
  }), pluginCode(`
    globalThis.kwRuns = globalThis.kwRuns ?? 0;
    // 150 ms apart: the runner passes on at most one progress message per 100 ms
    ctx.registerAction('worker.count', async (job) => {
      for (let i = 1; i <= 4; i++) { job.progress(i * 25, 'Schritt ' + i + ' von 4'); await new Promise((r) => setTimeout(r, 150)); }
      globalThis.kwRuns++;
      return 'Lauf Nr. ' + globalThis.kwRuns + ' in diesem Prozess';
    });
    ctx.registerAction('worker.partial', async () => ({ outcome: 'warning', message: 'Teilweise erledigt: ein Ziel fehlte.' }));
    ctx.registerAction('worker.slow', async (job) => {
      await new Promise((r, j) => { const t = setTimeout(r, 20000); job.signal.addEventListener('abort', () => { clearTimeout(t); j(new Error('x')); }); });
    });
  `));
}

function cliOn(dataDir: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { encoding: 'utf8', env: { ...process.env, KASSENWART_LOG: 'warn', ...env }, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the CLI while a server runs for the data folder', function () {
  this.timeout(300_000);
  let fixture: FixtureHost;
  let host: TestHost;
  before(async () => {
    fixture = await startFixtureHost(writeFixtures, { enable: ['worker', 'throws'] });
    host = fixture.host;
  });
  after(async () => { await fixture?.dispose(); });

  it('plugins list shows the server’s states ("active"), not the configuration', async () => {
    const r = await host.cliAsync(['plugins', 'list', '--json']);
    expect(r.status, r.stderr).to.equal(0);
    const list = JSON.parse(r.stdout) as { id: string; state: string; reasons: string[] }[];
    expect(list.find((p) => p.id === 'worker')?.state).to.equal('active');
    expect(list.find((p) => p.id === 'throws')?.state).to.equal('failed');
    expect(list.find((p) => p.id === 'throws')?.reasons.join(' ')).to.match(/Kartenleser fehlt/);
    expect(r.stderr).to.not.match(/läuft kein Server/);
  });

  it('action run runs in the server: its plugins, progress from its events, its history (trigger "cli")', async () => {
    const first = await host.cliAsync(['action', 'run', 'worker.count']);
    const second = await host.cliAsync(['action', 'run', 'worker.count']);
    expect(first.status, first.stderr).to.equal(0);
    // the same plugin instance in the same (server) process ran both: the count goes on
    expect(first.stdout.trim()).to.equal('Lauf Nr. 1 in diesem Prozess');
    expect(second.stdout.trim()).to.equal('Lauf Nr. 2 in diesem Prozess');
    expect(second.stderr).to.match(/50% Schritt 2 von 4/);
    expect(second.stderr).to.match(/100% Schritt 4 von 4/);
    const jobs = (await host.api('GET', '/api/jobs?action=worker.count')).body as { trigger: string; user: string; state: string }[];
    expect(jobs.map((j) => [j.trigger, j.user, j.state])).to.deep.equal([['cli', 'cli', 'succeeded'], ['cli', 'cli', 'succeeded']]);
  });

  it('action run honours the server’s lock (exit 4, "läuft bereits"), and Ctrl-C cancels the server’s job', async () => {
    const started = await host.api('POST', '/api/actions/worker.slow', { params: {} });
    expect(started.status).to.equal(202);
    const busy = await host.cliAsync(['action', 'run', 'worker.count']);
    expect(busy.status).to.equal(4);
    expect(busy.stderr).to.match(/läuft bereits/);
    await host.api('POST', `/api/jobs/${started.body.job.id}/cancel`);
    await host.waitForJob(started.body.job.id);

    const c = spawn(process.execPath, [KASSENWART_BIN, 'action', 'run', 'worker.slow', '--data', host.dataDir], { env: { ...process.env, KASSENWART_LOG: 'warn' } });
    let err = '';
    c.stderr.setEncoding('utf8').on('data', (d: string) => { err += d; });
    for (let i = 0; i < 100; i++) {
      const running = ((await host.api('GET', '/api/actions')).body as { id: string; running: string | null }[]).find((a) => a.id === 'worker.slow')?.running;
      if (running) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    c.kill('SIGINT');
    const code = await new Promise<number | null>((r) => c.once('exit', r));
    expect(code).to.equal(1);
    expect(err).to.match(/„Langsam“ wurde abgebrochen/);
    const last = ((await host.api('GET', '/api/jobs?action=worker.slow&limit=1')).body as { state: string; trigger: string }[])[0];
    expect(last).to.include({ state: 'cancelled', trigger: 'cli' });
  });

  it('a job that ended with a warning exits 6, and says so', async () => {
    const r = await host.cliAsync(['action', 'run', 'worker.partial']);
    expect(r.status).to.equal(6);
    expect(r.stdout.trim()).to.equal('Teilweise erledigt: ein Ziel fehlte.');
    expect(r.stderr).to.match(/Mit Warnung beendet/);
    const j = await host.cliAsync(['action', 'run', 'worker.partial', '--json']);
    expect(j.status).to.equal(6);
    expect(JSON.parse(j.stdout).state).to.equal('warning');
  });

  it('plugins enable of a plugin that cannot run: German reason, exit 1, nothing switched on', async () => {
    for (const [id, reason] of [
      ['too-new', /„too-new“ kann nicht aktiviert werden: Das Plugin ist fehlerhaft\. Benötigt Kassenwart \^9\.0\.0, installiert ist 1\./],
      ['no-main', /main „dist\/index\.js“ fehlt/],
      ['needs-broken', /benötigtes Plugin „too-new“ ist fehlerhaft/],
      ['bad-keys', /kann nicht aktiviert werden: .*unbekannter Schlüssel „colour“/],
    ] as const) {
      const r = await host.cliAsync(['plugins', 'enable', id]);
      expect(r.status, `${id}: ${r.stdout}`).to.equal(1);
      expect(r.stderr, id).to.match(reason);
      expect(r.stdout, id).to.not.match(/Aktiviert/);
      expect(r.stderr, id).to.not.match(/nicht installiert/);
    }
    const list = (await host.api('GET', '/api/plugins')).body as { id: string; enabled: boolean }[];
    expect(list.filter((p) => ['too-new', 'no-main', 'needs-broken', 'bad-keys'].includes(p.id) && p.enabled)).to.deep.equal([]);
  });

  it('plugins enable of a plugin whose activation fails in the server: exit 1 with the reason', async () => {
    await host.cliAsync(['plugins', 'disable', 'throws']);
    const r = await host.cliAsync(['plugins', 'enable', 'throws']);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/„Test throws“ ist eingeschaltet, aber ausgefallen: .*Kartenleser fehlt/);
    // decorators in the wrong order (plain JavaScript) get a reason that says so, not "nicht mit @injectable() markiert"
    const order = await host.cliAsync(['plugins', 'enable', 'wrong-order']);
    expect(order.status).to.equal(1);
    expect(order.stderr).to.match(/injectable\(\) wurde vor inject\(…\) aufgerufen/);
  });

  it('a manifest with errors is listed by its id; a JSON syntax error names line and column in German', async () => {
    const list = (await host.api('GET', '/api/plugins')).body as { id: string; dir: string; state: string; reasons: string[] }[];
    const badKeys = list.find((p) => p.dir.endsWith('/bad-keys'));
    expect(badKeys?.id).to.equal('bad-keys');
    expect(badKeys?.state).to.equal('failed');
    const badJson = list.find((p) => p.dir.endsWith('/bad-json'));
    expect(badJson?.reasons).to.deep.equal(['plugin.json ist kein gültiges JSON: Zeile 4, Spalte 1: hier wird ein Schlüssel in doppelten Anführungszeichen erwartet (steht ein Komma zu viel davor?).']);
  });

  it('the socket is the server user’s alone (0600), and a second server for the same data folder is refused', async () => {
    const s = await stat(join(host.dataDir, 'kassenwart.sock'));
    expect(s.isSocket()).to.equal(true);
    expect(s.mode & 0o777).to.equal(0o600);
    const second = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn(process.execPath, [KASSENWART_BIN, 'serve', '--data', host.dataDir, '--port', '0'], { env: { ...process.env, KASSENWART_LOG: 'warn' } });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      c.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
      const t = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.once('exit', (code) => { clearTimeout(t); resolve({ code, out }); });
    });
    // The server lock (issue 11.5) refuses it before the socket is probed: exit code 4 ("läuft bereits").
    expect(second.code).to.equal(4);
    expect(second.out).to.match(/läuft für den Datenordner .* bereits/);
    // the first one serves on
    expect((await host.api('GET', '/api/health')).status).to.equal(200);
  });
});

describe('the CLI without a server', function () {
  this.timeout(120_000);
  let data: string;
  let root: string;
  let builtin: string;
  const env = () => ({ KASSENWART_BUILTIN_DIR: builtin });
  before(async () => {
    data = await tempDir('kw-cli-');
    root = await tempDir('kw-cli-plugins-');
    builtin = await tempDir('kw-cli-builtin-');
    await writeFixtures(root);
  });
  after(async () => { for (const d of [data, root, builtin]) await removeDir(d); });

  it('plugins add-folder prints each plugin’s id and its manifest errors', () => {
    const r = cliOn(data, ['plugins', 'add-folder', root], env());
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^ {2}worker 1\.0\.0 „Test worker“ \(/m);
    expect(r.stdout).to.match(/^ {2}too-new 1\.0\.0 „Test too-new“ .*\n {4}FEHLERHAFT: Benötigt Kassenwart \^9\.0\.0, installiert ist 1\./m);
    expect(r.stdout).to.match(/^ {2}bad-keys \(.*\n {4}FEHLERHAFT: plugin\.json \/colour: unbekannter Schlüssel „colour“/m);
    expect(r.stdout).to.match(/FEHLERHAFT: plugin\.json ist kein gültiges JSON: Zeile 4, Spalte 1/);
    const j = JSON.parse(cliOn(data, ['plugins', 'add-folder', root, '--json'], env()).stdout) as { found: { id: string; errors: string[] }[] };
    expect(j.found.find((f) => f.id === 'no-main')?.errors.join(' ')).to.match(/main „dist\/index\.js“ fehlt/);
  });

  it('plugins enable refuses a plugin that cannot run (exit 1), and says plainly when no server runs', () => {
    const broken = cliOn(data, ['plugins', 'enable', 'too-new'], env());
    expect(broken.status).to.equal(1);
    expect(broken.stderr).to.match(/„too-new“ kann nicht aktiviert werden: Das Plugin ist fehlerhaft\. Benötigt Kassenwart \^9\.0\.0/);
    const byId = cliOn(data, ['plugins', 'enable', 'bad-keys'], env());
    expect(byId.status).to.equal(1);
    expect(byId.stderr).to.not.match(/nicht installiert/);
    const ok = cliOn(data, ['plugins', 'enable', 'worker'], env());
    expect(ok.status).to.equal(0);
    expect(ok.stdout).to.match(/Aktiviert: worker \(es läuft kein Server; der Server lädt es beim nächsten Start\)/);
    const list = cliOn(data, ['plugins', 'list'], env());
    expect(list.stderr).to.match(/Für diesen Datenordner läuft kein Server\. Gezeigt wird die Konfiguration/);
    expect(list.stdout).to.match(/^bad-keys /m);
  });

  it('action run works in-process, with exit 6 for a warning', () => {
    const r = cliOn(data, ['action', 'run', 'worker.count'], env());
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('Lauf Nr. 1 in diesem Prozess');
    const w = cliOn(data, ['action', 'run', 'worker.partial'], env());
    expect(w.status).to.equal(6);
  });
});
