import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { startTestHost, KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';

interface RouteInfo { method: string; path: string; role: string }

async function login(url: string, name: string, password: string) {
  const r = await fetch(url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  const cookie = (r.headers.get('set-cookie') ?? '').split(';')[0];
  const body = await r.json().catch(() => ({})) as { csrfToken?: string };
  return { status: r.status, cookie, csrf: body.csrfToken ?? '', setCookie: r.headers.get('set-cookie') ?? '' };
}

describe('access control', function () {
  let fixture: FixtureHost;
  let host: TestHost;
  let routes: RouteInfo[];
  let operator: { cookie: string; csrf: string };

  before(async function () {
    fixture = await startFixtureHost(async (root) => {
    await writePlugin(root, 'guarded', manifest('guarded', {
      activationEvents: ['onStartup'],
      contributes: {
        settings: { type: 'object', properties: { secret: { type: 'string', format: 'password' }, note: { type: 'string', default: '' } } },
        actions: [{ id: 'guarded.op', title: 'Für alle' }, { id: 'guarded.tech', title: 'Nur Technik', role: 'technician' }],
      },
    }), pluginCode(`
      ctx.registerAction('guarded.op', async () => 'ok');
      ctx.registerAction('guarded.tech', async () => 'ok');
      ctx.registerRoute('POST', '/do', () => ({ done: true }));
      ctx.registerRoute('GET', '/peek', () => ({ ok: true }));
    `));
    }, { enable: ['guarded'] });
    host = fixture.host;
    expect(host.cli(['users', 'add', 'kasse', '--role', 'operator', '--password-stdin'], 'Kasse-Passwort-1\n').status).to.equal(0);
    operator = await login(host.url, 'kasse', 'Kasse-Passwort-1');
    routes = (await host.api('GET', '/api/routes')).body;
  });
  after(async function () {
    await fixture?.dispose();
  });

  const concrete = (path: string) => path.replace(/:id|:plugin/g, (m) => (m === ':plugin' ? 'guarded' : 'guarded.op'));

  it('enumerates the routes from the router, plugin routes included', function () {
    const mutating = routes.filter((r) => r.method !== 'GET');
    expect(mutating.length).to.be.greaterThan(8);
    expect(routes.map((r) => `${r.method} ${r.path}`)).to.include.members(['POST /api/ext/guarded/do', 'PUT /api/settings/:plugin', 'POST /api/actions/:id']);
  });

  it('rejects every mutating route without a session (401)', async function () {
    for (const r of routes.filter((x) => x.method !== 'GET' && x.role !== 'public')) {
      const res = await fetch(host.url + concrete(r.path), { method: r.method, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(res.status, `${r.method} ${r.path}`).to.equal(401);
      const body = await res.json() as { error: { message: string } };
      expect(body.error.message, r.path).to.match(/anmelden/);
    }
  });

  it('rejects every mutating route without the CSRF token, or from another site (403)', async function () {
    for (const r of routes.filter((x) => x.method !== 'GET' && x.role !== 'public')) {
      const noToken = await fetch(host.url + concrete(r.path), { method: r.method, headers: { cookie: operator.cookie, 'content-type': 'application/json' }, body: '{}' });
      expect(noToken.status, `no token: ${r.method} ${r.path}`).to.equal(403);
      const crossSite = await fetch(host.url + concrete(r.path), {
        method: r.method, headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrf, origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}',
      });
      expect(crossSite.status, `cross-site: ${r.method} ${r.path}`).to.equal(403);
    }
    for (const path of ['/api/auth/login', '/api/auth/setup']) {
      const cross = await fetch(host.url + path, { method: 'POST', headers: { origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' });
      expect(cross.status, path).to.equal(403);
      const form = await fetch(host.url + path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=a' });
      expect(form.status, path).to.equal(415);
    }
  });

  it('rejects every technician route for an operator (403), on the server', async function () {
    const techRoutes = routes.filter((x) => x.method !== 'GET' && x.role === 'technician');
    expect(techRoutes.length).to.be.greaterThan(2);
    for (const r of techRoutes) {
      const res = await fetch(host.url + concrete(r.path), { method: r.method, headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrf, 'content-type': 'application/json' }, body: '{}' });
      expect(res.status, `${r.method} ${r.path}`).to.equal(403);
    }
    const audit = await fetch(host.url + '/api/audit', { headers: { cookie: operator.cookie } });
    expect(audit.status).to.equal(403);
    const techAction = await fetch(host.url + '/api/actions/guarded.tech', { method: 'POST', headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrf, 'content-type': 'application/json' }, body: '{}' });
    expect(techAction.status).to.equal(403);
    const opAction = await fetch(host.url + '/api/actions/guarded.op', { method: 'POST', headers: { cookie: operator.cookie, 'x-csrf-token': operator.csrf, 'content-type': 'application/json' }, body: '{}' });
    expect(opAction.status).to.equal(202);
  });

  it('serves only panel code from a plugin folder: no manifest, no JSON, nothing outside it', async function () {
    expect((await fetch(host.url + '/plugins/guarded/index.js')).status).to.equal(200);
    for (const path of ['/plugins/guarded/plugin.json', '/plugins/guarded/../guarded/plugin.json', '/plugins/guarded/%2e%2e/%2e%2e/etc/passwd',
      '/plugins/guarded/..%2f..%2fstate.sqlite', '/plugins/nope/index.js']) {
      const r = await fetch(host.url + path);
      expect(r.status, path).to.equal(404);
    }
  });

  it('sets the session cookie HttpOnly and SameSite=Strict, and logout ends the session', async function () {
    const s = await login(host.url, 'kasse', 'Kasse-Passwort-1');
    expect(s.setCookie).to.match(/httponly/i);
    expect(s.setCookie).to.match(/samesite=strict/i);
    const out = await fetch(host.url + '/api/auth/logout', { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
    expect(out.status).to.equal(200);
    const after = await fetch(host.url + '/api/plugins', { headers: { cookie: s.cookie } });
    expect(after.status).to.equal(401);
  });

  it('locks a user out after repeated failed logins, even with the right password then', async function () {
    expect(host.cli(['users', 'add', 'opfer', '--role', 'operator', '--password-stdin'], 'Richtig-Passwort-1\n').status).to.equal(0);
    for (let i = 0; i < 5; i++) expect((await login(host.url, 'opfer', 'falsch-' + i)).status).to.equal(401);
    const locked = await fetch(host.url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'opfer', password: 'Richtig-Passwort-1' }) });
    expect(locked.status).to.equal(429);
    expect(((await locked.json()) as { error: { message: string } }).error.message).to.match(/Zu viele Fehlversuche/);
    const audit = (await host.api('GET', '/api/audit?limit=50')).body as { event: string; user: string }[];
    expect(audit.filter((a) => a.event === 'login.failed' && a.user === 'opfer')).to.have.length(5);
  });

  it('audits logins, actions, setting changes and plugin enable/disable', async function () {
    await host.api('PUT', '/api/settings/guarded', { note: 'Hallo', secret: 'Sehr-Geheim-99' });
    await host.api('POST', '/api/plugins/guarded/disable');
    await host.api('POST', '/api/plugins/guarded/enable');
    const audit = (await host.api('GET', '/api/audit?limit=100')).body as { event: string; user: string; target: string; details: Record<string, unknown> }[];
    const events = new Set(audit.map((a) => a.event));
    for (const e of ['login', 'action.start', 'settings.change', 'plugin.disable', 'plugin.enable']) expect(events, e).to.include(e);
    const change = audit.find((a) => a.event === 'settings.change' && a.target === 'guarded')!;
    expect(change.details.after).to.deep.equal({ note: 'Hallo', secret: '(gesetzt)' });
    expect(JSON.stringify(audit)).to.not.contain('Sehr-Geheim-99');
  });
});

describe('sessions, first run and binding', function () {
  it('expires a session after its lifetime', async function () {
    const builtin = await tempDir();
    // a 9 s session: fresh at first, refused once its lifetime has passed (waited for, bounded)
    const host = await startTestHost({ env: { KASSENWART_BUILTIN_DIR: builtin, KASSENWART_SESSION_HOURS: '0.0025' } });
    try {
      expect((await host.api('GET', '/api/plugins')).status).to.equal(200);
      let status = 200;
      for (let i = 0; i < 60 && status === 200; i++) {
        await new Promise((r) => setTimeout(r, 500));
        status = (await host.api('GET', '/api/plugins')).status;
      }
      expect(status).to.equal(401);
    } finally {
      await host.stop();
      await removeDir(builtin);
    }
  });

  it('leads a new installation through setting the technician password with the printed setup code', async function () {
    const data = await tempDir();
    const builtin = await tempDir();
    const child = spawn(process.execPath, [KASSENWART_BIN, 'serve', '--data', data, '--port', '0'], { env: { ...process.env, KASSENWART_BUILTIN_DIR: builtin } });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    try {
      for (let i = 0; i < 100 && !/Einrichtungscode ein: \S+/.test(out); i++) await new Promise((r) => setTimeout(r, 100));
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(out)![0];
      const token = /Einrichtungscode ein: (\S+)/.exec(out)![1];
      const s = await (await fetch(url + '/api/auth/session')).json() as { setupRequired: boolean };
      expect(s.setupRequired).to.equal(true);
      const post = (body: unknown) => fetch(url + '/api/auth/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect((await post({ token: 'FALSCH', name: 'chef', password: 'Ein-gutes-Passwort' })).status).to.equal(403);
      const weak = await post({ token, name: 'chef', password: 'kurz' });
      expect(weak.status).to.equal(400);
      expect(((await weak.json()) as { error: { message: string } }).error.message).to.match(/mindestens 10 Zeichen/);
      const ok = await post({ token, name: 'chef', password: 'Ein-gutes-Passwort' });
      expect(ok.status).to.equal(200);
      expect(((await ok.json()) as { user: { role: string } }).user.role).to.equal('technician');
      expect((await post({ token, name: 'zwei', password: 'Ein-gutes-Passwort' })).status).to.equal(409);
      expect((await login(url, 'chef', 'Ein-gutes-Passwort')).status).to.equal(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await removeDir(data);
      await removeDir(builtin);
    }
  });

  it('binds to 127.0.0.1 by default and refuses another address without a technician account', async function () {
    const data = await tempDir();
    const builtin = await tempDir();
    const child = spawn(process.execPath, [KASSENWART_BIN, 'serve', '--data', data, '--port', '0', '--bind', '0.0.0.0'], { env: { ...process.env, KASSENWART_BUILTIN_DIR: builtin } });
    let err = '';
    child.stderr.on('data', (d) => { err += d; });
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).to.equal(1);
    expect(err).to.match(/nur dann auf 0\.0\.0\.0 .*wenn ein Techniker-Konto existiert/);
    await removeDir(data);
    await removeDir(builtin);
  });
});
