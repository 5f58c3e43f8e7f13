import type Koa from 'koa';
import { UserError, type Role } from 'kassenwart/sdk';
import { isRefusal, type Refusal } from '../auth/rate-limit.js';
import { RefusalLog } from '../auth/refusals.js';
import type { User } from '../auth/users.js';
import { HOST_VERSION } from '../version.js';
import type { Kernel } from '../kernel.js';

export const SESSION_COOKIE = 'kw_session';

/** What `GET /api/auth/session` answers, and what the UI page carries as its boot data. */
export function sessionInfo(s: { user: unknown; csrf?: string; expiresAt?: unknown } | undefined, setupRequired: boolean) {
  return { setupRequired, user: s?.user ?? null, csrfToken: s?.csrf, expiresAt: s?.expiresAt, version: HOST_VERSION };
}

type AuthCtx = Koa.ParameterizedContext<{ session?: { user: User; csrf: string; expiresAt: string }; sessionId?: string }> & { request: { body?: unknown } };
type RouteFn = (method: 'get' | 'post', path: string, role: Role | 'public', handler: (ctx: AuthCtx, user: User | undefined) => Promise<void> | void) => void;

function refused(r: Refusal): UserError {
  const minutes = Math.max(1, Math.ceil(r.waitMs / 60_000));
  const message = r.locked
    ? `Zu viele Fehlversuche. Die Anmeldung ist für ${minutes} Minute${minutes === 1 ? '' : 'n'} gesperrt.`
    : 'Zu viele Fehlversuche auf einmal. Die Anmeldung ist für eine Minute gesperrt.';
  return new UserError(message, {
    code: 'auth.locked', status: 429,
    hint: 'Später erneut versuchen oder den Techniker das Passwort zurücksetzen lassen (kassenwart users passwd).',
  });
}

/** `{name, password}` as two strings of sensible length, or a 400 in German. */
function credentials(body: unknown, extra: string[] = []): Record<string, string> {
  const b = (body ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const key of ['name', 'password', ...extra]) {
    const v = b[key];
    if (typeof v !== 'string' || !v || v.length > 1024) {
      throw new UserError(`Erwartet wird {${['name', 'password', ...extra].map((x) => `"${x}": "…"`).join(', ')}}: „${key}“ fehlt oder ist kein Text.`,
        { code: 'auth.body', status: 400, hint: 'Benutzername und Passwort eingeben.' });
    }
    out[key] = v;
  }
  return out;
}

/**
 * Session, first-run setup, login and logout. Login attempts are counted per user name and per client address
 * before the password is checked (see LoginLimiter); refused attempts are audited in batches (RefusalLog).
 * Returns a function that writes pending audit entries (for shutdown).
 */
export function authRoutes(route: RouteFn, k: Kernel): { flush: () => Promise<void> } {
  const refusals = new RefusalLog((u, e, t, d) => k.audit.add(u, e, t, d));

  const startSession = async (ctx: AuthCtx, user: User) => {
    const s = await k.users.createSession(user);
    ctx.cookies.set(SESSION_COOKIE, s.id, { httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(s.expiresAt), overwrite: true, secure: ctx.secure });
    await k.audit.add(user.name, 'login', null, { ip: ctx.ip });
    ctx.body = { user, csrfToken: s.csrf, expiresAt: s.expiresAt };
  };

  route('get', '/api/health', 'public', (ctx) => { ctx.body = { ok: true, version: HOST_VERSION }; });
  route('get', '/api/auth/session', 'public', async (ctx) => {
    ctx.body = sessionInfo(ctx.state.session, !(await k.users.hasTechnician()));
  });

  route('post', '/api/auth/setup', 'public', async (ctx) => {
    const { token, name, password } = credentials(ctx.request.body, ['token']);
    if (await k.users.hasTechnician()) throw new UserError('Die Ersteinrichtung ist schon abgeschlossen. Bitte anmelden.', { code: 'setup.done', status: 409 });
    // the setup code is a password too: guesses count against the client address
    const attempt = k.limiter.begin([`ip:${ctx.ip}`]);
    if (isRefusal(attempt)) {
      refusals.note(name, ctx.ip, 'client');
      throw refused(attempt);
    }
    if (!k.setupToken || token.trim().toUpperCase() !== k.setupToken) {
      attempt.failed();
      await k.audit.add(name, 'setup.failed', null, { ip: ctx.ip });
      throw new UserError('Der Einrichtungscode stimmt nicht.', { code: 'setup.token', status: 403, hint: 'Den Code verwenden, den der Server beim Start in der Konsole ausgegeben hat.' });
    }
    attempt.succeeded([]);
    await k.users.add(name, 'technician', password, 'setup');
    k.setupToken = undefined;
    await startSession(ctx, { name, role: 'technician' });
  });

  route('post', '/api/auth/login', 'public', async (ctx) => {
    const { name, password } = credentials(ctx.request.body);
    const userKey = `u:${name.toLowerCase()}`;
    // taken before the password is checked, synchronously: parallel guesses cannot overtake the count
    const attempt = k.limiter.begin([userKey, `ip:${ctx.ip}`]);
    if (isRefusal(attempt)) {
      refusals.note(name, ctx.ip, attempt.key === userKey ? 'user' : 'client');
      throw refused(attempt);
    }
    let user: User | undefined;
    try {
      user = await k.users.verify(name, password);
    } catch (e) {
      attempt.failed();
      throw e;
    }
    if (!user) {
      attempt.failed();
      await k.audit.add(name.slice(0, 80), 'login.failed', null, { ip: ctx.ip });
      throw new UserError('Benutzername oder Passwort ist falsch.', { code: 'auth.invalid', status: 401 });
    }
    attempt.succeeded([userKey]);
    await startSession(ctx, user);
  });

  route('post', '/api/auth/logout', 'operator', async (ctx, user) => {
    if (ctx.state.sessionId) await k.users.endSession(ctx.state.sessionId);
    ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', expires: new Date(0) });
    await k.audit.add(user!.name, 'logout', null, {});
    ctx.body = { ok: true };
  });

  return { flush: () => refusals.flush() };
}
