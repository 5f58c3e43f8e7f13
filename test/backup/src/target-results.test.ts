/**
 * The published types of "Backup an FTP" say what the job really holds: `TargetResult`/`SendDetails` from
 * kassenwart/plugins/backup/api, `Availability.hint` kept apart from the reason, and the per-target results
 * of a failed send under `error.details`. This file only compiles when the types
 * exist; its assertions check that the values match them.
 */
import { expect } from 'chai';
import { join } from 'node:path';
import { isUserError } from 'kassenwart/sdk';
import type { Availability, BackupTarget, SendDetails, TargetResult } from 'kassenwart/plugins/backup/api';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { makeService, testJob } from './helpers.js';

function unavailable(id: string, a: Availability): BackupTarget {
  return {
    id, displayName: `Ziel ${id}`,
    async availability() { return a; },
    async send() { throw new Error('must not be called'); },
  };
}

describe('backup: the types of "Backup an FTP" results', function () {
  this.timeout(120_000);
  let dir: string;
  let pos: string;
  before(async () => {
    dir = await tempDir('kw-backup-types-');
    pos = join(dir, 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 1, seed: 3 });
  });
  after(async () => { await removeDir(dir); });

  it('keeps an unavailable target’s hint apart from its reason, and shows it after the reason', async () => {
    const { service } = makeService(join(dir, 'a'), { posDatabasePath: pos }, [
      unavailable('t.stick', { available: false, kind: 'skipped', reason: '01.1 = F: kein USB-Stick gewünscht.', hint: 'Unter 01.1 „D“ wählen.' }),
      unavailable('t.nas', { available: false, kind: 'unavailable', reason: 'NAS nicht erreichbar.', hint: 'Bitte das NAS einschalten.' }),
    ]);
    let caught: unknown;
    try { await service.send(testJob()); } catch (e) { caught = e; }
    expect(isUserError(caught)).to.equal(true);
    const details = (caught as { details: SendDetails }).details;
    const [stick, nas]: TargetResult[] = details.results;
    expect(stick).to.deep.equal({ target: 't.stick', displayName: 'Ziel t.stick', status: 'skipped', message: '01.1 = F: kein USB-Stick gewünscht.', hint: 'Unter 01.1 „D“ wählen.' });
    expect(nas).to.deep.equal({ target: 't.nas', displayName: 'Ziel t.nas', status: 'failed', message: 'NAS nicht erreichbar. Bitte das NAS einschalten.', hint: 'Bitte das NAS einschalten.' });
    expect(details.backup).to.match(/\.sqlite\.gz$/);
    expect(details.sha256).to.match(/^[0-9a-f]{64}$/);
  });
});
