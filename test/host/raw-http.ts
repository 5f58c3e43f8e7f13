import { request } from 'node:http';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON, when it is JSON. */
  json: any;
}

/**
 * One HTTP request with the path sent byte for byte as given (no URL normalisation, unlike fetch: dot segments,
 * "//", "%2F", backslashes and casing reach the server as written). A new connection each time. When the server
 * answers before the body is sent (413), the answer is returned and the broken write ignored.
 */
export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {},
  body?: string | Buffer, options: { chunked?: boolean } = {}): Promise<RawResponse> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const h: Record<string, string> = { ...headers };
    if (body !== undefined && !options.chunked) h['content-length'] = String(Buffer.byteLength(body));
    const req = request({ host: u.hostname, port: u.port, method, path, headers: h, agent: false }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => {
        let json: any;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', (e) => { if (!answered) reject(e); });
    if (body !== undefined) {
      if (options.chunked) {
        const b = Buffer.from(body);
        for (let i = 0; i < b.length; i += 64 * 1024) req.write(b.subarray(i, i + 64 * 1024));
      } else req.write(body);
    }
    req.end();
  });
}

/** A signed-in session as raw headers (cookie, CSRF token, same Origin). */
export interface RawSession {
  cookie: string;
  csrf: string;
  headers(extra?: Record<string, string>): Record<string, string>;
}

export async function rawLogin(base: string, name: string, password: string, headers: Record<string, string> = {}): Promise<RawSession & { response: RawResponse }> {
  const r = await rawRequest(base, 'POST', '/api/auth/login', { 'content-type': 'application/json', ...headers }, JSON.stringify({ name, password }));
  const setCookie = r.headers['set-cookie'];
  const cookie = (Array.isArray(setCookie) ? setCookie[0] : setCookie ?? '').split(';')[0];
  const csrf = r.json?.csrfToken ?? '';
  return {
    response: r, cookie, csrf,
    headers: (extra = {}) => ({ cookie, 'x-csrf-token': csrf, origin: base, 'content-type': 'application/json', ...extra }),
  };
}
