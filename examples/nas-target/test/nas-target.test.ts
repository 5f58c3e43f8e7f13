/**
 * The example plugin's own test, written the way a plugin author would: a real Kassenwart host started by
 * `startTestHost` from `kassenwart/sdk/testing`, with this plugin folder added and enabled next to the real
 * backup plugin. The test presses the same buttons an operator presses ("Datensicherung", then
 * "Backup an FTP") and checks what the operator (and a technician looking into the NAS folder) would check.
 *
 * Run it: npx tsc -b examples/nas-target/test && npx mocha --no-config --timeout 120000 examples/nas-target/dist/test/*.test.js
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestHost, type JobView, type TestHost } from 'kassenwart/sdk/testing';

/** The plugin folder (this file runs from examples/nas-target/dist/test/). */
const PLUGIN_DIR = fileURLToPath(new URL('../..', import.meta.url));

/** One entry of `details.results` in the job result of "Backup an FTP" (see the backup plugin). */
interface TargetResult {
  target: string;
  displayName: string;
  status: 'sent' | 'skipped' | 'failed';
  message: string;
  location?: string;
}

const resultOf = (job: JobView, target: string) =>
  ((job.result?.details?.results ?? []) as TargetResult[]).find((r) => r.target === target);

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('example plugin nas-target (NAS-Ordner) in a real host', function () {
  this.timeout(180_000);
  let host: TestHost;
  let work: string;
  let nas: string;

  /** Changes this plugin's settings the way the settings page does (PUT /api/settings/nas-target). */
  async function configure(values: Record<string, unknown>): Promise<void> {
    const r = await host.api('PUT', '/api/settings/nas-target', values);
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'kw-nas-example-'));
    nas = join(work, 'nas');
    await mkdir(nas);
    host = await startTestHost({
      pluginDirs: [PLUGIN_DIR],
      enable: ['nas-target'],
      settings: {
        backup: { ftpEnabled: false }, // not coupled with an FTP server: only our target is tried
        'nas-target': { enabled: true, directory: nas, keep: 2 },
      },
    });
  });

  after(async () => {
    await host?.stop();
    await rm(work, { recursive: true, force: true });
  });

  it('"Datensicherung", then "Backup an FTP": the verified backup lands in the NAS folder, with its checksum file', async () => {
    const created = await host.runAction('backup.create');
    expect(created.state, JSON.stringify(created.error)).to.equal('succeeded');
    const backup = created.result!.details as { name: string; sha256: string; path: string };

    const sent = await host.runAction('backup.send');
    expect(sent.state, JSON.stringify(sent.error)).to.equal('succeeded');
    expect(sent.result?.message).to.equal('Datenbank gesendet! (NAS-Ordner)');
    const ours = resultOf(sent, 'nas-target.folder');
    expect(ours).to.include({ status: 'sent', displayName: 'NAS-Ordner', message: `Im NAS-Ordner gesichert (${nas})`, location: join(nas, backup.name) });

    // exactly the backup and its checksum file; no temporary file left behind
    expect((await readdir(nas)).sort()).to.deep.equal([backup.name, `${backup.name}.sha256`]);
    expect(await sha256(join(nas, backup.name))).to.equal(backup.sha256);
    expect(await readFile(join(nas, `${backup.name}.sha256`), 'utf8')).to.equal(`${backup.sha256}  ${backup.name}\n`);

    // the plugin's own route lists it
    const listed = await host.api('GET', '/api/ext/nas-target/backups');
    expect(listed.status).to.equal(200);
    expect(listed.body.map((b: { name: string }) => b.name)).to.deep.equal([backup.name]);
  });

  it('keeps only the newest "keep" backups and never touches other files in the folder', async () => {
    // two older backups of ours (with checksum files) and a file of someone else
    const old = ['kasse-2020-01-01_07-00-00.sqlite.gz', 'kasse-2020-01-02_07-00-00.sqlite.gz'];
    for (const [i, name] of old.entries()) {
      await writeFile(join(nas, name), `alt ${i}`);
      await writeFile(join(nas, `${name}.sha256`), `${'0'.repeat(64)}  ${name}\n`);
      const t = new Date(Date.UTC(2020, 0, 1 + i));
      await utimes(join(nas, name), t, t);
    }
    await writeFile(join(nas, 'notizen.txt'), 'nicht von Kassenwart');
    const before = (await readdir(nas)).filter((n) => n.endsWith('.gz') && !old.includes(n));
    expect(before, 'the backup from the first test').to.have.length(1);

    const created = await host.runAction('backup.create');
    expect(created.state).to.equal('succeeded');
    const name = (created.result!.details as { name: string }).name;
    const sent = await host.runAction('backup.send');
    expect(sent.state, JSON.stringify(sent.error)).to.equal('succeeded');

    // keep = 2: the new one and the previous one stay; both older ones are gone with their checksum files
    const left = (await readdir(nas)).sort();
    expect(left).to.deep.equal([before[0], `${before[0]}.sha256`, name, `${name}.sha256`, 'notizen.txt'].sort());
    const log = (await host.api('GET', `/api/jobs/${sent.id}`)).body.log as { message: string }[];
    expect(log.map((l) => l.message).join('\n')).to.contain(`Ältere Sicherung ${old[0]} aus dem NAS-Ordner gelöscht (es bleiben 2).`);
  });

  it('a folder that is not there: the job fails and says which target and why, in German', async () => {
    const missing = join(work, 'nicht-eingehaengt');
    await configure({ directory: missing });
    const sent = await host.runAction('backup.send');
    expect(sent.state).to.equal('failed');
    expect(sent.error?.message).to.contain(`NAS-Ordner: Der NAS-Ordner ${missing} ist nicht vorhanden.`);
    const route = await host.api('GET', '/api/ext/nas-target/backups');
    expect(route.status).to.equal(400);
    expect(route.body.error.message).to.equal(`Der NAS-Ordner ${missing} ist nicht vorhanden.`);
  });

  it('switched off: the target is skipped with its reason, not reported as an error', async () => {
    await configure({ enabled: false, directory: nas });
    const sent = await host.runAction('backup.send');
    expect(sent.state).to.equal('warning');
    expect(sent.result?.message).to.contain('NAS-Ordner: Die Sicherung in den NAS-Ordner ist ausgeschaltet.');
    expect(resultOf(sent, 'nas-target.folder')?.status).to.equal('skipped');
    await configure({ enabled: true });
  });

  it('a relative path is refused with the German hint from x-patternMessage, and nothing is stored', async () => {
    const r = await host.api('PUT', '/api/settings/nas-target', { directory: 'nas/kasse' });
    expect(r.status).to.equal(400);
    expect(r.body.error.details).to.deep.include({
      path: '/directory', message: 'Bitte den Pfad des NAS-Ordners als absoluten Pfad angeben, z. B. /mnt/nas/kasse.',
    });
    const now = await host.api('GET', '/api/settings/nas-target');
    expect(now.body.values.directory).to.equal(nas);
  });
});
