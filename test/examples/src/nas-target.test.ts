/**
 * More tests of the example plugin nas-target than its own spec has, with parts a plugin author's machine
 * may not offer: the target's send() called directly (cancel mid-copy through a real FIFO, a source that
 * changed, leftovers), and, as root, a real host with the backup plugin coupled to a real vsftpd (FTPS)
 * next to a NAS folder that is a read-only mount or a 1 MiB tmpfs: the NAS target fails with its German
 * reason while the FTP server still gets its verified copy.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackupFile, SendContext } from 'kassenwart/plugins/backup/api';
import { KASSENWART_BIN, startTestHost, type JobView, type TestHost } from 'kassenwart/sdk/testing';
import { createNasTarget, NAS_TARGET_ID } from '../../../examples/nas-target/dist/src/index.js';
import { removeDir, tempDir } from '../../support/dist/tmp.js';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';

const PLUGIN_DIR = fileURLToPath(new URL('../../../examples/nas-target', import.meta.url));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The settings view the host would inject, with fixed values. */
const settingsOf = (values: Record<string, unknown>) => ({ get: <T>(key: string) => values[key] as T });

/** A send context that records progress and log lines. */
function sendContext(signal = new AbortController().signal) {
  const progress: number[] = [];
  const log: string[] = [];
  const ctx: SendContext = { signal, progress: (done) => progress.push(done), log: (m) => log.push(m) };
  return { ctx, progress, log };
}

interface TargetResult { target: string; status: string; message: string; location?: string }
const resultOf = (job: JobView, target: string) =>
  ((job.result?.details?.results ?? []) as TargetResult[]).find((r) => r.target === target);

describe('example nas-target: send() directly (real files, real FIFO)', function () {
  this.timeout(60_000);
  let work: string;
  let nas: string;
  let source: BackupFile;

  beforeEach(async () => {
    work = await tempDir('kw-nas-unit-');
    nas = join(work, 'nas');
    await mkdir(nas);
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(work, 'kasse-2026-11-29_07-00-00.sqlite.gz');
    await writeFile(path, data);
    source = { path, name: 'kasse-2026-11-29_07-00-00.sqlite.gz', size: data.length, sha256: sha256(data), createdAt: new Date().toISOString() };
  });
  afterEach(async () => { await removeDir(work); });

  it('reports progress in bytes up to the size, removes leftovers of an interrupted send, leaves other files alone', async () => {
    const leftovers = [`.tmp-kasse-alt.sqlite.gz.4242.0badc0de`, 'kasse-weg.sqlite.gz.sha256'];
    const foreign = ['.tmp-fremd', 'bild.jpg'];
    for (const n of [...leftovers, ...foreign]) await writeFile(join(nas, n), 'x');
    const target = createNasTarget(settingsOf({ enabled: true, directory: nas, keep: 3 }));
    const { ctx, progress, log } = sendContext();

    const r = await target.send(source, ctx);
    expect(r).to.deep.equal({ location: join(nas, source.name), message: `Im NAS-Ordner gesichert (${nas})`, bytes: source.size });
    expect(progress.at(-1)).to.equal(source.size);
    expect(progress.length, 'several progress reports').to.be.greaterThan(2);
    expect([...progress].sort((a, b) => a - b)).to.deep.equal(progress);
    expect((await readdir(nas)).sort()).to.deep.equal([...foreign, source.name, `${source.name}.sha256`].sort());
    expect(sha256(await readFile(join(nas, source.name)))).to.equal(source.sha256);
    expect(log.join('\n')).to.contain(leftovers[0]).and.to.contain(leftovers[1]);
    expect((await target.list!()).map((b) => [b.name, b.size])).to.deep.equal([[source.name, source.size]]);
  });

  it('cancelled mid-copy: rejects as cancelled, removes the temporary file, nothing under the final name', async () => {
    // The backup is read from a FIFO this test feeds by hand, so the copy is caught while it runs.
    const fifo = join(work, 'fifo.sqlite.gz');
    execFileSync('mkfifo', [fifo]);
    const target = createNasTarget(settingsOf({ enabled: true, directory: nas, keep: 3 }));
    const abort = new AbortController();
    const { ctx, progress } = sendContext(abort.signal);
    const sending = target.send({ ...source, path: fifo }, ctx).then(() => 'finished', (e: Error) => e);

    const feed = createWriteStream(fifo);
    feed.on('error', () => { /* the reader went away: expected after the abort */ });
    feed.write(randomBytes(1024 * 1024));
    for (let i = 0; i < 500 && (progress.at(-1) ?? 0) < 1024 * 1024; i++) await new Promise((r) => setTimeout(r, 10));
    expect(progress.at(-1), 'copy under way').to.equal(1024 * 1024);
    expect((await readdir(nas)).filter((n) => n.startsWith('.tmp-')), 'a temporary file while copying').to.have.length(1);

    abort.abort();
    feed.end(); // lets a read that is waiting on the FIFO return
    const outcome = await sending;
    expect(outcome).to.be.instanceOf(Error);
    expect((outcome as Error).name).to.equal('CancelledError');
    expect(await readdir(nas)).to.deep.equal([]);
  });

  it('a source that changed while copying is not stored: German message, folder unchanged', async () => {
    const target = createNasTarget(settingsOf({ enabled: true, directory: nas, keep: 3 }));
    const outcome = await target.send({ ...source, sha256: '0'.repeat(64) }, sendContext().ctx).then(() => undefined, (e: unknown) => e);
    expect(outcome).to.include({ name: 'UserError', code: 'nas-target.source-changed' });
    expect((outcome as Error).message).to.equal('Die lokale Sicherungsdatei hat sich während des Kopierens verändert; im NAS-Ordner wurde nichts gespeichert.');
    expect(await readdir(nas)).to.deep.equal([]);
  });

  it('a file name that would leave the folder is refused; nothing is written anywhere', async () => {
    const target = createNasTarget(settingsOf({ enabled: true, directory: nas, keep: 3 }));
    const outcome = await target.send({ ...source, name: '../entkommen.sqlite.gz' }, sendContext().ctx).then(() => undefined, (e: unknown) => e);
    expect(outcome).to.include({ name: 'UserError', code: 'nas-target.name' });
    expect(await readdir(nas)).to.deep.equal([]);
    expect(await readdir(work)).to.deep.equal(['kasse-2026-11-29_07-00-00.sqlite.gz', 'nas']);
  });

  it('availability: skipped when switched off; unavailable with a German reason when no folder is set or it is a file', async () => {
    expect(await createNasTarget(settingsOf({ enabled: false, directory: nas, keep: 3 })).availability())
      .to.deep.equal({ available: false, kind: 'skipped', reason: 'Die Sicherung in den NAS-Ordner ist ausgeschaltet.' });
    const none = await createNasTarget(settingsOf({ enabled: true, directory: '', keep: 3 })).availability();
    expect(none).to.include({ available: false, kind: 'unavailable' });
    // what is wrong and what to do are kept apart (Availability.hint); "Backup an FTP" shows both
    expect(none.reason).to.equal('Für die Sicherung in den NAS-Ordner ist kein Ordner eingestellt.');
    expect(none.hint).to.match(/^Bitte unter Einstellungen/);
    const file = await createNasTarget(settingsOf({ enabled: true, directory: source.path, keep: 3 })).availability();
    expect(file).to.include({ available: false, kind: 'unavailable' });
    expect(file.reason).to.match(new RegExp(`^${source.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} ist kein Ordner\\.`));
    expect(await createNasTarget(settingsOf({ enabled: true, directory: nas, keep: 3 })).availability()).to.deep.equal({ available: true });
  });
});

describe('example nas-target next to the FTP target (real host, real vsftpd, real mounts; root only)', function () {
  this.timeout(300_000);
  let server: FtpServer | undefined;
  let host: TestHost | undefined;
  let work: string;
  const mounts: string[] = [];

  /** Mounts a tmpfs at a new folder `name` under the work folder. */
  function mountTmpfs(name: string, options: string): string {
    const dir = join(work, name);
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  }

  async function sendWithNasAt(directory: string): Promise<JobView> {
    const r = await host!.api('PUT', '/api/settings/nas-target', { directory });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return host!.runAction('backup.send');
  }

  /** The copy on the FTP server of the backup a send job sent, checked against the job's SHA-256. */
  async function expectOnFtp(job: JobView): Promise<void> {
    const { backup, sha256: sum } = job.result!.details as { backup: string; sha256: string };
    expect(resultOf(job, 'backup.ftp')?.status, JSON.stringify(job.result)).to.equal('sent');
    expect(sha256(await readFile(join(server!.root, 'salon-nas', backup)))).to.equal(sum);
  }

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    work = await tempDir('kw-nas-host-');
    server = await startFtpServer();
    host = await startTestHost({
      pluginDirs: [PLUGIN_DIR],
      enable: ['nas-target'],
      settings: {
        backup: {
          ftpEnabled: true, ftpHost: server.host, ftpPort: server.port, ftpUser: server.user, ftpPassword: server.password,
          ftpRemoteDir: 'salon-nas', ftpFingerprint: server.certFingerprint256,
        },
        'nas-target': { enabled: true, directory: join(work, 'nas'), keep: 3 },
      },
    });
    const created = await host.runAction('backup.create');
    expect(created.state, JSON.stringify(created.error)).to.equal('succeeded');
  });

  after(async () => {
    await host?.stop();
    await server?.stop();
    for (const m of mounts.reverse()) execFileSync('umount', [m]);
    if (work) await removeDir(work);
  });

  it('a read-only NAS share: the NAS target fails with its reason, the FTP server still gets the verified backup', async () => {
    const ro = mountTmpfs('nas-ro', 'ro,size=1m');
    const job = await sendWithNasAt(ro);
    expect(job.state, JSON.stringify(job.error)).to.equal('warning');
    const reason = `In den NAS-Ordner ${ro} kann nicht geschrieben werden (schreibgeschützt eingehängt). Bitte die Freigabe auf dem NAS mit Schreibrechten für den Kassenserver einhängen.`;
    expect(resultOf(job, NAS_TARGET_ID)).to.include({ status: 'failed', message: reason });
    expect(job.result?.message).to.match(/^Datenbank gesendet an: FTP-Server\. Fehlgeschlagen – NAS-Ordner: In den NAS-Ordner /);
    await expectOnFtp(job);
  });

  it('a NAS share that is too small (1 MiB tmpfs): "zu wenig Platz", no file left there; the FTP server gets its copy', async () => {
    const small = mountTmpfs('nas-small', 'size=1m,mode=755');
    const job = await sendWithNasAt(small);
    expect(job.state, JSON.stringify(job.error)).to.equal('warning');
    const size = (job.result!.details as { size: number }).size;
    expect(size, 'the demo backup is larger than the share').to.be.greaterThan(1024 * 1024);
    const nas = resultOf(job, NAS_TARGET_ID)!;
    expect(nas.status).to.equal('failed');
    expect(nas.message).to.match(new RegExp(`^Im NAS-Ordner ${small} ist zu wenig Platz: benötigt `));
    expect(await readdir(small)).to.deep.equal([]);
    await expectOnFtp(job);
  });

  it('once the share is usable again, both targets get the same backup', async () => {
    const ok = join(work, 'nas-ok');
    await mkdir(ok);
    const job = await sendWithNasAt(ok);
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    expect(job.result?.message).to.equal('Datenbank gesendet! (FTP-Server, NAS-Ordner)');
    const { backup, sha256: sum } = job.result!.details as { backup: string; sha256: string };
    expect(sha256(await readFile(join(ok, backup)))).to.equal(sum);
    await expectOnFtp(job);
  });
});

describe('example nas-target installed by a technician from a folder outside the package (CLI only)', function () {
  this.timeout(120_000);
  let work: string;
  before(async () => { work = await tempDir('kw-nas-install-'); });
  after(async () => { await removeDir(work); });

  /** `kassenwart …` on the work folder's installation, as a technician types it. */
  const kassenwart = (...args: string[]) => {
    const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', join(work, 'data')], {
      encoding: 'utf8', env: { ...process.env, KASSENWART_LOG: 'warn' }, timeout: 110_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it('plugins add-folder, plugins enable, settings set, action run backup.send: the backup lands in the NAS folder', async () => {
    // what a plugin author ships: plugin.json and the compiled code (dist/src, dist/ui), copied somewhere else
    const folder = join(work, 'plugins', 'nas-target');
    await mkdir(folder, { recursive: true });
    await cp(join(PLUGIN_DIR, 'plugin.json'), join(folder, 'plugin.json'));
    for (const part of ['src', 'ui']) await cp(join(PLUGIN_DIR, 'dist', part), join(folder, 'dist', part), { recursive: true });
    const nas = join(work, 'nas');
    await mkdir(nas);

    const steps: string[][] = [
      ['plugins', 'add-folder', join(work, 'plugins')],
      ['plugins', 'enable', 'nas-target'],
      ['settings', 'set', 'nas-target', '--json-values', JSON.stringify({ enabled: true, directory: nas })],
    ];
    for (const step of steps) {
      const r = kassenwart(...step);
      expect(r.status, `kassenwart ${step.join(' ')}: ${r.stderr}`).to.equal(0);
    }
    const bad = kassenwart('settings', 'set', 'nas-target', 'directory', 'nas/kasse');
    expect(bad.status, 'a relative path is invalid input').to.equal(5);
    expect(bad.stderr).to.contain('Bitte den Pfad des NAS-Ordners als absoluten Pfad angeben');

    const run = kassenwart('action', 'run', 'backup.send', '--json');
    expect(run.status, run.stderr).to.equal(0);
    const job = JSON.parse(run.stdout) as JobView;
    expect(job.state).to.equal('succeeded');
    expect(resultOf(job, NAS_TARGET_ID)).to.include({ status: 'sent', message: `Im NAS-Ordner gesichert (${nas})` });
    const { backup, sha256: sum } = job.result!.details as { backup: string; sha256: string };
    expect((await readdir(nas)).sort()).to.deep.equal([backup, `${backup}.sha256`]);
    expect(sha256(await readFile(join(nas, backup)))).to.equal(sum);

    const list = kassenwart('plugins', 'list', '--json');
    const entry = (JSON.parse(list.stdout) as { id: string; builtin: boolean; enabled: boolean; reasons: string[] }[]).find((p) => p.id === 'nas-target');
    expect(entry).to.deep.include({ builtin: false, enabled: true, reasons: [] });
  });
});

describe('example nas-target: its panel on the settings page (real host, headless Chromium)', function () {
  this.timeout(180_000);
  let host: TestHost | undefined;
  let work: string;
  const user = { name: 'tech', password: 'Panel-' + randomBytes(6).toString('hex') };

  before(async () => {
    work = await tempDir('kw-nas-panel-');
    await mkdir(join(work, 'nas'));
    host = await startTestHost({
      pluginDirs: [PLUGIN_DIR], enable: ['nas-target'], user,
      settings: { 'nas-target': { enabled: true, directory: join(work, 'nas') } },
    });
  });
  after(async () => {
    await host?.stop();
    if (work) await removeDir(work);
  });

  it('lists the backups in the NAS folder; a missing folder shows its German reason', async () => {
    const sent = await host!.runAction('backup.send');
    expect(sent.state, JSON.stringify(sent.error)).to.equal('succeeded');
    const name = String(sent.result!.details!.backup);

    const browser = await launchBrowser();
    try {
      const { context, page, problems } = await newPage(browser, { baseURL: host!.url });
      await signInPage(context, page, host!.url, user, '#/einstellungen');
      const panel = page.locator('nas-target-backups');
      const row = panel.locator(`tr[data-name="${name}"]`);
      await row.waitFor({ timeout: 30_000 });
      const cells = await row.locator('td').allInnerTexts();
      expect(cells[0]).to.equal(name);
      expect(cells[1]).to.match(/^\d+,\d MB$/);
      await screenshot(page, 'nas-target-panel');

      const missing = join(work, 'weg');
      const r = await host!.api('PUT', '/api/settings/nas-target', { directory: missing });
      expect(r.status).to.equal(200);
      await panel.getByRole('button', { name: 'Neu laden' }).click();
      expect(await panel.locator('[data-state="problem"]').innerText()).to.equal(`Der NAS-Ordner ${missing} ist nicht vorhanden.`);
      expect(problems.filter((m) => /nas-target/i.test(m)), 'no errors from this panel').to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });
});
