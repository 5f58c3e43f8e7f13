import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';
import { createStandin, type Standin } from './standin.js';

describe('remote-support panel in headless Chromium (stand-in for RustDesk)', function () {
  this.timeout(180_000);
  let sd: Standin;
  let host: TestHost;
  let browser: Browser;
  const user = { name: 'tech', password: 'Panel-Test-Passwort-1' };

  before(async () => {
    sd = await createStandin({ id: '987654321' });
    host = await startTestHost({
      user,
      settings: { 'remote-support': { rustdeskPath: sd.bin, installationName: 'Salon Haarmonie', customerNumber: 'K-10417', supportContact: '0800 123 456', idServer: 'rd.support.example', key: 'OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw=' } },
      env: sd.env,
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await host?.stop();
    await sd?.cleanup();
  });

  it('shows the ID in large digits, the support helper, the PC check, and lets the technician set the password', async () => {
    const { context, page, problems } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, user, '#/wartung');
      const panel = page.locator('kw-remote-support');
      const id = panel.locator('[data-field="id"]');
      await id.waitFor({ timeout: 30_000 });
      expect(await id.textContent()).to.equal('987 654 321');
      const fontSize = await id.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      const bodySize = await panel.evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      expect(fontSize, 'ID digits are large').to.be.greaterThan(bodySize * 2);

      await panel.getByRole('button', { name: 'Support anfragen' }).click();
      const support = panel.getByRole('region', { name: 'Support anfragen' });
      await support.waitFor();
      const text = await support.textContent();
      expect(text).to.contain('K-10417').and.to.contain('Salon Haarmonie').and.to.contain('0800 123 456').and.to.contain('987 654 321');

      // Chromium on Linux: the PC check runs in the browser itself (folded below the ID).
      await panel.locator('summary', { hasText: 'Ihr PC' }).click();
      const verdict = panel.locator('[data-field="client-verdict"]');
      await verdict.waitFor();
      expect(await verdict.textContent()).to.contain('Linux').and.to.contain('erfüllt die Mindestanforderungen');

      await panel.getByRole('button', { name: 'Passwort ändern' }).click();
      await panel.locator('#rs-pw').fill('Neues-Passwort-99');
      await panel.locator('#rs-pw2').fill('Neues-Passwort-99');
      await panel.getByRole('button', { name: 'Speichern' }).click();
      await panel.getByText('Das dauerhafte Passwort für RustDesk wurde geändert.').waitFor({ timeout: 30_000 });
      expect((await sd.read()).password).to.equal('Neues-Passwort-99');
      expect(await panel.locator('#rs-pw').count(), 'the form closes').to.equal(0);

      await panel.locator('summary', { hasText: 'Techniker: Support-Server' }).click();
      await panel.getByRole('button', { name: 'Support-Server übernehmen' }).click();
      await page.getByRole('dialog', { name: 'Support-Server übernehmen' }).getByRole('button', { name: 'akzeptieren' }).click();
      await panel.getByText('Der Support-Server wurde in RustDesk übernommen.').waitFor({ timeout: 30_000 });
      expect((await sd.read()).options['custom-rendezvous-server']).to.equal('rd.support.example');
      await screenshot(page, 'remote-support-panel');
      expect(problems).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('shows the reason instead of an ID when RustDesk refuses', async () => {
    await sd.set({ behaviour: { 'get-id': 'noadmin' } });
    const { context, page } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, user, '#/wartung');
      const p = page.locator('kw-remote-support [data-field="id-problem"]');
      await p.waitFor({ timeout: 30_000 });
      expect(await p.textContent()).to.contain('Administratorrechten');
    } finally {
      await context.close();
      await sd.set({ behaviour: {} });
    }
  });
});
