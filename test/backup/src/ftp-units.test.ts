/**
 * Pure parts of the FTP target: settings reading, fingerprint normalisation, which names retention deletes.
 */
import { expect } from 'chai';
import { namesToPrune, isTempName } from '../../../plugins/backup/dist/src/ftp/names.js';
import { normalizeFingerprint, readFtpSettings } from '../../../plugins/backup/dist/src/ftp/settings.js';

const view = (v: Record<string, unknown>) => ({ get: <T>(k: string) => v[k] as T });
const complete = { ftpEnabled: true, ftpHost: 'ftp.example', ftpUser: 'salon17', ftpPassword: 'geheim' };

describe('backup FTP target: settings and names', () => {
  it('applies the documented defaults (port 21, explicit FTPS, keep 14, 30 s)', () => {
    const r = readFtpSettings(view(complete));
    expect(r.state).to.equal('ok');
    if (r.state !== 'ok') return;
    expect(r.settings).to.include({ port: 21, tls: 'explicit', keep: 14, timeoutMs: 30_000, remoteDir: '' });
  });

  it('rejects invalid values with German reasons naming the setting', () => {
    const bad = (extra: Record<string, unknown>) => {
      const r = readFtpSettings(view({ ...complete, ...extra }));
      expect(r.state).to.equal('invalid');
      return r.state === 'invalid' ? r.reason : '';
    };
    expect(bad({ ftpPort: 70000 })).to.include('„FTP-Port“');
    expect(bad({ ftpTls: 'ssl' })).to.include('„Verschlüsselung“');
    expect(bad({ ftpFingerprint: 'abc' })).to.include('„Zertifikat-Fingerabdruck (SHA-256)“');
    expect(bad({ ftpCaCert: 'kein Zertifikat' })).to.include('„CA-Zertifikat (PEM)“');
    expect(bad({ ftpTls: 'none', ftpFingerprint: 'ab'.repeat(32) })).to.include('unverschlüsselt');
  });

  it('accepts a fingerprint with or without colons, spaces or a sha256: prefix', () => {
    const want = Array.from({ length: 32 }, (_, i) => (i * 7 % 256).toString(16).padStart(2, '0').toUpperCase()).join(':');
    expect(normalizeFingerprint(want.toLowerCase().replace(/:/g, ''))).to.equal(want);
    expect(normalizeFingerprint('sha256:' + want.replace(/:/g, ' '))).to.equal(want);
    expect(normalizeFingerprint(want.slice(3))).to.equal(undefined);
  });

  it('retention deletes only our backup names beyond the newest N, never the protected one', () => {
    const names = [
      'kasse-2026-11-20_07-00-00.sqlite.gz', 'kasse-2026-11-22_21-00-00.sqlite.gz', 'kasse-2026-11-22_07-00-00.sqlite.gz',
      'kasse-2026-11-01_07-00-00.sqlite.gz.bak', 'readme.txt', 'kasse-2026-11-19_07-00-00-2.sqlite.gz',
    ];
    expect(namesToPrune(names, 2)).to.deep.equal(['kasse-2026-11-20_07-00-00.sqlite.gz', 'kasse-2026-11-19_07-00-00-2.sqlite.gz']);
    expect(namesToPrune(names, 1, 'kasse-2026-11-19_07-00-00-2.sqlite.gz'))
      .to.deep.equal(['kasse-2026-11-22_07-00-00.sqlite.gz', 'kasse-2026-11-20_07-00-00.sqlite.gz']);
    expect(namesToPrune(names, 0)).to.deep.equal([]);
    expect(isTempName('kasse-2026-11-22_07-00-00.sqlite.gz.0123abcd.part')).to.equal(true);
    expect(isTempName('fremd.txt.0123abcd.part')).to.equal(false);
  });
});
