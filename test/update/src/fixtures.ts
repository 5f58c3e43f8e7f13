/**
 * Small fixture release trees (a stand-in for the whole repository, so most tests stay fast): a
 * package.json named "kassenwart" and a bin/kassenwart.js that behaves like the host's `serve` as far as the
 * updater and supervisor can see: prints its URL and answers GET /api/health with its version.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface FixtureOptions {
  version: string;
  /**
   * "ok" (default), "bad-health" (answers 503), "crash" (exits at once), "slow" (health only after 4 s),
   * "breaks-on-real-data" (healthy on an empty data folder, as in the trial start; 503 when state.sqlite exists).
   */
  behaviour?: 'ok' | 'bad-health' | 'crash' | 'slow' | 'breaks-on-real-data';
  /** migrations/<name> = SQL text. */
  migrations?: Record<string, string>;
  /** Extra incompressible bytes (to make the package big). */
  padBytes?: number;
}

export const STAND_IN_BIN = `#!/usr/bin/env node
// Stand-in for the Kassenwart host in update tests: "serve" prints its URL and answers /api/health.
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
const here = new URL('..', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', here), 'utf8'));
const behaviour = JSON.parse(readFileSync(new URL('behaviour.json', here), 'utf8')).behaviour;
const args = process.argv.slice(2);
if (args[0] !== 'serve') { console.error('stand-in: only "serve"'); process.exit(2); }
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
if (behaviour === 'crash') { console.error('stand-in: crashing on purpose'); process.exit(1); }
const started = Date.now();
const realData = existsSync(join(opt('--data', '.'), 'state.sqlite'));
const server = createServer((req, res) => {
  if (req.url === '/api/health') {
    if (behaviour === 'bad-health' || (behaviour === 'slow' && Date.now() - started < 4000) || (behaviour === 'breaks-on-real-data' && realData)) {
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: false }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, version: pkg.version }));
    return;
  }
  res.writeHead(404).end();
});
server.listen(Number(opt('--port', '0')), opt('--bind', '127.0.0.1'), () => {
  console.log('Kassenwart (stand-in) ' + pkg.version + ' listening on http://127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** Writes a fixture release tree into `dir`. */
export async function makeFixtureTree(dir: string, o: FixtureOptions): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'kassenwart', version: o.version, type: 'module', private: true }, null, 2));
  await writeFile(join(dir, 'package-lock.json'), JSON.stringify({ name: 'kassenwart', lockfileVersion: 3, packages: { '': {} } }));
  await writeFile(join(dir, 'behaviour.json'), JSON.stringify({ behaviour: o.behaviour ?? 'ok' }));
  await writeFile(join(dir, 'bin', 'kassenwart.js'), STAND_IN_BIN, { mode: 0o755 });
  if (o.migrations) {
    await mkdir(join(dir, 'migrations'), { recursive: true });
    for (const [name, text] of Object.entries(o.migrations)) await writeFile(join(dir, 'migrations', name), text);
  }
  if (o.padBytes) await writeFile(join(dir, 'pad.bin'), randomBytes(o.padBytes));
  return dir;
}
