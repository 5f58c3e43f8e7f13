/**
 * Sessions for in-process host tests: a login over HTTP and JSON API calls with the session's cookie and
 * CSRF token (guarantees*.test.ts).
 */

/** A signed-in browser session: its cookie and CSRF token. */
export interface Session { cookie: string; csrf: string }

export async function login(url: string, name: string, password: string): Promise<Session> {
  const r = await fetch(url + '/api/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  if (r.status !== 200) throw new Error(`login ${name}: ${r.status}`);
  const body = await r.json() as { csrfToken: string };
  return { cookie: (r.headers.get('set-cookie') ?? '').split(';')[0], csrf: body.csrfToken };
}

/** A JSON API call in session `s` with its CSRF token. */
export async function call(url: string, s: Session, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { cookie: s.cookie, 'x-csrf-token': s.csrf };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

