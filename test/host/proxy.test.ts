/**
 * Behind the recommended TLS reverse proxy (issue 11, points 2 and 3): with `--proxy ADDR` the host honours
 * X-Forwarded-Proto/For from that address only, so the session cookie gets `Secure` and the lock-out counts per
 * real client; without it those headers are ignored, whoever sends them.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { startTestHost, KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { rawLogin, rawRequest } from './raw-http.js';

interface AuditRow { event: string; user: string; details: { ip?: string; count?: number; by?: string } }

async function auditOf(host: TestHost): Promise<AuditRow[]> {
  return (await host.api('GET', '/api/audit?limit=1000')).body as AuditRow[];
}

const login = (host: TestHost, name: string, password: string, headers: Record<string, string> = {}) =>
  rawRequest(host.url, 'POST', '/api/auth/login', { 'content-type': 'application/json', ...headers }, JSON.stringify({ name, password }));

async function startWith(args: string[]): Promise<{ host: TestHost; builtin: string }> {
  const builtin = await tempDir();
  const host = await startTestHost({ args, env: { KASSENWART_BUILTIN_DIR: builtin } });
  for (const [name, pw] of [['kasse', 'Kasse-Passwort-1'], ['chef', 'Chef-Passwort-1']]) {
    const r = host.cli(['users', 'add', name, '--role', 'operator', '--password-stdin'], pw + '\n');
    expect(r.status, r.stderr).to.equal(0);
  }
  return { host, builtin };
}

describe('behind a TLS reverse proxy (--proxy 127.0.0.1)', function () {
  let host: TestHost;
  let builtin: string;
  before(async function () {
    ({ host, builtin } = await startWith(['--proxy', '127.0.0.1']));
  });
  after(async function () {
    await host?.stop();
    if (builtin) await removeDir(builtin);
  });

  it('sets the session cookie Secure when the proxy reports https, and audits the client the proxy saw', async function () {
    const s = await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.1.2.3' });
    expect(s.response.status).to.equal(200);
    expect(String(s.response.headers['set-cookie'])).to.match(/;\s*secure/i).and.match(/httponly/i).and.match(/samesite=strict/i);
    // a client that sends its own X-Forwarded-For through the proxy: the proxy's last entry counts
    const spoof = await rawLogin(host.url, 'chef', 'Chef-Passwort-1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '6.6.6.6, 10.1.2.4' });
    expect(spoof.response.status).to.equal(200);
    const logins = (await auditOf(host)).filter((a) => a.event === 'login');
    expect(logins.find((a) => a.user === 'kasse')?.details.ip).to.equal('10.1.2.3');
    expect(logins.find((a) => a.user === 'chef')?.details.ip).to.equal('10.1.2.4');
    // plain http through the proxy: no Secure (the browser would drop the cookie over http)
    const plain = await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-proto': 'http', 'x-forwarded-for': '10.1.2.3' });
    expect(String(plain.response.headers['set-cookie'])).to.not.match(/secure/i);
    // the Origin the browser sends is the proxy's public host
    const publicHost = 'kasse.salon.example';
    const pub = await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-proto': 'https', 'x-forwarded-host': publicHost, 'x-forwarded-for': '10.1.2.3' });
    const put = await rawRequest(host.url, 'POST', '/api/auth/logout', { cookie: pub.cookie, 'x-csrf-token': pub.csrf, origin: `https://${publicHost}`, 'x-forwarded-host': publicHost });
    expect(put.status, put.text).to.equal(200);
  });

  it('one guesser locks out only its own address, not every user behind the proxy; the refusals are audited', async function () {
    const guesses = Array.from({ length: 30 }, (_, i) => login(host, `name${i}`, 'falsch-passwort', { 'x-forwarded-for': '10.66.66.66' }));
    const answers = await Promise.all(guesses);
    const locked = answers.filter((a) => a.status === 429).length;
    expect(locked, answers.map((a) => a.status).join(',')).to.be.at.least(10);
    expect(answers.filter((a) => a.status === 401).length).to.be.at.most(20);
    expect((await login(host, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-for': '10.66.66.66' })).status).to.equal(429);
    expect((await login(host, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-for': '10.7.7.7' })).status).to.equal(200);
    let refused: AuditRow[] = [];
    for (let i = 0; i < 50; i++) {
      refused = (await auditOf(host)).filter((a) => a.event === 'login.refused' && a.details.ip === '10.66.66.66');
      if (refused.reduce((n, a) => n + (a.details.count ?? 0), 0) >= locked + 1) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(refused.reduce((n, a) => n + (a.details.count ?? 0), 0)).to.equal(locked + 1);
    expect(refused.every((a) => a.details.by === 'client')).to.equal(true);
  });
});

describe('without --proxy', function () {
  let host: TestHost;
  let builtin: string;
  before(async function () {
    ({ host, builtin } = await startWith([]));
  });
  after(async function () {
    await host?.stop();
    if (builtin) await removeDir(builtin);
  });

  it('ignores X-Forwarded-Proto and X-Forwarded-For: no Secure cookie, the real address is audited', async function () {
    const s = await rawLogin(host.url, 'kasse', 'Kasse-Passwort-1', { 'x-forwarded-proto': 'https', 'x-forwarded-for': '10.1.2.3' });
    expect(s.response.status).to.equal(200);
    expect(String(s.response.headers['set-cookie'])).to.not.match(/secure/i);
    const entry = (await auditOf(host)).find((a) => a.event === 'login' && a.user === 'kasse');
    expect(entry?.details.ip).to.match(/127\.0\.0\.1/);
  });

  it('a forged X-Forwarded-Host does not pass the Origin check', async function () {
    const s = await rawLogin(host.url, 'chef', 'Chef-Passwort-1');
    const r = await rawRequest(host.url, 'POST', '/api/auth/logout', { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'http://evil.example', 'x-forwarded-host': 'evil.example' });
    expect(r.status).to.equal(403);
  });

  it('a guesser cannot dodge the per-address count with forged X-Forwarded-For headers', async function () {
    const answers = [];
    for (let i = 0; i < 22; i++) answers.push((await login(host, `wer${i}`, 'falsch-passwort', { 'x-forwarded-for': `10.0.0.${i + 1}` })).status);
    expect(answers.slice(0, 20).every((s) => s === 401), answers.join(',')).to.equal(true);
    expect(answers.slice(20), answers.join(',')).to.deep.equal([429, 429]);
  });
});

describe('the --proxy setting', function () {
  it('refuses what is not an IP address, in German, before starting', async function () {
    const data = await tempDir();
    try {
      const r = spawnSync(process.execPath, [KASSENWART_BIN, 'serve', '--data', data, '--port', '0', '--proxy', 'mein-proxy'], { encoding: 'utf8', timeout: 60_000 });
      expect(r.status).to.equal(2);
      expect(r.stderr).to.match(/„mein-proxy“ ist keine IP-Adresse.*--proxy 127\.0\.0\.1/);
    } finally {
      await removeDir(data);
    }
  });
});
