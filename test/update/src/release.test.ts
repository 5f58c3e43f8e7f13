import { expect } from 'chai';
import { readFile, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tar from 'tar';
import { buildRelease, keygen, readChanges, releaseCommand, resignIndex } from '../../../plugins/update/dist/src/release.js';
import { verifyIndex, parsePublicKeys } from '../../../plugins/update/dist/src/feed.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { makeFixtureTree } from './fixtures.js';
import { rejection } from './harness.js';

const REPO = new URL('../../../', import.meta.url).pathname;

function io() {
  let out = '';
  let err = '';
  return {
    io: { stdout: { write: (s: string) => { out += s; return true; } }, stderr: { write: (s: string) => { err += s; return true; } } } as any,
    out: () => out,
    err: () => err,
  };
}

describe('update: the vendor commands (kassenwart release keygen|build|sign)', function () {
  this.timeout(120_000);
  let root: string;
  beforeEach(async () => { root = await tempDir('kw-release-'); });
  afterEach(async () => { await removeDir(root); });

  it('keygen writes a private key only the owner can read, and never overwrites an existing key', async () => {
    const k = await keygen(join(root, 'keys'));
    expect((await stat(k.privateKeyFile)).mode & 0o777).to.equal(0o600);
    expect(parsePublicKeys(k.publicKeyBase64)).to.have.length(1);
    const before = await readFile(k.privateKeyFile, 'utf8');
    const c = io();
    expect(await releaseCommand(['keygen', '--out', join(root, 'keys')], c.io, REPO)).to.equal(1);
    expect(c.err()).to.contain('wird nie überschrieben');
    expect(await readFile(k.privateKeyFile, 'utf8')).to.equal(before);
  });

  it('build adds releases to one signed index with rising sequence; sign renews it; both verify with the public key', async () => {
    const k = await keygen(join(root, 'keys'));
    const feed = join(root, 'feed');
    const keys = parsePublicKeys(k.publicKeyBase64);
    const src1 = await makeFixtureTree(join(root, 's1'), { version: '1.1.0' });
    const src2 = await makeFixtureTree(join(root, 's2'), { version: '1.0.0' });
    await buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: src1, channel: 'stable', expiresDays: 30 });
    await buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: src2, version: '1.2.0', channel: 'beta', expiresDays: 30 });
    const read = async () => verifyIndex(await readFile(join(feed, 'index.json')), await readFile(join(feed, 'index.json.sig'), 'utf8'), keys).index;
    let index = await read();
    expect(index.sequence).to.equal(2);
    expect(index.releases.map((r: { version: string; channel: string }) => `${r.version}/${r.channel}`)).to.deep.equal(['1.2.0/beta', '1.1.0/stable']);
    // --version is written into the packaged package.json, the source stays as it was.
    const files: Record<string, string> = {};
    await tar.t({ file: join(feed, 'kassenwart-1.2.0.tar.gz'), onReadEntry: (e: any) => { let s = ''; e.on('data', (d: Buffer) => { s += d; }); e.on('end', () => { files[e.path] = s; }); } });
    expect(JSON.parse(files['package.json']).version).to.equal('1.2.0');
    expect(JSON.parse(await readFile(join(src2, 'package.json'), 'utf8')).version).to.equal('1.0.0');
    const renewed = await resignIndex(k.privateKeyFile, feed, 10);
    index = await read();
    expect(index.sequence).to.equal(3);
    expect(index.expires).to.equal(renewed.expires);
    expect(index.releases).to.have.length(2);
  });

  it('build refuses a version already published, and an index in DIR signed by another key', async () => {
    const k = await keygen(join(root, 'keys'));
    const other = await keygen(join(root, 'other'));
    const feed = join(root, 'feed');
    const src = await makeFixtureTree(join(root, 's'), { version: '1.1.0' });
    await buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: src, channel: 'stable', expiresDays: 30 });
    const indexBefore = await readFile(join(feed, 'index.json'), 'utf8');
    const dup = await rejection(buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: src, channel: 'stable', expiresDays: 30 }));
    expect(dup.message).to.contain('schon veröffentlicht');
    const foreign = await rejection(buildRelease({ keyFile: other.privateKeyFile, outDir: feed, sourceDir: src, version: '1.3.0', channel: 'stable', expiresDays: 30 }));
    expect(foreign.message).to.contain('nicht mit diesem Schlüssel signiert');
    expect(await readFile(join(feed, 'index.json'), 'utf8')).to.equal(indexBefore);
  });

  it('reads change notes as text lines per plugin or as JSON', async () => {
    const txt = join(root, 'c.txt');
    await writeFile(txt, '- backup: FTP schneller\n* Allgemeine Verbesserung\nfoo: kein Plugin\n\n');
    expect(await readChanges(txt, ['kassenwart', 'backup'])).to.deep.equal({ backup: ['FTP schneller'], kassenwart: ['Allgemeine Verbesserung', 'foo: kein Plugin'] });
    const json = join(root, 'c.json');
    await writeFile(json, JSON.stringify({ usb: ['Stick wird erkannt'] }));
    expect(await readChanges(json, [])).to.deep.equal({ usb: ['Stick wird erkannt'] });
    await writeFile(json, '{"usb": "kein Array"}');
    expect((await rejection(readChanges(json, []))).message).to.contain('erwartet');
  });

  it('a build of this repository carries the built code and run-time packages, not tests or dev tools', async function () {
    const k = await keygen(join(root, 'keys'));
    const feed = join(root, 'feed');
    const { entry } = await buildRelease({ keyFile: k.privateKeyFile, outDir: feed, sourceDir: REPO, version: '9.9.9', channel: 'stable', expiresDays: 30 });
    const paths = new Set<string>();
    await tar.t({ file: join(feed, `kassenwart-9.9.9.tar.gz`), onReadEntry: (e: any) => { paths.add(e.path.replace(/\/$/, '')); } });
    for (const must of ['bin/kassenwart.js', 'host/dist/cli.js', 'sdk/dist/index.js', 'plugins/update/plugin.json', 'plugins/update/dist/src/index.js', 'node_modules/koa/package.json', 'node_modules/sql.js/package.json', 'node_modules/tar/package.json', 'package-lock.json']) {
      expect(paths.has(must), must).to.equal(true);
    }
    const bad = [...paths].filter((p) => p.startsWith('test/') || p.startsWith('.git/') || p.startsWith('node_modules/mocha/') || p.startsWith('node_modules/typescript/') || p.startsWith('node_modules/playwright-core/') || p.startsWith('node_modules/.bin/') || p.endsWith('.tsbuildinfo'));
    expect(bad).to.deep.equal([]);
    expect(entry.size).to.equal((await stat(join(feed, 'kassenwart-9.9.9.tar.gz'))).size);
  });
});
