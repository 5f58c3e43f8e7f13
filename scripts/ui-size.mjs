#!/usr/bin/env node
/**
 * Measures the JavaScript the admin UI loads: the shell (host/ui/dist), lit (through the import map),
 * kassenwart/sdk/ui and every panel module of the built-in plugins, following static and literal dynamic
 * imports exactly as the browser resolves them with host/ui/index.html's import map.
 * Prints raw and gzip sizes (each file gzipped on its own, level 6, as a server would send it) per group
 * and in total. Run after `npm run build`:  node scripts/ui-size.mjs [--json]
 */
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const html = readFileSync(join(root, 'host/ui/index.html'), 'utf8');
const importMap = JSON.parse(/<script type="importmap">([\s\S]*?)<\/script>/.exec(html)[1]).imports;

/** URL path → file, the way the host serves it (docs/API.md). */
function fileOf(url) {
  let m;
  if ((m = /^\/vendor\/((?:@lit\/)?[a-z-]+)\/(.+)$/.exec(url))) return join(root, 'node_modules', m[1], m[2]);
  if ((m = /^\/sdk\/ui\/(.+)$/.exec(url))) return join(root, 'sdk/dist/ui', m[1]);
  if ((m = /^\/ui\/(.+)$/.exec(url))) return join(root, 'host/ui', m[1]);
  if ((m = /^\/plugins\/([a-z][a-z0-9-]*)\/(.+)$/.exec(url))) return join(root, 'plugins', m[1], m[2]);
  throw new Error(`not served by the host: ${url}`);
}

/** Resolves a specifier like the browser does with the import map. */
function resolve(spec, fromUrl) {
  if (spec.startsWith('/') || spec.startsWith('./') || spec.startsWith('../')) return new URL(spec, 'http://x' + fromUrl).pathname;
  if (importMap[spec]) return importMap[spec];
  const prefix = Object.keys(importMap).filter((k) => k.endsWith('/') && spec.startsWith(k)).sort((a, b) => b.length - a.length)[0];
  if (prefix) return importMap[prefix] + spec.slice(prefix.length);
  throw new Error(`bare specifier "${spec}" in ${fromUrl} is not in the import map`);
}

const importRe = /(?:\bimport|\bexport)\s*(?:[\w*{}\s,$]+?\s*from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

function group(url) {
  if (url.startsWith('/vendor/')) return 'lit (lit, lit-html, lit-element, @lit/reactive-element)';
  if (url.startsWith('/sdk/ui/')) return 'kassenwart/sdk/ui';
  if (url.startsWith('/ui/')) return 'shell (host/ui)';
  return `panels: ${url.split('/')[2]}`;
}

const seen = new Map();
function visit(url) {
  if (seen.has(url)) return;
  const file = fileOf(url);
  if (!existsSync(file)) throw new Error(`missing ${file} (for ${url}); build first (npm run build)`);
  const code = readFileSync(file);
  seen.set(url, { raw: code.length, gzip: gzipSync(code, { level: 6 }).length });
  for (const m of code.toString('utf8').matchAll(importRe)) visit(resolve(m[1] ?? m[2], url));
}

visit(/<script type="module" src="([^"]+)"/.exec(html)[1]);
const panels = [];
for (const id of readdirSync(join(root, 'plugins'))) {
  const manifest = join(root, 'plugins', id, 'plugin.json');
  if (!existsSync(manifest)) continue;
  for (const p of JSON.parse(readFileSync(manifest, 'utf8')).contributes?.panels ?? []) {
    const url = `/plugins/${id}/${p.module.replace(/^\.\//, '')}`;
    panels.push(url);
    visit(url);
  }
}

const groups = new Map();
for (const [url, s] of seen) {
  const g = groups.get(group(url)) ?? { files: 0, raw: 0, gzip: 0 };
  g.files += 1; g.raw += s.raw; g.gzip += s.gzip;
  groups.set(group(url), g);
}
const total = [...groups.values()].reduce((a, g) => ({ files: a.files + g.files, raw: a.raw + g.raw, gzip: a.gzip + g.gzip }), { files: 0, raw: 0, gzip: 0 });

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ groups: Object.fromEntries(groups), total, panels }, null, 2));
} else {
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  const rows = [...groups].sort((a, b) => a[0].localeCompare(b[0]));
  const w = Math.max(...rows.map(([n]) => n.length), 5);
  console.log(`${'group'.padEnd(w)}  files        raw       gzip`);
  for (const [n, g] of rows) console.log(`${n.padEnd(w)}  ${String(g.files).padStart(5)}  ${kb(g.raw).padStart(9)}  ${kb(g.gzip).padStart(9)}`);
  console.log(`${'total'.padEnd(w)}  ${String(total.files).padStart(5)}  ${kb(total.raw).padStart(9)}  ${kb(total.gzip).padStart(9)}`);
  console.log(`(${panels.length} panel modules of built-in plugins; gzip per file, level 6)`);
}
