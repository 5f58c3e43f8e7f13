import type Koa from 'koa';
import { isIP } from 'node:net';

/** Headers a reverse proxy sets about the original request; trusted only from a configured proxy address. */
const FORWARDED = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];

/** "::ffff:127.0.0.1" and "127.0.0.1" are the same peer. */
export function normalizeAddress(a: string): string {
  const s = a.trim().toLowerCase();
  return s.startsWith('::ffff:') && isIP(s.slice(7)) === 4 ? s.slice(7) : s;
}

/**
 * Parses the trusted-proxy setting (`--proxy` / KASSENWART_PROXY): IP addresses separated by commas. Returns the
 * addresses, or throws an Error with a German message naming the bad entry.
 */
export function parseProxySetting(text: string | undefined): string[] {
  if (!text?.trim()) return [];
  const out: string[] = [];
  for (const raw of text.split(',')) {
    const a = raw.trim();
    if (!a) continue;
    if (isIP(a) === 0) {
      throw new Error(`„${a}“ ist keine IP-Adresse. --proxy erwartet die Adresse(n) des vorgeschalteten TLS-Proxys, z. B. --proxy 127.0.0.1 (mehrere durch Komma getrennt).`);
    }
    out.push(normalizeAddress(a));
  }
  return out;
}

/**
 * Makes koa honour X-Forwarded-For/-Proto/-Host only for requests that come from a trusted proxy address:
 * from anyone else those headers are removed before any code reads them. Then `ctx.ip` is the client the
 * proxy saw (the last X-Forwarded-For entry, the one the proxy added), and `ctx.secure` is true when the proxy
 * says the browser used https, so the session cookie gets `Secure`. Without trusted proxies nothing is honoured.
 */
/** Requests that carried forwarding headers from an untrusted peer (the headers themselves are removed). */
export const forwardedUntrusted = new WeakSet<object>();

export function trustedProxy(app: Koa, trusted: string[]): Koa.Middleware {
  const set = new Set(trusted.map(normalizeAddress));
  app.proxy = set.size > 0;
  app.maxIpsCount = 1;
  return async (ctx, next) => {
    if (!set.has(normalizeAddress(ctx.req.socket.remoteAddress ?? ''))) {
      if (FORWARDED.some((h) => ctx.req.headers[h] !== undefined)) forwardedUntrusted.add(ctx.req);
      for (const h of FORWARDED) delete ctx.req.headers[h];
    }
    await next();
  };
}
