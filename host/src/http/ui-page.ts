/**
 * The admin page as one HTML document and one script: the shell (host/ui/dist), lit and kassenwart/sdk/ui are
 * bundled once per process with esbuild (in memory, on first request) into `/ui/kw.js`, which also re-exports
 * lit and the SDK helpers. The page's import map points `lit`, `lit-html`, `lit-element`, `@lit/reactive-element`
 * and `kassenwart/sdk/ui` at that one module, so plugin panels (still loaded lazily, one module per plugin)
 * share the shell's single copy without further requests. Sub-paths (`lit/directives/…`) stay on /vendor/.
 * The page carries the session and the first data the shell needs (`<script type="application/json">`), so
 * the maintenance page needs no extra round trips before its panels load. If esbuild is not there or fails,
 * the unbundled modules are served as before (slower, same behaviour).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PACKAGE_ROOT } from '../version.js';
import { createLogger } from '../log.js';

const log = createLogger('http');

export interface Bundle {
  code: string;
  etag: string;
}

let bundle: Promise<Bundle | undefined> | undefined;

/** The bundled shell (undefined when bundling is not possible: then the page uses the single modules). */
export function uiBundle(): Promise<Bundle | undefined> {
  bundle ??= build().catch((e: unknown) => {
    log.warn(`UI bundle not built, serving single modules: ${(e as Error)?.message ?? e}`);
    return undefined;
  });
  return bundle;
}

async function build(): Promise<Bundle> {
  const esbuild = await import('esbuild');
  const sdkUi = join(PACKAGE_ROOT, 'sdk', 'dist', 'ui', 'index.js');
  const app = join(PACKAGE_ROOT, 'host', 'ui', 'dist', 'app.js');
  const r = await esbuild.build({
    stdin: {
      contents: [
        "export * from 'lit';",
        `export * from ${JSON.stringify(sdkUi)};`,
        `import ${JSON.stringify(app)};`,
      ].join('\n'),
      resolveDir: PACKAGE_ROOT,
      sourcefile: 'kw.js',
      loader: 'js',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
    alias: { 'kassenwart/sdk/ui': sdkUi },
  });
  const code = r.outputFiles[0].text;
  return { code, etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 22)}"` };
}

const bare = ['lit', 'lit-html', 'lit-element', '@lit/reactive-element', 'kassenwart/sdk/ui'];

/** The import map: everything at the bundle, or (fallback) each package's browser entry under /vendor/. */
function importMap(bundled: boolean): string {
  const imports: Record<string, string> = bundled
    ? Object.fromEntries(bare.map((b) => [b, '/ui/kw.js']))
    : {
      lit: '/vendor/lit/index.js',
      'lit-html': '/vendor/lit-html/lit-html.js',
      'lit-element': '/vendor/lit-element/index.js',
      '@lit/reactive-element': '/vendor/@lit/reactive-element/reactive-element.js',
      'kassenwart/sdk/ui': '/sdk/ui/index.js',
    };
  for (const p of ['lit', 'lit-html', 'lit-element', '@lit/reactive-element']) imports[`${p}/`] = `/vendor/${p}/`;
  return JSON.stringify({ imports });
}

/** JSON safe inside a <script> element. */
function scriptJson(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

let css: Promise<string> | undefined;

/** The page: styles inline, the import map, the boot data, one module script. */
export async function renderPage(boot: unknown): Promise<string> {
  const bundled = !!(await uiBundle());
  css ??= readFile(join(PACKAGE_ROOT, 'host', 'ui', 'styles.css'), 'utf8').catch(() => '');
  const entry = bundled ? '/ui/kw.js' : '/ui/dist/app.js';
  return `<!doctype html>
<html lang="de">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Kassenwart – Backoffice</title>
    <link rel="icon" href="data:," />
    <style>${(await css).replace(/<\//g, '<\\/')}</style>
    <script type="importmap">${importMap(bundled)}</script>
    <script type="application/json" id="kw-boot">${scriptJson(boot)}</script>
    <script type="module" src="${entry}"></script>
  </head>
  <body>
    <kw-app></kw-app>
    <noscript>Kassenwart braucht JavaScript. Bitte JavaScript im Browser einschalten.</noscript>
  </body>
</html>
`;
}
