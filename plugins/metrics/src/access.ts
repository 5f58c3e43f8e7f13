/**
 * Who may read /metrics: nobody while it is switched off; with a token set, whoever sends it as a bearer
 * token; without a token, only a process on the POS server itself (a loopback peer that was not forwarded by
 * a proxy). Compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { PluginAuthRouteRequest } from 'kassenwart/sdk';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
/** Headers a reverse proxy adds: their presence means the loopback peer speaks for someone else. */
const FORWARDED = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

export type AccessDecision = { ok: true } | { ok: false; status: 401 | 404; message: string };

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export function decideAccess(req: Pick<PluginAuthRouteRequest, 'headers' | 'remoteAddress' | 'forwarded'>, enabled: boolean, token: string): AccessDecision {
  if (!enabled) {
    return { ok: false, status: 404, message: 'Die Kennzahlen (Überwachung) sind ausgeschaltet. Ein Techniker kann sie unter Einstellungen → Überwachung einschalten.' };
  }
  const header = req.headers.authorization;
  const auth = Array.isArray(header) ? header[0] : header;
  if (token) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth ?? '');
    if (m && sameSecret(m[1], token)) return { ok: true };
    return { ok: false, status: 401, message: auth ? 'Das Zugangstoken stimmt nicht.' : 'Zugangstoken fehlt (Authorization: Bearer …).' };
  }
  const forwarded = req.forwarded === true || FORWARDED.some((h) => req.headers[h] !== undefined);
  if (LOOPBACK.has(req.remoteAddress) && !forwarded) return { ok: true };
  return { ok: false, status: 401, message: 'Ohne Zugangstoken sind die Kennzahlen nur vom Kassenserver selbst (127.0.0.1) abrufbar. Ein Techniker kann unter Einstellungen → Überwachung ein Zugangstoken setzen.' };
}
