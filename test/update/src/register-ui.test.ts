/**
 * The done-when path in the browser (Chromium): two register releases published, "Updatecheck" pressed in the
 * UI → the register (the STAND-IN, a real process) moves to the newest version with its migrations applied and
 * the right-hand column lists the changes newest first; then a release with a broken migration → the old
 * version keeps running on its untouched database and the reason is shown.
 */
import { expect } from 'chai';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { startUpdateServer, type UpdateServer } from './update-server.js';
import { fileSha256, makeKeys, makeRegister, publishKasse, standInTree, type Register } from './register-harness.js';

describe('update: "Updatecheck" in the admin UI updates the register STAND-IN (Chromium)', function () {
  this.timeout(600_000);
  let root: string;
  let reg: Register;
  let server: UpdateServer;
  let host: TestHost | undefined;
  let keys: { keyFile: string; publicKey: string };
  const user = { name: 'salon', password: 'Salon-' + Math.random().toString(36).slice(2) + '!' };
  const feed = () => join(root, 'feed');

  async function publish(version: string, changes: string, extra?: Record<string, string>) {
    const tree = await standInTree(join(root, 'src', version), version, { extra });
    const r = await publishKasse(keys.keyFile, feed(), tree, version, changes);
    expect(r.status, r.stderr).to.equal(0);
  }

  before(async () => {
    root = await tempDir('kw-kasse-ui-');
    keys = await makeKeys(join(root, 'keys'));
    reg = await makeRegister(root);
    await publish('1.1.0', 'Trinkgeld auf dem Beleg');
    await publish('1.2.0', 'Kundenkartei\nSchnellere Tagesabschlüsse');
    server = await startUpdateServer(feed());
    await reg.start();
    host = await startTestHost({
      dataDir: join(root, 'data'), user,
      settings: { update: { feedUrl: server.url + '/index.json', publicKeys: keys.publicKey, ...reg.settings }, backup: { posDatabasePath: reg.db } },
    });
  });

  after(async () => {
    await host?.stop();
    await reg?.stop();
    await server?.close();
    await removeDir(root);
  });

  it('shows the register at the newest version with the changes newest first; a broken migration leaves the old version running, with the reason', async () => {
    const browser = await launchBrowser();
    try {
      const { context, page, problems } = await newPage(browser, { baseURL: host!.url });
      await signInPage(context, page, host!.url, user, '#/wartung');
      const panel = page.locator('kw-update-history');
      const kasse = panel.locator('[data-testid="component-kasse"]');
      await kasse.waitFor({ timeout: 30_000 });
      expect(await kasse.locator('[data-testid="installed"]').innerText()).to.equal('Installierte Version: 1.0.0');

      const action = page.locator('[data-action="update.check"]');
      const press = async () => {
        await action.getByRole('button', { name: 'Updatecheck' }).click();
        await page.getByText('Soll auf ein aktuelles Update geprüft werden?').waitFor({ timeout: 10_000 });
        await page.getByRole('button', { name: 'akzeptieren' }).click();
      };
      await press();
      await action.locator('.outcome').getByText('Update fertig!').waitFor({ timeout: 240_000 });
      expect(await action.locator('.outcome').innerText()).to.contain('Kassensoftware: Version 1.2.0 ist eingespielt');
      await kasse.getByText('Installierte Version: 1.2.0').waitFor({ timeout: 30_000 });
      const update = kasse.locator('[data-testid="update"]').first();
      const text = await update.innerText();
      expect(text).to.match(/Version 1\.2\.0 \(eingespielt\)/);
      // Changes as a list, newest release first.
      const items = await update.locator('li').allInnerTexts();
      expect(items).to.deep.equal(['Kassensoftware: Kundenkartei', 'Kassensoftware: Schnellere Tagesabschlüsse', 'Kassensoftware: Trinkgeld auf dem Beleg']);
      expect(text.indexOf('Version 1.2.0 vom')).to.be.lessThan(text.indexOf('Version 1.1.0 vom'));
      expect(await panel.locator('[data-testid="last-update"]').innerText()).to.match(/^Letztes Update: \d\d\.\d\d\.\d{4}, Kassensoftware 1\.2\.0$/);
      expect((await reg.waitHealthy('1.2.0')).schema).to.equal(3);
      expect(reg.inspect().tables).to.include('customers');
      await screenshot(page, 'update-register-installed');

      // A release whose migration fails on the salon's data (duplicate amounts), stand-in idle for the byte comparison.
      await publish('1.2.1', 'Eindeutige Beträge', { '004-unique.sql': 'ALTER TABLE receipts ADD COLUMN note TEXT;\nUPDATE receipts SET note = \'\';\nCREATE UNIQUE INDEX receipts_amount ON receipts (amount_cents);\n' });
      await writeFile(reg.db + '.pause', '');
      await new Promise((r) => setTimeout(r, 500));
      const sha = await fileSha256(reg.db);
      await page.reload();
      await press();
      const outcome = action.locator('.outcome');
      await outcome.getByText('Update fehlgeschlagen – die vorherige Version läuft wieder.').waitFor({ timeout: 240_000 });
      expect(await outcome.innerText()).to.contain('004-unique.sql').and.contain('UNIQUE constraint failed');
      await kasse.getByText('zurückgenommen').waitFor({ timeout: 30_000 });
      expect(await kasse.locator('[data-testid="update"]').first().innerText()).to.contain('Version 1.2.1 (zurückgenommen)').and.contain('004-unique.sql');
      expect(await kasse.locator('[data-testid="installed"]').innerText()).to.equal('Installierte Version: 1.2.0');
      expect((await reg.health()).body.version).to.equal('1.2.0');
      expect(await fileSha256(reg.db)).to.equal(sha);
      await rm(reg.db + '.pause');
      await screenshot(page, 'update-register-rolled-back');
      expect(problems).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });
});
