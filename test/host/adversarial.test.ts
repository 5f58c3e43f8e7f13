/**
 * The standing adversarial suite (issue 11): what an attacker on the salon network, or an unlucky script, sends.
 * Every state-changing route is enumerated from the router and tried in every other spelling of its path; CSRF is
 * checked for every state-changing request whatever its path and whatever the role; parallel password guesses;
 * settings bodies fuzzed from the plugins' own schemas (see settings-fuzz.ts).
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestHost } from 'kassenwart/sdk/testing';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';
import { rawLogin, rawRequest, type RawSession } from './raw-http.js';

interface RouteInfo { method: string; path: string; role: string }

/**
 * Every other spelling of `path` (the route `pattern` filled in) a client, proxy or router might treat as the same
 * address. Parameter values are data, not spelling: "Guarded" is another plugin id, so only literal segments change case.
 */
export function pathVariants(path: string, pattern = path): string[] {
  const segs = path.split('/'); // ['', 'api', 'plugins', 'guarded', 'disable']
  const last = segs.length - 1;
  const lit = pattern.split('/').map((x, i) => (x.startsWith(':') ? -1 : i)).filter((i) => i > 2);
  const lastLit = lit.length ? lit[lit.length - 1] : 2;
  const enc = (c: string) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0');
  const v = [
    '/API' + path.slice(4),
    '/Api' + path.slice(4),
    path.toUpperCase(),
    [...segs.slice(0, 2), segs[2].toUpperCase(), ...segs.slice(3)].join('/'),
    segs.map((x, i) => (i === lastLit ? x.replace(/^./, (c) => c.toUpperCase()) : x)).join('/'),
    path + '/',
    path + '//',
    '/' + path,
    path.replace('/api/', '/api//'),
    [...segs.slice(0, last)].join('/') + '%2F' + segs[last],
    [...segs.slice(0, last)].join('/') + '%2f' + segs[last],
    path.replace('/api/', '/api%2F'),
    [...segs.slice(0, last)].join('/') + '%252F' + segs[last],
    '/' + enc('a') + path.slice(2),
    path.replace(/\/([a-z])([^/]*)$/, (_m, c: string, rest: string) => '/' + enc(c) + rest),
    path.replace(/\.([a-z])/, (_m, c: string) => '%2E' + c),
    path.replace('/api/', '/api/./'),
    path.replace('/api/', '/api/x/../'),
    path.replace('/api/', '/api/%2e/'),
    path.replace('/api/', '/api/%2E%2E/api/'),
    '/x/..' + path,
    path + '/.',
    path.replace(/\//g, '\\'),
    path.replace('/api/', '/api\\'),
    path.replace(/\/([^/]+)$/, '/$1;x'),
    path + '%00',
    path + '%20',
    path.replace('/api/', '/%61pi/'),
  ];
  return [...new Set(v)].filter((x) => x !== path);
}

describe('adversarial: every other spelling of a state-changing API path', function () {
  let fixture: FixtureHost;
  let host: TestHost;
  let routes: RouteInfo[];
  let tech: RawSession;
  let operator: RawSession;
  let slowJob: string;

  before(async function () {
    fixture = await startFixtureHost(async (root) => {
      await writePlugin(root, 'guarded', manifest('guarded', {
        activationEvents: ['onStartup'],
        contributes: {
          settings: { type: 'object', properties: { note: { type: 'string', default: '', maxLength: 100, 'x-role': 'operator' } } },
          actions: [
            { id: 'guarded.op', title: 'Für alle' },
            { id: 'guarded.tech', title: 'Nur Technik', role: 'technician' },
            { id: 'guarded.slow', title: 'Langsam' },
          ],
        },
      }), pluginCode(`
        const mark = (what) => fs.appendFileSync(path.join(ctx.installationDir, 'effects.log'), what + '\\n');
        ctx.registerAction('guarded.op', async () => { mark('action guarded.op'); return 'ok'; });
        ctx.registerAction('guarded.tech', async () => { mark('action guarded.tech'); return 'ok'; });
        ctx.registerAction('guarded.slow', async (job) => {
          await new Promise((resolve) => { const t = setTimeout(resolve, 120000); job.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }); });
          return 'fertig';
        });
        ctx.registerRoute('POST', '/do', () => { mark('POST /do'); return { done: true }; });
        ctx.registerRoute('PUT', '/item/:name', (req) => { mark('PUT /item/' + req.params.name); return { ok: true }; });
        ctx.registerRoute('DELETE', '/item/:name', (req) => { mark('DELETE /item/' + req.params.name); return { ok: true }; }, { role: 'operator' });
        ctx.registerRoute('GET', '/peek', () => ({ ok: true }));
      `));
    }, { enable: ['guarded'] });
    host = fixture.host;
    expect(host.cli(['users', 'add', 'kasse', '--role', 'operator', '--password-stdin'], 'Kasse-Passwort-1\n').status).to.equal(0);
    expect(host.cli(['users', 'add', 'chef', '--role', 'technician', '--password-stdin'], 'Chef-Passwort-1\n').status).to.equal(0);
    expect(host.cli(['users', 'add', 'opfer40', '--role', 'operator', '--password-stdin'], 'Richtig-Passwort-40\n').status).to.equal(0);
    tech = await rawLogin(host.url, 'chef', 'Chef-Passwort-1');
    operator = await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1');
    expect(tech.csrf).to.not.equal('');
    routes = (await host.api('GET', '/api/routes')).body;
    const started = await host.api('POST', '/api/actions/guarded.slow', {});
    expect(started.status).to.equal(202);
    slowJob = started.body.job.id;
  });
  after(async function () {
    await fixture?.dispose();
  });

  const concrete = (r: RouteInfo) => r.path
    .replace(/^\/api\/plugins\/:id/, '/api/plugins/guarded')
    .replace(/^\/api\/actions\/:id/, '/api/actions/guarded.op')
    .replace(/^\/api\/jobs\/:id/, `/api/jobs/${slowJob}`)
    .replace(':plugin', 'guarded')
    .replace(':name', 'x');
  const mutating = () => routes.filter((r) => r.method !== 'GET');

  /** Everything a state-changing request could have changed. */
  async function snapshot() {
    const audit = (await host.api('GET', '/api/audit?limit=1000')).body as unknown[];
    const settings = (await host.api('GET', '/api/settings/guarded')).body.values;
    const plugins = ((await host.api('GET', '/api/plugins')).body as { id: string; state: string; enabled: boolean }[]).map((p) => `${p.id}:${p.state}:${p.enabled}`);
    const jobs = ((await host.api('GET', '/api/jobs?limit=500')).body as { id: string; state: string }[]).map((j) => `${j.id}:${j.state}`);
    const effects = await readFile(join(host.dataDir, 'effects.log'), 'utf8').catch(() => '');
    const session = (await rawRequest(host.url, 'GET', '/api/auth/session', { cookie: tech.cookie })).json?.user?.name;
    return { audit: audit.length, settings, plugins, jobs, effects, session };
  }

  it('enumerates the state-changing routes from the router, plugin routes included', function () {
    const names = mutating().map((r) => `${r.method} ${r.path}`);
    expect(names).to.include.members(['POST /api/auth/login', 'POST /api/auth/setup', 'POST /api/auth/logout', 'POST /api/plugins/:id/disable',
      'PUT /api/settings/:plugin', 'POST /api/actions/:id', 'POST /api/jobs/:id/cancel', 'POST /api/ext/guarded/do', 'PUT /api/ext/guarded/item/:name', 'DELETE /api/ext/guarded/item/:name']);
  });

  it('refuses every other spelling (casing, trailing or double slashes, encoded slashes, dot segments) with a German 404 and changes nothing', async function () {
    const before = await snapshot();
    const wrong: string[] = [];
    let tried = 0;
    for (const r of mutating()) {
      for (const variant of pathVariants(concrete(r), r.path)) {
        tried++;
        const res = await rawRequest(host.url, r.method, variant, tech.headers(), JSON.stringify({ note: 'variante', params: {}, name: 'chef', password: 'Chef-Passwort-1' }));
        const code = res.json?.error?.code;
        if (!variant.startsWith('/') && res.status === 400) continue; // refused by Node's HTTP parser already
        if (![400, 404].includes(res.status) || !['not-found', 'request.path', 'request.target'].includes(code) || !/[äöüß]|gibt es nicht|Ungültig/.test(res.json?.error?.message ?? '')) {
          wrong.push(`${r.method} ${variant} → ${res.status} ${res.text.slice(0, 120)}`);
        }
      }
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    expect(tried).to.be.greaterThan(200);
    expect(await snapshot()).to.deep.equal(before);
  });

  it('applies the CSRF and same-site checks to every state-changing request whatever its path or method', async function () {
    const before = await snapshot();
    const wrong: string[] = [];
    const paths = mutating().flatMap((r) => [concrete(r), ...pathVariants(concrete(r), r.path)].map((p) => [r.method, p] as const));
    const other = ['/', '/index.html', '/ui/src/app.js', '/plugins/guarded/index.js', '/nope', '/API', '/apix/plugins/guarded/disable', '/api'];
    for (const m of ['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND']) for (const p of other) paths.push([m, p]);
    for (const m of ['PATCH', 'PROPFIND', 'MKCOL']) paths.push([m, '/api/plugins/guarded/disable'], [m, '/api/settings/guarded']);
    for (const [method, path] of paths) {
      // a cross-site form post: the browser adds the cookie, the page cannot read the token
      const crossSite = await rawRequest(host.url, method, path,
        { cookie: tech.cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' }, '{"note":"fremd"}');
      if (!path.startsWith('/') && crossSite.status === 400) continue; // refused by Node's HTTP parser already
      if (crossSite.status !== 403) wrong.push(`cross-site ${method} ${path} → ${crossSite.status} ${crossSite.text.slice(0, 100)}`);
      const publicRoute = method === 'POST' && (path === '/api/auth/login' || path === '/api/auth/setup');
      if (publicRoute) continue;
      const noToken = await rawRequest(host.url, method, path, { cookie: tech.cookie, 'content-type': 'application/json' }, '{"note":"ohne"}');
      if (noToken.status !== 403 || !/CSRF/.test(noToken.json?.error?.message ?? '')) wrong.push(`no token ${method} ${path} → ${noToken.status} ${noToken.text.slice(0, 100)}`);
      const noSession = await rawRequest(host.url, method, path, { 'content-type': 'application/json' }, '{"note":"anonym"}');
      if (noSession.status !== 401) wrong.push(`no session ${method} ${path} → ${noSession.status} ${noSession.text.slice(0, 100)}`);
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    expect(await snapshot()).to.deep.equal(before);
  });

  it('checks CSRF for technician sessions on technician routes before the role, and for operators alike', async function () {
    const before = await snapshot();
    const wrong: string[] = [];
    for (const r of mutating().filter((x) => x.role !== 'public')) {
      for (const [who, s] of [['technician', tech], ['operator', operator]] as const) {
        for (const token of [undefined, 'falsch', s.csrf + 'x']) {
          const headers: Record<string, string> = { cookie: s.cookie, origin: host.url, 'content-type': 'application/json' };
          if (token !== undefined) headers['x-csrf-token'] = token;
          const res = await rawRequest(host.url, r.method, concrete(r), headers, '{"note":"csrf"}');
          if (res.status !== 403 || !/Sicherheitsprüfung fehlgeschlagen \(CSRF\)/.test(res.json?.error?.message ?? '')) {
            wrong.push(`${who} token=${token ?? '(keins)'} ${r.method} ${r.path} → ${res.status} ${res.text.slice(0, 100)}`);
          }
        }
      }
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    expect(await snapshot()).to.deep.equal(before);
  });

  it('the canonical spelling of each enumerated route does reach its handler (the variants above were real routes)', async function () {
    const last = (r: RouteInfo) => (r.path.endsWith('/disable') ? 1 : 0); // disabling the fixture plugin ends its routes
    for (const r of mutating().filter((x) => x.path !== '/api/auth/logout').sort((a, b) => last(a) - last(b))) {
      const res = await rawRequest(host.url, r.method, concrete(r), tech.headers(), JSON.stringify({ note: 'kanonisch' }));
      expect(['not-found', 'request.path'], `${r.method} ${concrete(r)} → ${res.status} ${res.text}`).to.not.include(res.json?.error?.code);
    }
    const job = await host.waitForJob(slowJob, 30_000);
    expect(job.state).to.equal('cancelled');
    const effects = await readFile(join(host.dataDir, 'effects.log'), 'utf8');
    expect(effects).to.contain('POST /do').and.to.contain('PUT /item/x').and.to.contain('DELETE /item/x');
    expect((await host.api('POST', '/api/plugins/guarded/enable', {})).status).to.equal(200);
  });

  it('40 parallel password guesses: the lock-out counts before the password is checked (429s, the right password is not let through)', async function () {
    const right = 'Richtig-Passwort-40';
    const guesses = Array.from({ length: 40 }, (_, i) => (i === 20 ? right : `falsch-${i}`));
    const answers = await Promise.all(guesses.map((password) =>
      rawRequest(host.url, 'POST', '/api/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ name: 'opfer40', password }))));
    const count = (s: number) => answers.filter((a) => a.status === s).length;
    const checked = count(401) + count(200);
    expect(count(429), answers.map((a) => a.status).join(',')).to.be.at.least(35);
    expect(checked, answers.map((a) => a.status).join(',')).to.be.at.most(5);
    expect(count(401) + count(200) + count(429)).to.equal(40);
    for (const a of answers.filter((x) => x.status === 429)) expect(a.json.error.message).to.match(/Zu viele Fehlversuche/);
    // now locked for this user, whichever password
    const after = await rawRequest(host.url, 'POST', '/api/auth/login', { 'content-type': 'application/json' }, JSON.stringify({ name: 'opfer40', password: right }));
    expect(after.status).to.equal(429);
    // the refused attempts are audited (in batches), with the client address
    const refused = count(429) + 1;
    let sum = 0;
    for (let i = 0; i < 100 && sum < refused; i++) {
      await new Promise((r) => setTimeout(r, 200));
      const audit = (await host.api('GET', '/api/audit?limit=1000')).body as { event: string; user: string; details: { count: number; ip: string; by: string } }[];
      const entries = audit.filter((a) => a.event === 'login.refused' && a.user === 'opfer40');
      sum = entries.reduce((n, a) => n + a.details.count, 0);
      if (entries.length) expect(entries[0].details.ip).to.match(/127\.0\.0\.1/);
    }
    expect(sum).to.equal(refused);
    // another user from the same address is not locked out by it
    expect((await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1')).response.status).to.equal(200);
  });
});
