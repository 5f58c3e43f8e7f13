/**
 * The host's access guarantees checked against an independent, hand-written table of what each role may do
 * (not read from the product's own route list), CSRF probed with a technician session — whose role would be
 * enough, so only the CSRF check can refuse — and plugins with an invalid manifest whose main module has a
 * top-level side effect, so any import of their code is seen (not only a call of activate()).
 * The host runs inside the test process (inprocess.ts: the real Kernel and koa app over HTTP on 127.0.0.1),
 * so that mutation testing can run these checks against each mutant in seconds; access.test.ts and
 * manifest.test.ts check the same paths against the real host process.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, removeDir } from '#support/tmp.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';
import { startInProcessHost, type InProcessHost } from './inprocess.js';
import { login, call, type Session } from './sessions.js';

type Role = 'public' | 'operator' | 'technician';
type Who = 'anonymous' | 'operator' | 'technician';

/**
 * What each route needs, written down by hand from docs/API.md and docs/SECURITY.md. `pattern` is the route
 * as /api/routes names it (checked for completeness below); `path` is the concrete request; `ok` the status
 * of an allowed request.
 */
interface Rule { method: string; pattern: string; path: string; needs: Role; ok: number; body?: unknown }

const SPARE = 'spare';
const TABLE: Rule[] = [
  { method: 'GET', pattern: '/api/health', path: '/api/health', needs: 'public', ok: 200 },
  { method: 'GET', pattern: '/api/auth/session', path: '/api/auth/session', needs: 'public', ok: 200 },
  { method: 'GET', pattern: '/api/plugins', path: '/api/plugins', needs: 'operator', ok: 200 },
  { method: 'POST', pattern: '/api/plugins/:id/disable', path: `/api/plugins/${SPARE}/disable`, needs: 'technician', ok: 200, body: {} },
  { method: 'POST', pattern: '/api/plugins/:id/enable', path: `/api/plugins/${SPARE}/enable`, needs: 'technician', ok: 200, body: {} },
  { method: 'GET', pattern: '/api/settings', path: '/api/settings', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/settings/:plugin', path: '/api/settings/guarded', needs: 'operator', ok: 200 },
  // the route is open to operators; each setting names its own role (x-role, default technician)
  { method: 'PUT', pattern: '/api/settings/:plugin', path: '/api/settings/guarded', needs: 'operator', ok: 200, body: { note: 'vom Tresen' } },
  { method: 'PUT', pattern: '/api/settings/:plugin', path: '/api/settings/guarded', needs: 'technician', ok: 200, body: { secret: 'Geheim-123456' } },
  { method: 'GET', pattern: '/api/actions', path: '/api/actions', needs: 'operator', ok: 200 },
  { method: 'POST', pattern: '/api/actions/:id', path: '/api/actions/guarded.op', needs: 'operator', ok: 202, body: {} },
  { method: 'POST', pattern: '/api/actions/:id', path: '/api/actions/guarded.tech', needs: 'technician', ok: 202, body: {} },
  { method: 'GET', pattern: '/api/jobs', path: '/api/jobs', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/jobs/:id', path: '/api/jobs/{opJob}', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/jobs/:id/events', path: '/api/jobs/{opJob}/events', needs: 'operator', ok: 200 },
  { method: 'POST', pattern: '/api/jobs/:id/cancel', path: '/api/jobs/{opJob}/cancel', needs: 'operator', ok: 200, body: {} },
  // cancelling needs the role of the job's action
  { method: 'POST', pattern: '/api/jobs/:id/cancel', path: '/api/jobs/{techJob}/cancel', needs: 'technician', ok: 200, body: {} },
  { method: 'GET', pattern: '/api/panels', path: '/api/panels', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/schedules', path: '/api/schedules', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/audit', path: '/api/audit', needs: 'technician', ok: 200 },
  { method: 'GET', pattern: '/api/routes', path: '/api/routes', needs: 'technician', ok: 200 },
  // plugin routes: GET defaults to operator, anything else to technician, unless the plugin names a role
  { method: 'GET', pattern: '/api/ext/guarded/peek', path: '/api/ext/guarded/peek', needs: 'operator', ok: 200 },
  { method: 'GET', pattern: '/api/ext/guarded/count', path: '/api/ext/guarded/count', needs: 'operator', ok: 200 },
  { method: 'POST', pattern: '/api/ext/guarded/do', path: '/api/ext/guarded/do', needs: 'technician', ok: 200, body: {} },
  { method: 'POST', pattern: '/api/ext/guarded/counter', path: '/api/ext/guarded/counter', needs: 'operator', ok: 200, body: {} },
  { method: 'DELETE', pattern: '/api/ext/guarded/wipe', path: '/api/ext/guarded/wipe', needs: 'technician', ok: 200 },
];
/** Routes probed separately (their effect ends or starts a session), with the role they need. */
const SEPARATE: Rule[] = [
  { method: 'POST', pattern: '/api/auth/login', path: '/api/auth/login', needs: 'public', ok: 200 },
  { method: 'POST', pattern: '/api/auth/setup', path: '/api/auth/setup', needs: 'public', ok: 409 },
  { method: 'POST', pattern: '/api/auth/logout', path: '/api/auth/logout', needs: 'operator', ok: 200, body: {} },
  // a stream that never ends: its role check is in test/ui/src/shell.test.ts
  { method: 'GET', pattern: '/api/jobs/events', path: '/api/jobs/events', needs: 'operator', ok: 200 },
];

const RANK: Record<Who, number> = { anonymous: 0, operator: 1, technician: 2 };
const NEED: Record<Role, number> = { public: 0, operator: 1, technician: 2 };

/** Waits until job `id` has finished. */
async function waitForJob(url: string, s: Session, id: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const r = await call(url, s, 'GET', `/api/jobs/${id}`);
    if (r.status !== 200) throw new Error(`job ${id}: ${r.status}`);
    if (r.body.state !== 'running') return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

describe('host guarantees: an independent role table and CSRF for technician sessions', function () {
  this.timeout(180_000);
  let root: string;
  let host: InProcessHost;
  const sessions: Partial<Record<Who, Session>> = {};
  const ids: Record<string, string> = {};
  const TECH = { name: 'technik2', password: 'Technik-Passwort-1' };
  const OP = { name: 'tresen', password: 'Tresen-Passwort-1' };

  before(async function () {
    root = await tempDir('kw-guarantees-');
    {
      await writePlugin(root, 'guarded', manifest('guarded', {
        activationEvents: ['onStartup'],
        contributes: {
          settings: { type: 'object', properties: { secret: { type: 'string', format: 'password' }, note: { type: 'string', default: '', 'x-role': 'operator' } } },
          actions: [{ id: 'guarded.op', title: 'Für alle' }, { id: 'guarded.tech', title: 'Nur Technik', role: 'technician' }],
        },
      }), pluginCode(`
        ctx.registerAction('guarded.op', async () => 'ok');
        ctx.registerAction('guarded.tech', async () => 'ok');
        let count = 0;
        ctx.registerRoute('POST', '/do', () => ({ done: true }));
        ctx.registerRoute('GET', '/peek', () => ({ ok: true }));
        ctx.registerRoute('POST', '/counter', () => ({ count: ++count }), { role: 'operator' });
        ctx.registerRoute('DELETE', '/wipe', () => ({ wiped: true }));
        ctx.registerRoute('GET', '/count', () => ({ count }));
      `));
      await writePlugin(root, SPARE, manifest(SPARE), pluginCode());
    }
    host = await startInProcessHost({
      pluginDirs: [root], enable: ['guarded', SPARE],
      users: [{ ...TECH, role: 'technician' }, { ...OP, role: 'operator' }],
    });
    sessions.technician = await login(host.url, TECH.name, TECH.password);
    sessions.operator = await login(host.url, OP.name, OP.password);
    // one finished job of each action, for the job routes
    for (const [key, action] of [['opJob', 'guarded.op'], ['techJob', 'guarded.tech']]) {
      const r = await call(host.url, sessions.technician, 'POST', `/api/actions/${action}`, {});
      expect(r.status, JSON.stringify(r.body)).to.equal(202);
      ids[key] = r.body.job.id;
      await waitForJob(host.url, sessions.technician, ids[key]);
    }
  });
  after(async () => {
    await host?.close();
    if (root) await removeDir(root);
  });
  const api = (method: string, path: string, body?: unknown) => call(host.url, sessions.technician!, method, path, body);

  const request = (who: Who, r: Rule, csrf?: string | null, extra: Record<string, string> = {}) => {
    const headers: Record<string, string> = { ...extra };
    const s = who === 'anonymous' ? undefined : sessions[who];
    if (s) headers.cookie = s.cookie;
    if (s && csrf !== null) headers['x-csrf-token'] = csrf ?? s.csrf;
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    const path = r.path.replace(/\{(\w+)\}/g, (_, k: string) => ids[k]);
    return fetch(host.url + path, { method: r.method, headers, body: r.body === undefined ? undefined : JSON.stringify(r.body) });
  };
  const spareState = async () => ((await api('GET', '/api/plugins')).body as { id: string; enabled: boolean }[]).find((p) => p.id === SPARE)!.enabled;
  const counter = async () => ((await api('GET', '/api/ext/guarded/count')).body as { count: number }).count;

  it('every route the product serves is in the hand-written table (a new route must be given its role here)', async function () {
    const served = (await api('GET', '/api/routes')).body as { method: string; path: string }[];
    const known = new Set([...TABLE, ...SEPARATE].map((r) => `${r.method} ${r.pattern}`));
    const missing = served.map((r) => `${r.method} ${r.path}`).filter((k) => !known.has(k));
    expect(missing, 'routes without an expected role in test/host/guarantees.test.ts').to.deep.equal([]);
    // and the other way round: every route of the table is in the product's list (an empty list proves nothing)
    const listed = new Set(served.map((r) => `${r.method} ${r.path}`));
    const unlisted = [...new Set([...TABLE, ...SEPARATE].map((r) => `${r.method} ${r.pattern}`))].filter((k) => !listed.has(k));
    expect(unlisted, 'routes of the table that /api/routes does not name').to.deep.equal([]);
  });

  it('answers each route as the table says, for no session, an operator and a technician', async function () {
    for (const r of TABLE) {
      for (const who of ['anonymous', 'operator', 'technician'] as Who[]) {
        const res = await request(who, r);
        const text = await res.text();
        const expected = RANK[who] >= NEED[r.needs] ? r.ok : who === 'anonymous' ? 401 : 403;
        expect(res.status, `${who}: ${r.method} ${r.path} ${JSON.stringify(r.body ?? '')} → ${text.slice(0, 200)}`).to.equal(expected);
        if (expected === 403) expect(text, `${who}: ${r.method} ${r.path}`).to.match(/Techniker/);
        // a started job must end before the next role starts the same action (else: "läuft bereits")
        if (res.status === 202) await waitForJob(host.url, sessions.technician!, (JSON.parse(text) as { job: { id: string } }).job.id);
      }
    }
    expect(await spareState(), 'spare enabled again at the end (disable then enable as technician)').to.equal(true);
  });

  it('logout needs a session; login and setup are public', async function () {
    const anon = await fetch(host.url + '/api/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anon.status).to.equal(401);
    for (const u of [OP, TECH]) {
      const s = await login(host.url, u.name, u.password);
      const out = await fetch(host.url + '/api/auth/logout', { method: 'POST', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf } });
      expect(out.status, u.name).to.equal(200);
      expect((await fetch(host.url + '/api/plugins', { headers: { cookie: s.cookie } })).status, `${u.name} after logout`).to.equal(401);
    }
    const setup = await fetch(host.url + '/api/auth/setup', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'x', name: 'y', password: 'Ein-gutes-Passwort' }) });
    expect(setup.status).to.equal(409);
  });

  it('refuses every mutating route for a technician session without, with a wrong, or with another user\'s CSRF token — and does nothing', async function () {
    const mutating = TABLE.filter((r) => r.method !== 'GET' && r.needs !== 'public');
    const countBefore = await counter();
    const jobsBefore = ((await api('GET', '/api/jobs?limit=500')).body as unknown[]).length;
    const settingsBefore = (await api('GET', '/api/settings/guarded')).body;
    for (const r of mutating) {
      for (const [label, token] of [['no token', null], ['wrong token', 'x'.repeat(43)], ['the operator\'s token', sessions.operator!.csrf], ['empty token', '']] as const) {
        const res = await request('technician', r, token);
        const body = await res.json() as { error?: { message: string } };
        expect(res.status, `${label}: ${r.method} ${r.path}`).to.equal(403);
        expect(body.error?.message, `${label}: ${r.method} ${r.path}`).to.equal('Sicherheitsprüfung fehlgeschlagen (CSRF). Bitte die Seite neu laden.');
      }
      const cross = await request('technician', r, undefined, { origin: 'http://evil.example' });
      expect(cross.status, `cross-site: ${r.method} ${r.path}`).to.equal(403);
    }
    // none of the refused requests had an effect
    expect(await spareState()).to.equal(true);
    expect(await counter()).to.equal(countBefore);
    expect(((await api('GET', '/api/jobs?limit=500')).body as unknown[]).length).to.equal(jobsBefore);
    expect((await api('GET', '/api/settings/guarded')).body).to.deep.equal(settingsBefore);
  });

  it('answers refusals and unknown targets with the German message and code, checks Origin and Sec-Fetch-Site, and takes only JSON at login', async function () {
    const t = sessions.technician!;
    const raw = (path: string, init: RequestInit) => fetch(host.url + path, init).then(async (r) => ({ status: r.status, body: await r.json() as { error?: { code: string; message: string } } }));
    const anon = await raw('/api/plugins', {});
    expect([anon.status, anon.body.error?.code, anon.body.error?.message]).to.deep.equal([401, 'auth.required', 'Bitte zuerst anmelden.']);
    const anonPost = await raw('/api/ext/guarded/counter', { method: 'POST' });
    expect([anonPost.status, anonPost.body.error?.code, anonPost.body.error?.message]).to.deep.equal([401, 'auth.required', 'Bitte zuerst anmelden.']);
    const headers = (extra: Record<string, string> = {}) => ({ cookie: t.cookie, 'x-csrf-token': t.csrf, 'content-type': 'application/json', ...extra });
    const before = await counter();
    expect((await raw('/api/ext/guarded/counter', { method: 'POST', headers: headers({ origin: host.url }), body: '{}' })).status, 'same-host Origin').to.equal(200);
    for (const site of ['same-origin', 'none']) expect((await raw('/api/ext/guarded/counter', { method: 'POST', headers: headers({ 'sec-fetch-site': site }), body: '{}' })).status, site).to.equal(200);
    const other = await raw('/api/ext/guarded/counter', { method: 'POST', headers: headers({ origin: 'http://127.0.0.1:1' }), body: '{}' });
    expect([other.status, other.body.error?.message]).to.deep.equal([403, 'Anfrage von einer fremden Seite abgelehnt (Herkunft passt nicht).']);
    for (const site of ['cross-site', 'same-site']) {
      const r = await raw('/api/ext/guarded/counter', { method: 'POST', headers: headers({ 'sec-fetch-site': site }), body: '{}' });
      expect([r.status, r.body.error?.message], site).to.deep.equal([403, 'Anfrage von einer fremden Seite abgelehnt.']);
    }
    expect(await counter()).to.equal(before + 3);
    const form = await raw('/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=a&password=b' });
    expect([form.status, form.body.error?.code, form.body.error?.message]).to.deep.equal([415, 'request.type', 'Anfrage muss JSON sein.']);
    const expectError = async (method: string, path: string, body: unknown, status: number, code: string, message: string) => {
      const r = await call(host.url, t, method, path, body);
      expect([r.status, r.body?.error?.code, r.body?.error?.message], `${method} ${path}`).to.deep.equal([status, code, message]);
    };
    // A JSON list is no settings object: refused by the body parser (host/src/http/body.ts) before the route.
    await expectError('PUT', '/api/settings/guarded', ['note'], 400, 'request.body', 'Erwartet wird ein JSON-Objekt ({…}), nicht eine Liste.');
    await expectError('PUT', '/api/settings/nirgends', { a: 1 }, 404, 'settings.unknown', 'Das Plugin „nirgends“ hat keine Einstellungen.');
    await expectError('POST', '/api/actions/guarded.nope', {}, 404, 'action.unknown', 'Die Aktion „guarded.nope“ gibt es nicht (oder ihr Plugin ist deaktiviert).');
    await expectError('POST', '/api/jobs/no-such-job/cancel', {}, 404, 'job.unknown', 'Diesen Vorgang gibt es nicht.');
    await expectError('GET', '/api/ext/nirgends/peek', undefined, 404, 'plugin.unavailable', 'Das Plugin „nirgends“ ist nicht aktiv.');
    await expectError('GET', '/api/ext/spare/peek', undefined, 404, 'not-found', 'Das Plugin „spare“ bietet keine Schnittstellen an.');
    await expectError('GET', '/api/ext/guarded/nope', undefined, 404, 'not-found', 'Die Adresse /api/ext/guarded/nope gibt es nicht.');
    const op = sessions.operator!;
    const r = await call(host.url, op, 'PUT', '/api/settings/guarded', { secret: 'x' });
    expect([r.status, r.body?.error?.message]).to.deep.equal([403, 'Die Einstellung „secret“ darf nur ein Techniker ändern.']);
  });

  it('the same technician session with its own token is allowed (the refusals above were CSRF only)', async function () {
    const r = TABLE.find((x) => x.path === '/api/ext/guarded/counter')!;
    const before = await counter();
    expect((await request('technician', r)).status).to.equal(200);
    expect(await counter()).to.equal(before + 1);
    const disable = TABLE.find((x) => x.pattern === '/api/plugins/:id/disable')!;
    expect((await request('technician', disable, 'falsch')).status).to.equal(403);
    expect(await spareState()).to.equal(true);
    expect((await request('technician', disable)).status).to.equal(200);
    expect(await spareState()).to.equal(false);
    expect((await request('technician', TABLE.find((x) => x.pattern === '/api/plugins/:id/enable')!)).status).to.equal(200);
    expect(await spareState()).to.equal(true);
  });
});

/** Invalid manifests; each plugin's main module writes a marker file the moment it is imported. */
const INVALID: [string, Record<string, unknown>][] = [
  ['unknown-key', { colour: 'red' }],
  ['engine-too-new', { engines: { kassenwart: '^2.0.0' } }],
  ['bad-activation-event', { activationEvents: ['onMoonrise'] }],
  ['action-wrong-prefix', { contributes: { actions: [{ id: 'other.run', title: 'X' }] } }],
  ['schedule-unknown-action', { contributes: { schedules: [{ id: 'schedule-unknown-action.s', action: 'schedule-unknown-action.nope', cron: '0 7 * * *' }] } }],
];

describe('host guarantees: no code of a plugin with an invalid manifest is imported (top-level side effect)', function () {
  this.timeout(180_000);
  let root: string;
  let host: InProcessHost;
  let markers: string;
  let tech: Session;

  const importMarker = (id: string) => `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(join(markers, id))}, 'imported');\n`;

  before(async function () {
    markers = await tempDir('kw-markers-');
    root = await tempDir('kw-invalid-');
    {
      for (const [id, bad] of INVALID) {
        await writePlugin(root, id, manifest(id, { activationEvents: ['onStartup'], ...bad }), importMarker(id) + pluginCode());
      }
      // controls: a valid plugin with the same marker is imported; a valid one that is not enabled is not
      await writePlugin(root, 'valid-control', manifest('valid-control', { activationEvents: ['onStartup'] }), importMarker('valid-control') + pluginCode());
      await writePlugin(root, 'not-enabled', manifest('not-enabled', { activationEvents: ['onStartup'] }), importMarker('not-enabled') + pluginCode());
    }
    const user = { name: 'technik3', password: 'Technik-Passwort-3', role: 'technician' as const };
    host = await startInProcessHost({ pluginDirs: [root], enable: ['valid-control'], users: [user] });
    tech = await login(host.url, user.name, user.password);
  });
  after(async () => {
    await host?.close();
    if (root) await removeDir(root);
    if (markers) await removeDir(markers);
  });

  it('imports the valid enabled plugin (the marker works), and none of the invalid ones, even after an explicit enable', async function () {
    expect(existsSync(join(markers, 'valid-control')), 'valid-control imported').to.equal(true);
    const list = (await call(host.url, tech, 'GET', '/api/plugins')).body as { id: string; dir: string; state: string }[];
    for (const [id] of INVALID) {
      expect(list.find((p) => p.dir === join(root, id))?.state, id).to.equal('failed');
      // asking for it does not import it either
      await call(host.url, tech, 'POST', `/api/plugins/${id}/enable`, {});
      expect(existsSync(join(markers, id)), `code of ${id} was imported`).to.equal(false);
    }
    expect(existsSync(join(markers, 'not-enabled')), 'code of a plugin that is not enabled was imported').to.equal(false);
  });
});
