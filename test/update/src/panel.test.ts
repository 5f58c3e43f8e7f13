import { expect } from 'chai';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';
import { makeHarness, type Harness } from './harness.js';

const DAY = 86_400_000;

describe('update: "Updatecheck" and the history panel in the admin UI (Chromium; packages built from stand-in release trees)', function () {
  this.timeout(300_000);
  let h: Harness;
  let host: TestHost | undefined;
  const user = { name: 'salon', password: 'Salon-' + Math.random().toString(36).slice(2) + '!' };

  before(async () => {
    h = await makeHarness();
    await h.publish({ version: '0.9.0', changes: 'Alte Version' }); // nothing newer than what runs
    // History as an installation would have it after two updates, the last check six weeks ago.
    const now = Date.now();
    const state = {
      lastSeen: undefined,
      lastCheck: { at: new Date(now - 42 * DAY).toISOString(), ok: true, message: 'Kein Update notwendig!' },
      history: [
        { version: '0.8.0', from: '0.7.0', installedAt: new Date(now - 120 * DAY).toISOString(), status: 'installed',
          notes: [{ version: '0.8.0', date: new Date(now - 121 * DAY).toISOString(), changes: { kassenwart: ['Ältere Änderung'] } }] },
        { version: '0.9.0', from: '0.8.0', installedAt: new Date(now - 60 * DAY).toISOString(), status: 'installed',
          notes: [{ version: '0.9.0', date: new Date(now - 61 * DAY).toISOString(), changes: { backup: ['Backup an FTP wird fortgesetzt'] } }] },
      ],
    };
    await mkdir(join(h.data, 'plugins', 'update'), { recursive: true });
    await writeFile(join(h.data, 'plugins', 'update', 'state.json'), JSON.stringify(state));
    host = await startTestHost({
      dataDir: h.data, user,
      settings: { update: { feedUrl: h.server.url + '/index.json', publicKeys: h.publicKey } },
    });
  });

  after(async () => {
    await host?.stop();
    await h.cleanup();
  });

  it('shows the last update and the changes newest first, reminds after a month, and "Updatecheck" answers "Kein Update notwendig!"', async () => {
    const browser = await launchBrowser();
    try {
      const { context, page, problems } = await newPage(browser, { baseURL: host!.url });
      await signInPage(context, page, host!.url, user, '#/wartung');
      const panel = page.locator('kw-update-history');
      await panel.locator('[data-testid="update"]').first().waitFor({ timeout: 30_000 });
      expect(await panel.locator('[data-testid="last-update"]').innerText()).to.match(/^Letztes Update: \d\d\.\d\d\.\d{4}, Kassenwart 0\.9\.0$/);
      // The newest update is open; older ones are folded away ("Frühere Updates") to keep the right-hand column short.
      const updates = await panel.locator('[data-testid="update"]').allTextContents();
      expect(await panel.locator('[data-testid="older"] [data-testid="update"]').count()).to.equal(1);
      expect(await panel.locator('[data-testid="update"]').first().isVisible()).to.equal(true);
      expect(updates).to.have.length(2);
      expect(updates[0]).to.contain('Version 0.9.0').and.contain('Datensicherung: Backup an FTP wird fortgesetzt');
      expect(updates[1]).to.contain('Version 0.8.0').and.contain('Kassenwart: Ältere Änderung');
      expect(await panel.locator('[data-testid="reminder"]').innerText()).to.contain('länger als einen Monat');
      await screenshot(page, 'update-history-reminder');

      await page.locator('kw-action[data-action="update.check"], [data-action="update.check"]').getByRole('button', { name: 'Updatecheck' }).click();
      await page.getByText('Soll auf ein aktuelles Update geprüft werden?').waitFor({ timeout: 10_000 });
      await page.getByRole('button', { name: 'akzeptieren' }).click();
      await page.locator('[data-action="update.check"] .outcome').getByText('Kein Update notwendig!').waitFor({ timeout: 60_000 });
      // The panel follows: a fresh check, no reminder any more.
      await panel.locator('[data-testid="reminder"]').waitFor({ state: 'detached', timeout: 30_000 });
      expect(await panel.locator('[data-testid="last-check"]').innerText()).to.match(/^Letzter Updatecheck: \d\d\.\d\d\.\d{4}, \d\d:\d\d – Kein Update notwendig!$/);
      await screenshot(page, 'update-history-after-check');
      expect(problems).to.deep.equal([]);
    } finally {
      await browser.close();
    }
  });
});
