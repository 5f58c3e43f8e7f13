/**
 * Verification of a backup on its own (verify.ts: verifyBackupFile, digestGzipFile, compareCounts), in the
 * test process, on a real generated POS database: each expectation (checksum of the .gz, of the unpacked
 * database, its size, the row counts) refuses a file that differs with its own German message; the temporary
 * unpacked copy never stays behind; a cancelled check is a cancellation, not a damaged file. The restore paths
 * over it (a swapped backup, a damaged one): restore-swap.test.ts and create.test.ts.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { gzipSync, gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase, POS_TABLES } from '../../../plugins/backup/dist/src/posdb.js';
import { compareCounts, digestGzipFile, verifyBackupFile, VerifyError } from '../../../plugins/backup/dist/src/verify.js';
import { withDb } from './helpers.js';
import { rejection } from '../../support/dist/rejection.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const HINT = 'Bitte erneut auf „Datensicherung“ klicken; tritt der Fehler wieder auf, den Support informieren.';

describe('backup: verifying a backup file on its own (in-process, real POS database)', function () {
  this.timeout(120_000);
  let dir: string;
  let raw: Buffer;
  let gz: Buffer;
  let gzPath: string;
  let counts: Record<string, number>;
  const want = () => ({ gzSha256: sha(gz), rawSha256: sha(raw), rawBytes: raw.length, counts });
  const leftovers = async (d: string) => (await readdir(d)).filter((n) => n.includes('verify-'));

  before(async () => {
    dir = await tempDir('kw-verify-units-');
    // > 2 MiB: the unpacked copy is written through both 1 MiB buffers more than once
    const db = await generatePosDatabase(join(dir, 'pos.sqlite'), { sizeMb: 5, seed: 19 });
    raw = await readFile(db.path);
    expect(raw.length).to.be.greaterThan(4 * 1024 * 1024);
    // every table but sqlite_* (POS_TABLES plus pos_meta), counted by sql.js, not by the product's native check
    counts = await withDb(raw, (q) => Object.fromEntries(q("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .map(([t]) => [String(t), Number(q(`SELECT count(*) FROM "${t}"`)[0][0])])));
    expect(Object.keys(counts)).to.include.members([...POS_TABLES]);
    // two gzip members, as the parallel compressor writes them
    gz = Buffer.concat([gzipSync(raw.subarray(0, 3_000_000)), gzipSync(raw.subarray(3_000_000))]);
    gzPath = join(dir, 'kasse-2026-12-01_07-00-00.sqlite.gz');
    await writeFile(gzPath, gz);
  });
  after(async () => { await removeDir(dir); });

  it('a right backup: its checksums, size and row counts, computed independently here, and no temp file left', async () => {
    const r = await verifyBackupFile(gzPath, want());
    expect(r).to.deep.equal({ gzSha256: sha(gz), rawSha256: sha(raw), rawBytes: raw.length, counts });
    expect(Object.values(counts).some((n) => n > 100)).to.equal(true);
    expect(await leftovers(dir)).to.deep.equal([]);
    // without expectations it still checks and reports
    expect(await verifyBackupFile(gzPath)).to.deep.equal(r);
  });

  it('the unpacked copy it checks is byte for byte the database (checked in the temp folder it was given)', async () => {
    const tmp = await tempDir('kw-verify-tmp-');
    try {
      const r = await verifyBackupFile(gzPath, {}, undefined, { tmpDir: tmp });
      expect(r.rawSha256).to.equal(sha(raw));
      expect(await readdir(tmp)).to.deep.equal([]);
      expect(await leftovers(dir)).to.deep.equal([]);
    } finally { await removeDir(tmp); }
  });

  const refusals: Array<[string, (w: ReturnType<typeof want>) => object, string]> = [
    ['another .gz checksum', (w) => ({ ...w, gzSha256: sha(Buffer.from('x')) }), 'Die Sicherungsdatei wurde verändert oder ist beschädigt (Prüfsumme stimmt nicht).'],
    ['another database checksum', (w) => ({ ...w, rawSha256: sha(Buffer.from('x')) }), 'Die entpackte Sicherung weicht vom gelesenen Datenbankstand ab (Prüfsumme stimmt nicht).'],
    ['another size (one byte more)', (w) => ({ ...w, rawBytes: w.rawBytes + 1 }), 'Die entpackte Sicherung hat nicht die erwartete Größe.'],
    ['another size (0)', (w) => ({ ...w, rawBytes: 0 }), 'Die entpackte Sicherung hat nicht die erwartete Größe.'],
    ['one row more in a table', (w) => ({ ...w, counts: { ...w.counts, [POS_TABLES[1]]: w.counts[POS_TABLES[1]] + 1 } }),
      `Die Sicherung ist unvollständig: Tabelle „${'{t}'}“ hat {n} statt {m} Zeilen.`],
    ['a table it does not have', (w) => ({ ...w, counts: { ...w.counts, kunden_alt: 5 } }), 'Die Sicherung ist unvollständig: Tabelle „kunden_alt“ hat 0 statt 5 Zeilen.'],
  ];
  for (const [what, change, message] of refusals) {
    it(`refuses a backup whose record names ${what}, in German, and leaves no temp file`, async () => {
      const e = await rejection(verifyBackupFile(gzPath, change(want())));
      const t = POS_TABLES[1];
      const expected = message.replace('{t}', t).replace('{n}', String(counts[t])).replace('{m}', String(counts[t] + 1));
      expect([e instanceof VerifyError, e.name, e.code, e.message, e.hint]).to.deep.equal([true, 'UserError', 'backup.verify', expected, HINT]);
      expect(await leftovers(dir)).to.deep.equal([]);
    });
  }

  it('checks only what the record names: a record without checksums accepts the same file', async () => {
    const { counts: c } = await verifyBackupFile(gzPath, { counts: { [POS_TABLES[0]]: counts[POS_TABLES[0]] } });
    expect(c).to.deep.equal(counts);
    expect(await verifyBackupFile(gzPath, { gzSha256: '', rawSha256: '' })).to.have.property('rawBytes', raw.length);
  });

  it('refuses a file that is not a .gz, a cut-off .gz and a flipped byte, as damaged; no temp file left', async () => {
    const cases: Array<[string, Buffer]> = [
      ['plain', raw.subarray(0, 100_000)],
      ['cut', gz.subarray(0, gz.length - 1000)],
      ['flipped', (() => { const b = Buffer.from(gz); b[Math.floor(b.length / 3)] ^= 0x10; return b; })()],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [name, bytes] of cases) {
      const p = join(dir, `bad-${name}.sqlite.gz`);
      await writeFile(p, bytes);
      const e = await rejection(verifyBackupFile(p, {}));
      if (name === 'empty') {
        // an empty file gunzips to nothing: then the database check refuses it
        expect([e.name, e.code], name).to.deep.equal(['UserError', 'backup.verify']);
      } else {
        expect([e.name, e.code, e.message, e.hint], name).to.deep.equal(['UserError', 'backup.verify', 'Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).', HINT]);
        const d = await rejection(digestGzipFile(p));
        expect([d.code, d.message], name).to.deep.equal(['backup.verify', 'Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).']);
      }
      expect(await leftovers(dir), name).to.deep.equal([]);
    }
  });

  it('a valid .gz of a damaged database is refused by the database check, after the checksums matched', async () => {
    const bad = Buffer.from(raw);
    bad.fill(0x41, 4096 * 150, 4096 * 151);
    const p = join(dir, 'damaged-db.sqlite.gz');
    const g = gzipSync(bad);
    await writeFile(p, g);
    const e = await rejection(verifyBackupFile(p, { gzSha256: sha(g), rawSha256: sha(bad), rawBytes: bad.length }));
    expect([e.name, e.code]).to.deep.equal(['UserError', 'backup.verify']);
    expect(e.message).to.match(/Integritätsprüfung nicht bestanden|keine lesbare SQLite-Datenbank/);
    expect(await leftovers(dir)).to.deep.equal([]);
  });

  it('cancelled before or during the check: a cancellation (not "damaged"), and no temp file left', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(verifyBackupFile(gzPath, want(), ac.signal));
    expect(e.name).to.equal('CancelledError');
    const d = await rejection(digestGzipFile(gzPath, ac.signal));
    expect(d.name).to.equal('CancelledError');
    const later = new AbortController();
    const p = verifyBackupFile(gzPath, want(), later.signal);
    setTimeout(() => later.abort(), 5);
    const e2 = await rejection(p);
    expect(e2.name).to.equal('CancelledError');
    expect(await leftovers(dir)).to.deep.equal([]);
  });

  it('digestGzipFile: both checksums and the unpacked length, streamed, equal to an independent computation', async () => {
    expect(await digestGzipFile(gzPath)).to.deep.equal({ gzSha256: sha(gz), rawSha256: sha(gunzipSync(gz)), rawBytes: raw.length });
  });

  it('compareCounts: the first table that differs, missing tables count as 0, extra tables in the backup are fine', () => {
    expect(() => compareCounts({ a: 1, b: 2, c: 3 }, { a: 1, b: 2 })).to.not.throw();
    expect(() => compareCounts({ a: 1 }, undefined)).to.not.throw();
    expect(() => compareCounts({ a: 1 }, {})).to.not.throw();
    const e = (() => { try { compareCounts({ a: 1, b: 3 }, { a: 2, b: 2 }); } catch (x) { return x as VerifyError; } throw new Error('no error'); })();
    expect(e.message).to.equal('Die Sicherung ist unvollständig: Tabelle „a“ hat 1 statt 2 Zeilen.');
    expect(() => compareCounts({}, { a: 0 })).to.throw('Tabelle „a“ hat 0 statt 0 Zeilen');
  });
});
