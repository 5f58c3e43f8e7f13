/**
 * Setting 01.1 decides the targets of "Backup an FTP": the policy and the target's availability,
 * checked directly (the end-to-end runs through the host are in host.test.ts).
 */
import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { createUsbPolicy, createUsbTarget, ejectStick } from '../../../plugins/usb/dist/src/target.js';
import { makeBackupFile, makeImage, makeStickDir, writeMounts } from './fixtures.js';

const settingsOf = (values: Record<string, unknown>) => ({ get: <T>(k: string) => values[k] as T });
const TARGETS = ['backup.ftp', 'usb.stick', 'nas.share'];

describe('usb: 01.1 policy', () => {
  it('X skips only the FTP target, with the reason', async () => {
    expect(await createUsbPolicy(settingsOf({ mode: 'X' })).skip(TARGETS)).to.deep.equal({
      'backup.ftp': '01.1 = X: nur USB-Stick, keine Übertragung an den FTP-Server',
    });
  });
  it('D skips nothing (FTP goes as coupled)', async () => {
    expect(await createUsbPolicy(settingsOf({ mode: 'D' })).skip(TARGETS)).to.deep.equal({});
  });
  it('F and empty skip only the USB target, with the reason', async () => {
    expect(await createUsbPolicy(settingsOf({ mode: 'F' })).skip(TARGETS)).to.deep.equal({
      'usb.stick': '01.1 = F: keine Sicherung auf USB-Stick erlaubt',
    });
    expect(await createUsbPolicy(settingsOf({ mode: '' })).skip(TARGETS)).to.deep.equal({
      'usb.stick': '01.1 ist leer: keine Sicherung auf USB-Stick erlaubt',
    });
  });
  it('leaves alone targets it was not asked about', async () => {
    expect(await createUsbPolicy(settingsOf({ mode: 'X' })).skip(['nas.share'])).to.deep.equal({});
  });
});

describe('usb: the USB-Stick target', function () {
  this.timeout(60_000);
  let dir: string;
  let media: string;
  let env: { mountsFile: string; mediaRoot: string };

  before(async () => {
    dir = await tempDir('kw-usb-t-');
    media = join(dir, 'media');
    await mkdir(media);
    env = { mountsFile: join(dir, 'mounts'), mediaRoot: media };
    const img = await makeImage(dir, 'FAT32');
    const usb0 = await makeStickDir(media, 'usb0');
    await writeMounts(env.mountsFile, [{ device: img, mountPoint: usb0, fstype: 'vfat' }]);
  });
  after(() => removeDir(dir));

  it('is skipped (not an error) for F and empty, unavailable with the reason when no stick is there', async () => {
    const f = await createUsbTarget(settingsOf({ mode: 'F', path: `${media}/usb0`, keep: 5 }), env).availability();
    expect(f).to.deep.equal({ available: false, kind: 'skipped', reason: '01.1 = F: keine Sicherung auf USB-Stick erlaubt' });
    const none = await createUsbTarget(settingsOf({ mode: 'X', path: `${media}/usb3`, keep: 5 }), env).availability();
    expect(none.available).to.equal(false);
    expect(none.kind).to.equal('unavailable');
    // Reason (what is wrong) and hint (what to do) stay apart, so the backup result can show and keep both.
    expect(none.reason).to.equal(`Kein USB-Stick unter ${media}/usb3 eingehängt.`);
    expect(none.hint).to.match(/^Stecken Sie einen USB-Stick im FAT32-Format .* prüfen Sie den Pfad unter 01\.2\.$/);
  });

  it('sends a backup (location, size; the bytes are checked in writer.test.ts) with progress in bytes and lists it', async () => {
    const t = createUsbTarget(settingsOf({ mode: 'D', path: `${media}/usb0`, keep: 5 }), env);
    expect(await t.availability()).to.deep.equal({ available: true });
    const file = await makeBackupFile(dir, 'kasse-2026-11-29_07-00-00.sqlite.gz', 100_000);
    const seen: number[] = [];
    const r = await t.send(file, { signal: new AbortController().signal, progress: (b) => seen.push(b), log: () => {} });
    expect(r).to.deep.include({ location: `${media}/usb0/${file.name}`, message: `Auf USB-Stick gesichert (${media}/usb0)`, bytes: file.size });
    expect(seen.at(-1)).to.equal(file.size);
    expect((await t.list!()).map((b) => b.name)).to.deep.equal([file.name]);
  });

  it('"Stick sicher entfernen" answers for a stick in the mount table, and only informs when none is mounted (the flush itself is not observable here)', async () => {
    expect(await ejectStick(`${media}/usb0`, env)).to.deep.equal({ outcome: 'success', message:
      `Alle Daten sind auf den USB-Stick unter ${media}/usb0 geschrieben. Sie können den USB-Stick jetzt abziehen.` });
    expect(await ejectStick(`${media}/usb4`, env)).to.deep.equal({ outcome: 'info', message:
      `Kein USB-Stick unter ${media}/usb4 eingehängt – es muss nichts vorbereitet werden. Steckt doch ein Stick, bitte den Pfad unter 01.2 prüfen.` });
  });
});
