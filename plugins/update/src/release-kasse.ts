/**
 * Vendor side for the register: `kassenwart release build --component kasse --package DIR …` publishes a
 * register release into the same signed feed as Kassenwart's own (same keys, same index).
 *
 * The package is a gzip tar of the register's program folder with `migrations/` (every migration the register
 * ever had, `NNN-description.sql`, numbers strictly increasing) and optional `checks/` (queries that must
 * return 1 on a migrated database). Refused: migrations not strictly ordered, a migration of an already
 * published release that was changed or removed, and new migrations that do not apply cleanly to the previous
 * release's schema — built from scratch in an in-memory database here, before anything is published.
 */
import { cp, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import semver from 'semver';
import * as tar from 'tar';
import { UserError } from 'kassenwart/sdk';
import { componentOf, type Channel, type MigrationEntry, type ReleaseEntry, type ReleaseIndex } from './feed.js';
import { loadPrivateKey, publishPackage, readChanges, readOwnIndex, usage, writeSignedIndex } from './release.js';
import { Database, MigrationError, applyTo, listChecks, listMigrations, orderProblems, sha256File } from './register/migrate.js';

export interface RegisterBuildOptions {
  keyFile: string;
  outDir: string;
  version: string;
  packageDir: string;
  /** Default: <packageDir>/migrations. */
  migrationsDir?: string;
  /** Default: <packageDir>/checks. */
  checksDir?: string;
  changesFile?: string;
  channel: Channel;
  expiresDays: number;
  requires?: Record<string, string>;
}

function refuse(message: string, hint = 'Bitte die Datenbank-Anpassungen korrigieren; es wurde nichts veröffentlicht.'): UserError {
  return new UserError(message, { code: 'release.kasse-migrations', hint });
}

export async function buildRegisterRelease(o: RegisterBuildOptions): Promise<{ entry: ReleaseEntry; index: ReleaseIndex; packageFile: string; added: string[] }> {
  const key = await loadPrivateKey(o.keyFile);
  const version = o.version;
  if (!semver.valid(version)) throw usage(`„${version}“ ist keine gültige Versionsnummer (z. B. 1.2.0).`);
  const pkgDir = resolve(o.packageDir);
  if (!(await stat(pkgDir).then((s) => s.isDirectory(), () => false))) throw usage(`Der Paketordner ${pkgDir} existiert nicht.`);
  const migDir = resolve(o.migrationsDir ?? join(pkgDir, 'migrations'));
  const checksDir = resolve(o.checksDir ?? join(pkgDir, 'checks'));
  const outDir = resolve(o.outDir);
  await mkdir(outDir, { recursive: true });
  const old = await readOwnIndex(outDir, key);
  const published = (old?.releases ?? []).filter((r) => componentOf(r) === 'kasse');
  if (published.some((r) => r.version === version)) {
    throw new UserError(`Kassensoftware ${version} ist in diesem Index schon veröffentlicht.`, { code: 'release.exists', hint: 'Eine höhere Versionsnummer mit --version angeben.' });
  }
  const prev = published.filter((r) => semver.valid(r.version)).sort((a, b) => semver.rcompare(a.version, b.version))[0];
  if (prev && semver.lt(version, prev.version)) {
    throw new UserError(`Kassensoftware ${version} ist älter als die zuletzt veröffentlichte Version ${prev.version}.`, { code: 'release.older', hint: 'Register-Releases bauen aufeinander auf: eine höhere Versionsnummer angeben.' });
  }

  // Migrations: strictly ordered; the published ones unchanged; the new ones apply to the previous schema.
  const names = await readdir(migDir).then((n) => n.filter((x) => x.endsWith('.sql')), () => [] as string[]);
  const problems = orderProblems(names);
  if (problems.length) throw refuse(`Die Datenbank-Anpassungen in ${migDir} sind nicht streng geordnet: ${problems.join('; ')}.`);
  const files = await listMigrations(migDir);
  const list: MigrationEntry[] = await Promise.all(files.map(async (f) => ({ name: f.name, sha256: await sha256File(f.path) })));
  const before = prev?.migrations ?? [];
  for (let i = 0; i < before.length; i++) {
    if (list[i]?.name !== before[i].name || list[i]?.sha256 !== before[i].sha256) {
      throw refuse(`Die Datenbank-Anpassung „${before[i].name}“ der veröffentlichten Version ${prev!.version} fehlt oder wurde verändert (gefunden: ${list[i]?.name ?? 'nichts'}). Veröffentlichte Anpassungen dürfen sich nicht mehr ändern.`,
        'Änderungen als neue Datei mit höherer Nummer anlegen; es wurde nichts veröffentlicht.');
    }
  }
  const added = files.slice(before.length);
  const checks = await listChecks(checksDir);
  const scratch = new Database(':memory:');
  try {
    try {
      await applyTo(scratch, files.slice(0, before.length), () => {});
    } catch (e) {
      throw refuse(`Das Schema der Version ${prev?.version} lässt sich nicht aufbauen (${(e as Error).message}).`);
    }
    try {
      await applyTo(scratch, added, () => {});
      for (const c of checks) scratch.prepare(c.sql); // checks must at least compile against the new schema
    } catch (e) {
      const why = e instanceof MigrationError ? e.message : `Prüfung: ${(e as Error).message}`;
      throw refuse(`Version ${version} lässt sich nicht sauber auf das Schema von ${prev ? `Version ${prev.version}` : 'einer leeren Datenbank'} anwenden: ${why}.`);
    }
  } finally {
    scratch.close();
  }
  const changes = await readChanges(o.changesFile, []);
  // Text notes all belong to the register.
  if (changes.kassenwart && Object.keys(changes).length === 1) { changes.kasse = changes.kassenwart; delete changes.kassenwart; }

  const staging = await mkdtemp(join(outDir, '.tmp-build-'));
  const packageFile = join(outDir, `kasse-${version}.tar.gz`);
  try {
    const tree = join(staging, 'tree');
    await cp(pkgDir, tree, { recursive: true });
    if (migDir !== join(pkgDir, 'migrations')) { await rm(join(tree, 'migrations'), { recursive: true, force: true }); if (files.length) await cp(migDir, join(tree, 'migrations'), { recursive: true }); }
    if (checksDir !== join(pkgDir, 'checks') && checks.length) { await rm(join(tree, 'checks'), { recursive: true, force: true }); await cp(checksDir, join(tree, 'checks'), { recursive: true }); }
    const tmpGz = join(staging, basename(packageFile));
    await tar.c({ file: tmpGz, cwd: tree, gzip: true, portable: true }, await readdir(tree));
    const { size, sha256 } = await publishPackage(tmpGz, packageFile, outDir);
    const now = new Date();
    const entry: ReleaseEntry = {
      component: 'kasse', version, channel: o.channel, date: now.toISOString(), changes, url: basename(packageFile), size, sha256,
      migrations: list, labels: { kasse: 'Kassensoftware' },
      ...(o.requires && Object.keys(o.requires).length ? { requires: o.requires } : {}),
    };
    const index: ReleaseIndex = {
      format: 1, product: 'kassenwart', sequence: (old?.sequence ?? 0) + 1, issuedAt: now.toISOString(),
      expires: new Date(now.getTime() + o.expiresDays * 86_400_000).toISOString(),
      releases: [entry, ...(old?.releases ?? [])].sort((a, b) => semver.rcompare(a.version, b.version)),
    };
    await writeSignedIndex(outDir, index, key);
    return { entry, index, packageFile, added: added.map((a) => a.name) };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

