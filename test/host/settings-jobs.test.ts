import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import type { TestHost } from 'kassenwart/sdk/testing';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';

const SECRET = 'Geheim-Passwort-4711!';

describe('settings and jobs', function () {
  let fixture: FixtureHost;
  let host: TestHost;

  before(async function () {
    fixture = await startFixtureHost(async (root) => {
    await writePlugin(root, 'conf', manifest('conf', {
      activationEvents: ['onStartup'],
      contributes: {
        settings: {
          type: 'object',
          properties: {
            mode: { type: 'string', enum: ['', 'D', 'X', 'F'], default: '', 'x-code': '01.1', title: 'Art', 'x-role': 'operator' },
            path: { type: 'string', pattern: '^/media/[a-z0-9]+$', default: '/media/usb0', 'x-code': '01.2', title: 'Pfad' },
            keep: { type: 'integer', minimum: 1, maximum: 99, default: 5 },
            password: { type: 'string', format: 'password', title: 'Passwort' },
          },
        },
        actions: [
          { id: 'conf.show', title: 'Zeigen' },
          { id: 'conf.slow', title: 'Datensicherung', exclusive: true, success: 'Datenbank gesichert' },
          { id: 'conf.other', title: 'Backup an FTP', exclusive: true },
          { id: 'conf.boom', title: 'Kaputt' },
          { id: 'conf.fail', title: 'Scheitern' },
          { id: 'conf.tech', title: 'Nur Technik', role: 'technician' },
        ],
      },
    }), pluginCode(`
      const fs2 = fs;
      this.settings.onDidChange((keys) => fs2.appendFileSync(path.join(ctx.installationDir, 'changes.log'), keys.join(',') + '\\n'));
      ctx.registerAction('conf.show', async () => ({ message: 'mode=' + this.settings.get('mode') + ' keep=' + this.settings.get('keep') + ' pw=' + (this.settings.get('password') === ${JSON.stringify(SECRET)} ? 'ok' : 'falsch') }));
      const slow = async (job) => {
        const step = (job.params.ms ?? 2000) / 20;
        for (let i = 1; i <= 20; i++) {
          if (job.signal.aborted) throw new Error('abgebrochen');
          await new Promise((r) => setTimeout(r, step));
          job.progress(i * 5, 'Schritt ' + i + ' von 20');
        }
      };
      ctx.registerAction('conf.slow', slow);
      ctx.registerAction('conf.other', slow);
      ctx.registerAction('conf.boom', async () => { null.x; });
      ctx.registerAction('conf.fail', async () => { throw new UserError('Kein USB-Stick gefunden.', { hint: 'Stick einstecken und erneut versuchen.', code: 'usb.none', details: { results: [{ target: 'usb', status: 'failed' }] } }); });
      ctx.registerAction('conf.tech', async () => 'ok');
    `, `if (globalThis.__kwSlow) {}`));
    }, { enable: ['conf'] });
    host = fixture.host;
  });

  after(async function () {
    await fixture?.dispose();
  });

  it('composes defaults and shows the display codes', async function () {
    const r = await host.api('GET', '/api/settings/conf');
    expect(r.status).to.equal(200);
    expect(r.body.values).to.deep.equal({ mode: '', path: '/media/usb0', keep: 5 });
    expect(r.body.schema.properties.mode['x-code']).to.equal('01.1');
    expect(r.body.secrets).to.deep.equal({ password: false });
  });

  it('rejects a bad write whole with 400, every problem with its field path, and stores nothing', async function () {
    const r = await host.api('PUT', '/api/settings/conf', { mode: 'Q', keep: 'fünf', path: '/etc/passwd', colour: 'rot' });
    expect(r.status).to.equal(400);
    const paths = (r.body.error.details as { path: string }[]).map((d) => d.path).sort();
    expect(paths).to.deep.equal(['/colour', '/keep', '/mode', '/path']);
    expect(r.body.error.message).to.match(/nicht gespeichert/);
    const after = await host.api('GET', '/api/settings/conf');
    expect(after.body.values).to.deep.equal({ mode: '', path: '/media/usb0', keep: 5 });
    const half = await host.api('PUT', '/api/settings/conf', { mode: 'D', keep: 0 });
    expect(half.status).to.equal(400);
    expect((await host.api('GET', '/api/settings/conf')).body.values.mode).to.equal('');
  });

  it('stores a valid write, notifies the plugin, and audits old and new values', async function () {
    const r = await host.api('PUT', '/api/settings/conf', { mode: 'D', keep: 7 });
    expect(r.status).to.equal(200);
    expect(r.body.values).to.include({ mode: 'D', keep: 7 });
    const job = await host.runAction('conf.show');
    expect(job.result?.message).to.match(/^mode=D keep=7/);
    expect(await readFile(`${host.dataDir}/changes.log`, 'utf8')).to.contain('mode,keep');
    const audit = (await host.api('GET', '/api/audit')).body as { event: string; details: { before: unknown; after: unknown } }[];
    const change = audit.find((a) => a.event === 'settings.change');
    expect(change?.details.before).to.deep.equal({ mode: '', keep: 5 });
    expect(change?.details.after).to.deep.equal({ mode: 'D', keep: 7 });
  });

  it('sees a change made with the CLI while the server runs, at the next job', async function () {
    const r = host.cli(['settings', 'set', 'conf', 'keep', '9']);
    expect(r.status).to.equal(0);
    // the owning plugin is told, as for a change made through the API
    let log = '';
    for (let i = 0; i < 60 && !log.split('\n').includes('keep'); i++) {
      await new Promise((res) => setTimeout(res, 100));
      log = await readFile(`${host.dataDir}/changes.log`, 'utf8');
    }
    expect(log.split('\n')).to.include('keep');
    const job = await host.runAction('conf.show');
    expect(job.result?.message).to.match(/keep=9/);
    const audit = (await host.api('GET', '/api/audit?limit=20')).body as { event: string; user: string; details: { keys?: string[] } }[];
    expect(audit.filter((a) => a.event === 'settings.change' && a.details.keys?.includes('keep') && a.user === 'cli')).to.have.length(1);
    const bad = host.cli(['settings', 'set', 'conf', 'keep', '0']);
    expect(bad.status).to.equal(5);
    expect(bad.stderr).to.match(/nicht gespeichert: keep: /);
  });

  it('keeps secrets write-only: never in an API response, audit entry, log line or the state file in plain text', async function () {
    const w = await host.api('PUT', '/api/settings/conf', { password: SECRET });
    expect(w.status).to.equal(200);
    expect(w.body.secrets.password).to.equal(true);
    const job = await host.runAction('conf.show');
    expect(job.result?.message).to.match(/pw=ok$/); // the owning plugin gets it
    const everything = JSON.stringify([
      w.body, (await host.api('GET', '/api/settings')).body, (await host.api('GET', '/api/settings/conf')).body,
      (await host.api('GET', '/api/audit')).body, (await host.api('GET', '/api/jobs')).body,
    ]);
    expect(everything).to.not.contain(SECRET);
    expect(host.output()).to.not.contain(SECRET);
    const viaStdin = host.cli(['settings', 'set', 'conf', 'password', '--value-stdin'], SECRET + '\n');
    expect(viaStdin.status).to.equal(0);
    expect((await host.runAction('conf.show')).result?.message).to.match(/pw=ok$/);
    const cli = host.cli(['settings', 'get', 'conf', '--json']);
    expect(cli.stdout).to.not.contain(SECRET);
    expect(cli.stdout).to.contain('"password": true');
    const state = await readFile(`${host.dataDir}/state.sqlite`);
    expect(state.includes(Buffer.from(SECRET))).to.equal(false);
  });

  it('checks per-setting roles on the server', async function () {
    const kasse = await host.asUser({ name: 'kasse', password: 'Kasse-Passwort-1', role: 'operator' });
    expect((await kasse.api('PUT', '/api/settings/conf', { mode: 'X' })).status).to.equal(200);
    const denied = await kasse.api('PUT', '/api/settings/conf', { path: '/media/usb2' });
    expect(denied.status).to.equal(403);
    expect(denied.body.error.message).to.match(/nur ein Techniker/);
    const tech = await kasse.api('POST', '/api/actions/conf.tech', {});
    expect(tech.status).to.equal(403);
  });

  it('runs a job with progress over server-sent events, and records it in the history', async function () {
    // 6 s, so the event stream is open well before the job ends even on a loaded machine
    const start = await host.api('POST', '/api/actions/conf.slow', { params: { ms: 6000 } });
    expect(start.status).to.equal(202);
    const id = start.body.job.id as string;
    const res = await fetch(`${host.url}/api/jobs/${id}/events`);
    expect(res.status).to.equal(401); // SSE needs a session too
    const sse = await host.api('GET', `/api/jobs/${id}`);
    expect(sse.body.state).to.equal('running');
    const events = await streamEvents(host, id);
    const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as { percent: number }).percent);
    expect(progress.length).to.be.greaterThan(3);
    expect(progress).to.deep.equal([...progress].sort((a, b) => a - b));
    const done = events.find((e) => e.event === 'done')!.data as { state: string; result: { message: string } };
    expect(done.state).to.equal('succeeded');
    expect(done.result.message).to.equal('Datenbank gesichert');
    const hist = (await host.api('GET', '/api/jobs?action=conf.slow')).body as { id: string; user: string; durationMs: number; state: string }[];
    expect(hist[0]).to.include({ id, user: 'tech', state: 'succeeded' });
    expect(hist[0].durationMs).to.be.greaterThan(0);
  });

  it('never runs two exclusive actions at once: concurrent starts get one 202 and 409 "läuft bereits"', async function () {
    // long runs (20 s), so that even on a loaded machine all starts arrive while the first one runs
    const starts = await Promise.all([
      ...Array.from({ length: 6 }, () => host.api('POST', '/api/actions/conf.slow', { params: { ms: 20_000 } })),
      ...Array.from({ length: 6 }, () => host.api('POST', '/api/actions/conf.other', { params: { ms: 20_000 } })),
    ]);
    const ok = starts.filter((s) => s.status === 202);
    const busy = starts.filter((s) => s.status === 409);
    expect(ok).to.have.length(1);
    expect(busy).to.have.length(11);
    for (const b of busy) expect(b.body.error.message).to.match(/läuft bereits/);
    // the CLI honours the same lock
    const cli = host.cli(['action', 'run', 'conf.other']);
    expect(cli.status).to.equal(4);
    expect(cli.stderr).to.match(/läuft bereits/);
    await host.api('POST', `/api/jobs/${ok[0].body.job.id}/cancel`);
    expect((await host.waitForJob(ok[0].body.job.id)).state).to.equal('cancelled');
  });

  it('gives a German error with a hint for expected failures, and no stack trace for unexpected ones', async function () {
    const fail = await host.runAction('conf.fail');
    expect(fail.state).to.equal('failed');
    expect(fail.error).to.deep.include({ code: 'usb.none', message: 'Kein USB-Stick gefunden.', hint: 'Stick einstecken und erneut versuchen.' });
    // a failed job keeps the structured details it gave (e.g. per-target results)
    expect((fail.error as { details?: unknown }).details).to.deep.equal({ results: [{ target: 'usb', status: 'failed' }] });
    const boom = await host.runAction('conf.boom');
    expect(boom.state).to.equal('failed');
    expect(boom.error!.message).to.match(/unerwarteten Fehler/);
    expect(JSON.stringify(boom)).to.not.match(/at .*index\.js:\d+/);
  });

  it('cancels a running job', async function () {
    const start = await host.api('POST', '/api/actions/conf.slow', { params: { ms: 10_000 } });
    await new Promise((r) => setTimeout(r, 300));
    const c = await host.api('POST', `/api/jobs/${start.body.job.id}/cancel`);
    expect(c.body.cancelled).to.equal(true);
    const job = await host.waitForJob(start.body.job.id);
    expect(job.state).to.equal('cancelled');
  });

  it('runs an action from the CLI with a progress bar against the same data folder', async function () {
    const r = host.cli(['action', 'run', 'conf.slow']);
    expect(r.status).to.equal(0);
    expect(r.stdout.trim()).to.equal('Datenbank gesichert');
    expect(r.stderr).to.match(/100% /);
  });

  it('cancels a running job cleanly on SIGTERM and records it', async function () {
    const start = await host.api('POST', '/api/actions/conf.slow', { params: { ms: 10_000 } });
    await new Promise((r) => setTimeout(r, 300));
    await host.stop();
    await host.restart();
    const job = (await host.api('GET', `/api/jobs/${start.body.job.id}`)).body;
    expect(job.state).to.equal('cancelled');
  });

  it('marks a job interrupted by kill -9 as failed at the next start', async function () {
    const start = await host.api('POST', '/api/actions/conf.slow', { params: { ms: 10_000 } });
    await new Promise((r) => setTimeout(r, 300));
    await host.kill();
    await host.restart();
    const job = (await host.api('GET', `/api/jobs/${start.body.job.id}`)).body;
    expect(job.state).to.equal('failed');
    expect(job.error.message).to.match(/Server wurde während des Vorgangs beendet/);
    // and the maintenance lock of the dead process does not block the next run
    const again = await host.runAction('conf.slow');
    expect(again.state).to.equal('succeeded');
  });
});

async function streamEvents(host: TestHost, id: string): Promise<{ event: string; data: unknown }[]> {
  const session = await host.api('GET', '/api/auth/session');
  expect(session.body.user).to.not.equal(null);
  const res = await host.fetch(`/api/jobs/${id}/events`);
  expect(res.headers.get('content-type')).to.match(/text\/event-stream/);
  const text = await res.text();
  return text.split('\n\n').filter((b) => b.startsWith('event:')).map((b) => {
    const [e, d] = b.split('\n');
    return { event: e.slice(7), data: JSON.parse(d.slice(6)) };
  });
}

