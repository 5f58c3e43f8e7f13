/**
 * Issue 17, the panels half: what the built-in panels say and how they lay out, tried as a new user at 1024×768 in
 * Debian's headless Chromium against a real host (startTestHost) with the built-in plugins. Screenshots go to
 * test-output/screenshots/panels-*.png.
 */
import { expect } from 'chai';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { formatBytes, formatMegabytes } from 'kassenwart/sdk';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';

const tech = { name: 'tech', password: 'Panels-Test-2026!' };
const op = { name: 'salon', password: 'Salon-' + Math.random().toString(36).slice(2) + '!', role: 'operator' as const };

/** Text of a panel's shadow root, whitespace collapsed (innerText of the host element does not see it). */
function shadowText(page: Page, selector: string): Promise<string> {
  return page.locator(selector).evaluate((el) => (el.shadowRoot?.textContent ?? '').replace(/\s+/g, ' ').trim());
}

describe('sizes: one unit everywhere (decimal MB, kassenwart/sdk formatBytes)', () => {
  it('formats like the stick label and never shows "1.000,0 kB"', () => {
    expect(formatBytes(512)).to.equal('512 Byte');
    expect(formatBytes(4_900_000)).to.equal('4,9 MB');
    expect(formatBytes(4_823_449)).to.equal('4,8 MB'); // 4,6 MiB: the old result text said "4,6 MB" for this file
    expect(formatBytes(999_960)).to.equal('1,0 MB');
    expect(formatBytes(31_000_000_000)).to.equal('31,0 GB');
    expect(formatMegabytes(12_345_678)).to.equal('12,3');
  });
});

describe('panels at 1024×768 (Chromium, real host, built-in plugins)', function () {
  this.timeout(300_000);
  let browser: Browser;
  let host: TestHost;

  before(async () => {
    host = await startTestHost({ user: tech, env: { KASSENWART_DEMO_DB_MB: '3' } });
    await host.asUser(op);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await host?.stop();
  });

  async function open(user: { name: string; password: string }): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const p = await newPage(browser, { baseURL: host.url });
    await signInPage(p.context, p.page, host.url, user, '#/wartung');
    return p;
  }

  it('first start: the Updates panel says "Noch kein Updatecheck durchgeführt" once, not also "länger als einen Monat"', async () => {
    const { context, page, problems } = await open(op);
    try {
      await page.locator('kw-update-history [data-testid="last-check"]').waitFor({ timeout: 30_000 });
      const text = await shadowText(page, 'kw-update-history');
      expect(text).to.contain('Noch kein Updatecheck durchgeführt.');
      expect(text).not.to.contain('länger als einen Monat');
      expect(text.match(/Updatecheck/g)?.length, 'one line about the check, one recommendation').to.equal(2);
      await screenshot(page, 'panels-update-first-start');
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('"Update fertig!": the changes as a list per component with display names, not bold; after the restart it says the new version runs (stand-in job event)', async () => {
    const { context, page, problems } = await open(op);
    try {
      const panel = page.locator('kw-update-history');
      await panel.locator('[data-testid="last-check"]').waitFor({ timeout: 30_000 });
      const running = ((await host.api('GET', '/api/health')).body as { version: string }).version;
      // The event the shell sends for every finished job, with the details a real update.check returns
      // (plugins/update: details.changes, details.restarting). The restart itself is what /api/health answers.
      const announce = (version: string) => page.evaluate(({ version, running }) => {
        window.dispatchEvent(new CustomEvent('kw-job-finished', { detail: {
          id: 'stand-in', actionId: 'update.check', state: 'succeeded',
          result: { message: `Update fertig! Version ${version} ist eingespielt. Kassenwart startet jetzt neu.`, details: {
            version, from: running === version ? '0.0.1' : running, restarting: true,
            changes: [{ component: 'Kassenwart', version, lines: ['Datensicherung: Backup an FTP wird fortgesetzt', 'USB-Stick: Stick sicher entfernen'] }],
          } },
        } }));
      }, { version, running });

      await announce('99.0.0');
      const finished = panel.locator('[data-testid="finished"]');
      await finished.waitFor();
      expect(await finished.locator('li').allInnerTexts()).to.deep.equal(['Datensicherung: Backup an FTP wird fortgesetzt', 'USB-Stick: Stick sicher entfernen']);
      expect(await finished.locator('h3').innerText()).to.equal('Kassenwart 99.0.0');
      const weights = await finished.locator('li').evaluateAll((els) => els.map((e) => Number(getComputedStyle(e).fontWeight)));
      expect(weights.every((w) => w < 600), 'changes are not bold').to.equal(true);
      expect(await shadowText(page, 'kw-update-history')).not.to.match(/\b(backup|usb):/);
      // 99.0.0 never answers: the panel keeps waiting and says so.
      await panel.locator('[data-testid="restart"]').getByText('Kassenwart startet neu').waitFor();

      // The version that answers /api/health is the one "installed": the panel notices the restart is over.
      await announce(running);
      await panel.locator('[data-testid="restart"]').getByText(`Neustart abgeschlossen: Kassenwart ${running} läuft.`).waitFor({ timeout: 20_000 });
      await screenshot(page, 'panels-update-fertig');
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('"Datensicherung": the list shows the new backup at once, with the same size as the result, on one line per header and file name', async () => {
    const { context, page, problems } = await open(tech);
    try {
      const panel = page.locator('kw-backup-status');
      await panel.getByText('Lokale Sicherungen').waitFor({ timeout: 30_000 });
      const card = page.locator('[data-action="backup.create"]');
      await card.getByRole('button', { name: 'Datensicherung' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      const outcome = card.locator('.outcome');
      await outcome.getByText('Datenbank gesichert').waitFor({ timeout: 120_000 });
      const job = ((await host.api('GET', '/api/jobs?action=backup.create&limit=1')).body as Array<{ result: { message: string; details: { name: string } } }>)[0];
      const name = job.result.details.name;
      // At once: the finished job refreshes the list (the fallback poll is a minute; this waits far less).
      const row = panel.locator(`tr[data-name="${name}"]`);
      await row.waitFor({ timeout: 15_000 });
      const sizeInList = await row.locator('td.num').innerText();
      expect(job.result.message, 'one unit: the result and the list print the same size').to.contain(`, ${sizeInList}, geprüft`);
      expect(sizeInList).to.match(/^\d+(,\d)? (kB|MB)$/);

      const layout = await panel.evaluate((el) => {
        const root = el.shadowRoot!;
        const table = root.querySelector('table.backups') as HTMLTableElement;
        const lineHeight = (e: Element) => parseFloat(getComputedStyle(e).lineHeight) || parseFloat(getComputedStyle(e).fontSize) * 1.4;
        const ths = [...root.querySelectorAll('th')].map((th) => ({ text: th.textContent!.trim(), lines: Math.round((th.getBoundingClientRect().height - 12) / lineHeight(th)) }));
        const files = [...root.querySelectorAll('[data-field="file"]')].map((f) => f.getClientRects().length);
        const wrap = table.parentElement!;
        return { ths, files, overflow: wrap.scrollWidth - wrap.clientWidth };
      });
      for (const th of layout.ths) expect(th.lines, `header „${th.text}“ on one line`).to.be.at.most(1);
      expect(layout.files.every((n) => n === 1), 'file names in one piece').to.equal(true);
      expect(layout.overflow, 'the table fits its card').to.be.at.most(1);
      await screenshot(page, 'panels-backup-list');
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('"Wiederherstellen" asks with the akzeptieren/abbrechen dialog, not the browser\'s confirm(); abbrechen and Escape start nothing and focus returns', async () => {
    if (!((await host.api('GET', '/api/ext/backup/status')).body as { backups: unknown[] }).backups.length) await host.runAction('backup.create');
    const { context, page, problems } = await open(tech);
    const browserDialogs: string[] = [];
    page.on('dialog', (d) => { browserDialogs.push(d.message()); void d.dismiss(); });
    try {
      const panel = page.locator('kw-backup-status');
      const button = panel.getByRole('button', { name: 'Wiederherstellen' }).first();
      await button.waitFor({ timeout: 30_000 });
      await button.click();
      const dialog = page.getByRole('dialog', { name: 'Sicherung wiederherstellen' });
      await dialog.waitFor();
      expect(await dialog.innerText()).to.contain('Die Kasse muss dabei geschlossen sein');
      await screenshot(page, 'panels-backup-restore-confirm');
      await dialog.getByRole('button', { name: 'abbrechen' }).click();
      await dialog.waitFor({ state: 'detached' });
      expect(await button.evaluate((b) => b.matches(':focus')), 'focus back on "Wiederherstellen"').to.equal(true);
      await button.click();
      await dialog.waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'detached' });
      const restores = (await host.api('GET', '/api/jobs?action=backup.restore&limit=5')).body as unknown[];
      expect(restores).to.deep.equal([]);
      expect(browserDialogs).to.deep.equal([]);

      // The protocol with the shell: whoever takes the request answers it; then no dialog of the SDK's own.
      const answer = await page.evaluate(async () => {
        const sdk = await import('/sdk/ui/index.js' as string) as typeof import('kassenwart/sdk/ui');
        const seen: string[] = [];
        const take = (e: Event) => { const d = (e as CustomEvent).detail; seen.push(d.title); e.preventDefault(); d.resolve(true); };
        window.addEventListener('kw-confirm-request', take);
        const r = await sdk.kwConfirm({ title: 'Probe', text: 'Soll geprobt werden?' });
        window.removeEventListener('kw-confirm-request', take);
        return { r, seen, dialogs: document.querySelectorAll('dialog').length };
      });
      expect(answer).to.deep.equal({ r: true, seen: ['Probe'], dialogs: 0 });
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('Wartung with every built-in panel (and a backup in the list) scrolls no page sideways at 1024×768 and 390×844', async () => {
    if (!((await host.api('GET', '/api/ext/backup/status')).body as { backups: unknown[] }).backups.length) await host.runAction('backup.create');
    const { context, page, problems } = await open(tech);
    try {
      for (const viewport of [{ width: 1024, height: 768 }, { width: 390, height: 844 }]) {
        await page.setViewportSize(viewport);
        await page.goto('/#/wartung');
        await page.locator('kw-backup-status tr[data-name]').first().waitFor({ timeout: 30_000 });
        await page.locator('kw-remote-support').getByText('RustDesk-ID des Kassenservers').waitFor({ timeout: 30_000 });
        await page.locator('kw-update-history [data-testid="last-check"]').waitFor({ timeout: 30_000 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${viewport.width}×${viewport.height}: horizontal overflow`).to.be.at.most(0);
        await screenshot(page, `panels-wartung-${viewport.width}`);
      }
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('operator: a failed "Backup an FTP" in the backup panel says to call the technician instead of naming settings; the technician keeps the hint', async () => {
    const put = async (body: Record<string, unknown>) => {
      const r = await host.api('PUT', '/api/settings/backup', body);
      if (r.status !== 200) throw new Error(`settings: ${r.status} ${JSON.stringify(r.body)}`);
    };
    const operatorSees = async (shot: string) => {
      const { context, page, problems } = await open(op);
      try {
        const ftp = page.locator('kw-backup-status tr[data-target="backup.ftp"]');
        await ftp.waitFor({ timeout: 30_000 });
        await screenshot(page, shot);
        expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
        return await ftp.innerText();
      } finally {
        await context.close();
      }
    };
    try {
      // Not fully set up: what is missing stays, whom to call is added.
      await put({ ftpEnabled: true, ftpHost: '127.0.0.1', ftpPort: 1, ftpUser: 'salon', ftpTls: 'none' });
      expect((await host.runAction('backup.send')).state).to.be.oneOf(['failed', 'warning']);
      let text = await operatorSees('panels-backup-operator-incomplete');
      expect(text, text).to.contain('FTP-Passwort');
      expect(text, text).to.contain('Bitte den Techniker anrufen');
      // Refused connection: the hint naming settings („FTP-Server“, „FTP-Port“) becomes whom to call.
      await put({ ftpPassword: 'Geheim-FTP-1' });
      expect((await host.runAction('backup.send')).state).to.be.oneOf(['failed', 'warning']);
      text = await operatorSees('panels-backup-operator-failure');
      expect(text, text).to.contain('FTP-Server 127.0.0.1');
      expect(text, text).to.contain('Bitte den Techniker anrufen');
      expect(text, text).not.to.match(/Bitte „|Einstellungen prüfen/);
      const t = await open(tech);
      try {
        const ftp = t.page.locator('kw-backup-status tr[data-target="backup.ftp"]');
        await ftp.waitFor({ timeout: 30_000 });
        expect(await ftp.innerText()).to.match(/Bitte „FTP-Server“/);
      } finally {
        await t.context.close();
      }
    } finally {
      await host.api('PUT', '/api/settings/backup', { ftpEnabled: false });
    }
  });

  it('operator: the Cloud-Kasse panel asks to call the technician instead of pointing to Einstellungen', async () => {
    const { context, page, problems } = await open(op);
    try {
      const panel = page.locator('kw-cloud-status');
      await panel.locator('[data-state="not-configured"]').waitFor({ timeout: 30_000 });
      const text = await shadowText(page, 'kw-cloud-status');
      expect(text).to.contain('Bitte den Techniker, die Cloud-Kasse einzurichten.');
      expect(text).not.to.contain('Einstellungen');
      expect(problems.filter((p) => p.startsWith('pageerror'))).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
