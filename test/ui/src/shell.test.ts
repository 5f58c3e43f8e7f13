/**
 * Issue 17, the shell half, in Debian's headless Chromium at 1024×768 (playwright-core): the right-hand column,
 * one section per subject, each action's own warning, the "info" outcome, the confirm dialog for panels, the
 * job-finished event, focus, the focus ring's contrast, German texts, the request count, and axe-core on every
 * page as technician and as operator (zero violations). Real host processes (startTestHost) with the built-in
 * plugins and the fixture plugins in test/ui/fixtures. Screenshots go to test-output/screenshots/.
 */
import { expect } from 'chai';
import { rm, writeFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
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

function pageErrors(problems: string[]): string[] {
  return problems.filter((p) => p.startsWith('pageerror'));
}

/**
 * Violations inside a built-in plugin's own panel markup (plugins/<id>/ui, worked on in parallel for issue 17):
 * only these exact ones are tolerated here, everything in the shell and in third-party panels must be clean.
 * Remove an entry once the panel is fixed.
 */
const KNOWN_PANEL_ISSUES: { rule: string; element: string }[] = [];

function knownPanelIssue(v: string): boolean {
  return KNOWN_PANEL_ISSUES.some((k) => v.startsWith(`${k.rule}:`) && v.includes(`"${k.element}"`) && !v.includes(' | '));
}

/** The deepest focused element, through shadow roots: tag, text and a few attributes. */
async function focused(page: Page): Promise<{ tag: string; text: string; cls: string; inCard?: string | null }> {
  return page.evaluate(() => {
    let el = document.activeElement as HTMLElement | null;
    while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
    const root = el?.getRootNode() as ShadowRoot | Document | undefined;
    const card = root && 'host' in root ? (root.querySelector('[data-action]') as HTMLElement | null)?.dataset.action : null;
    return { tag: el?.tagName.toLowerCase() ?? '', text: (el?.textContent ?? '').trim(), cls: el?.className ?? '', inCard: card };
  });
}

/** WCAG contrast ratio of two CSS colors (rgb()/rgba() as getComputedStyle gives them). */
function contrast(a: string, b: string): number {
  const lum = (c: string) => {
    const [r, g, bl] = (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number).map((v) => {
      const s = v / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

describe('admin shell at 1024×768 (issue 17)', function () {
  this.timeout(240_000);
  let browser: Browser;

  before(async function () {
    browser = await launchBrowser();
  });

  after(async function () {
    await browser?.close();
  });

  describe('a new installation with only the built-in plugins', function () {
    let host: TestHost;

    before(async function () {
      host = await startTestHost({ user: { name: 'tech', password: PASSWORD } });
    });

    after(async function () {
      await host?.stop();
    });

    it('shows the RustDesk panel and the update state in the right-hand column, without scrolling', async function () {
      const { context, page, problems } = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await page.goto('/');
        await login(page, 'tech', PASSWORD);
        await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        const aside = page.getByRole('complementary', { name: 'Auf einen Blick' });
        const remote = aside.locator('[data-panel="remote-support/status"]');
        const update = aside.locator('[data-panel="update/history"]');
        await remote.getByRole('heading', { name: 'Fernwartung (RustDesk)' }).waitFor();
        await update.getByRole('heading', { name: 'Updates' }).waitFor();
        await page.waitForFunction(() => {
          const m = document.querySelector('kw-app')?.shadowRoot?.querySelector('kw-maintenance')?.shadowRoot;
          return [...(m?.querySelectorAll('aside kw-panel-host') ?? [])].every((h) => !/Wird geladen/.test(h.shadowRoot?.textContent ?? ''));
        });
        await screenshot(page, 'pos-wartung-neu');
        const main = await page.getByRole('button', { name: 'Datensicherung' }).boundingBox();
        for (const [name, panel] of [['remote-support', remote], ['update', update]] as const) {
          const box = (await panel.boundingBox())!;
          expect(box.x, `${name} panel is right of the actions`).to.be.greaterThan(main!.x + main!.width);
        }
        // The shell's part: the side column starts at the top, beside the actions. (That the update panel also
        // fits on the first screen depends on the panels being compact: see the panels' own tests.)
        const first = (await remote.getByRole('heading').first().boundingBox())!;
        expect(first.y + first.height, 'RustDesk heading visible without scrolling').to.be.at.most(200);
        // The RustDesk state line (ID, or why there is none) is on the first screen too.
        const idLine = await remote.locator('kw-remote-support').evaluate((el) => {
          const r = el.getBoundingClientRect();
          return { top: r.top, text: el.shadowRoot?.textContent ?? '' };
        });
        expect(idLine.top).to.be.lessThan(VIEWPORTS.pos.height);
        expect(idLine.text).to.match(/ID|RustDesk/);
        // After the merge of both halves: the update state (last check and its reminder) and the RustDesk ID line
        // (or the reason there is none) end above the bottom of the 1024×768 screen.
        for (const [what, loc] of [
          ['update state', update.locator('[data-testid="last-check"]')],
          ['update reminder', update.locator('[data-testid="reminder"]')],
          ['RustDesk ID line', remote.locator('kw-remote-support .id, kw-remote-support [data-field="id"], kw-remote-support .message').first()],
        ] as const) {
          const b = (await loc.boundingBox())!;
          expect(b, `${what} is rendered`).to.not.equal(null);
          expect(b.y + b.height, `${what} visible without scrolling`).to.be.at.most(VIEWPORTS.pos.height);
        }
        expect(await page.evaluate(() => window.scrollY)).to.equal(0);
        expect(pageErrors(problems)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });

    it('has one section per subject in Einstellungen: one "Fernwartung", the USB sticks under "POS Hardware → lokales Backup"', async function () {
      const { context, page } = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await page.goto('/');
        await login(page, 'tech', PASSWORD);
        await page.getByRole('link', { name: 'Einstellungen' }).click();
        const usb = page.getByRole('region', { name: 'POS Hardware → lokales Backup' });
        await usb.locator('kw-setting[plugin="usb"][key="mode"]').waitFor();
        await usb.locator('[data-panel="usb/sticks"]').waitFor();
        expect(await page.getByRole('heading', { name: 'Fernwartung', exact: true, level: 2 }).count()).to.equal(1);
        const remote = page.getByRole('region', { name: 'Fernwartung', exact: true });
        await remote.locator('kw-setting[plugin="remote-support"][key="idServer"]').waitFor();
        await remote.getByRole('button', { name: 'Support-Server übernehmen' }).waitFor();
        const headings = await page.locator('kw-settings').evaluate((el) =>
          [...(el.shadowRoot?.querySelectorAll('section > h2') ?? [])].map((h) => h.textContent?.trim()));
        expect(new Set(headings).size, `sections: ${headings.join(' | ')}`).to.equal(headings.length);
        expect(headings).to.not.include('USB-Stick');
        await screenshot(page, 'pos-einstellungen-abschnitte');
      } finally {
        await context.close();
      }
    });

    it('shows enum values and labels in German only (no "explicit –", "stable –", no "Key")', async function () {
      const { context, page } = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await page.goto('/');
        await login(page, 'tech', PASSWORD);
        await page.getByRole('link', { name: 'Einstellungen' }).click();
        const tls = page.locator('kw-setting[plugin="backup"][key="ftpTls"]');
        await tls.locator('.value', { hasText: 'FTPS explizit' }).waitFor();
        expect((await tls.locator('.value').innerText()).trim()).to.equal('FTPS explizit (empfohlen)');
        await tls.getByRole('button', { name: /bearbeiten/ }).click();
        const options = await tls.locator('option').allInnerTexts();
        expect(options.some((o) => /explicit|implicit|none –/.test(o)), options.join(' | ')).to.equal(false);
        const channel = page.locator('kw-setting[plugin="update"][key="channel"]');
        expect((await channel.locator('.value').innerText()).trim()).to.equal('stabil');
        const key = page.locator('kw-setting[plugin="remote-support"][key="key"]');
        expect((await key.locator('.title').innerText()).trim()).to.equal('Schlüssel des Support-Servers');
      } finally {
        await context.close();
      }
    });

    it('"Stick sicher entfernen" without a stick ends as an information: neutral, not red, not "fehlgeschlagen"', async function () {
      const { context, page, problems } = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await page.goto('/');
        await login(page, 'tech', PASSWORD);
        const card = page.locator('[data-action="usb.eject"]');
        await card.getByRole('button', { name: 'Stick sicher entfernen' }).click();
        await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
        const outcome = card.locator('.outcome');
        await outcome.getByText(/Kein USB-Stick unter .* eingehängt – es muss nichts vorbereitet werden/).waitFor();
        expect(await outcome.getAttribute('class')).to.include('info').and.not.include('error');
        expect(await outcome.getAttribute('role')).to.equal('status');
        const colors = await outcome.evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color }));
        expect(colors.bg, 'not the error red').to.not.equal('rgb(253, 236, 234)');
        expect(colors.fg).to.not.equal('rgb(161, 18, 18)');
        await card.locator('.last', { hasText: 'Information' }).waitFor();
        await screenshot(page, 'pos-wartung-information');
        const job = ((await host.api('GET', '/api/jobs?action=usb.eject&limit=1')).body as { state: string }[])[0];
        expect(job.state).to.equal('info');
        await page.getByRole('link', { name: 'Verlauf' }).click();
        const row = page.locator('tr', { hasText: 'Stick sicher entfernen' }).first();
        await row.getByText('Information', { exact: true }).waitFor();
        expect(await row.innerText()).to.not.include('fehlgeschlagen');
        expect(pageErrors(problems)).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });

    it('each action has its own warning: Updatecheck does not borrow the backup one', async function () {
      const actions = (await host.api('GET', '/api/actions')).body as { id: string; warning?: string }[];
      const by = new Map(actions.map((a) => [a.id, a.warning]));
      expect(by.get('backup.create')).to.match(/Kasse kann weiterarbeiten/);
      expect(by.get('update.check') ?? '').to.not.match(/Datensicherung/);
      expect(by.get('usb.eject')).to.equal(undefined);
    });
  });

  describe('with the fixture plugins', function () {
    let host: TestHost;
    let gate: string;
    let context: BrowserContext;
    let page: Page;
    let problems: string[];

    before(async function () {
      gate = await tempDir('kw-shell-gate-');
      host = await startTestHost({
        pluginDirs: [FIXTURES],
        enable: ['uifix', 'uifix-broken'],
        env: { KW_UIFIX_GATE: gate },
        user: { name: 'tech', password: PASSWORD },
      });
      const r = host.cli(['users', 'add', 'bea', '--role', 'operator', '--password-stdin'], PASSWORD + '\n');
      expect(r.status, r.stderr).to.equal(0);
      ({ context, page, problems } = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos }));
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

    it('puts focus on the page heading after login', async function () {
      const fresh = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await fresh.page.goto('/');
        await login(fresh.page, 'tech', PASSWORD);
        await fresh.page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        await fresh.page.waitForFunction(() => {
          let el = document.activeElement as HTMLElement | null;
          while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
          return el?.tagName === 'H1';
        }, undefined, { timeout: 5000 }).catch(() => undefined);
        expect(await focused(fresh.page)).to.deep.include({ tag: 'h1', text: 'Wartung' });
      } finally {
        await fresh.context.close();
      }
    });

    it('keeps focus on the action while its job runs, shows only its own warning, moves focus to "ok" and back', async function () {
      await page.goto('/#/wartung');
      const slow = page.locator('[data-action="uifix.slow"]');
      const check = page.locator('[data-action="uifix.check"]');

      // the action without a warning: progress, no warning at all
      await check.getByRole('button', { name: 'Testprüfung' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      await check.locator('.percent', { hasText: '50 %' }).waitFor();
      expect(await check.locator('.action-warning').count()).to.equal(0);
      expect(await check.innerText()).to.not.include('Datensicherung');
      // the keyboard focus stays on the card's button while it runs (not on the page body)
      expect(await focused(page)).to.deep.include({ tag: 'button', text: 'Testprüfung', inCard: 'uifix.check' });
      // "36" / "%": the percentage never wraps, even beside a long message in a narrow card
      const pct = await check.locator('.percent').evaluate((el) => ({
        lines: el.getClientRects().length, height: el.getBoundingClientRect().height, line: parseFloat(getComputedStyle(el).lineHeight) || 22,
      }));
      expect(pct.lines).to.equal(1);
      expect(pct.height).to.be.at.most(pct.line * 1.2);
      await writeFile(join(gate, 'release-check'), '');
      await check.locator('.outcome.success', { hasText: 'Testprüfung fertig' }).waitFor();
      // a multi-line result: the headline bold, the rest line by line (not one bold run-on paragraph)
      expect((await check.locator('.outcome strong').innerText()).trim()).to.equal('Testprüfung fertig');
      const more = await check.locator('.outcome .more').evaluate((el) => ({ text: (el as HTMLElement).innerText, weight: getComputedStyle(el).fontWeight, height: el.getBoundingClientRect().height }));
      expect(more.text.split('\n').map((l) => l.trim()).filter(Boolean)).to.deep.equal(['Geprüft: 3 Dateien', 'Änderungen:', '- Erster Punkt', '- Zweiter Punkt']);
      expect(Number(more.weight)).to.be.lessThan(600);
      expect(await focused(page)).to.deep.include({ tag: 'button', text: 'ok', inCard: 'uifix.check' });
      await page.keyboard.press('Enter');
      await check.locator('.outcome').waitFor({ state: 'detached' });
      expect(await focused(page)).to.deep.include({ tag: 'button', text: 'Testprüfung', inCard: 'uifix.check' });

      // the backup-like action shows its own warning, and only while it runs
      await rm(join(gate, 'release'), { force: true });
      await slow.getByRole('button', { name: 'Testsicherung' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      await slow.locator('.action-warning', { hasText: 'Bitte während der Datensicherung nicht mit der Kasse arbeiten' }).waitFor();
      expect(await check.locator('.action-warning').count()).to.equal(0);
      await screenshot(page, 'pos-wartung-warnung');
      await writeFile(join(gate, 'release'), '');
      await slow.locator('.outcome.success').waitFor();
      expect(await slow.locator('.action-warning').count()).to.equal(0);
      await slow.locator('.outcome').getByRole('button', { name: 'ok' }).click();
    });

    it('shows an action\'s information outcome neutrally, with "Information" in "Zuletzt" and Verlauf', async function () {
      await page.goto('/#/wartung');
      const card = page.locator('[data-action="uifix.info"]');
      await card.getByRole('button', { name: 'Testhinweis' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      const outcome = card.locator('.outcome.info');
      await outcome.getByText('Es gibt nichts zu tun: kein Testgerät angeschlossen.').waitFor();
      expect(await card.locator('.outcome.error, .outcome.success').count()).to.equal(0);
      await card.locator('.last', { hasText: 'Information' }).waitFor();
    });

    it('answers a panel\'s kw-confirm-request with its own akzeptieren/abbrechen dialog', async function () {
      await page.goto('/#/wartung');
      await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
      const ask = (accept?: string) => page.evaluate((acceptLabel) => {
        const w = window as unknown as { kwAnswer?: boolean | null; kwHandled?: boolean };
        w.kwAnswer = null;
        const ev = new CustomEvent('kw-confirm-request', {
          cancelable: true,
          detail: { title: 'Sicherung wiederherstellen', text: 'Soll die Sicherung vom 29.11. zurückgespielt werden?', accept: acceptLabel, resolve: (ok: boolean) => { w.kwAnswer = ok; } },
        });
        w.kwHandled = !window.dispatchEvent(ev);
        return w.kwHandled;
      }, accept);
      expect(await ask('Wiederherstellen'), 'the shell called preventDefault()').to.equal(true);
      const dialog = page.getByRole('dialog', { name: 'Sicherung wiederherstellen' });
      await dialog.getByText('Soll die Sicherung vom 29.11. zurückgespielt werden?').waitFor();
      await dialog.getByRole('button', { name: 'abbrechen' }).waitFor();
      await screenshot(page, 'pos-bestaetigung-panel');
      await dialog.getByRole('button', { name: 'Wiederherstellen' }).click();
      await page.waitForFunction(() => (window as unknown as { kwAnswer?: boolean | null }).kwAnswer === true);
      expect(await ask()).to.equal(true);
      await dialog.getByRole('button', { name: 'akzeptieren' }).waitFor();
      await page.keyboard.press('Escape');
      await page.waitForFunction(() => (window as unknown as { kwAnswer?: boolean | null }).kwAnswer === false);
    });

    it('fires kw-job-finished once per job, for jobs of this page and of elsewhere (another browser, the CLI)', async function () {
      await page.goto('/#/wartung');
      await page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
      await page.evaluate(() => {
        const w = window as unknown as { kwFinished: { id: string; state: string; actionId: string }[] };
        w.kwFinished = [];
        window.addEventListener('kw-job-finished', (e) => {
          const j = (e as CustomEvent).detail;
          w.kwFinished.push({ id: j.id, state: j.state, actionId: j.actionId });
        });
      });
      // started here (followed by the card and seen on the host-wide stream: still one event)
      const card = page.locator('[data-action="uifix.info"]');
      if (await card.locator('.outcome').count()) await card.locator('.outcome').getByRole('button', { name: 'ok' }).click();
      await card.getByRole('button', { name: 'Testhinweis' }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'akzeptieren' }).click();
      await card.locator('.outcome.info').waitFor();
      // started by "another browser" (the API) and by the CLI
      const other = await host.api('POST', '/api/actions/uifix.fail', { params: {} });
      expect(other.status).to.equal(202);
      // (the CLI's exit code for an "info" job is the CLI's business: host/src/cli-common.ts)
      const cli = host.cli(['action', 'run', 'uifix.info', '--json']);
      expect(JSON.parse(cli.stdout).state, cli.stderr).to.equal('info');
      await page.waitForFunction(() => (window as unknown as { kwFinished: unknown[] }).kwFinished.length >= 3, undefined, { timeout: 20_000 });
      await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive right behind
      const seen = await page.evaluate(() => (window as unknown as { kwFinished: { id: string; state: string; actionId: string }[] }).kwFinished);
      expect(new Set(seen.map((s) => s.id)).size, JSON.stringify(seen)).to.equal(seen.length);
      expect(seen.map((s) => `${s.actionId}:${s.state}`)).to.have.members(['uifix.info:info', 'uifix.fail:failed', 'uifix.info:info']);
      expect(seen.find((s) => s.actionId === 'uifix.fail')?.id).to.equal(other.body.job.id);
      // the card of the job started elsewhere shows the new "Zuletzt" at once
      await page.locator('[data-action="uifix.fail"] .last', { hasText: 'fehlgeschlagen' }).waitFor();
    });

    it('the host-wide job stream needs a session', async function () {
      const anon = await fetch(`${host.url}/api/jobs/events`);
      expect(anon.status).to.equal(401);
      await anon.body?.cancel();
      const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
      const ctl = new AbortController();
      const ok = await fetch(`${host.url}/api/jobs/events`, { headers: { cookie }, signal: ctl.signal });
      expect(ok.status).to.equal(200);
      expect(ok.headers.get('content-type')).to.match(/^text\/event-stream/);
      ctl.abort();
    });

    it('loads Wartung with few requests: the page, one script, one event stream, then one module per plugin panel', async function () {
      const fresh = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await fresh.context.addCookies(await context.cookies());
        const requested: string[] = [];
        fresh.page.on('request', (r) => { const u = new URL(r.url()); requested.push(u.pathname + u.search); });
        await fresh.page.goto('/#/wartung');
        await fresh.page.getByRole('complementary').locator('[data-testid="uifix-path"]', { hasText: '/media' }).waitFor();
        await fresh.page.locator('[data-panel="uifix/main"] [data-testid="uifix-path"]', { hasText: '/media' }).waitFor();
        // (a job already running, e.g. the built-in backup's catch-up run, is followed: that is its own request)
        const running = /^\/api\/jobs\/[0-9a-f-]{36}(\/events)?$/;
        const shell = requested.filter((p) => !p.startsWith('/plugins/') && !p.startsWith('/api/ext/') && !p.startsWith('/api/settings/') && !running.test(p));
        expect(shell, requested.join('\n')).to.deep.equal(['/', '/ui/kw.js', '/api/jobs/events']);
        const modules = requested.filter((p) => p.startsWith('/plugins/'));
        expect(new Set(modules).size, 'each panel module once').to.equal(modules.length);
        expect(modules.filter((p) => p === '/plugins/uifix/panel.js')).to.have.length(1);
        expect(requested.filter((p) => p === '/api/panels')).to.have.length(0);
        expect(pageErrors(fresh.problems)).to.deep.equal([]);
      } finally {
        await fresh.context.close();
      }
    });

    it('draws the focus ring with at least 3:1 contrast on white cards and on the page background', async function () {
      await page.goto('/#/wartung');
      const button = page.locator('[data-action="uifix.slow"] button.start');
      await button.waitFor();
      await button.focus();
      await page.keyboard.press('Shift+Tab');
      await page.keyboard.press('Tab'); // keyboard focus, so :focus-visible applies
      const ring = await button.evaluate((el) => {
        const s = getComputedStyle(el);
        const card = el.closest('.card')!;
        return { color: s.outlineColor, style: s.outlineStyle, width: parseFloat(s.outlineWidth), card: getComputedStyle(card).backgroundColor, page: getComputedStyle(document.body).backgroundColor };
      });
      expect(ring.style).to.equal('solid');
      expect(ring.width).to.be.at.least(2);
      expect(contrast(ring.color, ring.card), `ring ${ring.color} on card ${ring.card}`).to.be.at.least(3);
      expect(contrast(ring.color, ring.page), `ring ${ring.color} on page ${ring.page}`).to.be.at.least(3);
      // in the dark header too
      const nav = page.getByRole('link', { name: 'Verlauf' });
      await nav.focus();
      const header = await nav.evaluate((el) => ({ color: getComputedStyle(el).outlineColor, bg: getComputedStyle(el.closest('header')!).backgroundColor }));
      expect(contrast(header.color, header.bg), `ring ${header.color} on header ${header.bg}`).to.be.at.least(3);
    });

    it('Protokoll speaks German: no raw audit codes, no "role: technician"', async function () {
      await page.goto('/#/protokoll');
      await page.getByRole('heading', { name: 'Protokoll', level: 1 }).waitFor();
      const table = page.locator('kw-audit table');
      await table.getByText('Anmeldung', { exact: true }).first().waitFor();
      await table.getByText('Benutzer angelegt', { exact: true }).first().waitFor();
      await table.getByText('Rolle: Bediener').first().waitFor();
      const cells = await page.locator('kw-audit td').allInnerTexts();
      for (const raw of ['login', 'user.add', 'action.start', 'settings.change']) expect(cells.map((c) => c.trim()), raw).to.not.include(raw);
      const text = cells.join('\n');
      expect(text).to.not.match(/role: |operator|technician|\bjob: /);
    });

    it('has no axe-core violations on any page, as technician and as operator (screenshots at 1024×768)', async function () {
      const pages: [string, string][] = [['wartung', 'Wartung'], ['einstellungen', 'Einstellungen'], ['plugins', 'Plugins'], ['verlauf', 'Verlauf'], ['protokoll', 'Protokoll']];
      const report: string[] = [];
      const check = async (p: Page, who: string) => {
        for (const [route, heading] of pages) {
          await p.goto(`/#/${route}`);
          await p.getByRole('heading', { name: heading, level: 1 }).waitFor();
          if (route === 'wartung') await p.getByRole('complementary').locator('[data-testid="uifix-path"]', { hasText: '/' }).waitFor();
          if (route === 'einstellungen') await p.locator('[data-panel="uifix/settings"] [data-testid="uifix-path"]', { hasText: '/' }).waitFor();
          if (route === 'verlauf') await p.locator('kw-history').getByText(/Neueste zuerst|Noch keine Vorgänge/).waitFor();
          if (route === 'protokoll' && who === 'techniker') await p.locator('kw-audit tr').nth(1).waitFor();
          if (route === 'plugins') await p.locator('[data-plugin="uifix"]').waitFor();
          // every panel has its content (axe checks what a person sees, not a loading line)
          await p.waitForFunction(() => {
            const texts: string[] = [];
            const walk = (root: Document | ShadowRoot) => {
              for (const el of root.querySelectorAll('*')) if (el.shadowRoot) { texts.push(el.shadowRoot.textContent ?? ''); walk(el.shadowRoot); }
            };
            walk(document);
            return !texts.some((t) => /Wird geladen|wird abgefragt|Wird geprüft/.test(t));
          }, undefined, { timeout: 30_000 });
          await screenshot(p, `a11y-${who}-${route}`);
          for (const v of await axeViolations(p)) if (!knownPanelIssue(v)) report.push(`${who} ${route}: ${v}`);
        }
      };
      await check(page, 'techniker');
      const op = await newPage(browser, { baseURL: host.url, viewport: VIEWPORTS.pos });
      try {
        await op.page.goto('/');
        await op.page.getByRole('heading', { name: 'Anmelden' }).waitFor();
        await screenshot(op.page, 'a11y-anmelden');
        for (const v of await axeViolations(op.page)) report.push(`anmelden: ${v}`);
        await login(op.page, 'bea', PASSWORD);
        await op.page.getByRole('heading', { name: 'Wartung', level: 1 }).waitFor();
        await check(op.page, 'bediener');
        expect(pageErrors(op.problems)).to.deep.equal([]);
      } finally {
        await op.context.close();
      }
      expect(report, report.join('\n')).to.deep.equal([]);
    });
  });
});
