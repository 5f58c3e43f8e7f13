/**
 * Issue 17, the remote-support panel in headless Chromium at 1024×768 (stand-in for RustDesk): the permanent
 * password as in the vendor's help text ("******", an eye for technicians, a pencil to change it), sealed at rest
 * and its reveal audited; operators never get it (checked on the server) and get hints they can act on; the ID
 * comes first, compact enough for the right-hand column.
 */
import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, signInPage, screenshot } from '../../support/dist/browser.js';
import { createStandin, type Standin } from './standin.js';

describe('remote-support panel: password with eye and pencil, role-appropriate hints (Chromium 1024×768, stand-in for RustDesk)', function () {
  this.timeout(180_000);
  let sd: Standin;
  let host: TestHost;
  let browser: Browser;
  const tech = { name: 'tech', password: 'Panel-Test-Passwort-1' };
  const op = { name: 'salon', password: 'Salon-Passwort-' + Math.random().toString(36).slice(2), role: 'operator' as const };
  const SECRET = 'Auge-und-Stift-' + Math.random().toString(36).slice(2, 8);

  before(async () => {
    sd = await createStandin({ id: '987654321' });
    host = await startTestHost({
      user: tech,
      settings: { 'remote-support': { rustdeskPath: sd.bin, supportContact: '0800 123 456' } },
      env: sd.env,
    });
    await host.asUser(op);
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await host?.stop();
    await sd?.cleanup();
  });

  it('technician: the pencil sets it in RustDesk, it shows as ******, the eye reveals it (audited), and it is sealed at rest', async () => {
    const { context, page, problems } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, tech, '#/wartung');
      const panel = page.locator('kw-remote-support');
      const value = panel.locator('[data-field="password-value"]');
      await value.waitFor({ timeout: 30_000 });
      expect(await value.innerText()).to.equal('nicht über Kassenwart festgelegt');
      expect(await panel.getByRole('button', { name: 'Passwort anzeigen' }).count(), 'no eye while nothing is known').to.equal(0);

      await panel.getByRole('button', { name: 'Passwort ändern' }).click();
      expect(await page.evaluate(() => {
        let a = document.activeElement;
        while (a?.shadowRoot?.activeElement) a = a.shadowRoot.activeElement;
        return a?.id;
      }), 'focus goes into the new-password field').to.equal('rs-pw');
      await panel.locator('#rs-pw').fill(SECRET);
      await panel.locator('#rs-pw2').fill(SECRET + 'x');
      await panel.getByRole('button', { name: 'Speichern' }).click();
      await panel.getByText('Die beiden Passwörter stimmen nicht überein.').waitFor();
      await panel.locator('#rs-pw2').fill(SECRET);
      await panel.getByRole('button', { name: 'Speichern' }).click();
      await panel.getByText('Das dauerhafte Passwort für RustDesk wurde geändert.').waitFor({ timeout: 30_000 });
      expect((await sd.read()).password).to.equal(SECRET);
      await panel.getByText('******').waitFor({ timeout: 10_000 });
      expect(await page.content()).not.to.contain(SECRET);

      await panel.getByRole('button', { name: 'Passwort anzeigen' }).click();
      await panel.getByText(SECRET).waitFor({ timeout: 10_000 });
      await screenshot(page, 'panels-remote-support-password');
      await panel.getByRole('button', { name: 'Passwort verbergen' }).click();
      await panel.getByText('******').waitFor();

      const audit = await host.api('GET', '/api/audit');
      const reveal = (audit.body as Array<{ user: string; event: string; label: string; details: unknown }>).filter((a) => a.event === 'remote-support.password.reveal');
      expect(reveal.map((a) => a.user)).to.deep.equal(['tech']);
      // Named in German by the plugin's manifest (contributes.auditEvents), not by the host.
      expect(reveal.map((a) => a.label)).to.deep.equal(['RustDesk-Passwort angezeigt']);
      expect(JSON.stringify(audit.body)).not.to.contain(SECRET);
      // Sealed at rest: neither the state database nor anything the settings API answers holds the plain text.
      expect((await readFile(join(host.dataDir, 'state.sqlite'))).includes(Buffer.from(SECRET))).to.equal(false);
      expect(JSON.stringify((await host.api('GET', '/api/settings/remote-support')).body)).not.to.contain(SECRET);
      expect(problems).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });

  it('operator: no eye and no pencil, the server refuses the reveal (403), and the hints say whom to call instead of "Einstellungen"', async () => {
    const asOp = await host.asUser(op);
    const refused = await asOp.api('POST', '/api/ext/remote-support/password/reveal');
    expect(refused.status).to.equal(403);
    expect(JSON.stringify(refused.body)).not.to.contain(SECRET);
    expect((await asOp.api('POST', '/api/ext/remote-support/password', { password: 'Fremdes-Passwort-1' })).status).to.equal(403);

    await host.api('PUT', '/api/settings/remote-support', { rustdeskPath: join(sd.dir, 'nirgends', 'rustdesk') });
    const { context, page, problems } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, op, '#/wartung');
      const panel = page.locator('kw-remote-support');
      await panel.getByText('RustDesk-ID des Kassenservers').waitFor({ timeout: 30_000 });
      await panel.locator('[data-field="id-problem"]').waitFor({ timeout: 30_000 });
      const text = await panel.evaluate((el) => (el.shadowRoot?.textContent ?? '').replace(/\s+/g, ' '));
      expect(text).to.contain('Bitte den Techniker anrufen (0800 123 456)');
      expect(text).not.to.contain('Einstellungen');
      expect(await panel.locator('[data-field="password"]').count()).to.equal(0);
      expect(await panel.getByRole('button', { name: 'Passwort anzeigen' }).count()).to.equal(0);
      await screenshot(page, 'panels-remote-support-operator-hint');
      // The technician still gets the technical hint.
      const st = await host.api('GET', '/api/ext/remote-support/status');
      expect((st.body as { rustdesk: { problem: { hint: string } } }).rustdesk.problem.hint).to.match(/Pfad|Einstellungen|Programm/);
      expect(problems).to.deep.equal([]);
    } finally {
      await context.close();
      await host.api('PUT', '/api/settings/remote-support', { rustdeskPath: sd.bin });
    }
  });

  it('1024×768: the ID with its copy button is the first thing in the panel, compact enough for the right-hand column', async () => {
    const { context, page, problems } = await newPage(browser, { baseURL: host.url });
    try {
      await signInPage(context, page, host.url, op, '#/wartung');
      const panel = page.locator('kw-remote-support');
      const id = panel.locator('[data-field="id"]');
      await id.waitFor({ timeout: 30_000 });
      // The right-hand column is about a third of 1024 px: lay the panel out that narrow, then measure.
      await panel.evaluate((el) => { (el as HTMLElement).style.display = 'block'; (el as HTMLElement).style.width = '320px'; });
      const top = (await panel.boundingBox())!.y;
      const idBox = (await id.boundingBox())!;
      const copy = (await panel.getByRole('button', { name: 'ID kopieren' }).boundingBox())!;
      expect(idBox.y - top, 'the ID sits at the top of the panel').to.be.lessThan(80);
      expect(copy.y + copy.height - top, 'ID and copy button within the first 200 px').to.be.lessThan(200);
      expect(idBox.width, 'the ID fits the column').to.be.at.most(320);
      expect(await id.evaluate((el) => el.scrollWidth <= el.clientWidth + 1)).to.equal(true);
      expect(problems).to.deep.equal([]);
    } finally {
      await context.close();
    }
  });
});
