#!/usr/bin/env node
// npm run bench: runs every benchmark in this folder one after the other (each prints its own table of
// ratios against a reference tool run side by side). Pass names to run only some: npm run bench -- ftp
// Options (arguments starting with --, and the number after an option) go to every chosen benchmark:
// npm run bench -- backup --large
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const only = [];
const pass = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith('--')) {
    pass.push(argv[i]);
    if (argv[i + 1] !== undefined && /^\d/.test(argv[i + 1])) pass.push(argv[++i]);
  } else only.push(argv[i]);
}
const all = readdirSync(here).filter((f) => f.endsWith('.mjs') && f !== 'run.mjs').sort();
const chosen = only.length ? all.filter((f) => only.some((o) => f.startsWith(o))) : all;
let failed = 0;
for (const f of chosen) {
  process.stdout.write(`\n=== bench/${f} ===\n`);
  const r = spawnSync(process.execPath, [join(here, f), ...pass], { stdio: 'inherit' });
  if (r.status !== 0) { failed++; process.stdout.write(`bench/${f} failed (exit ${r.status})\n`); }
}
process.exit(failed ? 1 : 0);
