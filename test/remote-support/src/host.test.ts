import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { createStandin, type Standin } from './standin.js';

const STATUS = '/api/ext/remote-support/status';

/** Every file below `dir`, recursively. */
async function filesBelow(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesBelow(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

describe('remote-support through the real host (stand-in for RustDesk)', function () {
  this.timeout(120_000);
  let sd: Standin;
  let host: TestHost;
  /** A folder on the host's PATH, empty at first; tests put programs into it. */
  let pathDir: string;

  before(async () => {
    sd = await createStandin({ id: '123456789', version: '1.4.1' });
    pathDir = join(sd.dir, 'path');
    await mkdir(pathDir);
    host = await startTestHost({
      settings: { 'remote-support': { rustdeskPath: sd.bin, timeoutSeconds: 5, installationName: 'Salon Haarmonie', customerNumber: 'K-10417' } },
      env: { ...sd.env, PATH: `${pathDir}:${process.env.PATH ?? '/usr/bin:/bin'}` },
    });
  });
  after(async () => {
    await host?.stop();
    await sd?.cleanup();
  });

  const setSettings = async (values: Record<string, unknown>) => {
    const r = await host.api('PUT', '/api/settings/remote-support', values);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  };

  it('shows version, the ID in groups of three, and the installation for the phone call', async () => {
    const r = await host.api('GET', STATUS);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    expect(r.body.rustdesk).to.deep.equal({ found: true, path: sd.bin });
    expect(r.body.version.value).to.equal('1.4.1');
    expect(r.body.id.value).to.equal('123456789');
    expect(r.body.id.formatted).to.equal('123 456 789');
    expect(r.body.installation.name).to.equal('Salon Haarmonie');
    expect(r.body.installation.customerNumber).to.equal('K-10417');
    expect(r.body.installation.hostname).to.be.a('string').and.not.equal('');
    expect(r.body.teamviewer.found).to.equal(false);
  });

  it('says when the RustDesk service does not run, and sees it once it runs', async () => {
    let r = await host.api('GET', STATUS);
    expect(r.body.service.running, `service processes: ${JSON.stringify(r.body.service.pids)}`).to.equal(false);
    expect(r.body.service.problem.message).to.contain('Der RustDesk-Dienst läuft nicht');
    const svc = await sd.startService();
    r = await host.api('GET', STATUS);
    expect(r.body.service.running).to.equal(true);
    expect(r.body.service.pids).to.include(svc.pid);
    svc.kill('SIGKILL');
    await new Promise((res) => svc.once('exit', res));
  });

  for (const [behaviour, code, text] of [
    ['empty', 'rustdesk.empty', 'RustDesk hat keine ID ausgegeben (leere Ausgabe).'],
    ['exit:4', 'rustdesk.failed', 'Fehlercode 4'],
    ['noadmin', 'rustdesk.admin', 'Administratorrechten'],
    ['hang', 'rustdesk.timeout', 'nicht innerhalb von 1 Sekunden geantwortet'],
  ] as const) {
    it(`--get-id misbehaving (${behaviour}) shows its own German reason instead of an ID`, async () => {
      await setSettings({ timeoutSeconds: 1 });
      await sd.set({ behaviour: { 'get-id': behaviour } });
      try {
        const r = await host.api('GET', STATUS);
        expect(r.status).to.equal(200);
        expect(r.body.id.value).to.equal(undefined);
        expect(r.body.id.problem.code).to.equal(code);
        expect(r.body.id.problem.message).to.contain(text);
        expect(r.body.version.value, 'the other checks still work').to.equal('1.4.1');
      } finally {
        await sd.set({ behaviour: {} });
        await setSettings({ timeoutSeconds: 5 });
      }
    });
  }

  it('a missing RustDesk program is named, with what to do', async () => {
    await setSettings({ rustdeskPath: join(sd.dir, 'gibt-es-nicht', 'rustdesk') });
    try {
      const r = await host.api('GET', STATUS);
      expect(r.status).to.equal(200);
      expect(r.body.rustdesk.found).to.equal(false);
      expect(r.body.rustdesk.problem.code).to.equal('rustdesk.missing');
      expect(r.body.rustdesk.problem.message).to.contain('nicht gefunden');
      expect(r.body.id.value).to.equal(undefined);
    } finally {
      await setSettings({ rustdeskPath: sd.bin });
    }
  });

  it('without a configured path, finds "rustdesk" on the host\'s PATH (and says so when it is not there)', async () => {
    await setSettings({ rustdeskPath: null });
    try {
      const realOnes = ['/usr/bin/rustdesk', '/usr/local/bin/rustdesk', '/usr/lib/rustdesk/rustdesk', '/opt/rustdesk/rustdesk'];
      const machineHasRustDesk = (await Promise.all(realOnes.map((p) => stat(p).then(() => true, () => false)))).some(Boolean)
        || (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, 'rustdesk')));
      if (!machineHasRustDesk) {
        const before = await host.api('GET', STATUS);
        expect(before.body.rustdesk.found).to.equal(false);
        expect(before.body.rustdesk.problem.message).to.contain('weder im Suchpfad');
      }
      await symlink(sd.bin, join(pathDir, 'rustdesk'));
      const r = await host.api('GET', STATUS);
      expect(r.body.rustdesk).to.deep.equal({ found: true, path: join(pathDir, 'rustdesk') });
      expect(r.body.id.value).to.equal('123456789');
    } finally {
      await rm(join(pathDir, 'rustdesk'), { force: true });
      await setSettings({ rustdeskPath: sd.bin });
    }
  });

  it('a technician sets the permanent password; it reaches RustDesk, is stored only sealed, and is logged or shown nowhere', async () => {
    const secret = 'Salon-Geheim-4711';
    const job = await host.runAction('remote-support.setPassword', { password: secret });
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    expect(job.result?.message).to.equal('Das dauerhafte Passwort für RustDesk wurde gesetzt.');
    expect((await sd.read()).password).to.equal(secret);

    const seen = JSON.stringify([
      (await host.api('GET', `/api/jobs/${job.id}`)).body,
      (await host.api('GET', '/api/jobs?limit=50')).body,
      (await host.api('GET', '/api/audit?limit=50')).body,
      (await host.api('GET', '/api/settings/remote-support')).body,
    ]);
    expect(seen).to.contain(job.id);
    expect(seen).not.to.contain(secret);
    expect(host.output()).not.to.contain(secret);
    for (const f of await filesBelow(host.dataDir)) {
      if ((await stat(f)).size > 50_000_000) continue;
      expect((await readFile(f)).includes(Buffer.from(secret)), `password found in ${f}`).to.equal(false);
    }
  });

  it('a password RustDesk refuses (no installation / no administrative rights) fails with the reason', async () => {
    await sd.set({ behaviour: { password: 'noadmin' } });
    try {
      const job = await host.runAction('remote-support.setPassword', { password: 'Anderes-Passwort-1' });
      expect(job.state).to.equal('failed');
      expect(job.error?.code).to.equal('rustdesk.admin');
      expect(job.error?.message).to.contain('Administratorrechten');
      expect(job.error?.hint).to.be.a('string');
    } finally {
      await sd.set({ behaviour: {} });
    }
  });

  it('without a password the action fails with a clear message and RustDesk is not called', async () => {
    const before = (await sd.read()).calls.length;
    const job = await host.runAction('remote-support.setPassword', {});
    expect(job.state).to.equal('failed');
    expect(job.error?.message).to.equal('Bitte geben Sie ein neues Passwort für RustDesk ein.');
    expect((await sd.read()).calls.length).to.equal(before);
  });

  it('a technician applies the vendor\'s ID server, relay server and key to RustDesk', async () => {
    const key = 'OeVuKk5nlHiXp+APNn0Y3pC1Iwpwn44JGqrQCsWqmBw=';
    await setSettings({ idServer: 'rd.support.example', relayServer: 'relay.support.example:21117', key });
    const job = await host.runAction('remote-support.applyServer');
    expect(job.state, JSON.stringify(job)).to.equal('succeeded');
    expect(job.result?.message).to.equal('Der Support-Server wurde in RustDesk übernommen.');
    expect((await sd.read()).options).to.deep.equal({
      'custom-rendezvous-server': 'rd.support.example', 'relay-server': 'relay.support.example:21117', key,
    });
    const r = await host.api('GET', STATUS);
    expect(r.body.server).to.deep.equal({ idServer: 'rd.support.example', relayServer: 'relay.support.example:21117', keySet: true });
  });

  it('applying the server where RustDesk refuses shows the reason', async () => {
    await sd.set({ behaviour: { option: 'noadmin' } });
    try {
      const job = await host.runAction('remote-support.applyServer');
      expect(job.state).to.equal('failed');
      expect(job.error?.code).to.equal('rustdesk.admin');
    } finally {
      await sd.set({ behaviour: {} });
    }
  });

  it('an invalid server name is refused by the settings, with the field', async () => {
    const r = await host.api('PUT', '/api/settings/remote-support', { idServer: 'rd support; rm -rf /' });
    expect(r.status).to.equal(400);
    expect(JSON.stringify(r.body.error.details)).to.contain('idServer');
  });

  it('warns that TeamViewer is no longer supported when it is on the server', async () => {
    // A TeamViewer stand-in on the host's PATH (an executable named "teamviewer").
    expect((await host.api('GET', STATUS)).body.teamviewer.found, 'no TeamViewer at first').to.equal(false);
    await writeFile(join(pathDir, 'teamviewer'), '#!/bin/sh\nexit 0\n');
    await chmod(join(pathDir, 'teamviewer'), 0o755);
    const r = await host.api('GET', STATUS);
    expect(r.body.teamviewer.found).to.equal(true);
    expect(r.body.teamviewer.places).to.include(join(pathDir, 'teamviewer'));
    expect(r.body.teamviewer.message).to.contain('seit dem 01.08.2022 nicht mehr unterstützt');
    expect(r.body.teamviewer.hint).to.contain('RustDesk');
  });

  it('the panel is listed for the maintenance page and its module is served', async () => {
    const r = await host.api('GET', '/api/panels');
    const panel = (r.body as { plugin: string; element: string; url: string; location: string }[]).find((p) => p.plugin === 'remote-support');
    expect(panel, JSON.stringify(r.body)).to.not.equal(undefined);
    expect(panel!.element).to.equal('kw-remote-support');
    expect(panel!.location).to.equal('maintenance');
    const js = await fetch(host.url + panel!.url);
    expect(js.status).to.equal(200);
    expect(await js.text()).to.contain("customElements.define('kw-remote-support'");
    const shared = await fetch(new URL('../src/client-os.js', host.url + panel!.url));
    expect(shared.status, 'the panel\'s shared module is served too').to.equal(200);
  });

  it('on the command line: "kassenwart rustdesk status" shows the ID, "password --password-stdin" sets it', async () => {
    const st = host.cli(['rustdesk', 'status']);
    expect(st.status, st.stderr).to.equal(0);
    expect(st.stdout).to.contain('123 456 789').and.to.contain('Version 1.4.1');
    const pw = host.cli(['rustdesk', 'password', '--password-stdin'], 'Kommandozeile-Passwort-7\n');
    expect(pw.status, pw.stderr).to.equal(0);
    expect(pw.stdout).to.contain('Das dauerhafte Passwort für RustDesk wurde gesetzt.');
    expect(pw.stdout + pw.stderr).not.to.contain('Kommandozeile-Passwort-7');
    expect((await sd.read()).password).to.equal('Kommandozeile-Passwort-7');
  });

  it('an operator sees the status but may not set the password', async () => {
    const salon = await host.asUser({ name: 'salon', password: 'Kasse-Salon-123', role: 'operator' });
    const st = await salon.api('GET', STATUS);
    expect(st.status).to.equal(200);
    expect((st.body as { id: { value: string } }).id.value).to.equal('123456789');
    const pw = await salon.api('POST', '/api/actions/remote-support.setPassword', { params: { password: 'Operator-Versuch-1' } });
    expect(pw.status).to.equal(403);
    expect((await sd.read()).password).not.to.equal('Operator-Versuch-1');
  });
});
