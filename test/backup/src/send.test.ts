import { expect } from 'chai';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { UserError } from 'kassenwart/sdk';
import type { BackupFile, BackupTarget, BackupTargetPolicy } from 'kassenwart/plugins/backup/api';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { generatePosDatabase } from '../../../plugins/backup/dist/src/posdb.js';
import { makeService, testJob, execSql } from './helpers.js';

/** A target stand-in that records what it was given. */
function recorder(id: string, behaviour: 'ok' | 'user-error' | 'crash' | 'unavailable' | 'unavailable-no-kind' | 'skipped') {
  const got: Array<{ file: BackupFile; bytes: Buffer }> = [];
  const target: BackupTarget = {
    id, displayName: `Ziel ${id}`,
    async availability() {
      if (behaviour === 'unavailable') return { available: false, kind: 'unavailable', reason: 'Kein Datenträger eingehängt.' };
      if (behaviour === 'unavailable-no-kind') return { available: false, reason: 'Gerade nicht erreichbar.' };
      if (behaviour === 'skipped') return { available: false, kind: 'skipped', reason: 'Laut Einstellung nicht gewünscht.' };
      return { available: true };
    },
    async send(file, ctx) {
      if (behaviour === 'user-error') throw new UserError('Anmeldung abgelehnt.', { hint: 'Bitte Passwort prüfen.' });
      if (behaviour === 'crash') throw new TypeError('boom');
      got.push({ file, bytes: await readFile(file.path) });
      ctx.progress(file.size);
      return { location: `test://${id}/${file.name}`, bytes: file.size };
    },
  };
  return { target, got };
}

describe('backup: "Backup an FTP" orchestration (service, stand-in targets)', function () {
  this.timeout(120_000);
  let dir: string;
  let pos: string;
  before(async () => {
    dir = await tempDir('kw-backup-send-');
    pos = join(dir, 'kasse.sqlite');
    await generatePosDatabase(pos, { sizeMb: 2, seed: 8 });
  });
  after(async () => { await removeDir(dir); });

  it('reports every target: sent, skipped by policy or by itself, failed with the German reason', async () => {
    const ok = recorder('t.ok', 'ok');
    const ok2 = recorder('t.ok2', 'ok');
    const policySkipped = recorder('t.policy', 'ok');
    const self = recorder('t.self', 'skipped');
    const unavailable = recorder('t.unavail', 'unavailable');
    const noKind = recorder('t.nokind', 'unavailable-no-kind');
    const auth = recorder('t.auth', 'user-error');
    const crash = recorder('t.crash', 'crash');
    const policy: BackupTargetPolicy = { id: 'p', async skip(ids): Promise<Record<string, string>> { return ids.includes('t.policy') ? { 't.policy': '01.1 = X: nur USB-Stick.' } : {}; } };
    const { service } = makeService(join(dir, 'a'), { posDatabasePath: pos },
      [ok.target, policySkipped.target, self.target, unavailable.target, auth.target, crash.target, noKind.target, ok2.target], [policy]);
    const job = testJob();
    const r = await service.send(job);
    expect(r.outcome).to.equal('warning');
    const res = (r.details!.results as any[]).map((x) => [x.target, x.status, x.message]);
    expect(res).to.deep.equal([
      ['t.ok', 'sent', 'An Ziel t.ok gesendet'],
      ['t.policy', 'skipped', '01.1 = X: nur USB-Stick.'],
      ['t.self', 'skipped', 'Laut Einstellung nicht gewünscht.'],
      ['t.unavail', 'failed', 'Kein Datenträger eingehängt.'],
      ['t.auth', 'failed', 'Anmeldung abgelehnt. Bitte Passwort prüfen.'],
      ['t.crash', 'failed', 'Unerwarteter Fehler: boom'],
      ['t.nokind', 'failed', 'Gerade nicht erreichbar.'],
      ['t.ok2', 'sent', 'An Ziel t.ok2 gesendet'],
    ]);
    expect(r.message).to.equal('Datenbank gesendet an: Ziel t.ok, Ziel t.ok2. Fehlgeschlagen – Ziel t.unavail: Kein Datenträger eingehängt. · '
      + 'Ziel t.auth: Anmeldung abgelehnt. Bitte Passwort prüfen. · Ziel t.crash: Unerwarteter Fehler: boom · Ziel t.nokind: Gerade nicht erreichbar.');
    expect(policySkipped.got).to.have.length(0);
    // both working targets got the same verified file, a fresh one (no backup existed)
    expect(r.details!.freshBackup).to.equal(true);
    expect(ok.got[0].file.sha256).to.equal(ok2.got[0].file.sha256);
    expect(ok.got[0].bytes.length).to.equal(ok.got[0].file.size);
  });

  it('sends the newest backup while the POS is unchanged, and makes a new one first after a change', async () => {
    const ok = recorder('t.ok', 'ok');
    const { service } = makeService(join(dir, 'b'), { posDatabasePath: pos }, [ok.target]);
    const { backup } = await service.create(testJob());
    const first = await service.send(testJob());
    expect(first.outcome ?? 'success').to.equal('success');
    expect(first.message).to.equal('Datenbank gesendet! (Ziel t.ok)');
    expect(first.details!.freshBackup).to.equal(false);
    expect(ok.got[0].file.name).to.equal(backup.name);
    execSql(pos, "UPDATE customers SET notes = 'neu' WHERE id = 1");
    await new Promise((r) => setTimeout(r, 1100));
    const second = await service.send(testJob());
    expect(second.details!.freshBackup).to.equal(true);
    expect(ok.got[1].file.name).not.to.equal(backup.name);
  });

  it('all tried targets failing fails the job and names each; the daily run does nothing when not coupled', async () => {
    const bad = recorder('t.bad', 'user-error');
    const { service } = makeService(join(dir, 'c'), { posDatabasePath: pos }, [bad.target]);
    let err: any;
    try { await service.send(testJob()); } catch (e) { err = e; }
    expect(err?.name).to.equal('UserError');
    expect(err.message).to.equal('Datenbank nicht gesendet. Ziel t.bad: Anmeldung abgelehnt. Bitte Passwort prüfen.');
    const daily = await service.send(testJob({}, 'schedule'));
    expect(daily.message).to.equal('Nicht mit einem FTP-Server gekoppelt: keine tägliche Übertragung.');
    const status = await service.status();
    expect((status.failures as any[])[0].message).to.equal('Anmeldung abgelehnt. Bitte Passwort prüfen.');
  });
});
