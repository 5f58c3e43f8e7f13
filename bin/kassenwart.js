#!/usr/bin/env node
// The kassenwart command. Built code lives in host/dist (run `npm run build` first).
//
// After an update the active release lives in <data>/releases/current. Every command except `start` (the
// supervisor, which runs the active release itself) is handed to that release's own bin, so the CLI never runs
// old code against a database a newer release has migrated.
import { existsSync, realpathSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

function dataDir() {
  const i = args.indexOf('--data');
  if (i >= 0 && args[i + 1]) return args[i + 1];
  const eq = args.find((a) => a.startsWith('--data='));
  if (eq) return eq.slice(7);
  return process.env.KASSENWART_DATA ?? './data';
}

if (args[0] && args[0] !== 'start' && !process.env.KASSENWART_DELEGATED) {
  const current = join(resolve(dataDir()), 'releases', 'current', 'bin', 'kassenwart.js');
  if (existsSync(current) && realpathSync(current) !== realpathSync(fileURLToPath(import.meta.url))) {
    const r = spawnSync(process.execPath, [current, ...args], { stdio: 'inherit', env: { ...process.env, KASSENWART_DELEGATED: '1' } });
    process.exit(r.status ?? 1);
  }
}

const entry = join(here, '..', 'host', 'dist', 'cli.js');
if (!existsSync(entry)) {
  process.stderr.write('Kassenwart ist noch nicht gebaut. Bitte zuerst „npm install && npm run build“ ausführen.\n');
  process.exit(1);
}
const { main } = await import(entry);
const code = await main(args);
if (code >= 0) process.exitCode = code;
