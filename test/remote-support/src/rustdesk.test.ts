import { expect } from 'chai';
import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  applyRustDeskServer, getRustDeskId, getRustDeskVersion, locateRustDesk, rustDeskServiceState, setRustDeskPassword,
  type RustDeskCall,
} from '../../../plugins/remote-support/dist/src/rustdesk.js';
import { listProcesses } from '../../../plugins/remote-support/dist/src/proc.js';
import { formatRustDeskId } from '../../../plugins/remote-support/dist/src/id-format.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { createStandin, type Standin } from './standin.js';

/** Runs `fn` and returns the UserError it throws (fails the test if it does not throw one). */
async function userError(fn: () => Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await fn();
  } catch (e) {
    const err = e as { name: string; code: string; message: string; hint?: string };
    expect(err.name, `expected a UserError, got ${String(e)}`).to.equal('UserError');
    return err;
  }
  throw new Error('expected a UserError, but it succeeded');
}

describe('remote-support: RustDesk on the POS server (stand-in for RustDesk)', function () {
  let sd: Standin;
  let call: RustDeskCall;
  const previousEnv = process.env.RUSTDESK_STANDIN_STATE;

  beforeEach(async () => {
    sd = await createStandin();
    process.env.RUSTDESK_STANDIN_STATE = sd.statePath; // the stand-in inherits the environment
    call = { bin: sd.bin, timeoutMs: 10_000 };
  });
  afterEach(async () => {
    if (previousEnv === undefined) delete process.env.RUSTDESK_STANDIN_STATE; else process.env.RUSTDESK_STANDIN_STATE = previousEnv;
    await sd.cleanup();
  });

  describe('finding RustDesk', () => {
    it('uses the configured path', async () => {
      expect(await locateRustDesk(sd.bin, { envPath: '', fallbacks: [] })).to.equal(sd.bin);
    });

    it('finds "rustdesk" on PATH when no path is configured', async () => {
      expect(await locateRustDesk('', { envPath: `/nonexistent:${dirname(sd.bin)}`, fallbacks: [] })).to.equal(sd.bin);
    });

    it('says RustDesk is not installed when it is neither on PATH nor in the usual places', async () => {
      const e = await userError(() => locateRustDesk('', { envPath: '/nonexistent', fallbacks: ['/nonexistent/rustdesk'] }));
      expect(e.code).to.equal('rustdesk.missing');
      expect(e.message).to.contain('nicht installiert');
      expect(e.hint).to.contain('Pfad zu RustDesk');
    });

    it('names a configured path that does not exist', async () => {
      const e = await userError(() => locateRustDesk(join(sd.dir, 'nope', 'rustdesk')));
      expect(e.code).to.equal('rustdesk.missing');
      expect(e.message).to.contain(join(sd.dir, 'nope', 'rustdesk')).and.to.contain('nicht gefunden');
    });

    it('refuses a configured file that is not executable, and a relative path', async () => {
      const f = join(sd.dir, 'rustdesk.txt');
      await writeFile(f, 'not a program');
      await chmod(f, 0o644);
      expect((await userError(() => locateRustDesk(f))).message).to.contain('nicht ausführbar');
      expect((await userError(() => locateRustDesk('bin/rustdesk'))).message).to.contain('kein absoluter Pfad');
    });
  });

  describe('version and ID', () => {
    it('reads the version with --version and the ID with --get-id', async () => {
      await sd.set({ id: '987654321', version: '1.3.9' });
      expect(await getRustDeskVersion(call)).to.equal('1.3.9');
      expect(await getRustDeskId(call)).to.equal('987654321');
      const calls = (await sd.read()).calls;
      expect(calls).to.deep.include(['--version']).and.to.deep.include(['--get-id']);
    });

    it('formats the ID in groups of three for the phone', () => {
      expect(formatRustDeskId('123456789')).to.equal('123 456 789');
      expect(formatRustDeskId('1234567890')).to.equal('1 234 567 890');
      expect(formatRustDeskId('salon-17')).to.equal('salon-17');
    });

    it('empty output of --get-id gives its own reason', async () => {
      await sd.set({ behaviour: { 'get-id': 'empty' } });
      const e = await userError(() => getRustDeskId(call));
      expect(e.code).to.equal('rustdesk.empty');
      expect(e.message).to.equal('RustDesk hat keine ID ausgegeben (leere Ausgabe).');
    });

    it('empty output of --version gives its own reason', async () => {
      await sd.set({ behaviour: { version: 'empty' } });
      const e = await userError(() => getRustDeskVersion(call));
      expect(e.message).to.equal('RustDesk hat keine Version gemeldet (leere Ausgabe).');
    });

    it('a non-zero exit code is reported with the code and RustDesk\'s own message', async () => {
      await sd.set({ behaviour: { 'get-id': 'exit:3' } });
      const e = await userError(() => getRustDeskId(call));
      expect(e.code).to.equal('rustdesk.failed');
      expect(e.message).to.contain('Fehlercode 3').and.to.contain('stand-in: simulated failure');
    });

    it('unexpected text instead of an ID is not shown as an ID', async () => {
      await sd.set({ behaviour: { 'get-id': 'garbage' } });
      const e = await userError(() => getRustDeskId(call));
      expect(e.code).to.equal('rustdesk.output');
      expect(e.message).to.contain('Unerwartetes');
    });

    it('a refusal without administrative rights says what RustDesk needs', async () => {
      await sd.set({ behaviour: { 'get-id': 'noadmin' } });
      const e = await userError(() => getRustDeskId(call));
      expect(e.code).to.equal('rustdesk.admin');
      expect(e.message).to.contain('installiert').and.to.contain('Administratorrechten');
    });

    it('a hanging RustDesk is stopped after the time limit and the reason says so', async () => {
      await sd.set({ behaviour: { version: 'hang' } });
      const e = await userError(() => getRustDeskVersion({ ...call, timeoutMs: 700 }));
      expect(e.code).to.equal('rustdesk.timeout');
      expect(e.message).to.contain('nicht innerhalb von 0.7 Sekunden geantwortet');
      // The hanging process must not be left behind. The error comes as soon as SIGKILL is sent; the kernel may
      // take a moment to end the process on a loaded machine, so look again for a while (a stand-in that was
      // never killed hangs forever and is still there after the 10 s).
      const leftOver = async () => (await listProcesses()).filter((p) => p.argv.includes(sd.bin) && p.argv.includes('--version'));
      let left = await leftOver();
      for (let i = 0; i < 100 && left.length > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = await leftOver();
      }
      expect(left.map((p) => p.pid), 'left-over stand-in processes').to.deep.equal([]);
    });

    it('a program that cannot be started gives a German reason', async () => {
      const dir = await tempDir();
      try {
        const broken = join(dir, 'rustdesk');
        await writeFile(broken, '#!/nonexistent/interpreter\n');
        await chmod(broken, 0o755);
        const e = await userError(() => getRustDeskId({ bin: broken, timeoutMs: 5000 }));
        expect(e.code).to.equal('rustdesk.start');
        expect(e.message).to.contain('konnte nicht gestartet werden');
      } finally {
        await removeDir(dir);
      }
    });
  });

  describe('permanent password', () => {
    it('sets it with --password and RustDesk gets exactly that password', async () => {
      await setRustDeskPassword(call, 'Salon-Geheim-42');
      const st = await sd.read();
      expect(st.password).to.equal('Salon-Geheim-42');
      expect(st.calls).to.deep.include(['--password', '<secret>']);
    });

    it('checks the password before calling RustDesk', async () => {
      const e = await userError(() => setRustDeskPassword(call, 'kurz'));
      expect(e.message).to.contain('mindestens 8 Zeichen');
      expect((await sd.read()).calls).to.have.length(0);
      expect((await userError(() => setRustDeskPassword(call, ' Leerzeichen-vorne'))).message).to.contain('Leerzeichen');
    });

    it('a refusal without administrative rights is reported and nothing is set', async () => {
      await sd.set({ behaviour: { password: 'noadmin' } });
      const e = await userError(() => setRustDeskPassword(call, 'Salon-Geheim-42'));
      expect(e.code).to.equal('rustdesk.admin');
      expect((await sd.read()).password).to.equal(undefined);
    });

    it('locked settings are reported', async () => {
      await sd.set({ behaviour: { password: 'disabled' } });
      expect((await userError(() => setRustDeskPassword(call, 'Salon-Geheim-42'))).code).to.equal('rustdesk.disabled');
    });

    it('never shows the password, even when RustDesk echoes it in its error', async () => {
      await sd.set({ behaviour: { password: 'echo-secret' } });
      const e = await userError(() => setRustDeskPassword(call, 'Salon-Geheim-42'));
      expect(e.message).to.contain('nicht übernommen').and.to.contain('****');
      expect(JSON.stringify(e) + e.message + (e.hint ?? '')).not.to.contain('Salon-Geheim-42');
    });

    it('never shows the password when RustDesk fails with an exit code', async () => {
      await sd.set({ behaviour: { password: 'exit:2' } });
      const e = await userError(() => setRustDeskPassword(call, 'Salon-Geheim-42'));
      expect(e.message).to.contain('Fehlercode 2').and.not.to.contain('Salon-Geheim-42');
    });
  });

  describe('vendor server', () => {
    const cfg = { idServer: 'rd.support.example:21116', relayServer: 'relay.support.example', key: 'OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw=' };

    it('sets custom-rendezvous-server, relay-server and key with --option and checks them', async () => {
      const steps: string[] = [];
      await applyRustDeskServer(call, cfg, (done, total, label) => steps.push(`${done}/${total} ${label}`));
      const st = await sd.read();
      expect(st.options).to.deep.equal({
        'custom-rendezvous-server': cfg.idServer, 'relay-server': cfg.relayServer, key: cfg.key,
      });
      expect(steps).to.have.length(6);
      expect(st.calls).to.deep.include(['--option', 'key']); // read back
    });

    it('an empty relay server clears RustDesk\'s relay option', async () => {
      await sd.set({ options: { 'relay-server': 'old.example' } });
      await applyRustDeskServer(call, { ...cfg, relayServer: '' });
      expect((await sd.read()).options).not.to.have.property('relay-server');
    });

    it('refuses without an ID server', async () => {
      const e = await userError(() => applyRustDeskServer(call, { idServer: '', relayServer: '', key: '' }));
      expect(e.code).to.equal('rustdesk.config');
      expect((await sd.read()).calls).to.have.length(0);
    });

    it('a refusal without administrative rights is reported', async () => {
      await sd.set({ behaviour: { option: 'noadmin' } });
      const e = await userError(() => applyRustDeskServer(call, cfg));
      expect(e.code).to.equal('rustdesk.admin');
      expect(e.message).to.contain('den ID-Server einzustellen');
    });

    it('notices when RustDesk silently did not store the server', async () => {
      await sd.set({ behaviour: { option: 'ignore' } });
      const e = await userError(() => applyRustDeskServer(call, cfg));
      expect(e.code).to.equal('rustdesk.verify');
      expect(e.message).to.contain('ID-Server');
    });
  });

  describe('service', () => {
    it('is "not running" without a RustDesk service process, "running" with one', async () => {
      expect((await rustDeskServiceState(sd.bin)).running).to.equal(false);
      const svc = await sd.startService();
      const st = await rustDeskServiceState(sd.bin);
      expect(st.running).to.equal(true);
      expect(st.pids).to.include(svc.pid);
    });

    it('a service of a different RustDesk program does not count', async () => {
      const other = await createStandin();
      try {
        await other.startService();
        expect((await rustDeskServiceState(other.bin)).running, 'the other one runs').to.equal(true);
        expect((await rustDeskServiceState(sd.bin)).running).to.equal(false);
      } finally {
        await other.cleanup();
      }
    });
  });
});
