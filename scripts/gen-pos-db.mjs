#!/usr/bin/env node
// Generates a demo salon POS database (SQLite) for tests and benchmarks.
// Usage: node scripts/gen-pos-db.mjs <out.sqlite> [--size-mb N] [--seed N]
// Needs the backup plugin built: npx tsc -b plugins/backup
import { generatePosDatabase } from '../plugins/backup/dist/src/posdb.js';

const args = process.argv.slice(2);
const out = args.find((a) => !a.startsWith('--'));
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? Number(args[i + 1]) : dflt; };
if (!out) {
  console.error('Usage: node scripts/gen-pos-db.mjs <out.sqlite> [--size-mb N] [--seed N]');
  process.exit(2);
}
const r = await generatePosDatabase(out, { sizeMb: opt('--size-mb', 8), seed: opt('--seed', 17) });
console.log(`${r.path}: ${(r.bytes / 1048576).toFixed(1)} MB`, JSON.stringify(r.counts));
