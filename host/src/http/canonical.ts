/**
 * One canonical spelling of every API address. The router matches case-sensitively and strictly, and this check
 * refuses, before any route runs, a path that names the API (`/api/…`, whatever its casing or encoding) in any
 * other spelling: upper-case letters in "/api", percent-encoded characters (encoded slashes included), empty
 * segments ("//", a trailing "/"), "." or ".." segments, backslashes.
 */

const CANONICAL = /^\/api(?:\/[A-Za-z0-9._~-]+)*$/;

function lenientDecode(s: string): string {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** The request target's path as sent (no decoding, no dot-segment removal), or undefined for a non-path target. */
export function rawPath(url: string | undefined): string | undefined {
  if (!url || !url.startsWith('/')) return undefined;
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** True when the path, read the way some client, proxy or router might read it, addresses the API. */
export function namesApi(raw: string): boolean {
  const variants = [raw, lenientDecode(raw), lenientDecode(lenientDecode(raw))];
  for (const v of variants) {
    const flat = v.replace(/\\/g, '/');
    let resolved = flat;
    try { resolved = new URL(flat.replace(/^\/+/, '/'), 'http://h').pathname; } catch { /* keep */ }
    for (const p of [flat, resolved, lenientDecode(resolved)]) {
      if (/^\/*api(?:[/\\]|$)/i.test(p.replace(/\/{2,}/g, '/'))) return true;
    }
  }
  return false;
}

/** True when `raw` is an API path in its one canonical spelling (segments may still name nothing). */
export function isCanonicalApiPath(raw: string): boolean {
  return CANONICAL.test(raw) && !raw.split('/').some((s) => s === '.' || s === '..');
}
