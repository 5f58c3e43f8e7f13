/**
 * Bad input over real HTTP and the real CLI (issue 11, points 4, 9, 10): bodies that are not one JSON object in
 * UTF-8, bodies of the wrong type or size, and setting values that can be refused when they are set rather than
 * when a backup runs. Every refusal: the right status, German, the field named with what a valid value looks
 * like, nothing stored.
 */
import { expect } from 'chai';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { makeCa } from '#support/certs.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { rawLogin, rawRequest, type RawSession } from './raw-http.js';

const FP = 'AB:'.repeat(31) + 'AB';

describe('bad input', function () {
  let host: TestHost;
  let tech: RawSession;
  let dir: string;
  let media: string;

  before(async function () {
    dir = await tempDir('kw-bad-');
    media = join(dir, 'media');
    await mkdir(join(media, 'usb0'), { recursive: true });
    await symlink('/etc', join(media, 'evil'));
    const user = { name: 'chef', password: 'Chef-Passwort-bad-1' };
    host = await startTestHost({ user, env: { KASSENWART_USB_MEDIA_ROOT: media }, settings: { usb: { mode: 'D', path: join(media, 'usb0') } } });
    tech = await rawLogin(host.url, user.name, user.password);
  });
  after(async function () {
    await host?.stop();
    if (dir) await removeDir(dir);
  });

  const values = async (plugin: string) => (await host.api('GET', `/api/settings/${plugin}`)).body as { values: Record<string, unknown>; secrets: Record<string, boolean> };
  const changes = async () => ((await host.api('GET', '/api/audit?limit=1000')).body as { event: string }[]).filter((a) => a.event === 'settings.change').length;
  const put = (plugin: string, body: unknown) => rawRequest(host.url, 'PUT', `/api/settings/${plugin}`, tech.headers(), JSON.stringify(body));

  describe('bodies (9)', function () {
    const cases: [string, Buffer | string][] = [
      ['invalid JSON', '{"mode": "X"'],
      ['null', 'null'],
      ['a number', '42'],
      ['a string', '"str"'],
      ['a list', '[{"mode": "X"}]'],
      ['a byte-order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"mode": "X"}')])],
      ['invalid UTF-8', Buffer.concat([Buffer.from('{"mode": "X", "path": "/media/'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])],
      ['a UTF-8 encoded surrogate', Buffer.concat([Buffer.from('{"mode": "X", "path": "/media/'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')])],
      ['__proto__', '{"__proto__": {"mode": "X"}}'],
      ['__proto__ beside a value', '{"mode": "X", "__proto__": {"keep": 9}}'],
      ['nested __proto__', '{"mode": "X", "path": {"__proto__": {"x": 1}}}'],
      ['constructor.prototype', '{"mode": "X", "constructor": {"prototype": {"keep": 9}}}'],
      ['nesting 100 000 deep', '{"mode":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}'],
    ];

    for (const [what, body] of cases) {
      it(`${what}: 400 in German for settings and for login, nothing stored`, async function () {
        const before = await values('usb');
        const n = await changes();
        const r = await rawRequest(host.url, 'PUT', '/api/settings/usb', tech.headers(), body);
        expect(r.status, r.text).to.equal(400);
        expect(r.json.error.message).to.match(/Anfrage|JSON|Objekt|Schlüssel/).and.not.match(/Interner Fehler|Unexpected|position/);
        expect(r.json.error.hint).to.be.a('string');
        const login = await rawRequest(host.url, 'POST', '/api/auth/login', { 'content-type': 'application/json' }, body);
        expect(login.status, login.text).to.equal(400);
        expect(login.json.error.message).to.not.match(/Interner Fehler/);
        expect(await values('usb')).to.deep.equal(before);
        expect(await changes()).to.equal(n);
      });
    }

    it('login with name or password that is not text: 400, not 500', async function () {
      for (const body of [{ name: 5, password: 'x' }, { name: 'chef', password: ['x'] }, { name: 'chef' }, {}, { name: 'chef', password: 'x'.repeat(5000) }]) {
        const r = await rawRequest(host.url, 'POST', '/api/auth/login', { 'content-type': 'application/json' }, JSON.stringify(body));
        expect(r.status, JSON.stringify(body)).to.equal(400);
        expect(r.json.error.message).to.match(/Erwartet wird/);
      }
    });

    it('a text/plain, form, untyped, non-UTF-8 or compressed body on a JSON route: 415, nothing stored', async function () {
      const before = await values('usb');
      const n = await changes();
      for (const [type, body] of [['text/plain', '{"mode": "X"}'], ['application/x-www-form-urlencoded', 'mode=X'], ['multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="mode"\r\n\r\nX\r\n--x--'],
        ['', '{"mode": "X"}'], ['application/json; charset=iso-8859-1', '{"mode": "X"}']] as const) {
        const headers = tech.headers();
        if (type) headers['content-type'] = type; else delete headers['content-type'];
        const r = await rawRequest(host.url, 'PUT', '/api/settings/usb', headers, body);
        expect(r.status, `${type}: ${r.text}`).to.equal(415);
        expect(r.json.error.message).to.match(/muss (JSON|UTF-8) sein/);
      }
      const gz = await rawRequest(host.url, 'PUT', '/api/settings/usb', tech.headers({ 'content-encoding': 'gzip' }), '{"mode": "X"}');
      expect(gz.status).to.equal(415);
      expect(await values('usb')).to.deep.equal(before);
      expect(await changes()).to.equal(n);
    });

    it('a 1 MB body: 413 with a German message, with or without a length, nothing stored', async function () {
      const before = await values('usb');
      const big = JSON.stringify({ mode: 'X', note: 'x'.repeat(1024 * 1024) });
      for (const chunked of [false, true]) {
        const r = await rawRequest(host.url, 'PUT', '/api/settings/usb', tech.headers(), big, { chunked });
        expect(r.status, r.text).to.equal(413);
        expect(r.json.error.message).to.equal('Die Anfrage ist zu groß (höchstens 256 KB).');
      }
      expect(await values('usb')).to.deep.equal(before);
    });

    it('a malformed percent-encoding in an address: a German answer, never the library\'s English', async function () {
      for (const path of ['/ui/%E0%A4%A.js', '/plugins/usb/%E0%A4%A.js', '/api/%E0%A4%A', '/api/settings/%E0%A4%A']) {
        const r = await rawRequest(host.url, 'GET', path, { cookie: tech.cookie });
        expect(r.status, `${path}: ${r.text}`).to.be.oneOf([400, 404]);
        expect(r.json?.error?.message, `${path}: ${r.text}`).to.match(/Ungültige Anfrage|gibt es nicht/).and.not.match(/decode|failed/i);
      }
    });

    it('an empty body where none is needed still works', async function () {
      const r = await rawRequest(host.url, 'POST', '/api/plugins/usb/enable', { cookie: tech.cookie, 'x-csrf-token': tech.csrf, origin: host.url });
      expect(r.status, r.text).to.equal(200);
    });
  });

  describe('values checked when they are set (10)', function () {
    /** Sends one change; expects a 400 naming exactly `key`, with an example, and nothing stored. */
    async function refused(plugin: string, patch: Record<string, unknown>, key = Object.keys(patch)[0], example: RegExp = /z\. B\.|[Ee]rwartet/) {
      const before = await values(plugin);
      const n = await changes();
      const r = await put(plugin, patch);
      const label = `${plugin} ${JSON.stringify(patch).slice(0, 100)} → ${r.status} ${r.text.slice(0, 300)}`;
      expect(r.status, label).to.equal(400);
      expect(r.json.error.details.map((d: { path: string }) => d.path), label).to.include(`/${key}`);
      const mine = r.json.error.details.filter((d: { path: string }) => d.path === `/${key}`).map((d: { message: string }) => d.message).join(' ');
      expect(mine, label).to.match(example);
      expect(r.json.error.message, label).to.contain(key).and.match(/nicht gespeichert/);
      expect(await values(plugin), label).to.deep.equal(before);
      expect(await changes()).to.equal(n);
      return r;
    }
    const accepted = async (plugin: string, patch: Record<string, unknown>) => {
      const r = await put(plugin, patch);
      expect(r.status, `${JSON.stringify(patch).slice(0, 100)} → ${r.text.slice(0, 300)}`).to.equal(200);
    };

    it('01.2: only below the media root, no newline, no "..", no link out of it', async function () {
      for (const path of ['/etc', '/proc/self', '/dev/sda', '/root', '/media/usb0', media, join(media, 'evil'), join(media, 'evil', 'x')]) {
        await refused('usb', { path }, 'path', new RegExp(`z\\. B\\. ${media}/usb0`));
      }
      for (const path of [join(media, 'usb0') + '\n', join(media, 'usb0') + '\r', `${media}/../etc`, join(media, 'usb0') + '/', `${media}//usb0`]) {
        await refused('usb', { path }, 'path', /z\. B\. \/media\/usb0/);
      }
      await accepted('usb', { path: join(media, 'usb1') });
      await accepted('usb', { path: join(media, 'usb0') });
    });

    it('backupDir and posDatabasePath: no traversal, no system folders (also through a link), the right kind of file', async function () {
      const file = join(dir, 'kasse.sqlite');
      await writeFile(file, 'SQLite format 3\u0000');
      await symlink('/etc', join(dir, 'to-etc'));
      for (const backupDir of ['../../etc', 'backups', '/etc', '/etc/kassenwart', '/proc/self', '/', '/usr/lib/x', '/var/run/x', `${dir}/../../etc`, `${dir}//x`,
        join(dir, 'to-etc'), join(dir, 'to-etc', 'neu'), file, `${dir}/a\nb`]) {
        await refused('backup', { backupDir }, 'backupDir', /z\. B\. \/var\/backups\/kasse/);
      }
      await refused('backup', { backupDir: '/' + 'x'.repeat(2000) }, 'backupDir', /1024 Zeichen/);
      for (const posDatabasePath of ['/etc/shadow', '../../etc/passwd', '/dev/sda', '/proc/self/environ', dir, dir + '/', join(dir, 'to-etc', 'passwd'), `${file}\n`]) {
        await refused('backup', { posDatabasePath }, 'posDatabasePath', /z\. B\. \/var\/lib\/kasse\/kasse\.sqlite/);
      }
      await accepted('backup', { backupDir: join(dir, 'sicherungen'), posDatabasePath: file });
      await accepted('backup', { backupDir: null, posDatabasePath: null });
    });

    it('FTP: host and folder without CR/LF, sensible lengths, a real fingerprint and CA certificate, no TLS "none" with either', async function () {
      await refused('backup', { ftpHost: 'ftp.example.de\r\nUSER x' }, 'ftpHost', /z\. B\. ftp\.example\.de/);
      await refused('backup', { ftpHost: 'ftp://ftp.example.de' }, 'ftpHost', /ohne „ftp:\/\/“/);
      await refused('backup', { ftpHost: 'h'.repeat(200_000) }, 'ftpHost', /253/);
      await refused('backup', { ftpRemoteDir: '/sicherung\r\nDELE kasse.gz' }, 'ftpRemoteDir', /z\. B\. \/sicherungen/);
      await refused('backup', { ftpUser: 'salon\nPASS x' }, 'ftpUser');
      const pw = await refused('backup', { ftpPassword: 'geheim\r\nDELE x' }, 'ftpPassword', /Steuerzeichen/);
      expect(pw.text).to.not.contain('geheim');
      for (const ftpFingerprint of ['zz', 'AB:CD', FP + ':CD', 'SHA256 ' + 'G'.repeat(64)]) {
        await refused('backup', { ftpFingerprint }, 'ftpFingerprint', /64 Hexadezimalziffern/);
      }
      for (const ftpCaCert of ['hallo', '-----BEGIN CERTIFICATE-----\nbm9jaCBrZWluIFplcnRpZmlrYXQ=\n-----END CERTIFICATE-----', makeCa().certPem + '\nnoch etwas']) {
        await refused('backup', { ftpCaCert }, 'ftpCaCert', /PEM/);
      }
      await accepted('backup', { ftpFingerprint: FP.toLowerCase(), ftpCaCert: makeCa().certPem + makeCa('Zweite CA').certPem });
      await refused('backup', { ftpTls: 'none' }, 'ftpTls', /FTPS .*wählen oder Fingerabdruck und CA-Zertifikat leeren/);
      await accepted('backup', { ftpTls: 'none', ftpFingerprint: '', ftpCaCert: '' });
      await refused('backup', { ftpFingerprint: FP }, 'ftpFingerprint', /unverschlüsselt/);
      await accepted('backup', { ftpTls: null });
    });

    it('lone surrogates and absurd lengths anywhere', async function () {
      await refused('backup', { ftpRemoteDir: '/sicher\ud800ung' }, 'ftpRemoteDir', /Ersatzzeichen/);
      await refused('remote-support', { installationName: 'Salon \udc00' }, 'installationName', /Ersatzzeichen/);
      await refused('remote-support', { installationName: 'Salon\nHaarmonie' }, 'installationName');
      await refused('remote-support', { rustdeskPath: '/usr/bin/rustdesk\n' }, 'rustdeskPath', /z\. B\. \/usr\/bin\/rustdesk/);
      await refused('update', { feedUrl: 'https://updates.example/' + 'x'.repeat(5000) }, 'feedUrl', /2048/);
    });

    it('update keys: garbage and keys that are not Ed25519 are refused, real keys accepted', async function () {
      const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
      for (const publicKeys of ['garbage', 'AAAA', 'x'.repeat(44), rsa, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----']) {
        await refused('update', { publicKeys }, 'publicKeys', /Ed25519/);
      }
      const ed = generateKeyPairSync('ed25519').publicKey;
      const raw = (ed.export({ type: 'spki', format: 'der' }) as Buffer).subarray(12).toString('base64');
      await accepted('update', { publicKeys: `${raw},\n${ed.export({ type: 'spki', format: 'pem' })}` });
      await accepted('update', { publicKeys: null });
    });
  });

  describe('secrets on the command line (4)', function () {
    it('refuses a secret as a positional value or in --json-values, with a German hint to --value-stdin; standard input works', async function () {
      const pos = host.cli(['settings', 'set', 'backup', 'ftpPassword', 'Geheim-auf-der-Zeile']);
      expect(pos.status).to.equal(2);
      expect(pos.stderr).to.match(/Geheimnisse nie auf der Befehlszeile/).and.match(/--value-stdin/);
      const json = host.cli(['settings', 'set', 'backup', '--json-values', JSON.stringify({ ftpHost: 'ftp.example.de', ftpPassword: 'Geheim-im-JSON' })]);
      expect(json.status).to.equal(2);
      expect(json.stderr).to.match(/--value-stdin/);
      expect((await values('backup')).secrets.ftpPassword).to.equal(false);
      expect((await values('backup')).values.ftpHost).to.equal('');
      const stdin = host.cli(['settings', 'set', 'backup', 'ftpPassword', '--value-stdin'], 'Geheim-von-stdin\n');
      expect(stdin.status, stdin.stderr).to.equal(0);
      const viaJson = host.cli(['settings', 'set', 'backup', '--json-stdin'], JSON.stringify({ ftpUser: 'salon17', ftpPassword: 'Geheim-2' }));
      expect(viaJson.status, viaJson.stderr).to.equal(0);
      let set = false;
      for (let i = 0; i < 50 && !set; i++) {
        set = (await values('backup')).secrets.ftpPassword === true && (await values('backup')).values.ftpUser === 'salon17';
        if (!set) await new Promise((r) => setTimeout(r, 200));
      }
      expect(set).to.equal(true);
      const audit = JSON.stringify((await host.api('GET', '/api/audit?limit=1000')).body);
      expect(audit).to.not.contain('Geheim');
    });
  });
});
