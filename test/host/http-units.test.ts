/**
 * The host's HTTP hardening parts in the test process: one canonical spelling of API paths (canonical.ts),
 * strict JSON bodies (body.ts) and forwarding headers only from a trusted proxy (proxy.ts). The functions are
 * called directly; the two middlewares run in a real koa app over real HTTP on 127.0.0.1 (with a minimal error
 * handler of the test's own that shows a UserError as status + JSON, like the host's). The same rules through
 * the whole host: adversarial.test.ts, bad-input.test.ts, proxy.test.ts (real process), guarantees.test.ts.
 */
import { expect } from 'chai';
import Koa from 'koa';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isCanonicalApiPath, namesApi, rawPath } from '#host/http/canonical.js';
import { BODY_LIMIT_BYTES, jsonBody, parseJsonObject } from '#host/http/body.js';
import { forwardedUntrusted, normalizeAddress, parseProxySetting, trustedProxy } from '#host/http/proxy.js';

/** The UserError (or other error) a call throws. */
function thrown(f: () => unknown): any {
  try { f(); } catch (e) { return e; }
  throw new Error('expected an error');
}

describe('http hardening: canonical API paths (in-process)', () => {
  it('rawPath: the path as sent, without the query; nothing for a target that is not a path', () => {
    expect(rawPath('/api/jobs?limit=5&x=/y')).to.equal('/api/jobs');
    expect(rawPath('/api/jobs')).to.equal('/api/jobs');
    expect(rawPath('/?a')).to.equal('/');
    expect(rawPath('/a%2Fb/../c')).to.equal('/a%2Fb/../c');
    expect(rawPath(undefined)).to.equal(undefined);
    expect(rawPath('')).to.equal(undefined);
    expect(rawPath('*')).to.equal(undefined);
    expect(rawPath('http://h/api/jobs')).to.equal(undefined);
  });

  it('namesApi: every spelling that some reader would take for the API', () => {
    const api = ['/api', '/api/', '/api/jobs', '/API/jobs', '/Api', '/%61pi/jobs', '/%2561pi/jobs', '//api/jobs', '///api',
      '/\\api\\jobs', '/x/../api/jobs', '/x/%2e%2e/api', '/x/%252e%252e/api/jobs', '/./api', '/api%2Fjobs', '/api%5Cjobs',
      '/x/..\\api', '/%2F/api/jobs', '/api?x', '/api\\'];
    for (const p of api) expect(namesApi(p), p).to.equal(true);
    const notApi = ['/', '/apix', '/apis/jobs', '/x/api', '/static/api/jobs', '/index.html', '/%61pix', '/ap', '/x/..api',
      '/%E0%A4%A', '/x/%E0%A4%A/api'];
    for (const p of notApi) expect(namesApi(p), p).to.equal(false);
  });

  it('isCanonicalApiPath: only lower-case /api, unencoded plain segments, no empty, "." or ".." segment', () => {
    for (const p of ['/api', '/api/jobs', '/api/ext/backup/a.b_c~d-9', '/api/jobs/123/cancel', '/api/.x', '/api/x..']) {
      expect(isCanonicalApiPath(p), p).to.equal(true);
    }
    for (const p of ['/api/', '/api//jobs', '/API/jobs', '/Api', '/api/Jobs'.replace('Jobs', 'jobs%2F'), '/api/%6Aobs', '/api/./jobs',
      '/api/../jobs', '/api/jobs/.', '/api/jobs/..', '/api\\jobs', '/api/a b', '/apix', 'api/jobs', '/x/api/jobs', '//api/jobs',
      '/api/jobs?x=1', '/api/jobs/']) {
      expect(isCanonicalApiPath(p), p).to.equal(false);
    }
  });
});

describe('http hardening: strict JSON bodies (parseJsonObject, in-process)', () => {
  const parse = (b: Buffer | string) => parseJsonObject(Buffer.isBuffer(b) ? b : Buffer.from(b, 'utf8'));
  const HINT = 'Ein JSON-Objekt in UTF-8 senden, z. B. {"mode": "D"}.';
  function refused(b: Buffer | string, message: string) {
    const e = thrown(() => parse(b));
    expect([e.name, e.code, e.status, e.message, e.hint], String(b)).to.deep.equal(['UserError', 'request.body', 400, message, HINT]);
  }

  it('returns the object, nested values, unicode and an empty object as sent', () => {
    expect(parse('{"mode":"D","n":[1,{"a":null}],"s":"Grüße 💈"}')).to.deep.equal({ mode: 'D', n: [1, { a: null }], s: 'Grüße 💈' });
    expect(parse(' {} ')).to.deep.equal({});
    expect(parse('{"constructor":"x","c":{"constructor":{"a":1}},"d":{"constructor":null}}'))
      .to.deep.equal({ constructor: 'x', c: { constructor: { a: 1 } }, d: { constructor: null } });
    // "prototype" under any other key is ordinary data
    expect(parse('{"a":{"prototype":{"x":1}},"proto":1}')).to.deep.equal({ a: { prototype: { x: 1 } }, proto: 1 });
  });

  it('refuses a byte-order mark (even alone), but not bytes that only look like its start', () => {
    refused(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'Die Anfrage beginnt mit einer Byte-Order-Mark (BOM); JSON wird ohne BOM erwartet.');
    refused(Buffer.from([0xef, 0xbb, 0xbf]), 'Die Anfrage beginnt mit einer Byte-Order-Mark (BOM); JSON wird ohne BOM erwartet.');
    // U+FBBF and friends: valid UTF-8 that starts like a BOM; refused because they are not JSON, not as a BOM
    refused(Buffer.from([0xef, 0xae, 0xbf]), 'Die Anfrage ist kein gültiges JSON.');
    refused(Buffer.from([0xee, 0xbb, 0xbf]), 'Die Anfrage ist kein gültiges JSON.');
    refused(Buffer.from([0xef, 0xbb, 0xbe]), 'Die Anfrage ist kein gültiges JSON.');
    refused(Buffer.from([0xef, 0xbb]), 'Die Anfrage enthält Bytes, die kein gültiges UTF-8 sind.');
  });

  it('refuses bytes that are not UTF-8 (also inside a string), text that is not JSON, and too deep nesting', () => {
    refused(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 'Die Anfrage enthält Bytes, die kein gültiges UTF-8 sind.');
    refused(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x22, 0x7d]), 'Die Anfrage enthält Bytes, die kein gültiges UTF-8 sind.');
    refused(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), 'Die Anfrage enthält Bytes, die kein gültiges UTF-8 sind.');
    for (const t of ['{', '{"a":1,}', "{'a':1}", '', 'undefined', '{"a":1}{"b":2}']) refused(t, 'Die Anfrage ist kein gültiges JSON.');
    refused('{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000), 'Die Anfrage ist zu tief verschachtelt.');
  });

  it('refuses every top-level value that is not an object, naming what it is', () => {
    for (const [t, kind] of [['null', 'null'], ['[1,2]', 'eine Liste'], ['[]', 'eine Liste'], ['42', 'eine Zahl'], ['"note"', 'ein Text'], ['true', 'ein Wahrheitswert'], ['false', 'ein Wahrheitswert']]) {
      refused(t, `Erwartet wird ein JSON-Objekt ({…}), nicht ${kind}.`);
    }
  });

  it('refuses a __proto__ or constructor.prototype key at any depth', () => {
    for (const [t, key] of [['{"__proto__":{"admin":true}}', '__proto__'], ['{"a":{"b":[{"__proto__":1}]}}', '__proto__'],
      ['{"constructor":{"prototype":{"x":1}}}', 'constructor.prototype'], ['{"a":[{"constructor":{"prototype":null}}]}', 'constructor.prototype']]) {
      const e = thrown(() => parse(t));
      expect([e.name, e.code, e.status, e.message, e.hint], t).to.deep.equal(['UserError', 'request.body', 400,
        `Die Anfrage enthält den nicht erlaubten Schlüssel „${key}“.`, 'Diesen Schlüssel entfernen.']);
    }
    expect(({} as Record<string, unknown>).admin).to.equal(undefined);
  });
});

/** A real koa app over HTTP on 127.0.0.1: `mw`, then an echo of what the handler saw. */
async function serve(setup: (app: Koa) => void): Promise<{ url: string; port: number; server: Server }> {
  const app = new Koa();
  app.use(async (ctx, next) => {
    try { await next(); } catch (e) {
      const u = e as { name?: string; status?: number; code?: string; message?: string; hint?: string };
      ctx.status = u.name === 'UserError' ? u.status! : 500;
      ctx.body = { error: { code: u.code, message: u.message, hint: u.hint } };
    }
  });
  setup(app);
  const server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, server };
}
const close = (s: Server) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); });

/** A request with exact headers (node:http, so no header is added or normalised behind the test's back). */
function send(url: string, method: string, headers: Record<string, string>, body?: Buffer | string, chunked = false):
  Promise<{ status: number; headers: Record<string, string | string[] | undefined>; json: any }> {
  return new Promise((resolve, reject) => {
    // node:http sends no length of its own for DELETE/GET bodies: give one unless chunked or already given
    const all = body !== undefined && !chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')
      ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers;
    const req = request(url, { method, headers: all, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        resolve({ status: res.statusCode!, headers: res.headers, json: text ? JSON.parse(text) : undefined });
      });
    });
    req.on('error', reject);
    if (body !== undefined && chunked) { req.write(body); req.end(); } else req.end(body);
  });
}

describe('http hardening: the JSON body middleware over real HTTP (in-process koa)', function () {
  this.timeout(30_000);
  let small: Awaited<ReturnType<typeof serve>>;
  let dflt: Awaited<ReturnType<typeof serve>>;
  const echo = (app: Koa, limit?: number) => {
    app.use(jsonBody(limit));
    app.use((ctx) => { ctx.body = { seen: (ctx.request as { body?: unknown }).body ?? '(none)' }; });
  };
  before(async () => {
    small = await serve((app) => echo(app, 2048));
    dflt = await serve((app) => echo(app));
  });
  after(async () => { await close(small.server); await close(dflt.server); });
  const JSON_CT = { 'content-type': 'application/json' };
  const HINT415 = 'Die Schnittstelle nimmt nur JSON an: Kopfzeile „Content-Type: application/json“ und ein JSON-Objekt in UTF-8.';

  it('parses a JSON object sent with a length or chunked; the charset may be spelled utf-8, UTF-8, "utf-8" or utf8', async () => {
    for (const ct of ['application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8', 'application/json; charset="utf-8"', 'application/json; charset=utf8', 'application/json; boundary=x']) {
      const r = await send(small.url + '/x', 'POST', { 'content-type': ct }, '{"mode":"X"}');
      expect([r.status, r.json], ct).to.deep.equal([200, { seen: { mode: 'X' } }]);
    }
    const c = await send(small.url + '/x', 'PUT', JSON_CT, '{"a":[1]}', true);
    expect([c.status, c.json]).to.deep.equal([200, { seen: { a: [1] } }]);
  });

  it('reads no body of GET, HEAD and OPTIONS, and none of a request without one; an empty chunked body is none', async () => {
    for (const m of ['GET', 'OPTIONS']) {
      const r = await send(small.url + '/x', m, { 'content-type': 'text/plain', 'content-length': '3' }, 'abc');
      expect([r.status, r.json], m).to.deep.equal([200, { seen: '(none)' }]);
    }
    const h = await send(small.url + '/x', 'HEAD', { 'content-type': 'text/plain', 'content-length': '3' }, 'abc');
    expect(h.status).to.equal(200);
    for (const headers of [{}, { 'content-length': '0' }, { 'content-type': 'text/plain', 'content-length': '0' }]) {
      const r = await send(small.url + '/x', 'POST', headers as Record<string, string>);
      expect([r.status, r.json], JSON.stringify(headers)).to.deep.equal([200, { seen: '(none)' }]);
    }
    const e = await send(small.url + '/x', 'POST', JSON_CT, '', true);
    expect([e.status, e.json]).to.deep.equal([200, { seen: '(none)' }]);
  });

  it('415 for a body that is not JSON, has another charset or is compressed, each with its German message', async () => {
    const cases: Array<[Record<string, string>, string, string?]> = [
      [{ 'content-type': 'text/plain; charset=utf-8' }, 'Die Anfrage muss JSON sein, nicht „text/plain“.'],
      [{ 'content-type': 'application/x-www-form-urlencoded' }, 'Die Anfrage muss JSON sein, nicht „application/x-www-form-urlencoded“.'],
      [{ 'content-type': `text/${'x'.repeat(100)}` }, `Die Anfrage muss JSON sein, nicht „text/${'x'.repeat(55)}“.`],
      [{}, 'Die Anfrage muss JSON sein (Content-Type fehlt).'],
      [{ 'content-type': 'text/plain ; charset=utf-8' }, 'Die Anfrage muss JSON sein, nicht „text/plain“.'],
      [{ 'content-type': 'application/json; charset=iso-8859-1' }, 'Die Anfrage muss UTF-8 sein, nicht „iso-8859-1“.'],
      [{ 'content-type': 'application/json;charset=latin1' }, 'Die Anfrage muss UTF-8 sein, nicht „latin1“.'],
      [{ 'content-type': 'application/json; charset = latin1' }, 'Die Anfrage muss UTF-8 sein, nicht „latin1“.'],
      [{ 'content-type': 'application/json; Charset="UTF-16"' }, 'Die Anfrage muss UTF-8 sein, nicht „utf-16“.'],
      [{ 'content-type': `application/json; charset=${'y'.repeat(50)}` }, `Die Anfrage muss UTF-8 sein, nicht „${'y'.repeat(30)}“.`],
      [{ ...JSON_CT, 'content-encoding': 'GZIP' }, 'Komprimierte Anfragen („gzip“) werden nicht angenommen.'],
      [{ ...JSON_CT, 'content-encoding': 'deflate' }, 'Komprimierte Anfragen („deflate“) werden nicht angenommen.'],
    ];
    for (const [headers, message] of cases) {
      const r = await send(small.url + '/x', 'POST', headers, '{"a":1}');
      expect([r.status, r.json], JSON.stringify(headers)).to.deep.equal([415, { error: { code: 'request.type', message, hint: HINT415 } }]);
    }
    const id = await send(small.url + '/x', 'POST', { ...JSON_CT, 'content-encoding': 'Identity' }, '{"a":1}');
    expect([id.status, id.json]).to.deep.equal([200, { seen: { a: 1 } }]);
  });

  it('400 with the parser\'s message for a body that is JSON but not one object', async () => {
    const r = await send(small.url + '/x', 'DELETE', JSON_CT, '"note"');
    expect([r.status, r.json]).to.deep.equal([400, { error: { code: 'request.body', message: 'Erwartet wird ein JSON-Objekt ({…}), nicht ein Text.', hint: 'Ein JSON-Objekt in UTF-8 senden, z. B. {"mode": "D"}.' } }]);
  });

  it('413 above the limit (exactly the limit passes), with the limit in KB, and closes the connection', async () => {
    const body = (n: number) => `{"a":"${'x'.repeat(n - 8)}"}`;
    expect(body(2048).length).to.equal(2048);
    const ok = await send(small.url + '/x', 'POST', JSON_CT, body(2048));
    expect(ok.status).to.equal(200);
    const big = await send(small.url + '/x', 'POST', JSON_CT, body(2049));
    expect([big.status, big.json, big.headers.connection]).to.deep.equal([413, { error: { code: 'request.too-large',
      message: 'Die Anfrage ist zu groß (höchstens 2 KB).', hint: 'Weniger auf einmal senden, z. B. nur die geänderten Einstellungen.' } }, 'close']);
    const chunkedBig = await send(small.url + '/x', 'POST', JSON_CT, body(4000), true);
    expect(chunkedBig.status).to.equal(413);
    // the host's default: 256 KB
    expect(BODY_LIMIT_BYTES).to.equal(256 * 1024);
    expect((await send(dflt.url + '/x', 'POST', JSON_CT, body(256 * 1024))).status).to.equal(200);
    const over = await send(dflt.url + '/x', 'POST', JSON_CT, body(256 * 1024 + 1));
    expect([over.status, over.json.error.message]).to.deep.equal([413, 'Die Anfrage ist zu groß (höchstens 256 KB).']);
  });
});

describe('http hardening: forwarding headers only from a trusted proxy', function () {
  this.timeout(30_000);

  it('normalizeAddress: IPv4-mapped IPv6 is the IPv4 address; case and spaces do not matter', () => {
    expect(normalizeAddress('::ffff:127.0.0.1')).to.equal('127.0.0.1');
    expect(normalizeAddress(' ::FFFF:10.0.0.7 ')).to.equal('10.0.0.7');
    expect(normalizeAddress('::ffff:zz')).to.equal('::ffff:zz');
    expect(normalizeAddress('::ffff:7f00:1')).to.equal('::ffff:7f00:1');
    expect(normalizeAddress('FE80::1')).to.equal('fe80::1');
    expect(normalizeAddress('::1')).to.equal('::1');
  });

  it('parseProxySetting: addresses separated by commas, empty entries skipped; a name is refused in German', () => {
    expect(parseProxySetting(undefined)).to.deep.equal([]);
    expect(parseProxySetting('')).to.deep.equal([]);
    expect(parseProxySetting('   ')).to.deep.equal([]);
    expect(parseProxySetting(' 127.0.0.1 ,, ::1 ,::FFFF:10.0.0.2,')).to.deep.equal(['127.0.0.1', '::1', '10.0.0.2']);
    for (const bad of ['localhost', '127.0.0.1, proxy.local', '10.0.0.0/8', '127.0.0.1:8443']) {
      const e = thrown(() => parseProxySetting(bad));
      const entry = bad.split(',').map((s) => s.trim()).find((s) => s !== '127.0.0.1');
      expect(e.message, bad).to.equal(`„${entry}“ ist keine IP-Adresse. --proxy erwartet die Adresse(n) des vorgeschalteten TLS-Proxys, z. B. --proxy 127.0.0.1 (mehrere durch Komma getrennt).`);
    }
  });

  const HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'];
  /** An app behind trustedProxy(trusted) answering what koa made of the request. */
  const seen = (trusted: string[]) => serve((app) => {
    app.use(trustedProxy(app, trusted));
    app.use((ctx) => {
      ctx.body = { ip: ctx.ip, secure: ctx.secure, host: ctx.host, proxy: app.proxy, untrusted: forwardedUntrusted.has(ctx.req),
        headers: Object.fromEntries(HEADERS.map((h) => [h, ctx.req.headers[h] ?? null])) };
    });
  });
  const FORWARDED = { 'x-forwarded-for': '203.0.113.9, 198.51.100.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'kasse.example',
    'x-forwarded-port': '443', forwarded: 'for=203.0.113.9;proto=https' };

  it('from a trusted proxy: the client is the last X-Forwarded-For entry, https makes the request secure', async () => {
    for (const trusted of [['127.0.0.1'], ['::ffff:127.0.0.1'], ['10.0.0.1', '127.0.0.1']]) {
      const s = await seen(trusted);
      try {
        const r = await send(s.url + '/', 'GET', FORWARDED);
        expect(r.json, String(trusted)).to.deep.equal({ ip: '198.51.100.4', secure: true, host: 'kasse.example', proxy: true, untrusted: false, headers: FORWARDED });
        const plain = await send(s.url + '/', 'GET', {});
        expect([plain.json.ip, plain.json.secure, plain.json.untrusted]).to.deep.equal(['127.0.0.1', false, false]);
      } finally { await close(s.server); }
    }
  });

  it('from anyone else: every forwarding header is removed before anything reads it, and the request is marked', async () => {
    for (const trusted of [[], ['10.0.0.1'], ['::1']]) {
      const s = await seen(trusted);
      try {
        const r = await send(s.url + '/', 'GET', FORWARDED);
        expect(r.json, String(trusted)).to.deep.equal({ ip: '127.0.0.1', secure: false, host: `127.0.0.1:${s.port}`, proxy: trusted.length > 0, untrusted: true,
          headers: Object.fromEntries(HEADERS.map((h) => [h, null])) });
        for (const h of HEADERS) {
          const one = await send(s.url + '/', 'GET', { [h]: (FORWARDED as Record<string, string>)[h] });
          expect([one.json.untrusted, one.json.headers[h], one.json.ip], h).to.deep.equal([true, null, '127.0.0.1']);
        }
        const none = await send(s.url + '/', 'GET', { 'x-real-ip': '1.2.3.4' });
        expect(none.json.untrusted).to.equal(false);
      } finally { await close(s.server); }
    }
  });
});
