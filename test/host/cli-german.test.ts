/**
 * Issue 17: everything a person reads from the real CLI is German — help after any command, wrong options,
 * role names (Bediener/Techniker, as in the admin UI), job and plugin states, and no English log lines in the
 * terminal. Real `kassenwart` processes on a temporary data folder.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { KASSENWART_BIN } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';

const ENGLISH = /Unknown option|To specify a positional|argument missing|does not take an argument|\bINFO\b|\bsucceeded\b|\binactive\b/;

describe('CLI in German (real kassenwart processes)', function () {
  this.timeout(300_000);
  let dataDir: string;
  // As a technician runs it: no KASSENWART_LOG in the environment.
  const env = { ...process.env, KASSENWART_DEMO_DB_MB: '1' } as NodeJS.ProcessEnv;
  delete env.KASSENWART_LOG;
  const kw = (args: string[], input?: string) => {
    const r = spawnSync(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { input, encoding: 'utf8', env, timeout: 120_000 });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '', all: (r.stdout ?? '') + (r.stderr ?? '') };
  };

  before(async () => { dataDir = await tempDir('kw-cli-german-'); });
  after(async () => { await removeDir(dataDir); });

  it('"--help" after any host command prints the German help (exit 0), not an "unknown option" error', () => {
    for (const cmd of [[], ['start'], ['users', 'add'], ['plugins', 'list'], ['settings', 'get', 'backup'], ['action', 'run', 'backup.create'], ['jobs'], ['audit']]) {
      const r = kw([...cmd, '--help']);
      expect(r.status, `kassenwart ${cmd.join(' ')} --help: ${r.all}`).to.equal(0);
      expect(r.stdout).to.contain('Aufruf: kassenwart <Befehl> [Optionen]');
      expect(r.all).not.to.match(ENGLISH);
    }
  });

  it('a wrong option is explained in German (exit 2), for host and plugin commands', () => {
    const cases: Array<[string[], RegExp]> = [
      [['users', 'list', '--frob'], /Falscher Aufruf: Die Option „--frob“ gibt es nicht\./],
      [['jobs', '--limit'], /Falscher Aufruf: Die Option „--limit“ braucht einen Wert\./],
      [['plugins', 'list', '--json=ja'], /Falscher Aufruf: Die Option „--json“ nimmt keinen Wert\./],
      [['cloud', 'list', '--frob'], /Falscher Aufruf: Die Option „--frob“ gibt es nicht\./],
      [['release', 'build', '--frob'], /Falscher Aufruf: Die Option „--frob“ gibt es nicht\./],
      [['rustdesk', 'frob'], /Falscher Aufruf: unbekannter Unterbefehl „frob“/],
    ];
    for (const [args, re] of cases) {
      const r = kw(args);
      expect(r.status, `kassenwart ${args.join(' ')}: ${r.all}`).to.equal(2);
      expect(r.stderr).to.match(re);
      expect(r.all, `kassenwart ${args.join(' ')}`).not.to.match(ENGLISH);
    }
    for (const args of [['cloud', '--help'], ['rustdesk', '--help']]) {
      const r = kw(args);
      expect(r.status, `kassenwart ${args.join(' ')}: ${r.all}`).to.equal(0);
      expect(r.stdout).to.match(/kassenwart (cloud|rustdesk) /);
      expect(r.all).not.to.match(ENGLISH);
    }
  });

  it('"users add" names the role as the UI does (Bediener, Techniker), takes the German names too, and refuses others in German', () => {
    const a = kw(['users', 'add', 'anna', '--role', 'operator', '--password-stdin'], 'Anna-Passwort-2026\n');
    expect(a.status, a.all).to.equal(0);
    expect(a.stdout.trim()).to.equal('Benutzer „anna“ (Bediener) angelegt.');
    const b = kw(['users', 'add', 'ben', '--role', 'Techniker', '--password-stdin'], 'Ben-Passwort-2026!\n');
    expect(b.status, b.all).to.equal(0);
    expect(b.stdout.trim()).to.equal('Benutzer „ben“ (Techniker) angelegt.');
    const c = kw(['users', 'add', 'chef', '--role', 'chef', '--password-stdin'], 'Chef-Passwort-2026\n');
    expect(c.status).to.equal(2);
    expect(c.stderr).to.contain('Die Rolle „chef“ gibt es nicht');
    const list = kw(['users', 'list']);
    expect(list.stdout).to.match(/^anna\s+Bediener$/m).and.to.match(/^ben\s+Techniker$/m);
    expect(list.all).not.to.match(/\b(operator|technician)\b/);
    // The audit log names what happened in German, with the code for grep.
    expect(kw(['audit']).stdout).to.match(/^\S+\s+cli\s+Benutzer angelegt \(user\.add\)\s+anna /m);
    // Scripts keep the API's ids.
    expect(JSON.parse(kw(['users', 'list', '--json']).stdout).map((u: { role: string }) => u.role).sort()).to.deep.equal(['operator', 'technician']);
  });

  it('job and plugin states read German, and a command prints no English log lines', () => {
    const run = kw(['action', 'run', 'backup.create']);
    expect(run.status, run.all).to.equal(0);
    expect(run.stdout).to.match(/^Datenbank gesichert \(kasse-.*\.sqlite\.gz, [\d,]+ (kB|MB), geprüft\)$/m);
    expect(run.all).not.to.match(ENGLISH);
    const jobs = kw(['jobs', 'list']);
    expect(jobs.stdout).to.match(/ erfolgreich +Datensicherung/);
    const plugins = kw(['plugins', 'list']);
    expect(plugins.stdout).to.match(/^backup\s+\S+\s+(aktiv|bereit)\s/m);
    expect(plugins.all).not.to.match(ENGLISH);
  });
});
