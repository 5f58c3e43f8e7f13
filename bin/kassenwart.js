#!/usr/bin/env node
// The kassenwart command. Built code lives in host/dist (run `npm run build` first).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'host', 'dist', 'cli.js');
if (!existsSync(entry)) {
  process.stderr.write('Kassenwart ist noch nicht gebaut. Bitte zuerst „npm install && npm run build“ ausführen.\n');
  process.exit(1);
}
const { main } = await import(entry);
const code = await main(process.argv.slice(2));
if (code >= 0) process.exitCode = code;
