/**
 * The status panel kw-backup-status in the real admin UI (headless Chromium, real host): local backups with
 * size and verification state, last success per target, failures with reasons, next run; restore from it.
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, screenshot } from '../../support/dist/browser.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { FIXTURES } from './helpers.js';

const PASSWORD = 'Panel-Test-2026!';

describe('backup: status panel in the admin UI (Chromium)', function () {
  this.timeout(300_000);
  let browser: Browser;
  let host: TestHost;
  let dir: string;
  let context: BrowserContext;
  let page: Page;
  let problems: string[];

  before(async () => {
    dir = await tempDir('kw-backup-panel-');
    const folder = join(dir, 'target');
    await mkdir(folder);
    host = await startTestHost({
      pluginDirs: [join(FIXTURES, 'fake-targets')], enable: ['fake-targets'],
      settings: { 'fake-targets': { folder } }, user: { name: 'tech', password: PASSWORD },
    });
    browser = await launchBrowser();
  });
  after(async () => {
    await context?.close();
    await browser?.close();
    await host?.stop();
    await removeDir(dir);
  });

  it('shows the local backup and the target that got it, the failed target with its reason, and restores', async () => {
    const created = await host.runAction('backup.create');
    expect(created.state).to.equal('succeeded');
    const name = String(created.result!.details!.name);
    const sent = await host.runAction('backup.send');
    expect(sent.state).to.equal('warning');

    ({ context, page, problems } = await newPage(browser, { baseURL: host.url }));
    page.setDefaultTimeout(20_000);
    await page.goto('/');
    await page.getByLabel('Benutzername').fill('tech');
    await page.getByLabel('Passwort', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    await page.goto('/#/wartung');
    const panel = page.locator('kw-backup-status');
    const row = panel.locator(`tr[data-name="${name}"]`);
    await row.waitFor();
    expect(await row.innerText()).to.match(/geprüft/);
    expect(await row.innerText()).to.match(/\d+(,\d)? MB/);

    const local = panel.locator('tr[data-target="local"]');
    expect(await local.innerText()).to.match(/gerade eben|vor \d+ Min\./);
    expect(await local.locator('td').nth(1).getAttribute('class')).to.equal('ok');
    const folder = panel.locator('tr[data-target="fake-targets.folder"]');
    expect(await folder.innerText()).to.match(/Testordner/);
    expect(await folder.locator('td').nth(1).getAttribute('class')).to.equal('ok');
    const broken = panel.locator('tr[data-target="fake-targets.broken"]');
    expect(await broken.innerText()).to.contain('Das Testziel ist absichtlich defekt.');
    expect(await broken.locator('td').nth(1).innerText()).to.equal('noch keine');
    expect(await broken.locator('td').nth(1).getAttribute('class')).to.equal('overdue');
    expect(await panel.locator('.next-backup').innerText()).to.match(/\d{2}:\d{2}/);
    await screenshot(page, 'backup-status-panel');

    // restore from the panel (technician): confirm, then the German result
    // The same akzeptieren/abbrechen dialog as every action (kwConfirm), never the browser's confirm().
    page.on('dialog', (d) => { problems.push(`browser dialog: ${d.message()}`); void d.dismiss(); });
    await row.getByRole('button', { name: 'Wiederherstellen' }).click();
    const dialog = page.getByRole('dialog', { name: 'Sicherung wiederherstellen' });
    expect(await dialog.innerText()).to.contain('Die Kasse muss dabei geschlossen sein');
    await dialog.getByRole('button', { name: 'akzeptieren' }).click();
    await panel.locator('.message.success').waitFor({ timeout: 120_000 });
    expect(await panel.locator('.message.success').innerText()).to.match(new RegExp(`^Sicherung ${name.replace(/\./g, '\\.')} wiederhergestellt\\.`));
    // the safety backup made before replacing the database is listed too
    await panel.locator('tbody tr[data-name]').nth(1).waitFor();
    expect(await panel.locator('tbody tr[data-name]').count()).to.be.at.least(2);
    expect(problems.filter((p) => p.startsWith('pageerror') || p.startsWith('browser dialog'))).to.deep.equal([]);
  });
});
