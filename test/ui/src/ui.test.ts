/**
 * Browser tests of the admin UI: a real host process (startTestHost) on 127.0.0.1 with the fixture plugins
 * in test/ui/fixtures, driven through Debian's headless Chromium with playwright-core. Screenshots of the
 * main pages at 1024×768 and 390×844 go to test-output/screenshots/.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHost, KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { launchBrowser, newPage, screenshot, VIEWPORTS } from '../../support/dist/browser.js';
import { removeDir, tempDir } from '../../support/dist/tmp.js';
import { axeViolations } from './axe.js';

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURES = join(here, '..', 'fixtures');
const PASSWORD = 'Kasse-Test-2026!';

async function login(page: Page, name: string, password: string): Promise<void> {
  await page.getByLabel('Benutzername').fill(name);
  await page.getByLabel('Passwort', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Anmelden' }).click();
}

/** Only JavaScript errors count: 4xx answers the UI handles (400, 401, 409) also log console errors. */
function pageErrors(problems: string[]): string[] {
  return problems.filter((p) => p.startsWith('pageerror'));
}

/** The page has no horizontal scrollbar (nothing wider than the viewport). */
async function horizontalOverflow(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Whether the element (possibly inside a shadow root) has keyboard focus. */
async function isFocused(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).evaluate((el) => el.matches(':focus'));
}

describe('admin UI in headless Chromium', function () {
  this.timeout(180_000);
  let browser: Browser;

  before(async function () {
    browser = await launchBrowser();
  });

  after(async function () {
    await browser?.close();
  });

  describe('first run', function () {
    let dataDir: string;
    let child: ChildProcess | undefined;
    let output = '';

    before(async function () {
      dataDir = await tempDir('kw-ui-setup-');
      child = spawn(process.execPath, [KASSENWART_BIN, 'start', '--data', dataDir, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, KASSENWART_LOG: 'warn' },
      });
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { output += d; });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { output += d; });
      const end = Date.now() + 60_000;
      while (!/Einrichtungscode[^\n]*?([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]+)/.test(output)) {
        if (child.exitCode !== null) throw new Error(`host exited:\n${output}`);
        if (Date.now() > end) throw new Error(`no setup token printed within 60 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });

    after(async function () {
      if (child && child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child!.once('exit', r));
      }
      await removeDir(dataDir);
    });

    it('sets up the technician with the printed setup token, then logs out and in again', async function () {
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(output)![0];
      const token = /Einrichtungscode[^\n]*?([0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]+)/.exec(output)![1];
      const { context, page, problems } = await newPage(browser, { baseURL: url });
      try {
        await page.goto('/');
        await page.getByRole('heading', { name: 'Ersteinrichtung' }).waitFor();
        await screenshot(page, 'pos-ersteinrichtung');
        expect(await axeViolations(page), 'axe-core on Ersteinrichtung').to.deep.equal([]);

        // A wrong code is refused with the server's German message, and no account is made.
        await page.getByLabel('Einrichtungscode').fill('0000-0000-0000');
        await page.getByLabel('Name des Technikers').fill('anna');
        await page.getByLabel('Passwort', { exact: true }).fill(PASSWORD);
        await page.getByLabel('Passwort wiederholen').fill(PASSWORD);
        await page.getByRole('button', { name: 'Einrichten und anmelden' }).click();
        await page.getByText('Der Einrichtungscode stimmt nicht.').waitFor();
        // focus is back in the code field, its text selected (not on the page body)
        await page.waitForFunction(() => {
          const a = document.querySelector('kw-app')?.shadowRoot?.activeElement as HTMLInputElement | null;
          return a?.id === 'token' && a.selectionEnd === a.value.length && a.value.length > 0;
        }, undefined, { timeout: 5000 });

        // Mismatching passwords are caught before anything is sent.
        await page.getByLabel('Einrichtungscode').fill(token);
        await page.getByLabel('Passwort wiederholen').fill(PASSWORD + 'x');
        await page.getByRole('button', { name: 'Einrichten und anmelden' }).click();
        await page.getByText('Die beiden Passwörter stimmen nicht überein.').waitFor();

        await page.getByLabel('Passwort wiederholen').fill(PASSWORD);
        await page.getByRole('button', { name: 'Einrichten und anmelden' }).click();
        await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        expect(await page.getByText('anna (Techniker)').isVisible()).to.equal(true);

        // The audit log tells the wrong code and the new account in German, without raw codes.
        await page.getByRole('link', { name: 'Protokoll' }).click();
        const audit = page.locator('kw-audit table');
        await audit.getByText('Ersteinrichtung: falscher Einrichtungscode').waitFor();
        await audit.getByText('Benutzer angelegt').waitFor();
        await audit.getByText('Rolle: Techniker').waitFor();
        const cells = (await page.locator('kw-audit td').allInnerTexts()).map((c) => c.trim());
        for (const raw of ['setup.failed', 'user.add', 'login']) expect(cells, raw).to.not.include(raw);
        expect(cells.join(' ')).to.not.include('role: technician');
        await page.getByRole('link', { name: 'Wartung' }).click();

        await page.getByRole('button', { name: 'Abmelden' }).click();
        await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
        await screenshot(page, 'pos-anmelden');

        // Keyboard only: focus starts in "Benutzername"; after a wrong password it is back in the
        // password field with the text selected, so typing replaces it.
        await page.keyboard.type('anna');
        await page.keyboard.press('Tab');
        await page.keyboard.type('falsch');
        await page.keyboard.press('Enter');
        await page.getByText('Benutzername oder Passwort ist falsch.').waitFor();
        await page.keyboard.type(PASSWORD);
        await page.keyboard.press('Enter');
        await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();

        // The session survives a reload (cookie), and the setup page is gone for good.
        await page.reload();
        await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        expect(pageErrors(problems)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });
  });

  describe('with the fixture plugins', function () {
    let host: TestHost;
    let gate: string;
    let context: BrowserContext;
    let page: Page;
    let problems: string[];

    before(async function () {
      gate = await tempDir('kw-ui-gate-');
      host = await startTestHost({
        pluginDirs: [FIXTURES],
        enable: ['uifix', 'uifix-broken'],
        env: { KW_UIFIX_GATE: gate },
        user: { name: 'tech', password: PASSWORD },
      });
      ({ context, page, problems } = await newPage(browser, { baseURL: host.url }));
      page.setDefaultTimeout(20_000);
      await page.goto('/');
      await login(page, 'tech', PASSWORD);
      await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
    });

    after(async function () {
      await context?.close();
      await host?.stop();
      if (gate) await removeDir(gate);
    });

    afterEach(function () {
      expect(pageErrors(problems), 'JavaScript errors in the page').to.deep.equal([]);
    });

    it('edits an enum setting (91.1) and the value persists after a reload', async function () {
      await page.goto('/#/einstellungen');
      await page.getByRole('heading', { name: 'Test → lokales Backup' }).waitFor();
      const row = page.locator('kw-setting[plugin="uifix"][key="mode"]');
      await row.getByText('leer: keine Datensicherung auf USB-Stick').waitFor();
      await row.getByRole('button', { name: '91.1 Test: Art des lokalen Backups bearbeiten' }).click();
      const select = row.getByLabel('91.1 Test: Art des lokalen Backups');
      expect(await select.evaluate((el) => el.matches(':focus')), 'editor field gets focus').to.equal(true);
      await select.selectOption({ label: 'X: nur USB-Stick' });
      await row.getByRole('button', { name: 'Speichern' }).click();
      await row.locator('.value', { hasText: 'X: nur USB-Stick' }).waitFor();
      expect(await isFocused(page, 'kw-setting[plugin="uifix"][key="mode"] button.edit'), 'focus back on the edit button').to.equal(true);

      const stored = await host.api('GET', '/api/settings/uifix');
      expect(stored.body.values.mode).to.equal('X');
      await page.reload();
      await page.locator('kw-setting[plugin="uifix"][key="mode"] .value', { hasText: 'X: nur USB-Stick' }).waitFor();
    });

    it('shows the server\'s validation error beside the path field (91.2), stores nothing, then saves a valid path', async function () {
      await page.goto('/#/einstellungen');
      const row = page.locator('kw-setting[plugin="uifix"][key="path"]');
      await row.locator('.value', { hasText: '/media/usb0' }).waitFor();
      await row.getByRole('button', { name: '91.2 Test: Pfad lokales Backup bearbeiten' }).click();
      const field = row.getByLabel('91.2 Test: Pfad lokales Backup');
      await field.fill('media/usb2');
      await row.getByRole('button', { name: 'Speichern' }).click();
      const error = row.locator('.field-error');
      await error.waitFor();

      // The text is the server's own message for this value.
      const direct = await host.api('PUT', '/api/settings/uifix', { path: 'media/usb2' });
      expect(direct.status).to.equal(400);
      const serverMessages: string[] = (direct.body.error.details ?? []).map((d: { message: string }) => d.message);
      expect(serverMessages.length, 'server sends details').to.be.greaterThan(0);
      const shown = (await error.innerText()).trim();
      for (const m of serverMessages) expect(shown).to.include(m);
      expect(await field.getAttribute('aria-invalid')).to.equal('true');
      await screenshot(page, 'pos-einstellungen-fehler');

      // Nothing was stored.
      expect((await host.api('GET', '/api/settings/uifix')).body.values.path).to.equal('/media/usb0');

      await field.fill('/media/usb2');
      await row.getByRole('button', { name: 'Speichern' }).click();
      await row.locator('.value', { hasText: '/media/usb2' }).waitFor();
      expect(await row.locator('.field-error').count()).to.equal(0);
      expect((await host.api('GET', '/api/settings/uifix')).body.values.path).to.equal('/media/usb2');
      await page.reload();
      await page.locator('kw-setting[plugin="uifix"][key="path"] .value', { hasText: '/media/usb2' }).waitFor();
    });

    it('sets a secret write-only: only "gesetzt" is shown, never the value', async function () {
      await page.goto('/#/einstellungen');
      const row = page.locator('kw-setting[plugin="uifix"][key="password"]');
      await row.locator('.value', { hasText: 'nicht gesetzt' }).waitFor();
      await row.getByRole('button', { name: /91\.3 Test: Passwort bearbeiten/ }).click();
      const field = row.getByLabel(/91\.3 Test: Passwort/);
      expect(await field.getAttribute('type')).to.equal('password');
      await field.fill('Geheim-4711');
      await row.getByRole('button', { name: 'Speichern' }).click();
      await row.locator('.value', { hasText: /^gesetzt$/ }).waitFor();
      await page.reload();
      await page.locator('kw-setting[plugin="uifix"][key="password"] .value', { hasText: /^gesetzt$/ }).waitFor();
      const everything = await page.evaluate(() => {
        const texts: string[] = [];
        const walk = (root: Document | ShadowRoot) => {
          for (const el of root.querySelectorAll('*')) {
            if (el.shadowRoot) walk(el.shadowRoot);
            if (el instanceof HTMLInputElement) texts.push(el.value);
          }
          texts.push((root as Document).body?.innerText ?? '');
          texts.push(root instanceof ShadowRoot ? root.textContent ?? '' : '');
        };
        walk(document);
        return texts.join('\n');
      });
      expect(everything).to.not.include('Geheim-4711');
    });

    it('loads a plugin panel lazily into the right-hand column, with the shared lit and sdk/ui', async function () {
      // A fresh page that opens on "Plugins" does not fetch the panel module …
      const fresh = await newPage(browser, { baseURL: host.url });
      try {
        const requested: string[] = [];
        fresh.page.on('request', (r) => requested.push(new URL(r.url()).pathname));
        await fresh.context.addCookies(await context.cookies());
        await fresh.page.goto('/#/plugins');
        await fresh.page.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
        await fresh.page.locator('[data-plugin="uifix"]').waitFor();
        expect(requested).to.not.include('/plugins/uifix/panel.js');

        // … until "Wartung" shows it.
        await fresh.page.getByRole('link', { name: 'Wartung' }).click();
        const aside = fresh.page.getByRole('complementary');
        await aside.getByRole('heading', { name: 'Teststatus' }).waitFor();
        const path = (await host.api('GET', '/api/settings/uifix')).body.values.path;
        await aside.locator('[data-testid="uifix-path"]', { hasText: path }).waitFor();
        expect(requested).to.include('/plugins/uifix/panel.js');
        // One copy of lit: the panel got it (and kassenwart/sdk/ui) from the shell's one bundle, /ui/kw.js, fetched
        // once; nothing from /vendor/ or the single shell modules.
        expect(requested.filter((p) => p === '/ui/kw.js')).to.have.length(1);
        expect(requested.filter((p) => /^\/(vendor|sdk\/ui|ui\/dist)\//.test(p))).to.deep.equal([]);
        expect(pageErrors(fresh.problems)).to.deep.equal([]);
      } finally {
        await fresh.context.close();
      }
    });

    it('runs an action: confirm dialog → progress with the exclusive warning → "läuft bereits" → result', async function () {
      await page.goto('/#/wartung');
      const card = page.locator('[data-action="uifix.slow"]');
      const button = card.getByRole('button', { name: 'Testsicherung' });
      await button.waitFor();

      // "abbrechen" starts nothing and returns focus to the button.
      await button.click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Soll die Testsicherung gestartet werden?').waitFor();
      await dialog.getByRole('button', { name: 'abbrechen' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await isFocused(page, '[data-action="uifix.slow"] button.start')).to.equal(true);
      expect((await host.api('GET', '/api/jobs?action=uifix.slow')).body).to.deep.equal([]);

      // Keyboard: Enter opens the dialog, Escape closes it, focus comes back.
      await page.keyboard.press('Enter');
      await dialog.getByText('Soll die Testsicherung gestartet werden?').waitFor();
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      expect(await isFocused(page, '[data-action="uifix.slow"] button.start')).to.equal(true);

      await button.click();
      await screenshot(page, 'pos-bestaetigung');
      await dialog.getByRole('button', { name: 'akzeptieren' }).click();
      await card.getByText('Halbzeit: warte auf Freigabe').waitFor();
      expect(await card.locator('.percent').innerText()).to.equal('50 %');
      expect(await card.locator('progress').getAttribute('value')).to.equal('50');
      await card.getByText('Bitte während der Datensicherung nicht mit der Kasse arbeiten').waitFor();
      await screenshot(page, 'pos-wartung-fortschritt');

      // A second start while it runs: the server refuses (409) and the UI says so.
      await button.click();
      const notice = card.locator('.outcome');
      await notice.getByText(/läuft bereits/).waitFor();
      const running = (await host.api('GET', '/api/jobs?action=uifix.slow')).body as { state: string }[];
      expect(running.map((j) => j.state)).to.deep.equal(['running']);
      await notice.getByRole('button', { name: 'ok' }).click();

      await writeFile(join(gate, 'release'), '');
      await card.locator('.outcome.success', { hasText: 'Testsicherung fertig' }).waitFor({ timeout: 60_000 });
      expect(await card.locator('progress').count()).to.equal(0);
      await screenshot(page, 'pos-wartung-ergebnis');
      const done = (await host.api('GET', '/api/jobs?action=uifix.slow')).body as { state: string }[];
      expect(done.map((j) => j.state)).to.deep.equal(['succeeded']);

      // The history lists the run.
      await page.getByRole('link', { name: 'Verlauf' }).click();
      const row = page.locator('tr', { hasText: 'Testsicherung' });
      await row.getByText('erfolgreich').waitFor();
      await screenshot(page, 'pos-verlauf');
    });

    it('follows a job started elsewhere and cancels it from the UI', async function () {
      await rm(join(gate, 'release'), { force: true });
      const start = await host.api('POST', '/api/actions/uifix.slow', { params: {} });
      expect(start.status).to.equal(202);
      const jobId = start.body.job.id as string;
      await page.goto('/#/verlauf'); // leave and come back: the page picks the running job up
      await page.goto('/#/wartung');
      const card = page.locator('[data-action="uifix.slow"]');
      await card.getByText('Halbzeit: warte auf Freigabe').waitFor();
      await card.getByText('Bitte während der Datensicherung nicht mit der Kasse arbeiten').waitFor();

      await card.getByRole('button', { name: 'Abbrechen' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Soll „Testsicherung“ abgebrochen werden?').waitFor();
      await dialog.getByRole('button', { name: 'Vorgang abbrechen' }).click();
      await card.locator('.outcome', { hasText: 'Testsicherung wurde abgebrochen.' }).waitFor();
      expect((await host.api('GET', `/api/jobs/${jobId}`)).body.state).to.equal('cancelled');
      await card.locator('.outcome').getByRole('button', { name: 'ok' }).click();
      await writeFile(join(gate, 'release'), '');
    });

    it('shows a failed action\'s German error with its hint', async function () {
      await page.goto('/#/wartung');
      const card = page.locator('[data-action="uifix.fail"]');
      await card.getByRole('button', { name: 'Testfehler' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      const outcome = card.locator('.outcome.error');
      await outcome.getByText('Der USB-Stick ist voll.').waitFor();
      await outcome.getByText('Bitte ältere Sicherungen vom Stick löschen und es erneut versuchen.').waitFor();
      expect(await outcome.getAttribute('role')).to.equal('alert');
    });

    it('lists a failed plugin with its reason on the Plugins page, and disables it', async function () {
      await page.goto('/#/plugins');
      const card = page.locator('[data-plugin="uifix-broken"]');
      await card.getByText('fehlerhaft').waitFor();
      await card.getByText(/Testfehler: Kartenleser nicht gefunden/).waitFor();
      await screenshot(page, 'pos-plugins');

      await card.getByRole('button', { name: 'Defektes Testplugin deaktivieren' }).click();
      await page.locator('[data-plugin="uifix-broken"]').getByText('deaktiviert', { exact: true }).waitFor();
      const list = (await host.api('GET', '/api/plugins')).body as { id: string; enabled: boolean }[];
      expect(list.find((p) => p.id === 'uifix-broken')?.enabled).to.equal(false);
    });

    it('shows the audit log to the technician', async function () {
      await page.goto('/#/protokoll');
      await page.getByRole('heading', { name: 'Protokoll', level: 1 }).waitFor();
      // The settings change of the first test is in it.
      await page.locator('tr', { hasText: 'uifix' }).first().waitFor();
    });

    it('hides technician-only things from an operator (the server enforces it too)', async function () {
      const r = host.cli(['users', 'add', 'bea', '--role', 'operator', '--password-stdin'], PASSWORD + '\n');
      expect(r.status, r.stderr).to.equal(0);
      const op = await newPage(browser, { baseURL: host.url });
      try {
        await op.page.goto('/');
        await login(op.page, 'bea', PASSWORD);
        await op.page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        expect(await op.page.getByRole('link', { name: 'Protokoll' }).count()).to.equal(0);
        await op.page.getByRole('link', { name: 'Einstellungen' }).click();
        await op.page.locator('kw-setting[plugin="uifix"][key="mode"] button.edit').waitFor();
        expect(await op.page.locator('kw-setting[plugin="uifix"][key="password"] button.edit').count()).to.equal(0);
        await op.page.getByRole('link', { name: 'Plugins' }).click();
        await op.page.locator('[data-plugin="uifix"]').waitFor();
        expect(await op.page.getByRole('button', { name: /deaktivieren|aktivieren/ }).count()).to.equal(0);
        expect(pageErrors(op.problems)).to.deep.equal([]);
      } finally {
        await op.context.close();
      }
    });

    it('offers panel authors kassenwart/sdk/ui in the page: api errors, settings, actions, progress', async function () {
      await page.goto('/#/wartung');
      await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
      await rm(join(gate, 'release'), { force: true }); // uifix.slow waits at 50 % until the file is back
      const started = await page.evaluate(async () => {
        const ui = await import('kassenwart/sdk/ui' as string);
        const out: Record<string, any> = {};
        try {
          await ui.api('GET', '/api/gibt-es-nicht');
        } catch (e: any) {
          out.notFound = { isApiError: e instanceof ui.ApiError, status: e.status, message: e.message };
        }
        out.path = (await ui.getSettings('uifix')).values.path;
        out.jobId = (await ui.startAction('uifix.slow')).id;
        try {
          await ui.startAction('uifix.slow');
          out.second = 'started twice';
        } catch (e: any) {
          out.second = { status: e.status, code: e.code, message: e.message };
        }
        return out;
      });
      expect(started.notFound).to.deep.include({ isApiError: true, status: 404 });
      expect(started.notFound.message).to.match(/gibt es nicht/);
      expect(started.path).to.equal((await host.api('GET', '/api/settings/uifix')).body.values.path);
      expect(started.second).to.deep.include({ status: 409, code: 'job.running' });
      expect(started.second.message).to.match(/läuft bereits/);

      const following = page.evaluate(async (jobId: string) => {
        const ui = await import('kassenwart/sdk/ui' as string);
        const percents: number[] = [];
        const done = await ui.followJob(jobId, (p: { percent?: number }) => {
          if (typeof p.percent === 'number') percents.push(p.percent);
          if (p.percent === 50) (window as any).kwSeen50 = true;
        });
        return { state: done.state as string, message: (done.result?.message ?? null) as string | null, percents };
      }, started.jobId as string);
      // Release the job only once the page has seen it waiting at 50 % over the event stream.
      await page.waitForFunction(() => (window as any).kwSeen50 === true);
      await writeFile(join(gate, 'release'), '');
      const done = await following;
      expect(done.state).to.equal('succeeded');
      expect(done.message).to.equal('Testsicherung fertig');
      expect(done.percents, 'progress events seen').to.include(50);
    });

    it('brings back the login page when the session ends elsewhere', async function () {
      const other = await newPage(browser, { baseURL: host.url });
      try {
        await other.page.goto('/');
        await login(other.page, 'tech', PASSWORD);
        await other.page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        // (no "networkidle": the page keeps its one job event stream open)
        await other.page.getByRole('complementary').getByRole('heading', { name: 'Teststatus' }).waitFor();
        // End exactly this browser's session from outside (as an expiry would).
        const cookie = (await other.context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
        const session = await (await fetch(`${host.url}/api/auth/session`, { headers: { cookie } })).json() as { csrfToken: string };
        const out = await fetch(`${host.url}/api/auth/logout`, {
          method: 'POST', headers: { cookie, 'x-csrf-token': session.csrfToken, origin: host.url, 'content-type': 'application/json' }, body: '{}',
        });
        expect(out.status).to.equal(200);
        // Go to "Plugins" (by address: a panel's request still under way may already have brought the login page)
        await other.page.evaluate(() => { location.hash = '#/plugins'; });
        await other.page.getByRole('heading', { name: 'Anmelden' }).waitFor({ timeout: 15_000 }).catch(async (e) => {
          await screenshot(other.page, 'fail-session-end');
          throw new Error(`${(e as Error).message}\nproblems: ${other.problems.join('; ')}`);
        });
        await other.page.getByText('Die Sitzung ist abgelaufen. Bitte erneut anmelden.').waitFor();
        await login(other.page, 'tech', PASSWORD);
        await other.page.getByRole('heading', { name: 'Plugins', level: 1 }).waitFor();
        expect(pageErrors(other.problems)).to.deep.equal([]);
      } finally {
        await other.context.close();
      }
    });

    it('runs the real "Datensicherung" end to end (built-in backup plugin)', async function () {
      // The built-in backup plugin is always there in this repository: if it is missing or failed, that is a
      // failure to report, never a reason to skip this test.
      const plugins = (await host.api('GET', '/api/plugins')).body as { id: string; state: string; reasons?: string[] }[];
      const backup = plugins.find((p) => p.id === 'backup');
      expect(backup, 'the built-in backup plugin is listed').to.exist;
      expect(backup!.state, `backup plugin usable: ${JSON.stringify(backup!.reasons ?? [])}`).to.be.oneOf(['active', 'inactive']);
      await page.goto('/#/wartung');
      const card = page.locator('[data-action="backup.create"]');
      await card.getByRole('button', { name: 'Datensicherung' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByText('Soll die aktuelle Datenbank gesichert werden?').waitFor();
      await dialog.getByRole('button', { name: 'akzeptieren' }).click();
      const outcome = card.locator('.outcome');
      await outcome.waitFor({ timeout: 120_000 });
      const jobs = (await host.api('GET', '/api/jobs?action=backup.create&limit=1')).body as
        { state: string; result?: { message?: string } }[];
      expect(jobs[0].state).to.equal('succeeded');
      const text = await outcome.locator('strong').innerText();
      expect(text).to.equal(jobs[0].result?.message || 'Datenbank gesichert');
      expect(text).to.match(/^Datenbank gesichert/);
      expect(await outcome.getAttribute('class')).to.include('success');
    });

    it('fits 1024×768 and 390×844 without horizontal scrolling (screenshots for review)', async function () {
      for (const [name, viewport] of Object.entries(VIEWPORTS)) {
        await page.setViewportSize(viewport);
        for (const [route, heading] of [['wartung', 'Wartung'], ['einstellungen', 'Einstellungen'], ['plugins', 'Plugins'], ['verlauf', 'Verlauf'], ['protokoll', 'Protokoll']]) {
          await page.goto(`/#/${route}`);
          await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
          if (route === 'wartung') await page.getByRole('heading', { name: 'Teststatus' }).waitFor();
          if (route === 'einstellungen') await page.locator('kw-setting[plugin="uifix"][key="mode"]').waitFor();
          if (route === 'plugins') await page.locator('[data-plugin="uifix"]').waitFor();
          if (route === 'verlauf') await page.locator('tr', { hasText: 'Testsicherung' }).first().waitFor();
          if (route === 'protokoll') await page.locator('tr', { hasText: 'Anmeldung' }).first().waitFor();
          await screenshot(page, `${name}-${route}`);
          expect(await horizontalOverflow(page), `${name} ${route}: horizontal overflow`).to.be.at.most(0);
        }
      }
      await page.setViewportSize(VIEWPORTS.pos);
    });

    it('shows the real usb plugin\'s 01.1/01.2 under "POS Hardware → lokales Backup"', async function () {
      // Like the backup plugin above: the built-in usb plugin must be there and usable; never skip silently.
      const plugins = (await host.api('GET', '/api/plugins')).body as { id: string; state: string; reasons?: string[] }[];
      const usb = plugins.find((p) => p.id === 'usb');
      expect(usb, 'the built-in usb plugin is listed').to.exist;
      expect(usb!.state, `usb plugin usable: ${JSON.stringify(usb!.reasons ?? [])}`).to.be.oneOf(['active', 'inactive']);
      await page.goto('/#/einstellungen');
      const section = page.getByRole('region', { name: 'POS Hardware → lokales Backup' });
      await section.locator('kw-setting[plugin="usb"][key="mode"] [data-code="01.1"]').waitFor();
      await section.locator('kw-setting[plugin="usb"][key="path"] [data-code="01.2"]').waitFor();
      await screenshot(page, 'pos-einstellungen-usb');

      // The vendor's steps: 01.1 = X, 01.2 = /media/usb2, with the red edit buttons.
      const mode = section.locator('kw-setting[plugin="usb"][key="mode"]');
      await mode.getByRole('button', { name: /^01\.1 .* bearbeiten$/ }).click();
      await mode.getByRole('combobox').selectOption({ label: 'X: nur USB-Stick' });
      await mode.getByRole('button', { name: 'Speichern' }).click();
      await mode.locator('.value', { hasText: 'X: nur USB-Stick' }).waitFor();
      const path = section.locator('kw-setting[plugin="usb"][key="path"]');
      await path.getByRole('button', { name: /^01\.2 .* bearbeiten$/ }).click();
      await path.getByRole('textbox').fill('/media/usb2');
      await path.getByRole('button', { name: 'Speichern' }).click();
      await path.locator('.value', { hasText: '/media/usb2' }).waitFor();
      const values = (await host.api('GET', '/api/settings/usb')).body.values;
      expect(values).to.include({ mode: 'X', path: '/media/usb2' });
    });
  });
});
