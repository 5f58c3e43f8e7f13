/**
 * "Updatecheck" updates the register (Kassensoftware): real host over HTTP, a signed feed on a real HTTP
 * server, releases published with the real `kassenwart release build --component kasse`, and the register
 * STAND-IN (examples/register-stand-in) as a real process writing receipts into the POS database.
 */
import { expect } from 'chai';
import { access, readFile, readlink, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost, type JobView } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { startUpdateServer, type UpdateServer } from './update-server.js';
import { beforeUpdateBackups, fileSha256, makeKeys, makeRegister, publishKasse, standInTree, type Register } from './register-harness.js';

const exists = (p: string) => access(p).then(() => true, () => false);
const FAILED = 'Update fehlgeschlagen – die vorherige Version läuft wieder.';

interface Installation { dir: string; reg: Register; feed: string; server: UpdateServer; host: TestHost; backups: string }

describe('update: the register (Kassensoftware) via "Updatecheck", with the register STAND-IN as a real process', function () {
  this.timeout(600_000);
  let root: string;
  let keys: { keyFile: string; publicKey: string };
  const open: Installation[] = [];

  before(async () => {
    root = await tempDir('kw-kasse-');
    keys = await makeKeys(join(root, 'keys'));
  });

  afterEach(async () => {
    for (const i of open.splice(0)) {
      await i.host.stop().catch(() => {});
      await i.reg.stop();
      await i.server.close();
    }
  });

  after(async () => { await removeDir(root); });

  /** A new installation: register 1.0.0 running (and writing), a feed, a host whose adapter points at them. */
  async function install(name: string, publish: (feed: string) => Promise<void>, o: { env?: Record<string, string>; behaviour?: Record<string, unknown>; stopTimeoutSeconds?: number; tmpfsSlack?: number } = {}): Promise<Installation> {
    const dir = join(root, name);
    const reg = await makeRegister(dir, { behaviour: o.behaviour, stopTimeoutSeconds: o.stopTimeoutSeconds, tmpfsSlack: o.tmpfsSlack });
    const feed = join(dir, 'feed');
    await publish(feed);
    const server = await startUpdateServer(feed);
    await reg.start();
    const host = await startTestHost({
      dataDir: join(dir, 'data'),
      settings: {
        update: { feedUrl: server.url + '/index.json', publicKeys: keys.publicKey, ...reg.settings },
        backup: { posDatabasePath: reg.db },
      },
      env: o.env,
    });
    const inst = { dir, reg, feed, server, host, backups: join(dir, 'data', 'plugins', 'backup', 'backups') };
    open.push(inst);
    return inst;
  }

  async function publish(feed: string, version: string, changes: string, o: Parameters<typeof standInTree>[2] & { cli?: boolean } = {}) {
    const tree = await standInTree(join(feed, '..', 'src', version), version, o);
    const r = await publishKasse(keys.keyFile, feed, tree, version, changes, { cli: o.cli });
    expect(r.status, r.stderr).to.equal(0);
    return r;
  }

  /** Stops the stand-in's writes and waits until they have stopped, so the database can be compared byte for byte. */
  async function pauseWrites(reg: Register): Promise<void> {
    await writeFile(reg.db + '.pause', '');
    for (let i = 0; i < 100 && (await reg.health()).body.writing !== false; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
  }

  /** Unpauses and checks that the register writes receipts again (it really runs on this database). */
  async function expectWritingAgain(reg: Register, version: string): Promise<void> {
    const before = reg.inspect().receipts;
    await rm(reg.db + '.pause', { force: true });
    for (let i = 0; i < 100 && reg.inspect().receipts <= before; i++) await new Promise((r) => setTimeout(r, 100));
    expect(reg.inspect().receipts, 'the register writes receipts again').to.be.greaterThan(before);
    expect((await reg.health()).body.version).to.equal(version);
  }

  async function expectBackupVerified(i: Installation, schema: number): Promise<void> {
    const b = await beforeUpdateBackups(i.backups);
    expect(b, 'a safety backup of kind "vor Update"').to.have.length.greaterThan(0);
    expect(b[b.length - 1]).to.include({ integrity: 'ok', schema, rawSha256Ok: true });
  }

  async function expectRolledBack(i: Installation, shaBefore: string): Promise<void> {
    // The journal goes right after the old version answers its health check (the recovery at start runs in the background).
    const journal = join(i.host.dataDir, 'plugins', 'update', 'kasse-journal.json');
    for (let n = 0; n < 100 && (await exists(journal)); n++) await new Promise((r) => setTimeout(r, 100));
    expect(await fileSha256(i.reg.db), 'database byte-identical (SHA-256)').to.equal(shaBefore);
    expect(await readlink(join(i.reg.installDir, 'current'))).to.equal(join('releases', '1.0.0'));
    expect(i.reg.inspect().schema).to.equal(1);
    expect((await readdir(join(i.reg.db, '..'))).filter((n) => n.includes('kassenwart-update') || n.includes('vor-update'))).to.deep.equal([]);
    expect(await exists(journal)).to.equal(false);
  }

  it('a cumulative update 1.0.0 → 1.3.0 across three releases: each migration step reported, program and schema at the newest, changes newest first', async () => {
    const i = await install('cumulative', async (feed) => {
      // Published with the real CLI, as the vendor does.
      await publish(feed, '1.1.0', 'Trinkgeld auf dem Beleg', { cli: true });
      await publish(feed, '1.2.0', 'Kundenkartei\nSchnellere Tagesabschlüsse', { cli: true });
      await publish(feed, '1.3.0', 'Belege mit Kunde', { cli: true });
    });
    const receiptsBefore = i.reg.inspect().receipts;
    const job = await i.host.runAction('update.check');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    expect(job.result?.message).to.match(/^Update fertig!\nKassensoftware: Version 1\.3\.0 ist eingespielt/);
    const log = ((job as JobView & { log: Array<{ message: string }> }).log ?? []).map((l) => l.message);
    const steps = log.filter((l) => l.startsWith('Kassensoftware: Datenbank-Anpassung'));
    expect(steps).to.deep.equal([
      'Kassensoftware: Datenbank-Anpassung 1 von 3 (Version 1.1.0: 002-tip.sql) …',
      'Kassensoftware: Datenbank-Anpassung 2 von 3 (Version 1.2.0: 003-customers.sql) …',
      'Kassensoftware: Datenbank-Anpassung 3 von 3 (Version 1.3.0: 004-receipt-customer.sql) …',
    ]);
    expect(log.some((l) => /^Datensicherung kasse-.*\.sqlite\.gz \(vor Update, geprüft\)$/.test(l)), log.join('\n')).to.equal(true);

    const health = await i.reg.waitHealthy('1.3.0');
    expect(health.schema).to.equal(4);
    expect(await readlink(join(i.reg.installDir, 'current'))).to.equal(join('releases', '1.3.0'));
    const after = i.reg.inspect();
    expect(after.schema).to.equal(4);
    expect(after.tables).to.include('customers');
    expect(after.receipts).to.be.greaterThan(receiptsBefore);
    await expectWritingAgain(i.reg, '1.3.0');

    const hist = await i.host.api('GET', '/api/ext/update/history');
    const kasse = hist.body.components.find((c: { id: string }) => c.id === 'kasse');
    expect(kasse).to.include({ displayName: 'Kassensoftware', installedVersion: '1.3.0', skipped: null });
    expect(kasse.updates[0]).to.include({ version: '1.3.0', from: '1.0.0', status: 'installed', componentName: 'Kassensoftware' });
    expect(kasse.updates[0].notes.map((n: { version: string }) => n.version)).to.deep.equal(['1.3.0', '1.2.0', '1.1.0']);
    expect(kasse.updates[0].notes[1].lines).to.deep.equal(['Kassensoftware: Kundenkartei', 'Kassensoftware: Schnellere Tagesabschlüsse']);
    expect(hist.body.lastUpdate).to.include({ version: '1.3.0', componentName: 'Kassensoftware' });
    expect(hist.body.reminder).to.equal(false);
    await expectBackupVerified(i, 1);

    const again = await i.host.runAction('update.check');
    expect(again.result?.message).to.equal('Kein Update notwendig!');
  });

  it('a migration that fails in its third statement: database byte-identical, the old version runs again, the reason shown', async () => {
    const i = await install('broken-migration', async (feed) => {
      await publish(feed, '1.1.0', 'Bonnummern eindeutig', {
        // Applies to an empty database (the vendor's check passes), fails on the salon's data: duplicate amounts.
        extra: { '003-unique.sql': 'ALTER TABLE receipts ADD COLUMN note TEXT;\nUPDATE receipts SET note = \'\';\nCREATE UNIQUE INDEX receipts_amount ON receipts (amount_cents);\n' },
      });
    });
    await pauseWrites(i.reg);
    const sha = await fileSha256(i.reg.db);
    const job = await i.host.runAction('update.check');
    expect(job.state).to.equal('failed');
    expect(job.error?.message.split('\n')[0]).to.equal(FAILED);
    expect(job.error?.message).to.contain('Grund: Datenbank-Anpassung „003-unique.sql“ fehlgeschlagen: UNIQUE constraint failed');
    expect(job.error?.message).to.contain('Die Kassendatenbank ist unverändert (SHA-256 wie vor dem Update).');
    expect(job.error?.hint).to.contain('Support');
    await i.reg.waitHealthy('1.0.0');
    await expectRolledBack(i, sha);
    await expectBackupVerified(i, 1);
    await expectWritingAgain(i.reg, '1.0.0');
    const hist = await i.host.api('GET', '/api/ext/update/history');
    expect(hist.body.components[0].updates[0]).to.include({ version: '1.1.0', status: 'rolled-back' });
    expect(hist.body.components[0].updates[0].reason).to.contain('003-unique.sql');
    expect(hist.body.lastCheck.ok).to.equal(false);
  });

  it('a release whose health check never turns green is rolled back: old program, old database', async () => {
    const i = await install('bad-health', async (feed) => {
      await publish(feed, '1.1.0', 'Neue Kassenoberfläche', { behaviour: { health: 'fail' } });
    });
    await pauseWrites(i.reg);
    const sha = await fileSha256(i.reg.db);
    const job = await i.host.runAction('update.check');
    expect(job.state).to.equal('failed');
    expect(job.error?.message.split('\n')[0]).to.equal(FAILED);
    expect(job.error?.message).to.match(/Grund: Die neue Version 1\.1\.0 hat die Funktionsprüfung nach \d+ s nicht bestanden \(HTTP 503: Funktionsprüfung absichtlich fehlgeschlagen \(Stand-in\)\)/);
    await i.reg.waitHealthy('1.0.0');
    await expectRolledBack(i, sha);
    await expectBackupVerified(i, 1);
    await expectWritingAgain(i.reg, '1.0.0');
  });

  const killCases = {
    migrating: 'the migration',
    switch: 'the switch (new schema in place, program not yet switched)',
    starting: 'the health check of the new version (new program running on the new schema, not committed)',
  } as const;
  for (const [step, what] of Object.entries(killCases) as Array<[keyof typeof killCases, string]>) {
    it(`kill -9 of Kassenwart during ${what}: the next start rolls back, never new program on old schema`, async () => {
      const i = await install(`kill-${step}`, async (feed) => {
        await publish(feed, '1.1.0', 'Trinkgeld');
        await publish(feed, '1.2.0', 'Kundenkartei', step === 'starting' ? { behaviour: { startDelayMs: 120_000 } } : {});
      }, { env: step === 'starting' ? {} : { KASSENWART_UPDATE_TEST_PAUSE: step } });
      await pauseWrites(i.reg);
      const sha = await fileSha256(i.reg.db);
      const start = await i.host.api('POST', '/api/actions/update.check', { params: {} });
      expect(start.status).to.equal(202);
      const journalFile = join(i.host.dataDir, 'plugins', 'update', 'kasse-journal.json');
      const journalState = async () => JSON.parse(await readFile(journalFile, 'utf8').catch(() => '{}')).state as string | undefined;
      if (step === 'starting') {
        for (let n = 0; n < 1200 && (await journalState()) !== 'starting'; n++) await new Promise((r) => setTimeout(r, 100));
        // The new program runs on the migrated database (still "starting" per its health answer).
        let h = await i.reg.health().catch(() => undefined);
        for (let n = 0; n < 100 && h?.body?.version !== '1.2.0'; n++) { await new Promise((r) => setTimeout(r, 100)); h = await i.reg.health().catch(() => undefined); }
        expect(h?.body).to.include({ version: '1.2.0', ok: false, error: 'startet noch' });
      } else {
        for (let n = 0; n < 1200 && !i.host.output().includes(`test pause at ${step}`); n++) await new Promise((r) => setTimeout(r, 100));
        expect(i.host.output()).to.contain(`test pause at ${step}`);
      }
      expect(await journalState()).to.equal(step === 'migrating' ? 'migrating' : step === 'switch' ? 'switching' : 'starting');
      if (step === 'switch') {
        // The dangerous moment on disk: the migrated database is in place, `current` still names the old program.
        expect(i.reg.inspect().schema).to.equal(3);
        expect(await readlink(join(i.reg.installDir, 'current'))).to.equal(join('releases', '1.0.0'));
      }
      await i.host.kill();
      if (step !== 'starting') await expectRefused(i.reg);
      await i.host.restart();
      await i.reg.waitHealthy('1.0.0');
      await expectRolledBack(i, sha);
      await expectBackupVerified(i, 1);
      await expectWritingAgain(i.reg, '1.0.0');
      let hist = await i.host.api('GET', '/api/ext/update/history');
      for (let n = 0; n < 100 && hist.body.components[0].updates[0]?.status !== 'rolled-back'; n++) {
        await new Promise((r) => setTimeout(r, 100));
        hist = await i.host.api('GET', '/api/ext/update/history');
      }
      expect(hist.body.components[0].updates[0]).to.include({ version: '1.2.0', status: 'rolled-back' });
      expect(hist.body.components[0].updates[0].reason).to.contain('wurde unterbrochen');
    });
  }

  /** While Kassenwart is down mid-update the register is stopped (it was taken down for the update). */
  async function expectRefused(reg: Register): Promise<void> {
    const r = await reg.health().then(() => 'answers', () => 'down');
    expect(r).to.equal('down');
  }

  it('a package with a bad hash: refused before the register is touched (same process keeps writing)', async () => {
    const i = await install('bad-hash', async (feed) => {
      await publish(feed, '1.1.0', 'Trinkgeld');
      const pkg = join(feed, 'kasse-1.1.0.tar.gz');
      const bytes = await readFile(pkg);
      bytes[bytes.length - 5] ^= 0xff;
      await writeFile(pkg, bytes);
    });
    const pid = await readFile(i.reg.pidFile, 'utf8');
    const job = await i.host.runAction('update.check');
    expect(job.state).to.equal('failed');
    expect(job.error?.message).to.match(/^Die Prüfsumme des heruntergeladenen Update-Pakets stimmt nicht \(SHA-256\)/);
    expect(await readFile(i.reg.pidFile, 'utf8')).to.equal(pid);
    expect(await readlink(join(i.reg.installDir, 'current'))).to.equal(join('releases', '1.0.0'));
    expect(await beforeUpdateBackups(i.backups)).to.deep.equal([]);
    await expectWritingAgain(i.reg, '1.0.0');
  });

  it('a feed that offers only an older register version: "Kein Update notwendig!", nothing stopped', async () => {
    const i = await install('older', async (feed) => { await publish(feed, '0.9.0', 'Alt'); });
    const pid = await readFile(i.reg.pidFile, 'utf8');
    const job = await i.host.runAction('update.check');
    expect(job.result?.message).to.equal('Kein Update notwendig!');
    expect(await readFile(i.reg.pidFile, 'utf8')).to.equal(pid);
    expect(i.reg.inspect().schema).to.equal(1);
  });

  it('a register that will not stop: German reason naming the process, nothing migrated, the old version keeps running', async () => {
    const i = await install('will-not-stop', async (feed) => { await publish(feed, '1.1.0', 'Trinkgeld'); }, { behaviour: { ignoreSigterm: true }, stopTimeoutSeconds: 3 });
    await pauseWrites(i.reg);
    const sha = await fileSha256(i.reg.db);
    const pid = (await readFile(i.reg.pidFile, 'utf8')).trim();
    const job = await i.host.runAction('update.check');
    expect(job.state).to.equal('failed');
    expect(job.error?.message.split('\n')[0]).to.equal(FAILED);
    expect(job.error?.message).to.contain(`Grund: Die Kasse lässt sich nicht beenden: nach 3 s hat noch Prozess ${pid} `);
    expect(job.error?.message).to.contain('die Kassendatenbank geöffnet');
    expect(job.error?.hint).to.contain('Kasse von Hand beenden');
    expect((await readFile(i.reg.pidFile, 'utf8')).trim()).to.equal(pid);
    await expectRolledBack(i, sha);
    await expectBackupVerified(i, 1);
    await expectWritingAgain(i.reg, '1.0.0');
  });

  it('a disk that runs full during the migration copy: German reason, copy removed, database byte-identical, old version runs', async function () {
    if (process.getuid?.() !== 0) this.skip(); // mounting a tmpfs needs root (CI runs as root)
    const i = await install('disk-full', async (feed) => { await publish(feed, '1.1.0', 'Trinkgeld'); }, { tmpfsSlack: 0.7 });
    await pauseWrites(i.reg);
    const sha = await fileSha256(i.reg.db);
    const job = await i.host.runAction('update.check');
    expect(job.state).to.equal('failed');
    expect(job.error?.message.split('\n')[0]).to.equal(FAILED);
    expect(job.error?.message).to.contain('Grund: Nicht genug Speicherplatz auf dem Kassenserver (Kopie der Kassendatenbank)');
    expect(job.error?.hint).to.contain('Speicherplatz');
    await i.reg.waitHealthy('1.0.0');
    await expectRolledBack(i, sha);
    await expectBackupVerified(i, 1);
    await expectWritingAgain(i.reg, '1.0.0');
  });
});
