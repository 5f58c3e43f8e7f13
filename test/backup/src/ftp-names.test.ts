/**
 * The FTP target's remote names, edge by edge: what counts as one of our backups (the only files retention
 * may delete), the order retention keeps, and the temporary upload names. Pure functions, no server.
 */
import { expect } from 'chai';
import { isBackupName, isTempName, namesToPrune, newestFirst, tempNameFor } from '../../../plugins/backup/dist/src/ftp/names.js';

const B = (stamp: string, suffix = '') => `kasse-${stamp}${suffix}.sqlite.gz`;

describe('backup FTP target: remote names (edges)', () => {
  it('knows our backup names exactly: nothing before "kasse-", nothing after ".sqlite.gz", suffixes of several characters', () => {
    expect(isBackupName(B('2026-11-29_07-00-00'))).to.equal(true);
    expect(isBackupName(B('2026-11-29_07-00-00', '-12'))).to.equal(true);
    expect(isBackupName(B('2026-11-29_07-00-00', '-ab.cd_ef'))).to.equal(true);
    expect(isBackupName('alt-' + B('2026-11-29_07-00-00'))).to.equal(false);
    expect(isBackupName(B('2026-11-29_07-00-00') + '.bak')).to.equal(false);
    expect(isBackupName(B('2026-11-29_07-00-00', '-'))).to.equal(false);
    expect(isBackupName('kasse-2026-11-29_07-00.sqlite.gz')).to.equal(false);
  });

  it('temporary names: "<our backup>.<8 hex>.part" exactly, fresh each time', () => {
    const name = B('2026-11-29_07-00-00');
    const t1 = tempNameFor(name);
    const t2 = tempNameFor(name);
    expect(t1).to.match(/^kasse-2026-11-29_07-00-00\.sqlite\.gz\.[0-9a-f]{8}\.part$/);
    expect(t1).to.not.equal(t2);
    expect(isTempName(t1)).to.equal(true);
    expect(isTempName(t1 + '.old')).to.equal(false);
    expect(isTempName('x' + t1)).to.equal(false);
    expect(isTempName(`${name}.0123abc.part`)).to.equal(false);
    expect(isTempName(`${name}.0123ABCD.part`)).to.equal(false);
  });

  it('orders newest first by the time in the name, then by the whole name; foreign names last', () => {
    const names = [B('2026-11-20_07-00-00'), B('2026-11-22_07-00-00', '-2'), B('2026-11-22_07-00-00'), B('2026-11-21_21-00-00'), 'fremd.gz'];
    expect([...names].sort(newestFirst)).to.deep.equal([
      // same time: the whole name decides, descending ("." sorts after "-")
      B('2026-11-22_07-00-00'), B('2026-11-22_07-00-00', '-2'), B('2026-11-21_21-00-00'), B('2026-11-20_07-00-00'), 'fremd.gz',
    ]);
    expect(newestFirst(B('2026-11-22_07-00-00'), B('2026-11-22_07-00-00'))).to.equal(0);
    expect(newestFirst(B('2026-11-22_07-00-00'), B('2026-11-21_07-00-00'))).to.equal(-1);
    expect(newestFirst(B('2026-11-21_07-00-00'), B('2026-11-22_07-00-00'))).to.equal(1);
    expect(newestFirst('a', 'b')).to.equal(1);
    expect(newestFirst('b', 'a')).to.equal(-1);
  });

  it('keeps the protected backup on top of the newest N, and deletes nothing for keep ≤ 0', () => {
    const names = [B('2026-11-20_07-00-00'), B('2026-11-21_07-00-00'), B('2026-11-22_07-00-00')];
    expect(namesToPrune(names, 1)).to.deep.equal([B('2026-11-21_07-00-00'), B('2026-11-20_07-00-00')]);
    expect(namesToPrune(names, 1, B('2026-11-20_07-00-00'))).to.deep.equal([B('2026-11-21_07-00-00')]);
    expect(namesToPrune(names, 1, '')).to.deep.equal([B('2026-11-21_07-00-00'), B('2026-11-20_07-00-00')]);
    expect(namesToPrune(names, -1)).to.deep.equal([]);
    expect(namesToPrune(names, 3)).to.deep.equal([]);
  });
});
