import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import send from 'koa-send';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import { UserError, isUserError, type Role } from 'kassenwart/sdk';
import { allows, type Session, type User } from '../auth/users.js';
import { createLogger } from '../log.js';
import { PACKAGE_ROOT, HOST_VERSION } from '../version.js';
import type { Kernel } from '../kernel.js';

const log = createLogger('http');
const COOKIE = 'kw_session';
const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const PUBLIC_MUTATING = new Set(['/api/auth/login', '/api/auth/setup']);
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

function forbidden(message: string): UserError {
  return new UserError(message, { code: 'auth.forbidden', status: 403 });
}

/**
 * Builds the koa app: security headers, error shape, sessions, CSRF, role checks, the JSON API, server-sent
 * events for job progress, plugin routes under /api/ext/<id>, and the static UI.
 */
export function createApp(k: Kernel): { app: Koa; routes: RouteInfo[] } {
  const app = new Koa();
  app.proxy = false;
  const router = new Router();
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
      if (ctx.status === 404 && !ctx.body && ctx.path.startsWith('/api/')) {
        throw new UserError(`Die Adresse ${ctx.path} gibt es nicht.`, { code: 'not-found', status: 404 });
      }
    } catch (e) {
      const httpErr = e as { status?: number; expose?: boolean; message?: string };
      if (isUserError(e)) {
        const err = e as UserError & { details?: unknown };
        ctx.status = err.status;
        ctx.body = { error: { code: err.code, message: err.message, hint: err.hint, details: err.details } };
      } else if (httpErr?.status && httpErr.status < 500 && httpErr.expose) {
        ctx.status = httpErr.status;
        ctx.body = { error: { code: 'request', message: `Ungültige Anfrage: ${httpErr.message}`, hint: 'Die Eingabe prüfen.' } };
      } else {
        log.error(`${ctx.method} ${ctx.path}: ${(e as Error)?.stack ?? e}`);
        ctx.status = 500;
        ctx.body = { error: { code: 'internal', message: 'Interner Fehler im Server.', hint: 'Bitte erneut versuchen; bleibt der Fehler, den Support anrufen.' } };
      }
    }
  });

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
    const sid = ctx.cookies.get(COOKIE);
    const session = await k.users.session(sid);
    const state = ctx.state as State;
    state.session = session;
    state.sessionId = session ? sid : undefined;
    state.authorize = (role: Role) => {
      if (!state.session) throw new UserError('Bitte zuerst anmelden.', { code: 'auth.required', status: 401 });
      if (!allows(state.session.user.role, role)) {
        throw forbidden('Dafür ist die Rolle „Techniker“ nötig. Bitte als Techniker anmelden.');
      }
      return state.session.user;
    };
    if (MUTATING.has(ctx.method) && ctx.path.startsWith('/api/')) {
      const origin = ctx.get('origin');
      // Same host is what matters (a TLS reverse proxy in front changes the scheme, not the host).
      if (origin && originHost(origin) !== ctx.host) throw forbidden('Anfrage von einer fremden Seite abgelehnt (Herkunft passt nicht).');
      const fetchSite = ctx.get('sec-fetch-site');
      if (fetchSite && fetchSite !== 'same-origin' && fetchSite !== 'none') throw forbidden('Anfrage von einer fremden Seite abgelehnt.');
      if (!PUBLIC_MUTATING.has(ctx.path)) {
        if (!session) throw new UserError('Bitte zuerst anmelden.', { code: 'auth.required', status: 401 });
        if (ctx.get('x-csrf-token') !== session.csrf) throw forbidden('Sicherheitsprüfung fehlgeschlagen (CSRF). Bitte die Seite neu laden.');
      } else if (!ctx.is('application/json')) {
        throw new UserError('Anfrage muss JSON sein.', { code: 'request.type', status: 415 });
      }
    }
    await next();
  });

  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '256kb', encoding: 'utf-8' }));

  // ---- auth
  route('get', '/api/health', 'public', (ctx) => { ctx.body = { ok: true, version: HOST_VERSION }; });
  route('get', '/api/auth/session', 'public', async (ctx) => {
    const s = ctx.state.session;
    ctx.body = { setupRequired: !(await k.users.hasTechnician()), user: s?.user ?? null, csrfToken: s?.csrf, expiresAt: s?.expiresAt, version: HOST_VERSION };
  });
  route('post', '/api/auth/setup', 'public', async (ctx) => {
    const { token, name, password } = (ctx.request.body ?? {}) as Record<string, string>;
    if (await k.users.hasTechnician()) throw new UserError('Die Ersteinrichtung ist schon abgeschlossen. Bitte anmelden.', { code: 'setup.done', status: 409 });
    if (!k.setupToken || typeof token !== 'string' || token.trim().toUpperCase() !== k.setupToken) {
      await k.audit.add(String(name ?? '?'), 'setup.failed', null, { ip: ctx.ip });
      throw new UserError('Der Einrichtungscode stimmt nicht.', { code: 'setup.token', status: 403, hint: 'Den Code verwenden, den der Server beim Start in der Konsole ausgegeben hat.' });
    }
    await k.users.add(String(name ?? ''), 'technician', String(password ?? ''), 'setup');
    k.setupToken = undefined;
    await startSession(ctx, { name, role: 'technician' });
  });
  const startSession = async (ctx: Koa.Context, user: User) => {
    const s = await k.users.createSession(user);
    ctx.cookies.set(COOKIE, s.id, { httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(s.expiresAt), overwrite: true, secure: ctx.secure });
    await k.audit.add(user.name, 'login', null, { ip: ctx.ip });
    ctx.body = { user, csrfToken: s.csrf, expiresAt: s.expiresAt };
  };
  route('post', '/api/auth/login', 'public', async (ctx) => {
    const { name, password } = (ctx.request.body ?? {}) as Record<string, string>;
    const keys = [`u:${String(name).toLowerCase()}`, `ip:${ctx.ip}`];
    const wait = k.limiter.lockedFor(keys);
    if (wait > 0) {
      throw new UserError(`Zu viele Fehlversuche. Die Anmeldung ist für ${Math.ceil(wait / 60_000)} Minuten gesperrt.`,
        { code: 'auth.locked', status: 429, hint: 'Später erneut versuchen oder den Techniker das Passwort zurücksetzen lassen (kassenwart users passwd).' });
    }
    const user = typeof name === 'string' && typeof password === 'string' ? await k.users.verify(name, password) : undefined;
    if (!user) {
      k.limiter.fail(keys);
      await k.audit.add(String(name ?? '?'), 'login.failed', null, { ip: ctx.ip });
      throw new UserError('Benutzername oder Passwort ist falsch.', { code: 'auth.invalid', status: 401 });
    }
    k.limiter.succeed(keys);
    await startSession(ctx, user);
  });
  route('post', '/api/auth/logout', 'operator', async (ctx, user) => {
    if (ctx.state.sessionId) await k.users.endSession(ctx.state.sessionId);
    ctx.cookies.set(COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(0) });
    await k.audit.add(user!.name, 'logout', null, {});
    ctx.body = { ok: true };
  });

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
  route('get', '/api/actions', 'operator', (ctx) => {
    ctx.body = k.plugins.actions().map((a) => ({
      id: a.id, plugin: a.plugin, title: a.title, description: a.description, confirm: a.confirm, success: a.success,
      exclusive: !!a.exclusive, role: a.role ?? 'operator', location: a.location ?? 'maintenance', running: k.jobs.runningFor(a.id)?.id ?? null,
    }));
  });
  route('post', '/api/actions/:id', 'operator', async (ctx, user) => {
    const action = k.plugins.action(ctx.params.id);
    if (!action) throw new UserError(`Die Aktion „${ctx.params.id}“ gibt es nicht (oder ihr Plugin ist deaktiviert).`, { code: 'action.unknown', status: 404 });
    ctx.state.authorize(action.role ?? 'operator');
    const params = ((ctx.request.body as { params?: Record<string, unknown> } | undefined)?.params) ?? {};
    const job = await k.jobs.start(action.id, { user: user!.name, trigger: 'user', params });
    await k.audit.add(user!.name, 'action.start', action.id, { job: job.id });
    ctx.status = 202;
    ctx.body = { job };
  });
  route('get', '/api/jobs', 'operator', async (ctx) => {
    const limit = Math.min(500, Math.max(1, Number(ctx.query.limit ?? 50) || 50));
    ctx.body = await k.jobs.history(limit, typeof ctx.query.action === 'string' ? ctx.query.action : undefined);
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
  route('get', '/api/jobs/:id/events', 'operator', async (ctx) => {
    const id = ctx.params.id;
    const live = k.jobs.follow(id);
    const stream = new PassThrough();
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.body = stream;
    const sendEvent = (event: string, data: unknown) => stream.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    if (!live) {
      const job = await k.jobs.get(id);
      if (!job) sendEvent('error', { code: 'job.unknown', message: 'Diesen Vorgang gibt es nicht.' });
      else sendEvent('done', job);
      stream.end();
      return;
    }
    sendEvent('progress', { percent: live.view.percent, message: live.view.message });
    const onProgress = (p: unknown) => sendEvent('progress', p);
    const onLog = (l: unknown) => sendEvent('log', l);
    const heartbeat = setInterval(() => stream.write(': ping\n\n'), 15_000);
    const cleanup = () => {
      clearInterval(heartbeat);
      live.events.off('progress', onProgress);
      live.events.off('log', onLog);
      live.events.off('done', onDone);
    };
    const onDone = (j: unknown) => { sendEvent('done', j); cleanup(); stream.end(); };
    live.events.on('progress', onProgress);
    live.events.on('log', onLog);
    live.events.once('done', onDone);
    ctx.req.on('close', cleanup);
  });

  // ---- panels, schedules, audit, routes
  route('get', '/api/panels', 'operator', (ctx, user) => {
    ctx.body = k.plugins.panels().filter((p) => allows(user!.role, p.role ?? 'operator')).map((p) => ({
      plugin: p.plugin, id: p.id, element: p.element, location: p.location, title: p.title,
      url: `/plugins/${p.plugin}/${p.module.replace(/^\.\//, '')}`,
    }));
  });
  route('get', '/api/schedules', 'operator', async (ctx) => { ctx.body = await k.scheduler.list(); });
  route('get', '/api/audit', 'technician', async (ctx) => {
    ctx.body = await k.audit.list(Math.min(1000, Number(ctx.query.limit ?? 200) || 200));
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
      ctx.set('Cache-Control', 'no-store');
      await send(ctx, 'index.html', { ...opts, root: join(PACKAGE_ROOT, 'host', 'ui') });
      return;
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

  return { app, routes };
}
