/** The vendor side for the register: `kassenwart release build --component kasse` and what it refuses. */
import { expect } from 'chai';
import { readFile, readdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { releaseCommand } from '../../../plugins/update/dist/src/release.js';
import { verifyIndex, parsePublicKeys } from '../../../plugins/update/dist/src/feed.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { makeKeys, standInTree, REPO } from './register-harness.js';

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } } } as any,
    out: () => out,
    err: () => err,
  };
}

describe('update: publishing register releases (kassenwart release build --component kasse)', function () {
  this.timeout(120_000);
  let root: string;
  let keys: { keyFile: string; publicKey: string };
  let feed: string;
  beforeEach(async () => {
    root = await tempDir('kw-kasse-release-');
    keys = await makeKeys(join(root, 'keys'));
    feed = join(root, 'feed');
  });
  afterEach(async () => { await removeDir(root); });

  async function build(version: string, tree: string, extra: string[] = []) {
    const c = io();
    await writeFile(join(root, 'CHANGES.txt'), `Änderung in ${version}\n`);
    const code = await releaseCommand(['build', '--component', 'kasse', '--package', tree, '--version', version, '--changes', join(root, 'CHANGES.txt'),
      '--key', keys.keyFile, '--out', feed, ...extra], c.io, REPO);
    return { code, out: c.out(), err: c.err() };
  }
  const index = async () => verifyIndex(await readFile(join(feed, 'index.json')), await readFile(join(feed, 'index.json.sig'), 'utf8'), parsePublicKeys(keys.publicKey)).index;

  it('publishes into the same signed index: package with program and migrations, the migration list, notes, minimum versions', async () => {
    const r1 = await build('1.1.0', await standInTree(join(root, 't1'), '1.1.0'), ['--requires', 'kassenwart=1.0.0']);
    expect(r1.code, r1.err).to.equal(0);
    expect(r1.out).to.contain('Kassensoftware 1.1.0 (stable) veröffentlicht').and.contain('neu: 001-receipts.sql, 002-tip.sql');
    const r2 = await build('1.2.0', await standInTree(join(root, 't2'), '1.2.0'));
    expect(r2.code, r2.err).to.equal(0);
    expect(r2.out).to.contain('neu: 003-customers.sql');
    const ix = await index();
    expect(ix.sequence).to.equal(2);
    const e = ix.releases.find((r) => r.version === '1.1.0')!;
    expect(e).to.include({ component: 'kasse', url: 'kasse-1.1.0.tar.gz' });
    expect(e.requires).to.deep.equal({ kassenwart: '1.0.0' });
    expect(e.changes).to.deep.equal({ kasse: ['Änderung in 1.1.0'] });
    expect(ix.releases.find((r) => r.version === '1.2.0')!.migrations!.map((m) => m.name)).to.deep.equal(['001-receipts.sql', '002-tip.sql', '003-customers.sql']);
    const entries: string[] = [];
    await tar.t({ file: join(feed, 'kasse-1.2.0.tar.gz'), onReadEntry: (en) => { entries.push(en.path); } });
    expect(entries).to.include.members(['kasse.mjs', 'package.json', 'migrations/003-customers.sql']);
  });

  it('refuses migrations that are not strictly ordered (two with one number), and publishes nothing', async () => {
    const tree = await standInTree(join(root, 't'), '1.1.0', { extra: { '002-other.sql': 'CREATE TABLE x (id INTEGER);' } });
    const r = await build('1.1.0', tree);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('nicht streng geordnet').and.contain('„002-other.sql“ und „002-tip.sql“ haben dieselbe Nummer 2');
    expect(await readdir(feed).catch(() => [])).to.deep.equal([]);
  });

  it('refuses a badly named migration file', async () => {
    const tree = await standInTree(join(root, 't'), '1.0.0', { extra: { 'add-table.sql': 'CREATE TABLE x (id INTEGER);' } });
    const r = await build('1.0.0', tree);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('„add-table.sql“ heißt nicht NNN-beschreibung.sql');
  });

  it('refuses a release whose new migration does not apply to the previous release\'s schema (checked on a scratch database)', async () => {
    expect((await build('1.1.0', await standInTree(join(root, 't1'), '1.1.0'))).code).to.equal(0);
    const tree = await standInTree(join(root, 't2'), '1.2.0', { extra: { '004-bad.sql': 'CREATE TABLE ok (id INTEGER);\nALTER TABLE bons ADD COLUMN x INTEGER;\n' } });
    const before = await readFile(join(feed, 'index.json'));
    const r = await build('1.2.0', tree);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('Version 1.2.0 lässt sich nicht sauber auf das Schema von Version 1.1.0 anwenden: Datenbank-Anpassung „004-bad.sql“ fehlgeschlagen: no such table: bons');
    expect(await readFile(join(feed, 'index.json'))).to.deep.equal(before);
    expect((await readdir(feed)).filter((n) => n.startsWith('kasse-1.2.0'))).to.deep.equal([]);
  });

  it('refuses a release that changed or dropped a migration of an already published release', async () => {
    expect((await build('1.1.0', await standInTree(join(root, 't1'), '1.1.0'))).code).to.equal(0);
    const tree = await standInTree(join(root, 't2'), '1.2.0');
    await writeFile(join(tree, 'migrations', '002-tip.sql'), 'ALTER TABLE receipts ADD COLUMN tip INTEGER;\n');
    const r = await build('1.2.0', tree);
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('„002-tip.sql“ der veröffentlichten Version 1.1.0 fehlt oder wurde verändert');
    await rm(join(tree, 'migrations', '002-tip.sql'));
    expect((await build('1.2.0', tree)).err).to.contain('„002-tip.sql“ der veröffentlichten Version 1.1.0 fehlt oder wurde verändert');
  });

  it('refuses a register version older than the one published last', async () => {
    expect((await build('1.2.0', await standInTree(join(root, 't1'), '1.2.0'))).code).to.equal(0);
    const r = await build('1.1.0', await standInTree(join(root, 't0'), '1.1.0'));
    expect(r.code).to.equal(1);
    expect(r.err).to.contain('Kassensoftware 1.1.0 ist älter als die zuletzt veröffentlichte Version 1.2.0');
  });
});
