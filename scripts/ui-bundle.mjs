#!/usr/bin/env node
// Part of `npm run build` (after tsc -b): bundles the admin shell, lit and kassenwart/sdk/ui into
// host/ui/dist/kw.js with esbuild, so the installed package serves one script and needs no bundler.
// See host/src/http/ui-page.ts and docs/ui.md.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { writeBundle, BUNDLE_FILE } = await import(join(root, 'host/dist/http/ui-page.js'));
const bytes = await writeBundle();
process.stdout.write(`UI-Bundle: ${BUNDLE_FILE.slice(root.length + 1)} (${(bytes / 1024).toFixed(1)} KiB)\n`);
