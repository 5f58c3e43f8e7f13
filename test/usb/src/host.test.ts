/**
 * End to end through a real host process: "Backup an FTP" (backup.send) with each 01.1 mode, a FAT32
 * stick (mount-table fixture whose device is a real mkfs.vfat image, mount point a temp folder below a
 * temp media root), the real vsftpd FTPS server, the sticks route and "Stick sicher entfernen".
 * Needs root (vsftpd with a temporary system user).
 */
import { expect } from 'chai';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startTestHost, type TestHost, type JobView } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { startFtpServer, type FtpServer } from '../../support/dist/vsftpd.js';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';
import { makeImage, makeStickDir, sha256, writeMounts } from './fixtures.js';

interface TargetResult { target: string; status: 'sent' | 'skipped' | 'failed'; message: string; location?: string }

const byTarget = (job: JobView): Record<string, TargetResult> =>
  Object.fromEntries(((job.result?.details?.results ?? []) as TargetResult[]).map((r) => [r.target, r]));

async function gzFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.gz')).sort();
}

async function clearGz(dir: string): Promise<void> {
  for (const n of await readdir(dir)) if (n.endsWith('.gz') || n.endsWith('.gz.sha256')) await rm(join(dir, n), { force: true });
}

describe('usb: end to end through "Backup an FTP" (real host, real vsftpd; the stick is a folder that a mount-table fixture maps to a real FAT32 image, which is never mounted)', function () {
  this.timeout(300_000);
  let ftp: FtpServer | undefined;
  let host: TestHost | undefined;
  let dir: string;
  let usb0: string;
  let mounts: string;
  let fat32: string;
  let media: string;
  const user = { name: 'tech', password: 'Usb-Test-' + Math.random().toString(36).slice(2) };

  before(async function () {
    if (process.getuid?.() !== 0) this.skip();
    dir = await tempDir('kw-usb-e2e-');
    media = join(dir, 'media');
    usb0 = await makeStickDir(media, 'usb0');
    fat32 = await makeImage(dir, 'FAT32');
    mounts = join(dir, 'mounts');
    await writeMounts(mounts, [{ device: fat32, mountPoint: usb0, fstype: 'vfat' }]);
    ftp = await startFtpServer();
    host = await startTestHost({
      user,
      dataDir: join(dir, 'data'), // inside our temp folder, so it is removed even if the start fails
      env: { KASSENWART_USB_MOUNTS: mounts, KASSENWART_USB_MEDIA_ROOT: media, KASSENWART_DEMO_DB_MB: '2' },
      settings: {
        backup: {
          ftpEnabled: true, ftpHost: ftp.host, ftpPort: ftp.port, ftpUser: ftp.user, ftpPassword: ftp.password,
          ftpRemoteDir: '', ftpTls: 'explicit', ftpFingerprint: ftp.certFingerprint256,
        },
        usb: { path: usb0, mode: 'D' },
      },
    });
    const created = await host.runAction('backup.create');
    expect(created.state, JSON.stringify(created.error)).to.equal('succeeded');
  });

  after(async () => {
    await host?.stop();
    await ftp?.stop();
    if (dir) await removeDir(dir);
  });

  beforeEach(async () => {
    if (!host) return;
    await clearGz(usb0);
    await clearGz(ftp!.root);
    await writeMounts(mounts, [{ device: fat32, mountPoint: usb0, fstype: 'vfat' }]);
  });

  async function setUsb(values: Record<string, unknown>): Promise<void> {
    const r = await host!.api('PUT', '/api/settings/usb', values);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  }

  /** The file is a complete, verified backup: SHA-256 as the job says, and it gunzips to a SQLite database. */
  async function expectVerifiedBackup(folder: string, job: JobView): Promise<void> {
    const name = job.result!.details!.backup as string;
    const data = await readFile(join(folder, name));
    expect(sha256(data)).to.equal(job.result!.details!.sha256);
    expect(gunzipSync(data).subarray(0, 16).toString('latin1')).to.equal('SQLite format 3\u0000');
  }

  it('01.1 = D: a verified .gz on the stick and on the FTP server', async () => {
    await setUsb({ mode: 'D' });
    const job = await host!.runAction('backup.send');
    expect(job.state, JSON.stringify(job.error ?? job.result)).to.equal('succeeded');
    const r = byTarget(job);
    expect(r['usb.stick']).to.include({ status: 'sent', message: `Auf USB-Stick gesichert (${usb0})` });
    expect(r['backup.ftp'].status).to.equal('sent');
    const name = job.result!.details!.backup as string;
    expect(await gzFiles(usb0)).to.deep.equal([name]);
    expect(await gzFiles(ftp!.root)).to.deep.equal([name]);
    await expectVerifiedBackup(usb0, job);
    await expectVerifiedBackup(ftp!.root, job);
    expect(await readFile(join(usb0, name + '.sha256'), 'utf8')).to.equal(`${job.result!.details!.sha256}  ${name}\n`);
  });

  it('01.1 = X: only on the stick; the FTP server is skipped with the reason', async () => {
    await setUsb({ mode: 'X' });
    const job = await host!.runAction('backup.send');
    expect(job.state, JSON.stringify(job.error ?? job.result)).to.equal('succeeded');
    const r = byTarget(job);
    expect(r['usb.stick'].status).to.equal('sent');
    expect(r['backup.ftp']).to.include({ status: 'skipped', message: '01.1 = X: nur USB-Stick, keine Übertragung an den FTP-Server' });
    await expectVerifiedBackup(usb0, job);
    expect(await gzFiles(ftp!.root)).to.deep.equal([]);
  });

  for (const [mode, reason] of [['F', '01.1 = F: keine Sicherung auf USB-Stick erlaubt'], ['', '01.1 ist leer: keine Sicherung auf USB-Stick erlaubt']]) {
    it(`01.1 = ${mode || 'leer'}: nothing on the stick, with the reason; FTP as coupled`, async () => {
      await setUsb({ mode });
      const job = await host!.runAction('backup.send');
      expect(job.state, JSON.stringify(job.error ?? job.result)).to.equal('succeeded');
      const r = byTarget(job);
      expect(r['usb.stick']).to.include({ status: 'skipped', message: reason });
      expect(r['backup.ftp'].status).to.equal('sent');
      expect(await readdir(usb0)).to.deep.equal([]);
      await expectVerifiedBackup(ftp!.root, job);
    });
  }

  it('a stick in the wrong format fails with its name, and nothing is written onto it', async () => {
    await setUsb({ mode: 'X' });
    await writeMounts(mounts, [{ device: await makeImage(dir, 'exFAT'), mountPoint: usb0, fstype: 'exfat' }]);
    const job = await host!.runAction('backup.send');
    expect(job.state).to.equal('failed');
    expect(job.error!.message).to.contain(`Der USB-Stick unter ${usb0} hat das Format exFAT, nicht FAT32.`);
    expect(await readdir(usb0)).to.deep.equal([]);
  });

  it('with no stick mounted at 01.2 (a bare folder), D still sends to FTP and reports the USB failure', async () => {
    await setUsb({ mode: 'D' });
    await writeMounts(mounts, []);
    const job = await host!.runAction('backup.send');
    expect(job.state).to.equal('warning');
    expect(byTarget(job)['usb.stick']).to.deep.include({ status: 'failed' });
    expect(byTarget(job)['usb.stick'].message).to.contain(`Kein USB-Stick unter ${usb0} eingehängt.`);
    expect(await readdir(usb0)).to.deep.equal([]);
    await expectVerifiedBackup(ftp!.root, job);
  });

  it('never writes onto the TSE stick', async () => {
    await setUsb({ mode: 'X' });
    await writeFile(join(usb0, 'TSE_INFO.DAT'), 'tse');
    try {
      const job = await host!.runAction('backup.send');
      expect(job.state).to.equal('failed');
      expect(job.error!.message).to.contain('TSE-Stick (Swissbit)');
      expect(await readdir(usb0)).to.deep.equal(['TSE_INFO.DAT']);
    } finally {
      await rm(join(usb0, 'TSE_INFO.DAT'), { force: true });
    }
  });

  it('lists the sticks over /api/ext/usb/sticks, only for signed-in users', async () => {
    await setUsb({ mode: 'X' });
    const r = await host!.api('GET', '/api/ext/usb/sticks');
    expect(r.status).to.equal(200);
    expect(r.body.configured).to.deep.equal({ ok: true });
    expect(r.body.sticks).to.have.length(1);
    expect(r.body.sticks[0]).to.include({ path: usb0, format: 'FAT32', formatConfirmed: true, tse: false, usable: true });
    expect(r.body.suggestion).to.equal(usb0);
    const anon = await fetch(host!.url + '/api/ext/usb/sticks');
    expect(anon.status).to.equal(401);
  });

  it('validates 01.1 and 01.2 on write and stores nothing when invalid', async () => {
    await setUsb({ mode: 'X' });
    for (const body of [{ mode: 'Y' }, { path: '/media/../etc' }, { path: 'media/usb0' }]) {
      const r = await host!.api('PUT', '/api/settings/usb', body);
      expect(r.status, JSON.stringify(body)).to.equal(400);
      expect(r.body.error.details.map((d: { path: string }) => d.path)).to.deep.equal([`/${Object.keys(body)[0]}`]);
    }
    const now = await host!.api('GET', '/api/settings/usb');
    expect(now.body.values).to.include({ mode: 'X', path: usb0 });
  });

  it('"Stick sicher entfernen" answers that the stick may be pulled out, and without a stick ends as an information, not a failure (the flush itself is not observable here)', async () => {
    const job = await host!.runAction('usb.eject');
    expect(job.state, JSON.stringify(job.error)).to.equal('succeeded');
    expect(job.result!.message).to.equal(`Alle Daten sind auf den USB-Stick unter ${usb0} geschrieben. Sie können den USB-Stick jetzt abziehen.`);
    await writeMounts(mounts, []);
    const none = await host!.runAction('usb.eject');
    expect(none.state).to.equal('info');
    expect(none.error, 'no error').to.equal(undefined);
    expect(none.result!.message).to.match(new RegExp(`^Kein USB-Stick unter ${usb0} eingehängt – es muss nichts vorbereitet werden\\.`));
  });

  it('the panel on the settings page shows the sticks, spots the TSE stick and takes over the suggested 01.2 path (Chromium)', async () => {
    await setUsb({ mode: 'X', path: usb0 });
    await writeFile(join(usb0, 'TSE_COMM.DAT'), 'tse');
    const usb2 = await makeStickDir(media, 'usb2');
    await writeMounts(mounts, [
      { device: fat32, mountPoint: usb0, fstype: 'vfat' },
      { device: fat32, mountPoint: usb2, fstype: 'vfat' },
    ]);
    const browser = await launchBrowser();
    try {
      const { context, page, problems } = await newPage(browser, { baseURL: host!.url });
      await signInPage(context, page, host!.url, user, '#/einstellungen');
      const panel = page.locator('kw-usb-sticks');
      await panel.locator('tr[data-path]').first().waitFor({ timeout: 30_000 });
      const row0 = panel.locator(`tr[data-path="${usb0}"]`);
      const row2 = panel.locator(`tr[data-path="${usb2}"]`);
      // "nicht geeignet" with its reason below it (visible on a touch screen, not only as a tooltip).
      expect((await row0.locator('td').allInnerTexts()).map((t) => t.split('\n')[0])).to.deep.include.members([usb0, 'FAT32', 'ja', 'nicht geeignet']);
      expect(await row0.locator('.reason').innerText()).to.match(/TSE/);
      expect(await row2.locator('td').allInnerTexts()).to.deep.include.members([usb2, 'FAT32', 'nein', 'geeignet']);
      expect(await panel.locator('[data-state="problem"]').innerText()).to.contain('TSE-Stick (Swissbit)');
      expect(await panel.locator('.suggestion').innerText()).to.equal(usb2);
      await screenshot(page, 'usb-sticks-panel');
      await panel.getByRole('button', { name: 'Als 01.2 übernehmen' }).click();
      await panel.locator('[data-state="ok"]').waitFor({ timeout: 10_000 });
      const now = await host!.api('GET', '/api/settings/usb');
      expect(now.body.values.path).to.equal(usb2);
      // other plugins' panels share the page: only errors from ours count here
      expect(problems.filter((m) => /usb|sticks/i.test(m))).to.deep.equal([]);
    } finally {
      await browser.close();
      await rm(join(usb0, 'TSE_COMM.DAT'), { force: true });
      await setUsb({ path: usb0 });
    }
  });

  it('a salon owner (operator) may set 01.1 and 01.2 and eject the stick, but not the retention count', async () => {
    const salon = await host!.asUser({ name: 'salon', password: 'Salon-' + Math.random().toString(36).slice(2), role: 'operator' });
    expect(salon.user.role).to.equal('operator');
    const call = (method: string, path: string, body?: unknown) => salon.api(method, path, body);
    expect((await call('PUT', '/api/settings/usb', { mode: 'D', path: usb0 })).status).to.equal(200);
    expect((await call('PUT', '/api/settings/usb', { keep: 3 })).status).to.equal(403);
    expect((await call('GET', '/api/ext/usb/sticks')).status).to.equal(200);
    const started = await call('POST', '/api/actions/usb.eject', { params: {} });
    expect(started.status).to.equal(202);
    const job = await host!.waitForJob((started.body as { job: { id: string } }).job.id);
    expect(job.state).to.equal('succeeded');
  });

  it('a full stick (real 64 KiB tmpfs): clear message, the older backup on it stays', async () => {
    const full = join(media, 'usb1');
    await mkdir(full, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    try {
      await writeFile(join(full, 'kasse-alt.sqlite.gz'), Buffer.alloc(20_000, 7));
      await writeFile(join(full, 'kasse-alt.sqlite.gz.sha256'), `${sha256(Buffer.alloc(20_000, 7))}  kasse-alt.sqlite.gz\n`);
      await writeMounts(mounts, [{ device: fat32, mountPoint: full, fstype: 'vfat' }]);
      await setUsb({ mode: 'X', path: full });
      const job = await host!.runAction('backup.send');
      expect(job.state).to.equal('failed');
      expect(job.error!.message).to.match(/Auf dem USB-Stick unter .*usb1 ist zu wenig Platz: benötigt [\d,]+ [kM]B, frei [\d,]+ kB/);
      expect((await readdir(full)).sort()).to.deep.equal(['kasse-alt.sqlite.gz', 'kasse-alt.sqlite.gz.sha256']);
    } finally {
      execFileSync('umount', [full]);
      await setUsb({ path: usb0 });
    }
  });
});
