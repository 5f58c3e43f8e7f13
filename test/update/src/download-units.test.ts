/**
 * The package download's checks in the test process (download.ts: downloadResumable): the package gets its
 * final name only with the announced size and SHA-256; a wrong hash, too many bytes, a server error or a
 * download that keeps breaking off leave no file under the final name, each with its German message; resuming
 * uses Range and copes with servers that ignore or mangle it. The server is a real HTTP server in this file
 * whose misbehaviour each test chooses (it stands in for an update server or proxy that behaves badly; the
 * well-behaved one with real packages is update-server.ts in updater.test.ts).
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, readdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { downloadResumable, fetchBytes, fsError } from '../../../plugins/update/dist/src/download.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

describe('update: the package download keeps a package only with the right size and SHA-256 (in-process)', function () {
  this.timeout(60_000);
  let server: Server;
  let url: string;
  let handler: Handler;
  let calls: Array<string | undefined>;
  let dir: string;
  const pkg = randomBytes(300_000);
  let n = 0;

  /** A well-behaved answer: 206 for a Range, else 200 with everything. */
  const honest: Handler = (req, res) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      if (from >= pkg.length) { res.writeHead(416); res.end(); return; }
      res.writeHead(206, { 'content-range': `bytes ${from}-${pkg.length - 1}/${pkg.length}`, 'content-length': pkg.length - from });
      res.end(pkg.subarray(from));
      return;
    }
    res.writeHead(200, { 'content-length': pkg.length });
    res.end(pkg);
  };

  before(async () => {
    server = createServer((req, res) => { calls.push(req.headers.range); handler(req, res, calls.length); });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/kassenwart-1.2.0.tar.gz`;
    dir = await tempDir('kw-download-units-');
  });
  after(async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); await removeDir(dir); });
  beforeEach(() => { calls = []; handler = honest; n++; });

  const dest = () => join(dir, `d${n}`, 'kassenwart-1.2.0.tar.gz');
  const files = async () => { try { return (await readdir(join(dir, `d${n}`))).sort(); } catch { return []; } };
  async function refused(p: Promise<unknown>): Promise<any> {
    try { await p; } catch (e) { return e; }
    throw new Error('expected a refusal');
  }
  const get = (over: object = {}) => downloadResumable({ url, dest: dest(), size: pkg.length, sha256: sha(pkg), attempts: 2, idleTimeoutMs: 2000, ...over });

  it('a right package: under its final name, byte for byte, no .part left, progress up to the size', async () => {
    const seen: number[] = [];
    await get({ onProgress: (b: number, total: number) => { expect(total).to.equal(pkg.length); seen.push(b); } });
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
    expect(await files()).to.deep.equal(['kassenwart-1.2.0.tar.gz']);
    expect(seen.at(-1)).to.equal(pkg.length);
    expect(calls).to.deep.equal([undefined]);
  });

  it('a wrong SHA-256: refused in German, and neither the package nor its .part stays', async () => {
    const e = await refused(get({ sha256: sha(Buffer.from('other')) }));
    expect([e.name, e.code, e.message, e.hint]).to.deep.equal(['UserError', 'update.hash-mismatch',
      'Die Prüfsumme des heruntergeladenen Update-Pakets stimmt nicht (SHA-256). Das Paket ist beschädigt oder wurde verändert und wird nicht installiert.',
      'Bitte den Updatecheck erneut starten; tritt der Fehler wieder auf, den Support verständigen.']);
    expect(await files()).to.deep.equal([]);
  });

  it('a server that sends more than announced: refused at once, no file left', async () => {
    const e = await refused(get({ size: pkg.length - 1 }));
    expect([e.code, e.message]).to.deep.equal(['update.size', 'Das Update-Paket ist größer als angekündigt. Es wurde nichts installiert.']);
    expect(await files()).to.deep.equal([]);
  });

  it('a server error: refused with the status, nothing left', async () => {
    handler = (_q, res) => { res.writeHead(403); res.end('nein'); };
    const e = await refused(get());
    expect([e.code, e.message, e.hint]).to.deep.equal(['update.http', 'Der Update-Server antwortet mit Fehler 403 beim Herunterladen des Updates. Es wurde nichts installiert.',
      'Bitte später erneut versuchen oder den Support verständigen.']);
    expect(await files()).to.deep.equal([]);
  });

  it('a download that keeps breaking off: refused after the attempts with what arrived, the .part kept for later', async () => {
    handler = (req, res) => {
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
      const headers = from ? { 'content-range': `bytes ${from}-${pkg.length - 1}/${pkg.length}`, 'content-length': pkg.length - from } : { 'content-length': pkg.length };
      res.writeHead(from ? 206 : 200, headers);
      res.write(pkg.subarray(from, from + 1000), () => res.destroy());
    };
    const e = await refused(get({ attempts: 2 }));
    expect(e.code).to.equal('update.download-incomplete');
    // how much of each 1000-byte piece arrives before the connection drops depends on the kernel: read it off the .part
    const have = (await stat(dest() + '.part')).size;
    expect(have).to.be.within(1, 3000);
    expect(e.message).to.equal(`Der Download des Updates wurde wiederholt unterbrochen (${have} von ${pkg.length} Bytes). Es wurde nichts installiert.`);
    expect(e.hint).to.equal('Bitte die Internetverbindung prüfen und den Updatecheck erneut starten; der Download wird dann fortgesetzt.');
    expect(calls).to.have.length(3); // attempts: 2 → the first try and two resumptions
    expect((await readFile(dest() + '.part')).equals(pkg.subarray(0, have))).to.equal(true);
    expect(await files()).to.deep.equal(['kassenwart-1.2.0.tar.gz.part']);
    // the next check continues where it stopped
    handler = honest;
    calls = [];
    await get();
    expect(calls).to.deep.equal([`bytes=${have}-`]);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
    expect(await files()).to.deep.equal(['kassenwart-1.2.0.tar.gz']);
  });

  it('a server that answers less than announced and then nothing: "unvollständig", nothing under the final name', async () => {
    handler = (req, res) => {
      if (req.headers.range) { res.writeHead(206, { 'content-range': `bytes ${/\d+/.exec(req.headers.range)![0]}-1/1`, 'content-length': 0 }); res.end(); return; }
      res.writeHead(200, { 'content-length': 500 }); res.end(pkg.subarray(0, 500));
    };
    const e = await refused(get({ attempts: 1 }));
    expect([e.code, e.message, e.hint]).to.deep.equal(['update.download-incomplete', `Das Update-Paket ist unvollständig (500 von ${pkg.length} Bytes). Es wurde nichts installiert.`,
      'Bitte den Updatecheck erneut starten.']);
    expect(await files()).to.deep.equal(['kassenwart-1.2.0.tar.gz.part']);
  });

  it('resumes a .part with Range; a server that ignores Range (200) starts again from zero', async () => {
    const d = dest();
    await mkdir(join(dir, `d${n}`), { recursive: true });
    await writeFile(d + '.part', pkg.subarray(0, 100_000));
    calls = [];
    await get();
    expect(calls).to.deep.equal(['bytes=100000-']);
    expect((await readFile(d)).equals(pkg)).to.equal(true);

    n++;
    await mkdir(join(dir, `d${n}`), { recursive: true });
    await writeFile(dest() + '.part', Buffer.alloc(100_000, 7)); // wrong bytes: only the hash could tell if kept
    handler = (req, res) => { res.writeHead(200, { 'content-length': pkg.length }); res.end(pkg); };
    calls = [];
    await get();
    expect(calls).to.deep.equal(['bytes=100000-']);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
  });

  it('a Content-Range that starts elsewhere is not appended: the .part starts again', async () => {
    await mkdir(join(dir, `d${n}`), { recursive: true });
    await writeFile(dest() + '.part', pkg.subarray(0, 50_000));
    let first = true;
    handler = (req, res) => {
      if (req.headers.range && first) {
        first = false;
        res.writeHead(206, { 'content-range': `bytes 40000-${pkg.length - 1}/${pkg.length}`, 'content-length': pkg.length - 40000 });
        res.end(pkg.subarray(40000));
        return;
      }
      honest(req, res, 0);
    };
    await get();
    expect(calls).to.deep.equal(['bytes=50000-', undefined]);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
    // a 206 without Content-Range is not appended either
    n++;
    await mkdir(join(dir, `d${n}`), { recursive: true });
    await writeFile(dest() + '.part', pkg.subarray(0, 50_000));
    first = true;
    handler = (req, res) => {
      if (req.headers.range && first) { first = false; res.writeHead(206, { 'content-length': 10 }); res.end(Buffer.alloc(10)); return; }
      honest(req, res, 0);
    };
    calls = [];
    await get();
    expect(calls).to.deep.equal(['bytes=50000-', undefined]);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
  });

  it('a .part larger than the package, or one the server calls out of range (416), starts again from zero', async () => {
    const mk = async () => mkdir(join(dir, `d${n}`), { recursive: true });
    await mk();
    await writeFile(dest() + '.part', Buffer.concat([pkg, Buffer.alloc(10)]));
    await get();
    expect(calls).to.deep.equal([undefined]);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);

    n++;
    await mk();
    await writeFile(dest() + '.part', pkg.subarray(0, 1000));
    let first = true;
    handler = (req, res) => { if (first && req.headers.range) { first = false; res.writeHead(416); res.end(); return; } honest(req, res, 0); };
    calls = [];
    await get();
    expect(calls).to.deep.equal(['bytes=1000-', undefined]);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
  });

  it('a complete .part is checked without downloading again (and refused when it is not the package)', async () => {
    const mk = async () => mkdir(join(dir, `d${n}`), { recursive: true });
    await mk();
    await writeFile(dest() + '.part', pkg);
    await get();
    expect(calls).to.deep.equal([]);
    expect((await stat(dest())).size).to.equal(pkg.length);
    n++;
    await mk();
    await writeFile(dest() + '.part', Buffer.alloc(pkg.length, 1));
    const e = await refused(get());
    expect(e.code).to.equal('update.hash-mismatch');
    expect(calls).to.deep.equal([]);
    expect(await files()).to.deep.equal([]);
  });

  it('a server that stops sending counts as an interruption after the idle time, and the download resumes', async () => {
    let first = true;
    handler = (req, res) => {
      if (first) { first = false; res.writeHead(200, { 'content-length': pkg.length }); res.write(pkg.subarray(0, 5000)); return; } // then silence
      honest(req, res, 0);
    };
    await get({ idleTimeoutMs: 300 });
    expect(calls).to.deep.equal([undefined, 'bytes=5000-']);
    expect((await readFile(dest())).equals(pkg)).to.equal(true);
  });

  it('416 to a request without Range is a server error, not a reason to start again', async () => {
    handler = (_q, res) => { res.writeHead(416); res.end(); };
    const e = await refused(get());
    expect([e.code, e.message]).to.deep.equal(['update.http', 'Der Update-Server antwortet mit Fehler 416 beim Herunterladen des Updates. Es wurde nichts installiert.']);
    expect(calls).to.deep.equal([undefined]);
  });

  it('no server at all: retried, then "wiederholt unterbrochen" with the network reason kept', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const e = await refused(get({ url: `http://127.0.0.1:${port}/p.tar.gz`, attempts: 1 }));
    expect([e.code, e.message]).to.deep.equal(['update.download-incomplete', `Der Download des Updates wurde wiederholt unterbrochen (0 von ${pkg.length} Bytes). Es wurde nichts installiert.`]);
    expect([e.cause?.code, e.cause?.message]).to.deep.equal(['update.network', `Der Update-Server ist nicht erreichbar (127.0.0.1:${port}: ECONNREFUSED). Es wurde nichts installiert.`]);
  });

  it('cancelled while the bytes arrive: a cancellation, the .part kept for the next check, nothing under the final name', async () => {
    handler = (_q, res) => { res.writeHead(200, { 'content-length': pkg.length }); res.write(pkg.subarray(0, 5000)); /* then holds the rest back */ };
    const ac = new AbortController();
    const e = await refused(get({ signal: ac.signal, onProgress: () => ac.abort() }));
    expect(e.name).to.equal('CancelledError');
    expect(await files()).to.deep.equal(['kassenwart-1.2.0.tar.gz.part']);
  });

  it('a cancelled download is a cancellation and keeps nothing under the final name', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await refused(get({ signal: ac.signal }));
    expect(e.name).to.equal('CancelledError');
    expect(await files()).to.not.include('kassenwart-1.2.0.tar.gz');
  });

  it('fetchBytes: the body of a 200; another status or no server is a German error', async () => {
    expect(Buffer.from(await fetchBytes(url)).equals(pkg)).to.equal(true);
    handler = (_q, res) => { res.writeHead(404); res.end(); };
    const e = await refused(fetchBytes(url));
    expect([e.code, e.message]).to.deep.equal(['update.http', 'Der Update-Server antwortet mit Fehler 404 für /kassenwart-1.2.0.tar.gz. Es wurde nichts installiert.']);
    // a port nothing listens on (taken from a server just closed)
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const off = await refused(fetchBytes(`http://127.0.0.1:${port}/index.json`));
    expect([off.code, off.message, off.hint]).to.deep.equal(['update.network', `Der Update-Server ist nicht erreichbar (127.0.0.1:${port}: ECONNREFUSED). Es wurde nichts installiert.`,
      'Bitte die Internetverbindung des Kassenservers prüfen und den Updatecheck später erneut starten.']);
  });

  it('fsError: a full disk and a missing permission in German, anything else unchanged', () => {
    const full = fsError(Object.assign(new Error('x'), { code: 'ENOSPC' }), 'Update herunterladen') as any;
    expect([full.code, full.message]).to.deep.equal(['update.disk-full', 'Nicht genug Speicherplatz auf dem Kassenserver (Update herunterladen). Es wurde nichts installiert, die laufende Version bleibt aktiv.']);
    expect((fsError(Object.assign(new Error('x'), { code: 'EDQUOT' }), 'a') as any).code).to.equal('update.disk-full');
    for (const c of ['EACCES', 'EPERM', 'EROFS']) expect((fsError(Object.assign(new Error('x'), { code: c }), 'b') as any).message, c).to.equal('Kein Schreibzugriff auf den Update-Ordner (b).');
    const other = Object.assign(new Error('x'), { code: 'EIO' });
    expect(fsError(other, 'c')).to.equal(other);
  });
});
