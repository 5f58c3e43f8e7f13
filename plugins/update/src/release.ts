/**
 * Vendor commands: `kassenwart release keygen|build|sign`. They publish a feed folder (index.json,
 * index.json.sig, packages) that any static web server can serve.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { createGzip } from 'node:zlib';
import semver from 'semver';
import * as tar from 'tar';
import { UserError, fsyncDir, germanArgsError, isUserError, writeFileAtomic, type CommandIO } from 'kassenwart/sdk';
import { verifyIndex, type Channel, type ReleaseEntry, type ReleaseIndex } from './feed.js';

/** File names inside a feed folder. */
export const INDEX_FILE = 'index.json';
export const SIGNATURE_FILE = 'index.json.sig';
/** File names keygen writes. */
export const PRIVATE_KEY_FILE = 'kassenwart-release.key';
export const PUBLIC_KEY_FILE = 'kassenwart-release.pub';

/** Top-level entries never packaged (besides package.json, which is rewritten with the release version). */
const EXCLUDED_TOP = new Set(['.git', '.ci', 'test', 'test-output', 'data', 'bench', 'package.json', '.gitignore', '.mocharc.json']);

const USAGE = `Verwendung:
  kassenwart release keygen --out DIR
  kassenwart release build --key PRIVATE_KEY --out DIR [--version V] [--changes FILE] [--channel stable|beta] [--source DIR] [--expires-days N] [--requires kasse=V]
  kassenwart release build --component kasse --package DIR --version V --key PRIVATE_KEY --out DIR [--migrations DIR] [--checks DIR] [--changes FILE] [--requires kassenwart=V]
  kassenwart release sign --key PRIVATE_KEY --out DIR [--expires-days N]
`;

/** The `release` command handler. */
export async function releaseCommand(args: string[], io: CommandIO, defaultSource: string): Promise<number> {
  const [sub, ...rest] = args;
  try {
    const { values } = parseArgs({
      args: rest, strict: true, allowPositionals: false,
      options: {
        out: { type: 'string' }, key: { type: 'string' }, version: { type: 'string' }, changes: { type: 'string' },
        channel: { type: 'string' }, source: { type: 'string' }, 'expires-days': { type: 'string' }, data: { type: 'string' },
        component: { type: 'string' }, package: { type: 'string' }, migrations: { type: 'string' }, checks: { type: 'string' },
        requires: { type: 'string', multiple: true },
      },
    });
    const expiresDays = values['expires-days'] !== undefined ? Number(values['expires-days']) : 90;
    if (!Number.isInteger(expiresDays) || expiresDays < 1) throw usage('--expires-days erwartet eine ganze Zahl ≥ 1.');
    if (sub === 'keygen') {
      if (!values.out) throw usage('--out DIR fehlt.');
      const r = await keygen(values.out);
      io.stdout.write(`Schlüsselpaar erzeugt:\n  privat (geheim halten!): ${r.privateKeyFile}\n  öffentlich: ${r.publicKeyFile}\n` +
        `Öffentlicher Schlüssel für die Einstellung „Vertrauenswürdige Schlüssel“ (update.publicKeys):\n${r.publicKeyBase64}\n`);
      return 0;
    }
    if (sub === 'build') {
      if (!values.key || !values.out) throw usage('--key und --out sind nötig.');
      const channel = (values.channel ?? 'stable') as Channel;
      if (channel !== 'stable' && channel !== 'beta') throw usage('--channel ist stable oder beta.');
      const requires = parseRequires(values.requires ?? []);
      const component = values.component ?? 'kassenwart';
      if (component !== 'kassenwart' && component !== 'kasse') throw usage('--component ist kassenwart oder kasse.');
      if (component === 'kasse') {
        if (!values.package || !values.version) throw usage('Für --component kasse sind --package DIR und --version V nötig.');
        const { buildRegisterRelease } = await import('./release-kasse.js');
        const r = await buildRegisterRelease({
          keyFile: values.key, outDir: values.out, version: values.version, changesFile: values.changes, channel, expiresDays,
          packageDir: values.package, migrationsDir: values.migrations, checksDir: values.checks, requires,
        });
        io.stdout.write(`Kassensoftware ${r.entry.version} (${r.entry.channel}) veröffentlicht in ${resolve(values.out)}:\n` +
          `  Paket: ${r.packageFile} (${r.entry.size} Bytes, SHA-256 ${r.entry.sha256})\n  Datenbank-Anpassungen: ${r.entry.migrations?.length ?? 0} (neu: ${r.added.join(', ') || 'keine'})\n` +
          `  Index Nr. ${r.index.sequence}, gültig bis ${r.index.expires}\n`);
        return 0;
      }
      const r = await buildRelease({
        keyFile: values.key, outDir: values.out, version: values.version, changesFile: values.changes, channel,
        sourceDir: values.source ?? defaultSource, expiresDays, requires,
      });
      io.stdout.write(`Release ${r.entry.version} (${r.entry.channel}) veröffentlicht in ${resolve(values.out)}:\n` +
        `  Paket: ${r.packageFile} (${r.entry.size} Bytes, SHA-256 ${r.entry.sha256})\n  Index Nr. ${r.index.sequence}, gültig bis ${r.index.expires}\n`);
      return 0;
    }
    if (sub === 'sign') {
      if (!values.key || !values.out) throw usage('--key und --out sind nötig.');
      const index = await resignIndex(values.key, values.out, expiresDays);
      io.stdout.write(`Index Nr. ${index.sequence} neu signiert, gültig bis ${index.expires}.\n`);
      return 0;
    }
    io.stderr.write(USAGE);
    return sub === undefined || sub === '--help' || sub === 'help' ? 0 : 2;
  } catch (e) {
    if (isUserError(e)) {
      io.stderr.write(`Fehler: ${e.message}\n${e.hint ? `Hinweis: ${e.hint}\n` : ''}`);
      return e.code === 'release.usage' ? 2 : 1;
    }
    if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`Falscher Aufruf: ${germanArgsError(e)}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

/** `--requires kasse=1.2.0` (repeatable) → { kasse: "1.2.0" }: minimum versions of the other components. */
export function parseRequires(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const m = /^(kassenwart|kasse)=(.+)$/.exec(item.trim());
    if (!m || !semver.valid(m[2])) throw usage(`--requires „${item}“: erwartet kassenwart=VERSION oder kasse=VERSION (z. B. kasse=1.2.0).`);
    out[m[1]] = m[2];
  }
  return out;
}

export function usage(message: string): UserError {
  return new UserError(message, { code: 'release.usage', hint: USAGE.trim() });
}

/** Creates an Ed25519 key pair in `outDir`; refuses to overwrite an existing private key. */
export async function keygen(outDir: string): Promise<{ privateKeyFile: string; publicKeyFile: string; publicKeyBase64: string }> {
  const privateKeyFile = resolve(outDir, PRIVATE_KEY_FILE);
  const publicKeyFile = resolve(outDir, PUBLIC_KEY_FILE);
  if (await exists(privateKeyFile)) {
    throw new UserError(`${privateKeyFile} gibt es schon; ein vorhandener Schlüssel wird nie überschrieben.`, {
      code: 'release.key-exists', hint: 'Anderen Ordner wählen oder den alten Schlüssel bewusst selbst entfernen.',
    });
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 0o600);
  await writeFileAtomic(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }) as string, 0o644);
  return { privateKeyFile, publicKeyFile, publicKeyBase64: (publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('base64') };
}

export async function loadPrivateKey(file: string): Promise<KeyObject> {
  let key: KeyObject;
  try {
    key = createPrivateKey(await readFile(file));
  } catch (e) {
    throw new UserError(`Der private Schlüssel ${file} lässt sich nicht lesen (${(e as Error).message}).`, { code: 'release.key-invalid', hint: 'Mit „kassenwart release keygen --out DIR“ erzeugen.' });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UserError(`${file} ist kein Ed25519-Schlüssel.`, { code: 'release.key-invalid' });
  return key;
}

/** Reads and verifies the feed's current index with the public half of `key` (none yet = undefined). */
export async function readOwnIndex(outDir: string, key: KeyObject): Promise<ReleaseIndex | undefined> {
  let bytes: Buffer;
  try { bytes = await readFile(join(outDir, INDEX_FILE)); } catch { return undefined; }
  const sig = await readFile(join(outDir, SIGNATURE_FILE), 'utf8').catch(() => '');
  try {
    // Expiry is irrelevant here: re-publishing an expired index is exactly how it is renewed.
    return verifyIndex(bytes, sig, [createPublicKey(key)], { now: new Date(0) }).index;
  } catch (e) {
    throw new UserError(`Der vorhandene Index in ${outDir} ist nicht mit diesem Schlüssel signiert oder beschädigt (${(e as Error).message}). Es wurde nichts geändert.`, {
      code: 'release.index-foreign', hint: 'Den richtigen Schlüssel angeben oder einen neuen, leeren Ordner verwenden.',
    });
  }
}

/** Writes index.json and its signature (both to temp names first, then renamed, signature last). */
export async function writeSignedIndex(outDir: string, index: ReleaseIndex, key: KeyObject): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(index, null, 2) + '\n', 'utf8');
  const signature = sign(null, bytes, key).toString('base64') + '\n';
  await writeFileAtomic(join(outDir, INDEX_FILE), bytes);
  await writeFileAtomic(join(outDir, SIGNATURE_FILE), signature);
}

/** Re-signs the index with a higher sequence and a new expiry (e.g. monthly, so installations keep trusting it). */
export async function resignIndex(keyFile: string, outDir: string, expiresDays: number): Promise<ReleaseIndex> {
  const key = await loadPrivateKey(keyFile);
  const old = await readOwnIndex(outDir, key);
  if (!old) throw new UserError(`In ${outDir} gibt es noch keinen Index.`, { code: 'release.no-index', hint: 'Zuerst „kassenwart release build“ ausführen.' });
  const now = new Date();
  const index: ReleaseIndex = { ...old, sequence: old.sequence + 1, issuedAt: now.toISOString(), expires: new Date(now.getTime() + expiresDays * 86_400_000).toISOString() };
  await writeSignedIndex(outDir, index, key);
  return index;
}

/** Parses a changes file: JSON {"kassenwart": [...], "<plugin id>": [...]}, or text lines ("backup: …" goes to plugin backup). */
export async function readChanges(file: string | undefined, knownIds: string[]): Promise<Record<string, string[]>> {
  if (!file) return {};
  let text: string;
  try { text = await readFile(file, 'utf8'); } catch (e) {
    throw new UserError(`Die Änderungsdatei ${file} lässt sich nicht lesen (${(e as Error).message}).`, { code: 'release.changes' });
  }
  if (text.trimStart().startsWith('{')) {
    let parsed: unknown;
    try { parsed = JSON.parse(text); } catch (e) { throw new UserError(`${file}: kein gültiges JSON (${(e as Error).message}).`, { code: 'release.changes' }); }
    const ok = parsed && typeof parsed === 'object' && Object.values(parsed).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'));
    if (!ok) throw new UserError(`${file}: erwartet {"kassenwart": ["…"], "<Plugin-ID>": ["…"]}.`, { code: 'release.changes' });
    return parsed as Record<string, string[]>;
  }
  const out: Record<string, string[]> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/^\s*[-*]\s*/, '').trim();
    if (!line) continue;
    const m = /^([a-z][a-z0-9-]*):\s+(.+)$/.exec(line);
    const [id, note] = m && knownIds.includes(m[1]) ? [m[1], m[2]] : ['kassenwart', line];
    (out[id] ??= []).push(note);
  }
  return out;
}

async function exists(p: string): Promise<boolean> {
  return access(p).then(() => true, () => false);
}

/**
 * Paths (relative, "/"-separated) of the packages in node_modules needed at run time: the lockfile's entries not
 * marked "dev". Anything else in node_modules (dev tools, extraneous packages) is left out of a release.
 */
async function runtimePackages(sourceDir: string): Promise<string[]> {
  let lock: { packages?: Record<string, { dev?: boolean }> };
  try {
    lock = JSON.parse(await readFile(join(sourceDir, 'package-lock.json'), 'utf8'));
  } catch {
    throw new UserError(`${sourceDir} hat keine lesbare package-lock.json; ohne sie ist unklar, welche Pakete ein Release braucht.`, {
      code: 'release.no-lockfile', hint: 'Im Repository „npm install“ ausführen.',
    });
  }
  return Object.entries(lock.packages ?? {}).filter(([p, v]) => p.startsWith('node_modules/') && !v.dev).map(([p]) => p);
}

/**
 * Publishes a built package: hashes it, makes it durable and renames it from its staging name to its final name
 * (never a half-written file under the final name). Returns its size and SHA-256 for the signed index.
 */
export async function publishPackage(tmpGz: string, packageFile: string, outDir: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(tmpGz), hash);
  const size = (await stat(tmpGz)).size;
  const fh = await open(tmpGz, 'r');
  await fh.sync();
  await fh.close();
  await rename(tmpGz, packageFile);
  await fsyncDir(outDir);
  return { size, sha256: hash.digest('hex') };
}

export interface BuildOptions {
  keyFile: string;
  outDir: string;
  sourceDir: string;
  version?: string;
  changesFile?: string;
  channel: Channel;
  expiresDays: number;
  /** Minimum versions of the other components (kasse). */
  requires?: Record<string, string>;
}

/**
 * Packages the built repository at `sourceDir` as kassenwart-<version>.tar.gz in `outDir` (with the built
 * dist/ folders and the production node_modules, so it runs offline; without tests and dev packages), adds it
 * to the index and signs the index.
 */
export async function buildRelease(o: BuildOptions): Promise<{ entry: ReleaseEntry; index: ReleaseIndex; packageFile: string }> {
  const key = await loadPrivateKey(o.keyFile);
  const source = resolve(o.sourceDir);
  const pkg = JSON.parse(await readFile(join(source, 'package.json'), 'utf8').catch(() => '{}')) as Record<string, unknown>;
  if (pkg.name !== 'kassenwart') throw new UserError(`${source} ist kein Kassenwart-Quellordner (package.json fehlt oder heißt anders).`, { code: 'release.source', hint: 'Mit --source den Repository-Ordner angeben.' });
  const version = o.version ?? String(pkg.version);
  if (!semver.valid(version)) throw usage(`„${version}“ ist keine gültige Versionsnummer (z. B. 1.2.0).`);
  if (!(await exists(join(source, 'bin', 'kassenwart.js')))) {
    throw new UserError(`${source} enthält kein bin/kassenwart.js.`, { code: 'release.source', hint: 'Im Repository-Ordner ausführen bzw. --source angeben.' });
  }
  if ((await exists(join(source, 'host'))) && !(await exists(join(source, 'host', 'dist')))) {
    throw new UserError(`${source} ist nicht gebaut (host/dist fehlt).`, { code: 'release.not-built', hint: 'Zuerst „npm run build“ ausführen.' });
  }
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const old = await readOwnIndex(outDir, key);
  if (old?.releases.some((r) => r.version === version && (r.component ?? 'kassenwart') === 'kassenwart')) {
    throw new UserError(`Version ${version} ist in diesem Index schon veröffentlicht.`, { code: 'release.exists', hint: 'Eine höhere Versionsnummer mit --version angeben.' });
  }
  const pluginIds = (await readdir(join(source, 'plugins')).catch(() => [] as string[]));
  const changes = await readChanges(o.changesFile, ['kassenwart', ...pluginIds]);

  // Package: everything but the excluded top-level entries, dev packages, build caches and the feed folder itself.
  const runtime = await runtimePackages(source);
  const outRel = relative(source, outDir).split(sep).join('/');
  const skip = (p: string): boolean => {
    const rel = p.replace(/^\.\//, '');
    if (rel.endsWith('.tsbuildinfo')) return true;
    if (outRel && !outRel.startsWith('..') && (rel === outRel || rel.startsWith(outRel + '/'))) return true;
    if (rel === 'node_modules') return false;
    if (rel.startsWith('node_modules/')) {
      // Keep run-time packages and the folders on the way to them (node_modules/@koa, …/node_modules).
      return !runtime.some((r) => rel === r || rel.startsWith(r + '/') || r.startsWith(rel + '/'));
    }
    return false;
  };
  const top = (await readdir(source)).filter((n) => !EXCLUDED_TOP.has(n)).sort();
  const staging = await mkdtemp(join(outDir, '.tmp-build-'));
  const packageFile = join(outDir, `kassenwart-${version}.tar.gz`);
  try {
    const plainTar = join(staging, 'package.tar');
    await tar.c({ file: plainTar, cwd: source, portable: true, filter: (p) => !skip(p) }, top);
    await writeFile(join(staging, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2) + '\n');
    await tar.r({ file: plainTar, cwd: staging, portable: true }, ['package.json']);
    const tmpGz = join(staging, basename(packageFile));
    await pipeline(createReadStream(plainTar), createGzip({ level: 6 }), createWriteStream(tmpGz));
    const { size, sha256 } = await publishPackage(tmpGz, packageFile, outDir);
    const now = new Date();
    // Display names of the plugins whose notes are listed, so installations show "Datensicherung", not "backup".
    const labels: Record<string, string> = {};
    for (const id of Object.keys(changes)) {
      const name = (JSON.parse(await readFile(join(source, 'plugins', id, 'plugin.json'), 'utf8').catch(() => '{}')) as { displayName?: string }).displayName;
      if (name) labels[id] = name;
    }
    const entry: ReleaseEntry = {
      version, channel: o.channel, date: now.toISOString(), changes, url: basename(packageFile), size, sha256,
      ...(o.requires && Object.keys(o.requires).length ? { requires: o.requires } : {}),
      ...(Object.keys(labels).length ? { labels } : {}),
    };
    const index: ReleaseIndex = {
      format: 1, product: 'kassenwart', sequence: (old?.sequence ?? 0) + 1, issuedAt: now.toISOString(),
      expires: new Date(now.getTime() + o.expiresDays * 86_400_000).toISOString(),
      releases: [entry, ...(old?.releases ?? [])].sort((a, b) => semver.rcompare(a.version, b.version)),
    };
    await writeSignedIndex(outDir, index, key);
    return { entry, index, packageFile };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
