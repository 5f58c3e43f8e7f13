/**
 * The Cloud-Kasse through the real host and a real S3 server (radosgw on a one-node Ceph), as a technician
 * would use it: set up in the settings, "Datensicherung" in the browser, the encrypted copy in the bucket,
 * `age -d -i` + gunzip give the POS database, and a restore from the cloud in the UI brings it back.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Browser } from 'playwright-core';
import { startTestHost, type TestHost, type JobView } from 'kassenwart/sdk/testing';
import { startCeph, type CephS3 } from '#support/ceph.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { launchBrowser, newPage, signInPage, screenshot } from '#support/browser.js';
import { newBucket, newIdentity, s3Client, sh } from './helpers.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const results = (job: JobView) => (job.result?.details?.results ?? (job.error as { details?: { results?: unknown[] } })?.details?.results ?? []) as Array<{ target: string; status: string; message: string; location?: string }>;

describe('cloud: through the real host and a real S3 server', function () {
  this.timeout(300_000);
  let s3: CephS3;
  let host: TestHost;
  let dir: string;
  let bucket: string;
  let id: { identity: string; recipient: string; file: string };
  let browser: Browser | undefined;
  const user = { name: 'tech', password: 'Cloud-Test-Passwort-1' };
  const until = async (what: string, fn: () => Promise<boolean>, ms = 120_000) => {
    const end = Date.now() + ms;
    while (!(await fn())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const status = async () => (await host.api('GET', '/api/ext/cloud/status')).body;
  const setUp = () => ({ endpoint: s3.endpoint, bucket, accessKeyId: s3.credentials.accessKeyId, secretAccessKey: s3.credentials.secretAccessKey, recipients: id.recipient, prefix: 'salon-haarmonie' });

  before(async () => {
    s3 = await startCeph();
    dir = await tempDir('kw-cloud-host-');
    id = await newIdentity(dir);
    bucket = await newBucket(s3);
    host = await startTestHost({ user, env: { KASSENWART_DEMO_DB_MB: '4', KASSENWART_CLOUD_RETRY_MS: '500' } });
  });
  after(async () => {
    await browser?.close();
    await host?.stop();
    await s3?.stop();
    await removeDir(dir);
  });

  it('not set up: reported as "nicht eingerichtet" in the status and in "Backup an FTP", never silently skipped', async () => {
    const st = await status();
    expect(st.configured).to.equal(false);
    expect(st.problem).to.contain('nicht eingerichtet').and.contain('S3-Endpunkt');
    expect(st.overdue, 'not in use: not red').to.equal(false);
    const job = await host.runAction('backup.send');
    const cloud = results(job).find((r) => r.target === 'cloud.s3');
    expect(cloud?.status).to.equal('skipped');
    expect(cloud?.message).to.contain('Cloud-Kasse nicht eingerichtet');
  });

  it('refuses a secret key or a mistyped public key as recipient at set time, in German, storing nothing', async () => {
    const secret = (await import('age-encryption')).generateX25519Identity;
    for (const bad of [await secret(), 'age1' + 'q'.repeat(20), `${id.recipient}, ssh-rsa AAAA`]) {
      const r = await host.api('PUT', '/api/settings/cloud', { recipients: bad });
      expect(r.status, bad).to.equal(400);
      expect(r.body.error.message).to.contain('öffentliche age-Schlüssel').and.contain('AGE-SECRET-KEY');
    }
    // right shape, wrong checksum: accepted by the pattern, then reported by the target before any upload
    const typo = id.recipient.slice(0, -1) + (id.recipient.endsWith('q') ? 'p' : 'q');
    expect((await host.api('PUT', '/api/settings/cloud', { ...setUp(), recipients: typo })).status).to.equal(200);
    expect((await status()).problem).to.contain('Prüfsumme');
    const s = await host.api('GET', '/api/settings/cloud');
    expect(s.body.secrets.secretAccessKey, 'the secret is write-only').to.equal(true);
    expect(JSON.stringify(s.body)).not.to.contain(s3.credentials.secretAccessKey);
    expect((await host.api('PUT', '/api/settings/cloud', { recipients: '' })).status).to.equal(200);
  });

  it('"Datensicherung" in the browser: an encrypted copy arrives, the panel turns green; age -d -i | gunzip is the POS database', async () => {
    expect((await host.api('PUT', '/api/settings/cloud', setUp())).status).to.equal(200);
    browser = await launchBrowser();
    const { context, page, problems } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, user, '#/wartung');
      await page.getByRole('button', { name: 'Datensicherung', exact: true }).click();
      await page.getByRole('button', { name: 'akzeptieren' }).click();
      const panel = page.locator('kw-cloud-status');
      await panel.locator('[data-state="ok"]').waitFor({ timeout: 120_000 });
      expect(await panel.locator('[data-state="ok"]').textContent()).to.contain('Letzte Kopie in der Cloud').and.contain('kasse-');
      await screenshot(page, 'cloud-status');
      expect(problems).to.deep.equal([]);
    } finally {
      await context.close();
    }
    const st = await status();
    expect(st.overdue).to.equal(false);
    const backups = (await host.api('GET', '/api/ext/backup/status')).body.backups as Array<{ name: string }>;
    expect(st.lastSuccess.name).to.equal(backups[0].name);
    const c = s3Client(s3);
    const obj = await c.send(new GetObjectCommand({ Bucket: bucket, Key: `salon-haarmonie/${backups[0].name}.age` }));
    await writeFile(join(dir, 'copy.age'), await obj.Body!.transformToByteArray());
    c.destroy();
    const r = sh('age', ['-d', '-i', id.file, join(dir, 'copy.age')]);
    expect(r.status, r.stderr).to.equal(0);
    const local = await readFile(join(host.dataDir, 'plugins', 'backup', 'backups', backups[0].name)).catch(async () => {
      const p = (await host.api('GET', '/api/ext/backup/status')).body.backupDir as string;
      return readFile(join(p, backups[0].name));
    });
    expect(sha(r.stdout), 'the decrypted copy is the local backup').to.equal(sha(local));
    await writeFile(join(dir, 'restored.sqlite'), gunzipSync(r.stdout));
    expect(sh('sqlite3', [join(dir, 'restored.sqlite'), 'PRAGMA integrity_check']).stdout.toString().trim()).to.equal('ok');
  });

  it('"Backup an FTP" with wrong keys: 403 in German, the copy waits and is sent after the keys are fixed', async () => {
    expect((await host.api('PUT', '/api/settings/cloud', { secretAccessKey: 'falsch' })).status).to.equal(200);
    await host.runAction('backup.create');
    await until('the queue to give up for now', async () => !!(await status()).lastFailure);
    expect((await status()).lastFailure.message).to.contain('403');
    const job = await host.runAction('backup.send');
    const cloud = results(job).find((r) => r.target === 'cloud.s3');
    expect(cloud?.status, JSON.stringify(results(job))).to.equal('failed');
    expect(cloud?.message).to.contain('403').and.contain('Zugangsschlüssel');
    const waiting = await status();
    expect(waiting.pending.length).to.be.greaterThan(0);
    expect((await host.api('PUT', '/api/settings/cloud', { secretAccessKey: s3.credentials.secretAccessKey })).status).to.equal(200);
    await until('the waiting copy to be sent', async () => { const s = await status(); return s.pending.length === 0 && !s.lastFailure; });
    const sent = await host.runAction('backup.send');
    const ok = results(sent).find((r) => r.target === 'cloud.s3');
    expect(ok?.status, ok?.message).to.equal('sent');
    expect(ok?.location).to.match(/^s3:\/\/kw-[0-9a-f]+\/salon-haarmonie\/kasse-.*\.sqlite\.gz\.age$/);
    const orphans = await host.api('GET', '/api/ext/cloud/orphans');
    expect([orphans.status, orphans.body], 'no unfinished uploads left').to.deep.equal([200, []]);
    expect((await host.api('POST', '/api/ext/cloud/orphans/clean')).status).to.equal(200);
  });

  it('`kassenwart cloud list|fetch`: the vendor gets the newest copy, decrypted with an identity file', async () => {
    const list = await host.cliAsync(['cloud', 'list', '--json']);
    expect(list.status, list.stderr).to.equal(0);
    const copies = JSON.parse(list.stdout) as Array<{ name: string }>;
    expect(copies.length).to.be.greaterThan(1);
    const out = join(dir, 'fetched.sqlite.gz');
    const fetched = await host.cliAsync(['cloud', 'fetch', '--identity-file', id.file, '--out', out]);
    expect(fetched.status, fetched.stderr).to.equal(0);
    expect(fetched.stderr).to.contain('MB heruntergeladen');
    const backupDir = (await host.api('GET', '/api/ext/backup/status')).body.backupDir as string;
    expect(sha(await readFile(out))).to.equal(sha(await readFile(join(backupDir, copies[0].name.replace(/\.age$/, '')))));
    const missing = await host.cliAsync(['cloud', 'fetch', 'kasse-2001-01-01_00-00-00.sqlite.gz.age']);
    expect(missing.status).to.equal(3);
    expect(missing.stderr).to.contain('gibt es');
  });

  it('restore from the cloud in the UI: a wrong identity is refused; the right one brings the database back byte-identical', async () => {
    const posPath = (await host.api('GET', '/api/ext/backup/status')).body.posDatabase.path as string;
    const copies = (await host.api('GET', '/api/ext/cloud/copies')).body as Array<{ name: string }>;
    const chosen = copies[0].name;
    const backupDir = (await host.api('GET', '/api/ext/backup/status')).body.backupDir as string;
    const source = gunzipSync(await readFile(join(backupDir, chosen.replace(/\.age$/, ''))));
    // The database changes after the backup (a day's work is lost, say).
    const tables = sh('sqlite3', [posPath, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name LIMIT 1"]).stdout.toString().trim();
    expect(sh('sqlite3', [posPath, `DELETE FROM "${tables}"`]).status).to.equal(0);
    expect(sha(await readFile(posPath))).not.to.equal(sha(source));

    const wrong = await host.runAction('cloud.restore', { name: chosen, identity: (await newIdentity(dir)).identity });
    expect(wrong.state).to.equal('failed');
    expect(wrong.error?.message).to.contain('anderen Schlüssel');

    browser ??= await launchBrowser();
    const { context, page } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, user, '#/wartung');
      const panel = page.locator('kw-cloud-status');
      await panel.getByRole('button', { name: 'Kopien in der Cloud anzeigen' }).click();
      await panel.getByRole('radio', { name: chosen }).check();
      await panel.locator('textarea[name=identity]').fill(`# created: test\n${id.identity}\n`);
      await panel.getByRole('button', { name: 'Aus der Cloud wiederherstellen' }).click();
      // The same akzeptieren/abbrechen dialog as every action (kwConfirm), not the browser's confirm().
      await page.getByRole('dialog', { name: 'Aus der Cloud wiederherstellen' }).getByRole('button', { name: 'akzeptieren' }).click();
      await panel.getByText('Sicherung', { exact: false }).filter({ hasText: 'wiederhergestellt' }).first().waitFor({ timeout: 120_000 });
      const text = await panel.locator('.message').first().textContent();
      expect(text).to.contain('Aus der Cloud-Kasse').and.contain('Der vorherige Stand wurde als');
      await screenshot(page, 'cloud-restore');
    } finally {
      await context.close();
    }
    expect(sha(await readFile(posPath)), 'the restored database is byte-identical to the backed-up one').to.equal(sha(source));
    const history = (await host.api('GET', '/api/jobs?limit=5')).body;
    expect(JSON.stringify(history), 'the identity is never stored').not.to.contain(id.identity.slice(20));
  });
});
