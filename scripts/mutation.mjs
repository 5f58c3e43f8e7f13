#!/usr/bin/env node
// Mutation testing of the modules that carry Kassenwart's guarantees, one module at a time, each with only
// the specs that cover it (StrykerJS 9 with its mocha runner; shared settings in mutation.config.mjs).
//
//   npm run mutation                      every module below, one after the other (builds first)
//   npm run mutation -- --smoke           the two small smoke modules only (part of the normal test suite)
//   npm run mutation -- usb-writer ftp-tls    only these modules
//   npm run mutation -- --list            the modules and what they mutate
//   npm run mutation -- --survivors NAME  the mutants the last run of NAME left alive
//   npm run mutation -- --concurrency 2 NAME   two test runners (default 1: the machine is shared)
//
// Reports: reports/mutation/<module>/index.html (+ mutation.json); a summary table at the end, and
// reports/mutation/summary.json. Exit code 1 when a module scores below its threshold (default 80 %).
import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(ROOT);

/** Line ranges of compiled file `file` between marker lines (`from` inclusive, `to` exclusive or end). */
function between(file, from, to) {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const find = (text, start = 0) => {
    const i = lines.findIndex((l, n) => n >= start && l.includes(text));
    if (i < 0) throw new Error(`${file}: marker not found: ${text} (did the source change? update scripts/mutation.mjs)`);
    return i;
  };
  const a = find(from);
  const b = to ? find(to, a + 1) : lines.length;
  return `${file}:${a + 1}-${b}`;
}

const SERVER = 'host/dist/http/server.js';

/**
 * The modules. `mutate`: compiled files (or file:line-line ranges) to mutate; `spec`: compiled specs that
 * cover them (only specs that run the code in the test process can kill a mutant). Code a spec runs in a
 * before() hook counts as "static" for Stryker and makes every mutant in it run the whole spec list, so
 * each module lists its direct tests, not every spec that happens to pass through it.
 */
const MODULES = {
  'ftp-names': {
    what: 'which FTP file names retention may delete (small: the smoke module of the normal test suite)',
    // the smoke run leaves out of the sandbox what its specs never load
    sandboxSkip: ['host', 'examples', 'plugins/update', 'plugins/usb', 'plugins/remote-support',
      'test/ui', 'test/update', 'test/usb', 'test/remote-support', 'test/examples', 'test/host'],
    mutate: () => ['plugins/backup/dist/src/ftp/names.js'],
    spec: ['test/backup/dist/ftp-units.test.js', 'test/backup/dist/ftp-names.test.js'],
    timeoutMS: 10_000,
  },
  'host-access': {
    what: 'access control and CSRF: session/CSRF/role middleware, role of each route, per-setting and per-action roles, plugin routes',
    mutate: () => [
      between(SERVER, 'const route = (method, path, role, handler)', '// ---- errors'),
      between(SERVER, '// ---- session, CSRF and authorization', 'app.use(jsonBody())'),
      between(SERVER, '// ---- plugins', '// ---- actions and jobs'),
      // starting an action: up to its role check (what follows — params, ?follow=1 streaming, audit — is no access decision)
      between(SERVER, "route('post', '/api/actions/:id'", 'const params ='),
      between(SERVER, "route('post', '/api/jobs/:id/cancel'", '/** Answers with a server-sent event stream'),
      between(SERVER, "route('get', '/api/audit'", '// ---- static files'),
      between('host/dist/auth/users.js', 'export function allows', '}'),
    ],
    spec: ['test/host/dist/guarantees.test.js', 'test/host/dist/guarantees-paths.test.js'],
  },
  'host-auth': {
    what: 'users, sessions, passwords, login lockout',
    mutate: () => ['host/dist/auth/users.js', 'host/dist/auth/rate-limit.js', 'host/dist/auth/passwords.js'],
    spec: ['test/host/dist/auth-units.test.js', 'test/host/dist/rate-limit-units.test.js'],
    timeoutMS: 10_000,
  },
  'host-http': {
    what: 'HTTP hardening: one canonical spelling of API paths, strict JSON bodies, forwarding headers only from a trusted proxy',
    mutate: () => ['host/dist/http/canonical.js', 'host/dist/http/body.js', 'host/dist/http/proxy.js'],
    spec: ['test/host/dist/http-units.test.js'],
    timeoutMS: 10_000,
  },
  'host-schedule': {
    what: 'forced schedules: a run due while the maintenance lock is held (here or by another process) waits and starts when it is free; lastRun only for runs that started; missed runs caught up once',
    mutate: () => ['host/dist/scheduler.js'],
    spec: ['test/host/dist/scheduler-units.test.js'],
    timeoutMS: 15_000,
  },
  'host-quarantine': {
    what: 'one bad plugin must not take the host down: who is blamed for a process that died or stalled, the quarantine record, the crash evidence files and which plugin a stack frame belongs to',
    // not installExitEvidence (it wraps process.exit: only the real-process tests in hostile-plugins.test.ts run it)
    mutate: () => [
      'host/dist/plugins/quarantine.js',
      between('host/dist/plugins/activity.js', 'export const ACTIVITY_FILE', 'export function installExitEvidence'),
    ],
    spec: ['test/host/dist/quarantine-units.test.js'],
    timeoutMS: 10_000,
    // the smoke run's second module: its sandbox leaves out what the host's own specs never load
    sandboxSkip: ['examples', 'plugins', 'packaging', 'bench', 'monitoring', 'test/ui', 'test/update', 'test/usb', 'test/remote-support',
      'test/examples', 'test/backup', 'test/cloud', 'test/metrics', 'test/packaging'],
  },
  'host-settings': {
    what: 'settings validation (ajv, German messages, roles, secrets sealed)',
    mutate: () => ['host/dist/settings/registry.js'],
    spec: ['test/host/dist/settings-units.test.js'],
    timeoutMS: 10_000,
  },
  'host-locks': {
    what: 'the inter-process file lock (pid + start time liveness, zombies, stale takeover under a guard, atomic creation)',
    mutate: () => ['host/dist/state/file-lock.js'],
    spec: ['test/host/dist/file-lock-units.test.js'],
    timeoutMS: 10_000,
  },
  'register-migrate': {
    what: 'register database migrations: file names and order, schema version from the header, one transaction per migration, integrity and release checks, the migrated copy (the original never written, a failed copy removed)',
    mutate: () => ['plugins/update/dist/src/register/migrate.js'],
    spec: ['test/update/dist/migrate-units.test.js'],
    timeoutMS: 10_000,
  },
  'host-manifest': {
    what: 'plugin manifest loading (schema, semantic checks, paths)',
    mutate: () => ['host/dist/plugins/manifest.js'],
    spec: ['test/host/dist/manifest-units.test.js'],
    timeoutMS: 10_000,
  },
  'backup-verify': {
    what: 'backup verification and restore',
    mutate: () => [
      'plugins/backup/dist/src/verify.js',
      between('plugins/backup/dist/src/service.js', 'async restore(job)', 'async assertPosClosed('),
    ],
    // fast in-process specs first: Stryker stops a mutant's run at its first failing test
    spec: ['test/backup/dist/verify-units.test.js', 'test/backup/dist/readback-units.test.js', 'test/backup/dist/units.test.js', 'test/backup/dist/restore-swap.test.js', 'test/backup/dist/create.test.js'],
    // of create.test only its "restore (service, real files)" part: the backup-creation tests (a register
    // stand-in committing while the snapshot runs) cover the pipeline, not these checks, and take minutes per run
    grep: '^backup: (verifying|building blocks|restore|the read-back)',
  },
  'update-signature': {
    what: 'update feed signature (Ed25519), schema, expiry, anti-rollback; package download size and SHA-256 checks',
    mutate: () => ['plugins/update/dist/src/feed.js', 'plugins/update/dist/src/download.js'],
    spec: ['test/update/dist/feed-units.test.js', 'test/update/dist/download-units.test.js'],
    timeoutMS: 10_000,
  },
  'usb-writer': {
    what: 'the USB writer (verified copy, space, retention, FAT32 limits)',
    mutate: () => ['plugins/usb/dist/src/writer.js'],
    spec: ['test/usb/dist/writer.test.js', 'test/usb/dist/writer-edges.test.js', 'test/usb/dist/readback.test.js', 'test/usb/dist/policy.test.js'],
  },
  'cloud-verify': {
    what: 'cloud copies: age recipients are public keys only, a copy counts as sent only when size, SHA-256 and Content-MD5/ETag match, retention keeps the newest verified copy',
    mutate: () => [
      'plugins/cloud/dist/src/upload.js', 'plugins/cloud/dist/src/retention.js',
      between('plugins/cloud/dist/src/s3.js', 'export function createClient', null),
      between('plugins/cloud/dist/src/settings.js', 'export function splitRecipients', 'export function slug'),
      between('plugins/cloud/dist/src/settings.js', 'export function missingSettings', null),
    ],
    spec: ['test/cloud/dist/rules-units.test.js', 'test/cloud/dist/verify-units.test.js'],
    timeoutMS: 10_000,
  },
  'sdk-retention': {
    what: "the grandfather-father-son retention every target shares (local folder, USB stick, cloud): what may be deleted, never the newest or a protected copy",
    mutate: () => ['sdk/dist/retention.js'],
    spec: ['test/cloud/dist/rules-units.test.js', 'test/backup/dist/units.test.js'],
    // of units.test only its retention cases (the rest builds snapshots and POS databases)
    grep: '(cloud: retention|backup: building blocks retention)',
    timeoutMS: 10_000,
  },
  'ftp-tls': {
    what: "the FTP connection's TLS checks (CA, pinned fingerprint on control and data connections)",
    // the trust decisions only: CAs, TLS options, the TLS upgrade, fingerprints (control and data connections), what
    // counts as a TLS error; the fingerprint and CA settings. Not: reply sniffing, which phase a connect failure is
    // reported in, and probeFingerprint (it only shows the fingerprint in a message): error wording.
    mutate: () => {
      const C = 'plugins/backup/dist/src/ftp/connection.js';
      const S = 'plugins/backup/dist/src/ftp/settings.js';
      return [
        between(C, 'let systemCaCache', 'function mark('),
        between(C, 'const checkPin = (socket)', 'try {'),
        between(C, "if (s.tls === 'explicit')", "ftp.socket.prependListener('data', sniff)"),
        between(C, 'export function isTlsError', 'export async function probeFingerprint'),
        between(S, 'export function normalizeFingerprint', 'export function readFtpSettings'),
        between(S, "const fp = str(view.get('ftpFingerprint'))", null),
      ];
    },
    spec: ['test/backup/dist/ftp-units.test.js', 'test/backup/dist/ftp-tls-units.test.js', 'test/backup/dist/ftp-data-pin.test.js', 'test/backup/dist/ftp.test.js'],
    // only the tests that reach the trust decisions: not the target's retry, resume, permission and retention
    // tests (minutes per mutant, and a runner Stryker kills on a timeout would leave the disk-full tmpfs mounted)
    grep: '^(?!.*(server killed mid-upload|server stopped mid-upload|disk full on the server|cancel through the AbortSignal|against an implicit-only server|retries a refused connection|unknown server name|missing write permission|never renames an upload|keeps the newest ftpKeep|sending the same backup again|availability))',
  },
};

const args = process.argv.slice(2);
if (args.includes('--list')) {
  for (const [name, m] of Object.entries(MODULES)) console.log(`${name.padEnd(18)} ${m.what}\n${' '.repeat(19)}mutate: ${m.mutate().join(', ')}\n${' '.repeat(19)}specs:  ${m.spec.join(', ')}`);
  process.exit(0);
}
if (args.includes('--survivors')) {
  // the mutants a finished run left alive, from its JSON report: file:line, mutator, original → replacement
  for (const name of args.filter((a) => !a.startsWith('--'))) {
    const report = JSON.parse(readFileSync(join(ROOT, 'reports', 'mutation', name, 'mutation.json'), 'utf8'));
    console.log(`== ${name}`);
    for (const [file, f] of Object.entries(report.files)) {
      const lines = f.source.split('\n');
      for (const m of f.mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
        const l = m.location.start;
        const original = lines[l.line - 1].slice(l.column - 1, m.location.end.line === l.line ? m.location.end.column - 1 : undefined).trim();
        console.log(`${file}:${l.line} ${m.status} ${m.mutatorName}: ${original.slice(0, 80)} → ${String(m.replacement).slice(0, 80)}`);
      }
    }
  }
  process.exit(0);
}
const smoke = args.includes('--smoke');
const ci = args.indexOf('--concurrency');
const concurrency = ci >= 0 ? Number(args.splice(ci, 2)[1]) : undefined;
if (concurrency !== undefined && !(concurrency >= 1 && concurrency <= 2)) { console.error('--concurrency: 1 or 2'); process.exit(2); }
const named = args.filter((a) => !a.startsWith('--'));
for (const n of named) if (!MODULES[n]) { console.error(`Unknown module ${n}; known: ${Object.keys(MODULES).join(', ')}`); process.exit(2); }
// the smoke run takes two small modules, so that one `npm run mutation` over several modules is in the normal suite too
const selected = smoke ? ['ftp-names', 'host-quarantine'] : named.length ? named : Object.keys(MODULES);
const threshold = Number(process.env.KW_MUTATION_THRESHOLD ?? 80);

if (!args.includes('--no-build')) {
  const b = spawnSync('npx', ['tsc', '-b'], { stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

// mocha-runner 9 with mocha 12: see scripts/mocha12-compat.cjs (this process, and every worker Stryker forks)
const COMPAT = join(ROOT, 'scripts', 'mocha12-compat.cjs');
createRequire(import.meta.url)(COMPAT);
process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --require "${COMPAT}"`.trim();
const { Stryker } = await import('@stryker-mutator/core');
// The shared settings are NOT in a file Stryker finds by itself (stryker.config.mjs & co.): Stryker would import it
// once per process and merge each run's options INTO its nested objects (mochaOptions, …), so a second module of
// the same `npm run mutation` would inherit the first one's grep or fail in Stryker's config merge. Each module
// gets its own deep copy of these settings instead.
const shared = (await import(join(ROOT, 'mutation.config.mjs'))).default;

/** Mutation score as Stryker defines it: detected / (detected + undetected), invalid mutants left out. */
function score(results) {
  const count = (s) => results.filter((r) => r.status === s).length;
  const detected = count('Killed') + count('Timeout');
  const undetected = count('Survived') + count('NoCoverage');
  return {
    mutants: results.length, killed: count('Killed'), timeout: count('Timeout'), survived: count('Survived'),
    noCoverage: count('NoCoverage'), errors: count('RuntimeError') + count('CompileError'), ignored: count('Ignored'),
    score: detected + undetected ? Math.round((detected / (detected + undetected)) * 1000) / 10 : 100,
  };
}

const summary = {};
let failed = false;
for (const name of selected) {
  const m = MODULES[name];
  const started = Date.now();
  console.log(`\n=== mutation: ${name} — ${m.what}`);
  const dir = join(ROOT, 'reports', 'mutation', name);
  mkdirSync(dir, { recursive: true });
  const base = structuredClone(shared);
  const options = {
    ...base,
    mutate: m.mutate(),
    ...(concurrency ? { concurrency } : {}),
    mochaOptions: { ...base.mochaOptions, spec: m.spec, ...(m.grep ? { grep: m.grep } : {}) },
    // a mutant that makes a promise never settle costs net time × timeoutFactor + timeoutMS: short for unit modules
    ...(m.timeoutMS ? { timeoutMS: m.timeoutMS } : {}),
    ...(m.sandboxSkip ? { ignorePatterns: [...base.ignorePatterns, ...m.sandboxSkip.map((p) => '/' + p)] } : {}),
    htmlReporter: { fileName: join('reports', 'mutation', name, 'index.html') },
    jsonReporter: { fileName: join('reports', 'mutation', name, 'mutation.json') },
    // a smoke run stays quiet; a full run shows the surviving mutants in the terminal
    reporters: smoke ? ['json'] : base.reporters,
    clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true, reportMutants: true },
    logLevel: smoke ? 'warn' : 'info',
    fileLogLevel: 'off',
  };
  let results;
  try {
    results = await new Stryker(options).runMutationTest();
  } catch (e) {
    console.error(`mutation run of ${name} failed: ${e?.stack ?? e}`);
    summary[name] = { error: String(e?.message ?? e) };
    failed = true;
    continue;
  }
  // the machine's load (1-minute average) at the end of the run: the minutes mean little without it
  const s = { ...score(results), minutes: Math.round((Date.now() - started) / 6000) / 10, load: Math.round(loadavg()[0] * 10) / 10, at: new Date().toISOString() };
  summary[name] = s;
  if (s.score < threshold) failed = true;
  console.log(`=== ${name}: ${s.score} % (${s.killed} killed, ${s.timeout} timeout, ${s.survived} survived, ${s.noCoverage} no coverage) in ${s.minutes} min`);
}

mkdirSync(join(ROOT, 'reports', 'mutation'), { recursive: true });
// modules run one at a time add up in one summary (a module's entry is replaced by its newest run)
const summaryFile = join(ROOT, 'reports', 'mutation', smoke ? 'summary-smoke.json' : 'summary.json');
// (the smoke summary is always this run's alone: its test must not read an earlier run's figures)
const earlier = !smoke && existsSync(summaryFile) ? JSON.parse(readFileSync(summaryFile, 'utf8')) : {};
writeFileSync(summaryFile, JSON.stringify({ ...earlier, ...summary }, null, 2) + '\n');
console.log('\nmodule             score   killed timeout survived nocov  minutes');
for (const [name, s] of Object.entries(summary)) {
  if (s.error) { console.log(`${name.padEnd(18)} ERROR   ${s.error}`); continue; }
  console.log(`${name.padEnd(18)} ${String(s.score).padStart(5)} % ${String(s.killed).padStart(6)} ${String(s.timeout).padStart(7)} ${String(s.survived).padStart(8)} ${String(s.noCoverage).padStart(5)}  ${s.minutes}`);
}
console.log(`threshold ${threshold} %: ${failed ? 'NOT reached by every module' : 'reached'}`);
process.exit(failed ? 1 : 0);
