/**
 * The admin page as one HTML document and one script: the shell (host/ui/dist), lit and kassenwart/sdk/ui are
 * bundled with esbuild into `/ui/kw.js`, which also re-exports lit and the SDK helpers. The page's import map
 * points `lit`, `lit-html`, `lit-element`, `@lit/reactive-element` and `kassenwart/sdk/ui` at that one module, so
 * plugin panels (still loaded lazily, one module per plugin) share the shell's single copy without further
 * requests. Sub-paths (`lit/directives/…`) stay on /vendor/.
 * The bundle is written by `npm run build` (scripts/ui-bundle.mjs → host/ui/dist/kw.js, so the installed package
 * needs no bundler); when that file is missing or older than its inputs (a plain `tsc -b`), it is built in memory
 * on the first request if esbuild (a dev dependency) is there; otherwise the single modules are served as before
 * (slower, same behaviour).
 * The page carries the session and the first data the shell needs (`<script type="application/json">`), so
 * the maintenance page needs no extra round trips before its panels load.
 */
import { readFile, readdir, stat, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { PACKAGE_ROOT } from '../version.js';
import { createLogger } from '../log.js';

const log = createLogger('http');

export interface Bundle {
  code: string;
  etag: string;
}

/** Where `npm run build` puts the bundle. */
export const BUNDLE_FILE = join(PACKAGE_ROOT, 'host', 'ui', 'dist', 'kw.js');

let bundle: Promise<Bundle | undefined> | undefined;
let builtFrom = -1;

/**
 * The bundled shell (undefined when bundling is not possible: then the page uses the single modules). Made again
 * when its inputs changed since (a rebuild while the host runs), so it is never older than the single modules.
 */
export async function uiBundle(): Promise<Bundle | undefined> {
  const inputs = await newestInput().catch(() => 0);
  if (!bundle || inputs !== builtFrom) {
    builtFrom = inputs;
    bundle = load(inputs).catch((e: unknown) => {
      log.warn(`UI bundle not available, serving single modules: ${(e as Error)?.message ?? e}`);
      return undefined;
    });
  }
  return bundle;
}

function withEtag(code: string): Bundle {
  return { code, etag: `"${createHash('sha256').update(code).digest('base64url').slice(0, 22)}"` };
}

/** Newest modification time of the files the bundle is made of. */
async function newestInput(): Promise<number> {
  let newest = 0;
  for (const dir of [join(PACKAGE_ROOT, 'host', 'ui', 'dist'), join(PACKAGE_ROOT, 'sdk', 'dist', 'ui')]) {
    for (const f of await readdir(dir)) {
      if (!f.endsWith('.js') || f === 'kw.js') continue;
      newest = Math.max(newest, (await stat(join(dir, f))).mtimeMs);
    }
  }
  return newest;
}

async function load(inputs: number): Promise<Bundle> {
  const built = await stat(BUNDLE_FILE).catch(() => undefined);
  if (built && built.mtimeMs >= inputs) return withEtag(await readFile(BUNDLE_FILE, 'utf8'));
  return withEtag(await buildBundle());
}

/** Bundles shell + lit + kassenwart/sdk/ui with esbuild (a dev dependency) and returns the code. */
export async function buildBundle(): Promise<string> {
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
  return r.outputFiles[0].text;
}

/** Writes host/ui/dist/kw.js (scripts/ui-bundle.mjs, part of `npm run build`); returns its size in bytes. */
export async function writeBundle(): Promise<number> {
  const code = await buildBundle();
  const tmp = `${BUNDLE_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, code);
  await rename(tmp, BUNDLE_FILE);
  return Buffer.byteLength(code);
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
