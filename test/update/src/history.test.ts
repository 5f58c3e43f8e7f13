/** The right-hand column's data: per component, newest first, display names, the monthly reminder. */
import { expect } from 'chai';
import { historyView } from '../../../plugins/update/dist/src/history.js';
import { requirementsMet } from '../../../plugins/update/dist/src/updater.js';

const DAY = 86_400_000;
const now = new Date('2026-12-01T12:00:00Z');
const at = (days: number) => new Date(now.getTime() - days * DAY).toISOString();

describe('update: history view per component and the monthly reminder', () => {
  it('lists each component newest first with display names, and notes as labelled lists', () => {
    const v = historyView({
      history: [
        { component: 'kasse', version: '1.1.0', from: '1.0.0', installedAt: at(40), status: 'installed', notes: [{ version: '1.1.0', date: at(41), changes: { kasse: ['Trinkgeld'] } }] },
        { version: '1.0.1', from: '1.0.0', installedAt: at(20), status: 'installed', notes: [{ version: '1.0.1', date: at(21), changes: { backup: ['FTP schneller'], kassenwart: ['Start schneller'] } }] },
        { component: 'kasse', version: '1.2.0', from: '1.1.0', installedAt: at(10), status: 'rolled-back', reason: 'Update fehlgeschlagen – …', notes: [] },
      ],
    }, '1.0.1', { installedVersion: '1.1.0', skipped: null }, now);
    expect(v.components.map((c) => c.displayName)).to.deep.equal(['Kassensoftware', 'Kassenwart']);
    expect(v.components[0].updates.map((u) => u.version)).to.deep.equal(['1.2.0', '1.1.0']);
    expect(v.components[0].lastUpdate?.version).to.equal('1.1.0');
    expect(v.components[1].updates[0].notes[0].lines).to.deep.equal(['Kassenwart: Start schneller', 'Datensicherung: FTP schneller']);
    expect(v.lastUpdate).to.include({ version: '1.0.1', componentName: 'Kassenwart' });
  });

  it('counts the reminder from the last check that succeeded for all components, not from a failed one', () => {
    const failedYesterday = { at: at(1), ok: false, message: 'Update fehlgeschlagen – die vorherige Version läuft wieder.' };
    expect(historyView({ history: [], lastCheck: failedYesterday, lastSuccessAt: at(40) }, '1.0.0', { installedVersion: null, skipped: 'nicht eingerichtet' }, now).reminder).to.equal(true);
    expect(historyView({ history: [], lastCheck: failedYesterday, lastSuccessAt: at(5) }, '1.0.0', { installedVersion: null, skipped: null }, now).reminder).to.equal(false);
    expect(historyView({ history: [], lastCheck: failedYesterday }, '1.0.0', { installedVersion: null, skipped: null }, now).reminder).to.equal(true);
  });

  it('holds back a release whose minimum version of the other component is not installed', () => {
    const r = { version: '1.3.0', channel: 'stable' as const, date: at(1), changes: {}, url: 'x', size: 1, sha256: '0'.repeat(64), requires: { kassenwart: '1.2.0' } };
    expect(requirementsMet(r, { kassenwart: '1.1.9' })).to.equal(false);
    expect(requirementsMet(r, { kassenwart: '1.2.0' })).to.equal(true);
    expect(requirementsMet(r, { kassenwart: null })).to.equal(true);
  });
});
