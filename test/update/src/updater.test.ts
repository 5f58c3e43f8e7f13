import { expect } from 'chai';
import { createPrivateKey, sign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { access, readFile, readdir, writeFile, readlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { makeHarness, rejection, fileSha, type Harness } from './harness.js';

const exists = (p: string) => access(p).then(() => true, () => false);
const require = createRequire(import.meta.url);

/** A small real state database like the host's (sql.js), so the migration dry run has something to work on. */
async function writeStateDb(path: string): Promise<void> {
  const SQL = await (require('sql.js') as () => Promise<any>)();
  const db = new SQL.Database();
  db.run('CREATE TABLE settings (plugin TEXT, key TEXT, value TEXT)');
  db.run("INSERT INTO settings VALUES ('update', 'channel', '\"stable\"')");
  await writeFile(path, db.export());
  db.close();
}

describe('update: check and prepare against a real HTTP update server (packages built from stand-in release trees)', function () {
  this.timeout(60_000);
  let h: Harness;
  beforeEach(async () => { h = await makeHarness(); });
  afterEach(async () => { await h.cleanup(); });

  it('installs a newer signed release: unpacked, migrations dry-run, trial start, switch requested, changes listed', async () => {
    await writeStateDb(join(h.data, 'state.sqlite'));
    const dbBefore = await fileSha(join(h.data, 'state.sqlite'));
    await h.publish({ version: '1.1.0', padBytes: 500_000, changes: 'kassenwart: Schnellerer Start\nbackup: FTP-Übertragung wird fortgesetzt', migrations: { '001-add.sql': 'CREATE TABLE extra (id INTEGER);' } });
    const result = await h.updater('1.0.0').check(h.job());
    expect(result.message).to.match(/^Update fertig! Version 1\.1\.0/);
    expect(result.message).to.contain('Kassenwart: Schnellerer Start');
    // Display names, never plugin ids (issue 17), also for a note "backup: …" in a tree without the backup plugin.
    expect(result.message).to.contain('Datensicherung: FTP-Übertragung wird fortgesetzt');
    expect(result.message).not.to.match(/\bbackup:/);
    expect((result.details as { changes: unknown }).changes).to.deep.equal([
      { component: 'Kassenwart', version: '1.1.0', lines: ['Kassenwart: Schnellerer Start', 'Datensicherung: FTP-Übertragung wird fortgesetzt'] },
    ]);
    const pkg = JSON.parse(await readFile(join(h.data, 'releases', '1.1.0', 'package.json'), 'utf8'));
    expect(pkg.version).to.equal('1.1.0');
    const journal = JSON.parse(await readFile(join(h.data, 'releases', 'switch.json'), 'utf8'));
    expect(journal).to.include({ state: 'requested', to: '1.1.0', from: '1.0.0', fromRelease: null });
    expect(h.restarts).to.have.length(1);
    // The running version is untouched: no `current` link yet, the state database unchanged (migrations ran on a copy).
    expect(await exists(join(h.data, 'releases', 'current'))).to.equal(false);
    expect(await fileSha(join(h.data, 'state.sqlite'))).to.equal(dbBefore);
    expect(await readdir(join(h.data, 'releases', 'downloads'))).to.deep.equal([]);
    const percents = h.progress.map(([p]) => p).filter((p): p is number => p !== undefined);
    expect(percents.some((p) => p > 5 && p < 80)).to.equal(true);
    expect(percents[percents.length - 1]).to.equal(100);
    const view = await h.updater('1.0.0').store.load();
    expect(view.history[0]).to.include({ version: '1.1.0', status: 'pending' });
    expect(view.lastCheck?.ok).to.equal(true);
  });

  it('says "Kein Update notwendig!" when the index has nothing newer', async () => {
    await h.publish({ version: '1.1.0' });
    const result = await h.updater('1.1.0').check(h.job());
    expect(result.message).to.equal('Kein Update notwendig!');
    expect(await exists(join(h.data, 'releases', 'switch.json'))).to.equal(false);
  });

  it('never offers an older or equal version (rollback of the software refused)', async () => {
    await h.publish({ version: '0.9.0' });
    await h.publish({ version: '1.0.0' });
    const result = await h.updater('1.0.0').check(h.job());
    expect(result.message).to.equal('Kein Update notwendig!');
    expect(h.server.requests.some((r) => r.path.endsWith('.tar.gz'))).to.equal(false);
    expect(await exists(join(h.data, 'releases', '0.9.0'))).to.equal(false);
  });

  it('keeps a stable installation off beta releases, and gives beta ones the newest', async () => {
    await h.publish({ version: '1.1.0' });
    await h.publish({ version: '1.2.0-beta.1', channel: 'beta' });
    const stable = await h.updater('1.1.0').check(h.job());
    expect(stable.message).to.equal('Kein Update notwendig!');
    const beta = await h.updater('1.1.0', { channel: 'beta' }).check(h.job());
    expect(beta.message).to.match(/^Update fertig! Version 1\.2\.0-beta\.1/);
  });

  it('refuses a tampered index (bad signature) and installs nothing', async () => {
    await h.publish({ version: '1.1.0' });
    const file = join(h.feed, 'index.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"1.1.0"', '"1.1.1"'));
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.name).to.equal('UserError');
    expect(err.message).to.contain('Signatur des Update-Index ist ungültig');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    const state = await h.updater('1.0.0').store.load();
    expect(state.lastCheck).to.include({ ok: false });
  });

  it('refuses an index signed with a key that is not pinned', async () => {
    await h.publish({ version: '1.1.0' });
    const { keygen } = await import('../../../plugins/update/dist/src/release.js');
    const other = await keygen(join(h.root, 'other-keys'));
    const err = await rejection(h.updater('1.0.0', { publicKeys: other.publicKeyBase64 }).check(h.job()));
    expect(err.message).to.contain('Signatur des Update-Index ist ungültig');
    expect(h.server.requests.some((r) => r.path.endsWith('.tar.gz'))).to.equal(false);
  });

  it('accepts the key as PEM among several pinned keys', async () => {
    await h.publish({ version: '1.1.0' });
    const { keygen } = await import('../../../plugins/update/dist/src/release.js');
    const other = await keygen(join(h.root, 'other-keys'));
    const pem = await readFile(join(h.root, 'keys', 'kassenwart-release.pub'), 'utf8');
    const result = await h.updater('1.0.0', { publicKeys: `${other.publicKeyBase64}\n${pem}` }).check(h.job());
    expect(result.message).to.match(/^Update fertig!/);
  });

  it('refuses a tampered package (SHA-256 mismatch) and leaves no partial file', async () => {
    await h.publish({ version: '1.1.0' });
    const pkg = join(h.feed, 'kassenwart-1.1.0.tar.gz');
    const bytes = await readFile(pkg);
    bytes[bytes.length - 100] ^= 0xff;
    await writeFile(pkg, bytes);
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('Prüfsumme');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    expect(await readdir(join(h.data, 'releases', 'downloads'))).to.deep.equal([]);
    expect(await exists(join(h.data, 'releases', 'switch.json'))).to.equal(false);
  });

  it('resumes a truncated download with a Range request and installs the complete package', async () => {
    await h.publish({ version: '1.1.0', padBytes: 300_000 });
    h.server.truncate = { after: 100_000, times: 2 };
    const result = await h.updater('1.0.0').check(h.job());
    expect(result.message).to.match(/^Update fertig!/);
    const ranges = h.server.requests.filter((r) => r.path.endsWith('.tar.gz')).map((r) => r.range);
    expect(ranges).to.deep.equal([undefined, 'bytes=100000-', 'bytes=200000-']);
    expect((await readFile(join(h.data, 'releases', '1.1.0', 'pad.bin'))).length).to.equal(300_000);
  });

  it('gives up on a download that keeps breaking off, keeps the part, and continues it at the next check', async () => {
    await h.publish({ version: '1.1.0', padBytes: 300_000 });
    h.server.truncate = { after: 20_000, times: 6 };
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('wiederholt unterbrochen');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    h.server.truncate = null;
    h.server.requests.length = 0;
    const result = await h.updater('1.0.0').check(h.job());
    expect(result.message).to.match(/^Update fertig!/);
    expect(h.server.requests.filter((r) => r.path.endsWith('.tar.gz')).map((r) => r.range)).to.deep.equal(['bytes=120000-']);
  });

  it('stops a download when the job is cancelled, installs nothing, and keeps the part for the next check', async () => {
    await h.publish({ version: '1.1.0', padBytes: 300_000 });
    h.server.stallAfter = 50_000;
    const ac = new AbortController();
    // Cancel a moment after bytes arrived (the server stalls after 50 000 bytes), as an operator would.
    const job = { signal: ac.signal, progress: (p: number | undefined) => { if ((p ?? 0) > 5) setTimeout(() => ac.abort(), 300); } };
    const err = await rejection(h.updater('1.0.0').check(job));
    expect(err.name).to.equal('CancelledError');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    expect(await exists(join(h.data, 'releases', 'switch.json'))).to.equal(false);
    const part = await readFile(join(h.data, 'releases', 'downloads', 'kassenwart-1.1.0.tar.gz.part'));
    expect(part.length).to.be.greaterThan(0).and.at.most(50_000);
    h.server.stallAfter = null;
    expect((await h.updater('1.0.0').check(h.job())).message).to.match(/^Update fertig!/);
  });

  it('treats a server that stops sending as an interruption, resumes, and gives up with a German reason', async () => {
    const { downloadResumable } = await import('../../../plugins/update/dist/src/download.js');
    await h.publish({ version: '1.1.0', padBytes: 300_000 });
    const index = JSON.parse(await readFile(join(h.feed, 'index.json'), 'utf8'));
    const r = index.releases[0];
    h.server.stallAfter = 40_000;
    const dest = join(h.data, 'dl', 'pkg.tar.gz');
    const err = await rejection(downloadResumable({ url: `${h.server.url}/${r.url}`, dest, size: r.size, sha256: r.sha256, attempts: 2, idleTimeoutMs: 300 }));
    expect(err.message).to.contain('wiederholt unterbrochen');
    expect(h.server.requests.filter((q) => q.path.endsWith('.tar.gz')).map((q) => q.range)).to.deep.equal([undefined, 'bytes=40000-', 'bytes=80000-']);
    h.server.stallAfter = null;
    await downloadResumable({ url: `${h.server.url}/${r.url}`, dest, size: r.size, sha256: r.sha256 });
    expect(await fileSha(dest)).to.equal(r.sha256);
  });

  it('refuses an index older than the last one seen (replayed feed)', async () => {
    await h.publish({ version: '1.1.0' });
    const oldIndex = await readFile(join(h.feed, 'index.json'));
    const oldSig = await readFile(join(h.feed, 'index.json.sig'));
    await h.publish({ version: '1.2.0' });
    expect((await h.updater('1.2.0').check(h.job())).message).to.equal('Kein Update notwendig!');
    await writeFile(join(h.feed, 'index.json'), oldIndex);
    await writeFile(join(h.feed, 'index.json.sig'), oldSig);
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('älteren Update-Index');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
  });

  it('refuses an expired index', async () => {
    await h.publish({ version: '1.1.0' });
    const index = JSON.parse(await readFile(join(h.feed, 'index.json'), 'utf8'));
    index.expires = new Date(Date.now() - 60_000).toISOString();
    index.sequence += 1;
    const bytes = Buffer.from(JSON.stringify(index));
    await writeFile(join(h.feed, 'index.json'), bytes);
    await writeFile(join(h.feed, 'index.json.sig'), sign(null, bytes, createPrivateKey(await readFile(h.keyFile))).toString('base64'));
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('abgelaufen');
    expect(h.server.requests.some((r) => r.path.endsWith('.tar.gz'))).to.equal(false);
  });

  it('refuses a release whose migration fails, leaving the state database and release folders untouched', async () => {
    await writeStateDb(join(h.data, 'state.sqlite'));
    const before = await fileSha(join(h.data, 'state.sqlite'));
    await h.publish({ version: '1.1.0', migrations: { '001-ok.sql': 'CREATE TABLE a (x);', '002-broken.sql': 'ALTER TABLE does_not_exist ADD COLUMN y TEXT;' } });
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('002-broken.sql');
    expect(err.message).to.contain('fehlgeschlagen');
    expect(await fileSha(join(h.data, 'state.sqlite'))).to.equal(before);
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    expect(await exists(join(h.data, 'releases', 'switch.json'))).to.equal(false);
  });

  it('refuses a release that does not start in the trial run (failed health check) without switching', async () => {
    await h.publish({ version: '1.1.0', behaviour: 'crash' });
    const err = await rejection(h.updater('1.0.0').check(h.job()));
    expect(err.message).to.contain('Funktionstest nicht bestanden');
    expect(err.message).to.contain('laufende Version bleibt aktiv');
    expect(await exists(join(h.data, 'releases', '1.1.0'))).to.equal(false);
    expect(await exists(join(h.data, 'releases', 'switch.json'))).to.equal(false);
    expect(h.restarts).to.deep.equal([]);
  });

  it('reports an unreachable update server in German', async () => {
    const err = await rejection(h.updater('1.0.0', { feedUrl: 'http://127.0.0.1:9/index.json' }).check(h.job()));
    expect(err.message).to.contain('Update-Server ist nicht erreichbar');
    expect(err.hint).to.contain('Internetverbindung');
  });

  it('reports a full disk while downloading and leaves nothing behind', async function () {
    if (process.getuid?.() !== 0) this.skip();
    await h.publish({ version: '1.1.0', padBytes: 3_000_000 });
    const releases = join(h.data, 'releases');
    await mkdir(releases, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', releases]);
    try {
      const err = await rejection(h.updater('1.0.0').check(h.job()));
      expect(err.message).to.contain('Nicht genug Speicherplatz');
      expect(await exists(join(releases, '1.1.0'))).to.equal(false);
      expect(await exists(join(releases, 'switch.json'))).to.equal(false);
    } finally {
      execFileSync('umount', [releases]);
    }
    expect(await readlink(join(releases, 'current')).catch(() => null)).to.equal(null);
  });
});
