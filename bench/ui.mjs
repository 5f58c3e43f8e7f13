#!/usr/bin/env node
/**
 * The maintenance page ("Wartung") with every built-in plugin, as a technician on a 1024×768 screen in Debian's
 * headless Chromium (playwright-core, /usr/bin/chromium), vs a static page of about the same text served side by
 * side by a plain node:http server on 127.0.0.1: time until every panel has rendered its content, and the number
 * of requests the page made. Needs a build (`npx tsc -b`). Goal from issue 17: ≤ 2× the static page, ≤ 12 requests.
 *
 *   node bench/ui.mjs [--runs 5]
 */
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { startTestHost } = await import(join(root, 'sdk/dist/testing/index.js'));
const { launchBrowser, newPage } = await import(join(root, 'test/support/dist/browser.js'));

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const runs = arg('runs', 5);
const PASSWORD = 'Bench-UI-2026!';

// The static reference: one HTML page with the same kind of content (cards, a table), no scripts.
const staticHtml = `<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Wartung</title>
<style>body{font-family:system-ui;background:#eef1f4}.card{background:#fff;border:1px solid #c9d0d8;margin:12px;padding:12px}</style>
</head><body><h1>Wartung</h1>${Array.from({ length: 8 }, (_, i) => `<section class="card"><h2>Bereich ${i + 1}</h2>
<p>Text ${'Lorem ipsum dolor sit amet '.repeat(8)}</p><table>${Array.from({ length: 5 }, (_, j) => `<tr><td>Zeile ${j}</td><td>kasse-2026-11-29_07-00-0${j}.sqlite.gz</td><td>4,6 MB</td></tr>`).join('')}</table></section>`).join('')}
<p id="done">fertig</p></body></html>`;
const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(staticHtml);
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const staticUrl = `http://127.0.0.1:${server.address().port}/`;

const host = await startTestHost({ user: { name: 'tech', password: PASSWORD } });
const browser = await launchBrowser();

/** Every panel on the page shows its content (no "Wird geladen …" / "lädt" left in the shell or a panel). */
const allRendered = () => {
  const app = document.querySelector('kw-app')?.shadowRoot;
  const page = app?.querySelector('kw-maintenance')?.shadowRoot;
  if (!page) return false;
  const hosts = [...page.querySelectorAll('kw-panel-host')];
  if (!hosts.length || !page.querySelector('kw-action')) return false;
  return hosts.every((h) => {
    const card = h.shadowRoot?.querySelector('section');
    if (!card || /Wird geladen/.test(card.textContent ?? '')) return false;
    const el = card.querySelector('*:not(h2):not(p)');
    const text = el?.shadowRoot?.textContent ?? '';
    return !!el?.shadowRoot && text.trim().length > 0 && !/(Wird geladen|wird geladen|lädt|Lade )/.test(text);
  });
};

async function measure(url, ready, cookies) {
  const { context, page } = await newPage(browser, { baseURL: url });
  try {
    if (cookies) await context.addCookies(cookies);
    let requests = 0;
    const paths = [];
    const t0 = Date.now();
    page.on('request', (r) => { requests++; paths.push(`${String(Date.now() - t0).padStart(5)} ms  ${new URL(r.url()).pathname}${new URL(r.url()).search}`); });
    page.on('requestfinished', (r) => { paths.push(`${String(Date.now() - t0).padStart(5)} ms  done ${new URL(r.url()).pathname}`); });
    await page.goto(url);
    await page.waitForFunction(ready, undefined, { polling: 10, timeout: 60_000 });
    const ms = Date.now() - t0;
    return { ms, requests, paths };
  } finally {
    await context.close();
  }
}

try {
  // Sign in once; each run opens a fresh context (cold cache) with the session cookie.
  const { context, page } = await newPage(browser, { baseURL: host.url });
  const login = await context.request.post('/api/auth/login', { data: { name: 'tech', password: PASSWORD }, headers: { origin: host.url } });
  if (login.status() !== 200) throw new Error(`login failed: ${login.status()}`);
  await page.goto(`${host.url}/#/wartung`);
  await page.waitForFunction(allRendered, undefined, { timeout: 60_000 }); // warm the server (plugins activated)
  const cookies = await context.cookies();
  await context.close();

  const ui = [];
  const ref = [];
  let last;
  for (let i = 0; i < runs; i++) {
    ref.push(await measure(staticUrl, () => !!document.getElementById('done')));
    last = await measure(`${host.url}/#/wartung`, allRendered, cookies);
    ui.push(last);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const uiMs = median(ui.map((r) => r.ms));
  const refMs = median(ref.map((r) => r.ms));
  const reqs = Math.max(...ui.map((r) => r.requests));
  console.log(`runs: ${runs} (median), viewport 1024×768`);
  console.log(`| page | time to all panels rendered | requests |`);
  console.log(`|---|---:|---:|`);
  console.log(`| Wartung (all built-in plugins) | ${uiMs} ms | ${reqs} |`);
  console.log(`| static page (node:http) | ${refMs} ms | ${Math.max(...ref.map((r) => r.requests))} |`);
  console.log(`ratio: ${(uiMs / refMs).toFixed(2)}x (goal ≤ 2x), requests ${reqs} (goal ≤ 12)`);
  if (process.argv.includes('--list')) console.log(last.paths.join('\n'));
} finally {
  await browser.close();
  await host.stop();
  server.close();
}
