/**
 * More access guarantees of the host, in-process (inprocess.ts: the real Kernel and koa app over HTTP, and the
 * real local control channel on a unix socket) so mutation testing (host-access) can see them:
 * - one canonical spelling of every API address: any other casing, a trailing "/", "//", %-encoding or dot
 *   segments is a German 404 with a hint, whatever the session — never a second way to a route (a mis-cased URL
 *   once skipped the CSRF check);
 * - the CLI's unix socket acts as the local administrator "cli" (technician, no sign-in, no CSRF token), and
 *   nothing on TCP can pass for it;
 * - a plugin's routes with their own authentication (auth: 'plugin') answer without a session only while the
 *   plugin is active, only for GET, and open none of its other routes.
 * The real host process: access.test.ts, adversarial.test.ts, cli-server.test.ts.
 */
import { expect } from 'chai';
import { tempDir, removeDir } from '#support/tmp.js';
import { LocalClient } from '#host/http/local.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';
import { startInProcessHost, type InProcessHost } from './inprocess.js';
import { login, call, type Session } from './sessions.js';
import { rawRequest } from './raw-http.js';

const HINT = 'Adressen der Schnittstelle genau wie dokumentiert schreiben: klein, ohne „/“ am Ende, ohne „//“, „.“, „..“ und ohne kodierte Zeichen, z. B. /api/plugins/usb/disable.';

describe('host guarantees: canonical API paths, the local control channel, plugin routes with their own authentication', function () {
  this.timeout(180_000);
  let root: string;
  let host: InProcessHost;
  let tech: Session;
  const TECH = { name: 'technik4', password: 'Technik-Passwort-4' };

  before(async function () {
    root = await tempDir('kw-guarantees-paths-');
    await writePlugin(root, 'door', manifest('door', {
      activationEvents: ['onStartup'],
      contributes: { actions: [{ id: 'door.tech', title: 'Nur Technik', role: 'technician' }] },
    }), pluginCode(`
      ctx.registerAction('door.tech', async () => 'ok');
      ctx.registerRoute('GET', '/open', (req) => ({ open: true, user: req.user?.name ?? null }), { auth: 'plugin' });
      ctx.registerRoute('GET', '/inside', () => ({ inside: true }));
    `));
    await writePlugin(root, 'spare', manifest('spare'), pluginCode());
    host = await startInProcessHost({ pluginDirs: [root], enable: ['door', 'spare'], users: [{ ...TECH, role: 'technician' }], local: true });
    tech = await login(host.url, TECH.name, TECH.password);
  });
  after(async () => {
    await host?.close();
    if (root) await removeDir(root);
  });
  const enabled = async (id: string) => ((await call(host.url, tech, 'GET', '/api/plugins')).body as { id: string; enabled: boolean }[]).find((p) => p.id === id)!.enabled;
  const withSession = { headers: () => ({ cookie: tech.cookie, 'x-csrf-token': tech.csrf, 'content-type': 'application/json' }) };

  it('refuses every other spelling of an API address with a German 404 and its hint, for GET and POST, with a valid session and token; nothing changes', async function () {
    const spellings = [
      '/API/plugins/spare/disable', '/Api/plugins/spare/disable', '/api/plugins/spare/disable/',
      '/api//plugins/spare/disable', '/api/plugins/%73pare/disable', '/api/plugins%2Fspare/disable', '/api/plugins/./spare/disable',
      '/api/x/../plugins/spare/disable',
    ];
    for (const path of spellings) {
      const r = await rawRequest(host.url, 'POST', path, withSession.headers(), '{}');
      expect([r.status, r.json?.error?.code, r.json?.error?.message, r.json?.error?.hint], `POST ${path}`)
        .to.deep.equal([404, 'not-found', `Die Adresse ${path} gibt es nicht.`, HINT]);
    }
    // another casing further in is no address of the (case-sensitive) router: a 404 too
    for (const path of ['/api/Plugins/spare/disable', '/api/plugins/spare/DISABLE']) {
      const r = await rawRequest(host.url, 'POST', path, withSession.headers(), '{}');
      expect([r.status, r.json?.error?.code], `POST ${path}`).to.deep.equal([404, 'not-found']);
    }
    expect(await enabled('spare'), 'no spelling disabled the plugin').to.equal(true);
    for (const path of ['/API/plugins', '/api/plugins/', '/api/%70lugins']) {
      const r = await rawRequest(host.url, 'GET', path, { cookie: tech.cookie });
      expect([r.status, r.json?.error?.code, r.json?.error?.hint], `GET ${path}`).to.deep.equal([404, 'not-found', HINT]);
    }
    // the documented spelling works (the refusals above were the spelling)
    expect((await rawRequest(host.url, 'GET', '/api/plugins', { cookie: tech.cookie })).status).to.equal(200);
    // addresses outside the API keep their own rules (the UI's files): not this refusal
    const page = await rawRequest(host.url, 'GET', '/UI/kw.js', {});
    expect(page.json?.error?.hint).to.not.equal(HINT);
  });

  it('a request target that is not a path is refused with 400 (request.target); only OPTIONS * is let through', async function () {
    for (const [method, target] of [['GET', '*'], ['POST', '*'], ['GET', `${host.url}/api/plugins`]] as const) {
      const r = await rawRequest(host.url, method, target, { cookie: tech.cookie, 'x-csrf-token': tech.csrf });
      expect([r.status, r.json?.error?.code, r.json?.error?.message], `${method} ${target}`)
        .to.deep.equal([400, 'request.target', 'Ungültiges Anfrageziel: erwartet wird ein Pfad, der mit „/“ beginnt.']);
    }
    const options = await rawRequest(host.url, 'OPTIONS', '*', {});
    expect(options.status, 'OPTIONS * is not refused as a bad target').to.not.equal(400);
  });

  it('the local control channel (unix socket) acts as technician "cli" without sign-in or CSRF token; the same requests on TCP are refused', async function () {
    const cli = new LocalClient(host.socket!);
    const off = await cli.api('POST', '/api/plugins/spare/disable', {});
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    expect(await enabled('spare')).to.equal(false);
    expect((await cli.api('POST', '/api/plugins/spare/enable', {})).status).to.equal(200);
    expect(await enabled('spare')).to.equal(true);
    const started = await cli.api('POST', '/api/actions/door.tech', {});
    expect(started.status, JSON.stringify(started.body)).to.equal(202);
    expect(started.body.job).to.include({ user: 'cli', trigger: 'cli' });
    const session = await cli.api('GET', '/api/audit?limit=10');
    expect(session.status, 'the audit log is technician-only: the socket may read it').to.equal(200);
    const mine = (session.body as { user: string; event: string; target: string }[]).filter((e) => e.user === 'cli').map((e) => `${e.event} ${e.target}`);
    expect(mine).to.include.members(['plugin.disable spare', 'plugin.enable spare', 'action.start door.tech']);

    // on TCP nothing passes for the socket: no session is 401, whatever the request says about itself
    for (const headers of [{}, { host: 'localhost' }, { 'x-forwarded-for': '127.0.0.1' }, { 'content-type': 'application/json' }] as Record<string, string>[]) {
      const r = await rawRequest(host.url, 'POST', '/api/plugins/spare/disable', { 'content-type': 'application/json', ...headers }, '{}');
      expect([r.status, r.json?.error?.code], JSON.stringify(headers)).to.deep.equal([401, 'auth.required']);
      expect((await rawRequest(host.url, 'GET', '/api/audit', headers)).status, `GET /api/audit ${JSON.stringify(headers)}`).to.equal(401);
    }
    // a signed-in technician on TCP still needs the CSRF token the socket does without
    const noToken = await rawRequest(host.url, 'POST', '/api/plugins/spare/disable', { cookie: tech.cookie, 'content-type': 'application/json' }, '{}');
    expect(noToken.status).to.equal(403);
    expect(await enabled('spare')).to.equal(true);
  });

  it("a plugin's own-authentication route answers without a session only for GET and only while the plugin is active, and opens none of its other routes", async function () {
    const get = (path: string, headers: Record<string, string> = {}) => rawRequest(host.url, 'GET', path, headers);
    const open = await get('/api/ext/door/open');
    expect([open.status, open.json]).to.deep.equal([200, { open: true, user: null }]);
    expect((await get('/api/ext/door/open', { cookie: tech.cookie })).json, 'signed in: the route sees the user').to.deep.equal({ open: true, user: TECH.name });
    // the plugin's other routes still need a session
    const inside = await get('/api/ext/door/inside');
    expect([inside.status, inside.json?.error?.code]).to.deep.equal([401, 'auth.required']);
    expect((await get('/api/ext/door/inside', { cookie: tech.cookie })).json).to.deep.equal({ inside: true });
    // no other method reaches the public route without a session
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await rawRequest(host.url, method, '/api/ext/door/open', { 'content-type': 'application/json' }, '{}');
      expect(r.status, `${method} /api/ext/door/open`).to.equal(401);
    }
    // disabled: the route is gone for everyone
    expect((await call(host.url, tech, 'POST', '/api/plugins/door/disable', {})).status).to.equal(200);
    const gone = await get('/api/ext/door/open');
    expect([gone.status, gone.json?.error?.code], 'anonymous, plugin disabled').to.deep.equal([401, 'auth.required']);
    const goneTech = await get('/api/ext/door/open', { cookie: tech.cookie });
    expect([goneTech.status, goneTech.json?.error?.code], 'technician, plugin disabled').to.deep.equal([404, 'plugin.unavailable']);
    expect((await call(host.url, tech, 'POST', '/api/plugins/door/enable', {})).status).to.equal(200);
    expect((await get('/api/ext/door/open')).status, 'enabled again').to.equal(200);
  });
});
