/**
 * Shared headless Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core (never a
 * downloaded browser), a fresh profile per launch, and a screenshot helper writing to test-output/screenshots/.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The system Chromium (apt-get install -y chromium). */
export const CHROMIUM_PATH = process.env.KW_CHROMIUM ?? '/usr/bin/chromium';

/** Repository root (test/support/dist/browser.js → ../../..). */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Where screenshots go (gitignored). */
export const SCREENSHOT_DIR = join(repoRoot, 'test-output', 'screenshots');

/** Viewports the UI must work at. */
export const VIEWPORTS = {
  /** A POS screen. */
  pos: { width: 1024, height: 768 },
  /** A phone. */
  phone: { width: 390, height: 844 },
} as const;

/** Launches headless Chromium with a fresh profile. Throws a clear error when it is not installed. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new isolated context (own cookies) and page. Page errors and failed requests are collected in
 * `problems`, so a test can assert that the UI loaded without JavaScript errors.
 */
export async function newPage(
  browser: Browser,
  options: { viewport?: { width: number; height: number }; baseURL?: string } = {},
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? VIEWPORTS.pos,
    baseURL: options.baseURL,
    locale: 'de-DE',
    timezoneId: 'Europe/Berlin',
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  return { context, page, problems };
}

/** Saves a full-page screenshot as test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * Signs a page's context in through the API (the session cookie lands in the context), then opens `hash`
 * (e.g. "#/wartung"). For tests whose subject is a panel, not the login form (the UI tests cover that).
 */
export async function signInPage(
  context: BrowserContext, page: Page, baseURL: string, user: { name: string; password: string }, hash: string,
): Promise<void> {
  const login = await context.request.post('/api/auth/login', { data: user, headers: { origin: baseURL } });
  if (login.status() !== 200) throw new Error(`login of ${user.name} failed: ${login.status()} ${await login.text()}`);
  await page.goto('/' + hash);
}
