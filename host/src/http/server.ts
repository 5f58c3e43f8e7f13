import Koa from 'koa';
import Router from '@koa/router';
import send from 'koa-send';
import { PassThrough } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { UserError, isUserError, type Role } from 'kassenwart/sdk';
import { allows, type Session, type User } from '../auth/users.js';
import { createLogger } from '../log.js';
import { PACKAGE_ROOT } from '../version.js';
import { renderPage, uiBundle } from './ui-page.js';
import type { Kernel } from '../kernel.js';
import { isLocalRequest } from './local.js';
import { authRoutes, SESSION_COOKIE, sessionInfo } from './auth-routes.js';
import { jsonBody } from './body.js';
import { isCanonicalApiPath, namesApi, rawPath } from './canonical.js';
import { trustedProxy } from './proxy.js';
import { withAuditLabels } from '../audit-labels.js';

const log = createLogger('http');
/** Methods that change nothing; every other method is state-changing, whatever its path. */
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The only state-changing requests allowed without a session (exact, canonical paths). */
const PUBLIC_MUTATING = new Set(['POST /api/auth/login', 'POST /api/auth/setup']);
const STATIC_EXT = /\.(js|mjs|css|svg|png|jpg|woff2?|map|json|html|ico)$/;
/** What a plugin folder serves to the browser: panel code and assets only (no manifests, configs or data). */
const PLUGIN_EXT = /\.(js|mjs|css|svg|png|jpg|woff2?|map)$/;

type Ctx = Koa.ParameterizedContext<State> & { params: Record<string, string>; request: { body?: unknown } };

interface State {
  session?: Session;
  sessionId?: string;
  authorize: (role: Role) => User;
}

/** The role a route needs, kept beside the router so the authorization tests can enumerate them. */
export interface RouteInfo {
  method: string;
  path: string;
  role: Role | 'public';
}

function originHost(origin: string): string | undefined {
  try { return new URL(origin).host; } catch { return undefined; }
}

/** Compares a sent token with the session's in constant time. */
function sameSecret(sent: string, expected: string): boolean {
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function forbidden(message: string): UserError {
  return new UserError(message, { code: 'auth.forbidden', status: 403 });
}

/** Options of the HTTP app. */
export interface AppOptions {
  /** Addresses of trusted reverse proxies (`--proxy`): only their X-Forwarded-* headers are honoured. */
  proxy?: string[];
}

/**
 * Builds the koa app: error shape, trusted proxies, security headers, sessions, CSRF (for every state-changing
 * request, whatever its path), one canonical spelling of each API path, strict JSON bodies, role checks, the
 * JSON API, server-sent events for job progress, plugin routes under /api/ext/<id>, and the static UI.
 * `flush` writes audit entries still pending (call it at shutdown).
 */
export function createApp(k: Kernel, options: AppOptions = {}): { app: Koa; routes: RouteInfo[]; flush: () => Promise<void> } {
  const app = new Koa();
  const router = new Router({ sensitive: true, strict: true });
  const routes: RouteInfo[] = [];
  const route = (method: 'get' | 'post' | 'put' | 'delete', path: string, role: Role | 'public',
    handler: (ctx: Ctx, user: User | undefined) => Promise<void> | void) => {
    routes.push({ method: method.toUpperCase(), path, role });
    router[method](path, async (ctx) => {
      const user = role === 'public' ? ctx.state.session?.user : ctx.state.authorize(role);
      await handler(ctx as unknown as Ctx, user);
    });
  };

  // ---- errors: one JSON shape, German, never a stack trace
  app.use(async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && !ctx.body) {
        throw new UserError(`Die Adresse ${ctx.path.slice(0, 200)} gibt es nicht.`, { code: 'not-found', status: 404 });
      }
      if ((ctx.status === 405 || ctx.status === 501) && ctx.path.startsWith('/api/')) {
        throw new UserError(`Die Methode ${ctx.method} ist für ${ctx.path} nicht erlaubt.`,
          { code: 'method', status: ctx.status, hint: ctx.response.get('Allow') ? `Erlaubt: ${ctx.response.get('Allow')}.` : undefined });
      }
    } catch (e) {
      const httpErr = e as { status?: number; expose?: boolean; message?: string };
      if (isUserError(e)) {
        const err = e as UserError & { details?: unknown };
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.message, hint: err.hint, details: err.details } };
      } else if (httpErr?.status && httpErr.status < 500 && httpErr.expose) {
        ctx.status = httpErr.status;
        // the library's own text is English (e.g. "failed to decode"): German only, the status says the rest
        ctx.body = { error: { code: 'request', message: `Ungültige Anfrage (HTTP ${httpErr.status}).`, hint: 'Die Adresse bzw. die Eingabe prüfen.' } };
      } else {
        log.error(`${ctx.method} ${ctx.path}: ${(e as Error)?.stack ?? e}`);
        ctx.status = 500;
        ctx.body = { error: { code: 'internal', message: 'Interner Fehler im Server.', hint: 'Bitte erneut versuchen; bleibt der Fehler, den Support anrufen.' } };
      }
    }
  });

  // ---- X-Forwarded-* only from a configured reverse proxy
  app.use(trustedProxy(app, options.proxy ?? []));

  // ---- security headers
  app.use(async (ctx, next) => {
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Content-Security-Policy', "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
    if (ctx.path.startsWith('/api/')) ctx.set('Cache-Control', 'no-store');
    await next();
  });

  // ---- session, CSRF and authorization
  app.use(async (ctx, next) => {
    const state = ctx.state as State;
    // The CLI on this machine, over the unix socket in the data folder (see http/local.ts): the local
    // administrator, as when it works on the data folder itself. It first sees what other processes wrote.
    const localCli = isLocalRequest(ctx.req);
    if (localCli) await k.syncFromDisk();
    const sid = localCli ? undefined : ctx.cookies.get(SESSION_COOKIE);
    const session = localCli
      ? { user: { name: 'cli', role: 'technician' as Role }, csrf: '', expiresAt: '' }
      : await k.users.session(sid);
    state.session = session;
    state.sessionId = session && !localCli ? sid : undefined;
    state.authorize = (role: Role) => {
      if (!state.session) throw new UserError('Bitte zuerst anmelden.', { code: 'auth.required', status: 401 });
      if (!allows(state.session.user.role, role)) {
        throw forbidden('Dafür ist die Rolle „Techniker“ nötig. Bitte als Techniker anmelden.');
      }
      return state.session.user;
    };
    // Every state-changing request, whatever its path, casing or encoding: same site only, and (but for login
    // and setup) a session with its CSRF token. Checked before the path is even looked at, and before any role.
    // The CLI over the data folder's unix socket is the local administrator (see http/local.ts).
    if (!SAFE.has(ctx.method) && !localCli) {
      const origin = ctx.get('origin');
      // Same host is what matters (a TLS reverse proxy in front changes the scheme, not the host).
      if (origin && originHost(origin) !== ctx.host) throw forbidden('Anfrage von einer fremden Seite abgelehnt (Herkunft passt nicht).');
      const fetchSite = ctx.get('sec-fetch-site');
      if (fetchSite && fetchSite !== 'same-origin' && fetchSite !== 'none') throw forbidden('Anfrage von einer fremden Seite abgelehnt.');
      if (!PUBLIC_MUTATING.has(`${ctx.method} ${rawPath(ctx.url)}`)) {
        if (!session) throw new UserError('Bitte zuerst anmelden.', { code: 'auth.required', status: 401 });
        if (!sameSecret(ctx.get('x-csrf-token'), session.csrf)) throw forbidden('Sicherheitsprüfung fehlgeschlagen (CSRF). Bitte die Seite neu laden.');
      } else if (!ctx.is('application/json')) {
        throw new UserError('Anfrage muss JSON sein.', { code: 'request.type', status: 415 });
      }
    }
    await next();
  });

  // ---- one canonical path: any other spelling of an API address is refused, whatever the method
  app.use(async (ctx, next) => {
    const raw = rawPath(ctx.url);
    if (raw === undefined) {
      if (ctx.url === '*' && ctx.method === 'OPTIONS') return next();
      throw new UserError('Ungültiges Anfrageziel: erwartet wird ein Pfad, der mit „/“ beginnt.', { code: 'request.target', status: 400 });
    }
    if (namesApi(raw) && !isCanonicalApiPath(raw)) {
      throw new UserError(`Die Adresse ${raw.slice(0, 200)} gibt es nicht.`, {
        code: 'not-found', status: 404,
        hint: 'Adressen der Schnittstelle genau wie dokumentiert schreiben: klein, ohne „/“ am Ende, ohne „//“, „.“, „..“ und ohne kodierte Zeichen, z. B. /api/plugins/usb/disable.',
      });
    }
    await next();
  });

  app.use(jsonBody());

  const auth = authRoutes(route as never, k);

  /** `GET /api/actions`; `last` is the newest finished run of each action (for "Zuletzt: …", no second request). */
  const actionList = async () => {
    const last = new Map<string, unknown>();
    for (const j of await k.jobs.history(200)) if (j.state !== 'running' && !last.has(j.actionId)) last.set(j.actionId, j);
    return k.plugins.actions().map((a) => ({
      id: a.id, plugin: a.plugin, title: a.title, description: a.description, confirm: a.confirm, success: a.success,
      warning: a.warning, section: a.section,
      exclusive: !!a.exclusive, role: a.role ?? 'operator', location: a.location ?? 'maintenance', running: k.jobs.runningFor(a.id)?.id ?? null,
      last: last.get(a.id) ?? null,
    }));
  };
  /** `GET /api/panels`: the panels a role may see; "sidebar" is the older spelling of the maintenance page's side column. */
  const panelList = (role: Role) => k.plugins.panels().filter((p) => allows(role, p.role ?? 'operator')).map((p) => ({
    plugin: p.plugin, id: p.id, element: p.element, title: p.title, section: p.section,
    location: p.location === 'sidebar' ? 'maintenance' : p.location,
    column: p.location === 'sidebar' ? 'side' : p.column ?? 'main',
    url: `/plugins/${p.plugin}/${p.module.replace(/^\.\//, '')}`,
  }));

  // ---- plugins
  route('get', '/api/plugins', 'operator', (ctx) => { ctx.body = k.pluginList(); });
  route('post', '/api/plugins/:id/enable', 'technician', async (ctx, user) => {
    const enabled = await k.enablePlugin(ctx.params.id, user!.name);
    ctx.body = { enabled, plugins: k.pluginList() };
  });
  route('post', '/api/plugins/:id/disable', 'technician', async (ctx, user) => {
    const cascade = !!(ctx.request.body as { cascade?: boolean } | undefined)?.cascade;
    const disabled = await k.disablePlugin(ctx.params.id, cascade, user!.name);
    ctx.body = { disabled, plugins: k.pluginList() };
  });

  // ---- settings
  route('get', '/api/settings', 'operator', async (ctx) => { ctx.body = await k.settingsList(); });
  route('get', '/api/settings/:plugin', 'operator', async (ctx) => { ctx.body = await k.settingsOf(ctx.params.plugin); });
  route('put', '/api/settings/:plugin', 'operator', async (ctx, user) => {
    const body = ctx.request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new UserError('Erwartet wird ein Objekt mit Einstellungen, z. B. {"mode": "D"}.', { code: 'settings.body' });
    }
    const plugin = ctx.params.plugin;
    if (!k.settings.has(plugin)) throw new UserError(`Das Plugin „${plugin}“ hat keine Einstellungen.`, { code: 'settings.unknown', status: 404 });
    const schema = k.settings.schema(plugin)!;
    for (const key of Object.keys(body)) {
      if (schema.properties[key] && !allows(user!.role, k.settings.roleFor(plugin, key))) {
        throw forbidden(`Die Einstellung „${schema.properties[key].title ?? key}“ darf nur ein Techniker ändern.`);
      }
    }
    await k.setSettings(plugin, body as Record<string, unknown>, user!.name);
    ctx.body = await k.settingsOf(plugin);
  });

  // ---- actions and jobs
  route('get', '/api/actions', 'operator', async (ctx) => { ctx.body = await actionList(); });
  route('post', '/api/actions/:id', 'operator', async (ctx, user) => {
    const action = k.plugins.action(ctx.params.id);
    if (!action) throw new UserError(`Die Aktion „${ctx.params.id}“ gibt es nicht (oder ihr Plugin ist deaktiviert).`, { code: 'action.unknown', status: 404 });
    ctx.state.authorize(action.role ?? 'operator');
    const params = ((ctx.request.body as { params?: Record<string, unknown> } | undefined)?.params) ?? {};
    const job = await k.jobs.start(action.id, { user: user!.name, trigger: isLocalRequest(ctx.req) ? 'cli' : 'user', params });
    // ?follow=1: the answer is the job's event stream ("started" with the job, then as /api/jobs/:id/events),
    // subscribed before anything else is awaited, so no progress message is missed (the CLI uses it)
    const live = ctx.query.follow === '1' ? k.jobs.follow(job.id) : undefined;
    if (live) {
      const es = eventStream(ctx);
      es.send('started', { job });
      followJob(ctx, es, live);
    }
    await k.audit.add(user!.name, 'action.start', action.id, { job: job.id });
    if (live) return;
    ctx.status = 202;
    ctx.body = { job };
  });
  route('get', '/api/jobs', 'operator', async (ctx) => {
    const limit = Math.min(500, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
    ctx.body = await k.jobs.history(limit, typeof ctx.query.action === 'string' ? ctx.query.action : undefined);
  });
  // Every job of this host as it starts and ends (whoever started it: this page, another browser, the CLI, a
  // schedule): "started" and "finished" with the job (no log lines). One stream per page; the shell uses it to
  // refresh what a finished job changed.
  route('get', '/api/jobs/events', 'operator', (ctx) => {
    const es = eventStream(ctx);
    const strip = (j: { log?: unknown }) => { const { log: _log, ...rest } = j; return rest; };
    const onStarted = (j: { log?: unknown }) => es.send('started', strip(j));
    const onFinished = (j: { log?: unknown }) => es.send('finished', strip(j));
    k.jobs.events.on('started', onStarted);
    k.jobs.events.on('finished', onFinished);
    es.stream.write('retry: 3000\n\n');
    ctx.req.on('close', () => {
      k.jobs.events.off('started', onStarted);
      k.jobs.events.off('finished', onFinished);
    });
  });
  route('get', '/api/jobs/:id', 'operator', async (ctx) => {
    const job = await k.jobs.get(ctx.params.id);
    if (!job) throw new UserError('Diesen Vorgang gibt es nicht.', { code: 'job.unknown', status: 404 });
    ctx.body = job;
  });
  route('post', '/api/jobs/:id/cancel', 'operator', async (ctx, user) => {
    const job = await k.jobs.get(ctx.params.id);
    if (!job) throw new UserError('Diesen Vorgang gibt es nicht.', { code: 'job.unknown', status: 404 });
    ctx.state.authorize(k.plugins.action(job.actionId)?.role ?? 'operator');
    const ok = k.jobs.cancel(ctx.params.id);
    if (ok) await k.audit.add(user!.name, 'action.cancel', job.actionId, { job: job.id });
    ctx.body = { cancelled: ok };
  });
  /** Answers with a server-sent event stream (a comment line every 15 s keeps proxies from closing it). */
  const eventStream = (ctx: Ctx) => {
    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = stream;
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), 15_000);
    const stop = () => clearInterval(heartbeat);
    stream.once('finish', stop);
    stream.once('close', stop);
    ctx.req.once('close', stop);
    const send = (event: string, data: unknown) => stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    return { stream, send };
  };
  /** Streams a running job's progress, log lines and its final state ("done"), then ends the stream. */
  const followJob = (ctx: Ctx, es: ReturnType<typeof eventStream>, live: NonNullable<ReturnType<Kernel['jobs']['follow']>>) => {
    const { stream, send } = es;
    const onProgress = (p: unknown) => send('progress', p);
    const onLog = (l: unknown) => send('log', l);
    const cleanup = () => {
      live.events.off('progress', onProgress);
      live.events.off('log', onLog);
      live.events.off('done', onDone);
    };
    const onDone = (j: unknown) => { send('done', j); cleanup(); stream.end(); };
    live.events.on('progress', onProgress);
    live.events.on('log', onLog);
    live.events.once('done', onDone);
    ctx.req.on('close', cleanup);
  };
  route('get', '/api/jobs/:id/events', 'operator', async (ctx) => {
    const id = ctx.params.id;
    const live = k.jobs.follow(id);
    const es = eventStream(ctx);
    if (!live) {
      const job = await k.jobs.get(id);
      if (!job) es.send('error', { code: 'job.unknown', message: 'Diesen Vorgang gibt es nicht.' });
      else es.send('done', job);
      es.stream.end();
      return;
    }
    es.send('progress', { percent: live.view.percent, message: live.view.message });
    followJob(ctx, es, live);
  });

  // ---- panels, schedules, audit, routes
  route('get', '/api/panels', 'operator', (ctx, user) => { ctx.body = panelList(user!.role); });
  route('get', '/api/schedules', 'operator', async (ctx) => { ctx.body = await k.scheduler.list(); });
  route('get', '/api/audit', 'technician', async (ctx) => {
    const list = await k.audit.list(Math.min(1000, Number(ctx.query.limit ?? 200) || 200));
    ctx.body = withAuditLabels(list, k.plugins.list().map((r) => r.manifest));
  });
  route('get', '/api/routes', 'technician', (ctx) => {
    const ext = k.plugins.list().flatMap((r) => k.plugins.routes(r.id).map((x) => ({ method: x.method, path: `/api/ext/${r.id}${x.pattern}`, role: x.role })));
    ctx.body = [...routes, ...ext];
  });

  // ---- plugin routes: /api/ext/<id>/…, same authentication, CSRF, error shape
  app.use(async (ctx, next) => {
    const m = /^\/api\/ext\/([a-z][a-z0-9-]*)(\/.*)?$/.exec(ctx.path);
    if (!m) return next();
    const id = m[1];
    // Routes with their own authentication (auth: 'plugin', GET only) of an already active plugin are
    // tried first; nobody without a session can activate a plugin or reach its other routes.
    const pub = k.plugins.get(id)?.state === 'active' ? k.plugins.get(id)?.publicRouter : undefined;
    if (pub && ctx.method === 'GET') {
      const original = ctx.path;
      ctx.path = m[2] ?? '/';
      try {
        await pub.routes()(ctx as never, async () => {});
      } finally {
        ctx.path = original;
      }
      if (ctx.status !== 404 || ctx.body) return;
    }
    (ctx.state as State).authorize('operator');
    const rec = k.plugins.get(id);
    if (!k.plugins.usable(rec)) throw new UserError(`Das Plugin „${id}“ ist nicht aktiv.`, { code: 'plugin.unavailable', status: 404 });
    await k.plugins.activate(id); // lazy plugins ("onRoute") start with their first request
    const r = k.plugins.get(id)?.router;
    if (!r) throw new UserError(`Das Plugin „${id}“ bietet keine Schnittstellen an.`, { code: 'not-found', status: 404 });
    const original = ctx.path;
    ctx.path = m[2] ?? '/';
    try {
      await r.routes()(ctx as never, async () => {});
    } finally {
      ctx.path = original;
    }
    if (ctx.status === 404 && !ctx.body) throw new UserError(`Die Adresse ${original} gibt es nicht.`, { code: 'not-found', status: 404 });
  });

  app.use(router.routes());
  app.use(router.allowedMethods());

  // ---- static files: UI shell, lit, SDK UI helpers, plugin folders (nothing outside them)
  const vendor = new Set(['lit', 'lit-html', 'lit-element', '@lit/reactive-element']);
  app.use(async (ctx, next) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    const p = ctx.path;
    const opts = { maxage: 0, hidden: false, immutable: false };
    if (p === '/' || p === '/index.html') {
      // The session and the first data the shell needs travel with the page (no extra round trips).
      const session = (ctx.state as State).session;
      const setupRequired = !(await k.users.hasTechnician());
      const boot = {
        session: sessionInfo(session, setupRequired),
        ...(session && !setupRequired ? { actions: await actionList(), panels: panelList(session.user.role) } : {}),
      };
      ctx.set('Cache-Control', 'no-store');
      ctx.type = 'text/html; charset=utf-8';
      ctx.body = await renderPage(boot);
      return;
    }
    if (p === '/ui/kw.js') {
      const b = await uiBundle();
      if (b) {
        ctx.set('Cache-Control', 'no-cache');
        ctx.set('ETag', b.etag);
        ctx.type = 'text/javascript; charset=utf-8';
        if (ctx.get('if-none-match') === b.etag) { ctx.status = 304; return; }
        ctx.body = b.code;
        return;
      }
    }
    let m: RegExpExecArray | null;
    if ((m = /^\/ui\/(.+)$/.exec(p)) && STATIC_EXT.test(p)) {
      await send(ctx, m[1], { ...opts, root: join(PACKAGE_ROOT, 'host', 'ui') });
      return;
    }
    if ((m = /^\/sdk\/ui\/(.+)$/.exec(p)) && STATIC_EXT.test(p)) {
      await send(ctx, m[1], { ...opts, root: join(PACKAGE_ROOT, 'sdk', 'dist', 'ui') });
      return;
    }
    if ((m = /^\/vendor\/((?:@lit\/)?[a-z-]+)\/(.+)$/.exec(p)) && vendor.has(m[1]) && STATIC_EXT.test(p)) {
      await send(ctx, m[2], { ...opts, root: join(PACKAGE_ROOT, 'node_modules', m[1]) });
      return;
    }
    if ((m = /^\/plugins\/([a-z][a-z0-9-]*)\/(.+)$/.exec(p)) && PLUGIN_EXT.test(p) && !/(^|\/)node_modules\//.test(m[2])) {
      const rec = k.plugins.get(m[1]);
      if (rec && k.plugins.usable(rec)) {
        const panel = rec.manifest.contributes?.panels?.find((x) => x.module.replace(/^\.\//, '') === m![2]);
        if (panel && (rec.manifest.activationEvents ?? []).includes(`onPanel:${panel.id}`)) void k.plugins.activate(rec.id).catch(() => {});
        await send(ctx, m[2], { ...opts, root: rec.dir });
        return;
      }
    }
    await next();
  });

  return { app, routes, flush: auth.flush };
}
