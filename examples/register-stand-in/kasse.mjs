#!/usr/bin/env node
// STAND-IN for the register software (Kassensoftware), for tests and the demo: NOT the real register.
// It has a version (package.json), an HTTP health endpoint and a schema that its shipped migrations build
// (migrations/NNN-*.sql; the schema it needs = the highest NNN). While it runs it writes a receipt into the
// POS database every 100 ms (better-sqlite3), like a register in use.
//
//   node kasse.mjs --db PATH --port N [--pid-file FILE]
//
// GET /health → 200 {ok:true, version, schema, receipts} when the database has the schema this version needs;
// 503 {ok:false, version, error} otherwise (it then writes nothing). SIGTERM: closes the database, exits 0.
// behaviour.json beside it (tests only): {"health":"fail"} never healthy, {"ignoreSigterm":true} will not stop,
// {"startDelayMs":N} answers only after N ms. While a file "<db>.pause" exists it writes nothing (tests use it to
// compare the database byte for byte before and after an update; the salon's register is then "idle").
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { readFileSync, readdirSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const behaviour = existsSync(join(here, 'behaviour.json')) ? JSON.parse(readFileSync(join(here, 'behaviour.json'), 'utf8')) : {};
const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt; };
const dbPath = opt('--db', process.env.KASSE_DATABASE);
const port = Number(opt('--port', '0'));
const pidFile = opt('--pid-file');
if (!dbPath) { console.error('kasse stand-in: --db PATH fehlt'); process.exit(2); }

// better-sqlite3 from the Kassenwart installation (NODE_PATH) or next to this file.
const require = createRequire(join(here, 'kasse.mjs'));
const Database = require('better-sqlite3');

const needed = readdirSync(join(here, 'migrations')).map((n) => Number(/^(\d+)-/.exec(n)?.[1] ?? 0)).reduce((a, b) => Math.max(a, b), 0);
const started = Date.now();
const db = new Database(dbPath, { fileMustExist: true });
db.pragma('busy_timeout = 2000');
const schema = Number(db.pragma('user_version', { simple: true }));
const problem = schema !== needed ? `Datenbank hat Schema ${schema}, Version ${pkg.version} braucht ${needed}` : null;
if (problem) console.error(`kasse stand-in ${pkg.version}: ${problem}`);

let receipts = 0;
const paused = () => existsSync(dbPath + '.pause');
const insert = problem ? null : db.prepare('INSERT INTO receipts (created_at, amount_cents, register_version) VALUES (?, ?, ?)');
const timer = setInterval(() => {
  if (!insert || paused()) return;
  try { insert.run(new Date().toISOString(), 100 + Math.floor(Math.random() * 9000), pkg.version); receipts++; } catch (e) { console.error('write failed:', e.message); }
}, 100);

const server = createServer((req, res) => {
  if (req.url !== '/health') { res.writeHead(404).end(); return; }
  const early = behaviour.startDelayMs && Date.now() - started < behaviour.startDelayMs;
  const bad = problem ?? (behaviour.health === 'fail' ? 'Funktionsprüfung absichtlich fehlgeschlagen (Stand-in)' : early ? 'startet noch' : null);
  res.writeHead(bad ? 503 : 200, { 'content-type': 'application/json' })
    .end(JSON.stringify(bad ? { ok: false, version: pkg.version, error: bad } : { ok: true, version: pkg.version, schema, receipts, writing: !paused() }));
});
server.listen(port, '127.0.0.1', () => {
  if (pidFile) writeFileSync(pidFile, String(process.pid));
  console.log(`Kassensoftware (Stand-in) ${pkg.version} auf http://127.0.0.1:${server.address().port}/health, Schema ${schema}`);
});

const stop = () => {
  if (behaviour.ignoreSigterm) { console.error('kasse stand-in: ignoriere SIGTERM'); return; }
  clearInterval(timer);
  server.close();
  db.close();
  if (pidFile) rmSync(pidFile, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
