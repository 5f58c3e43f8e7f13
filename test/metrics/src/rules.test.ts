/**
 * The shipped alert rules: `promtool check rules` and `promtool test rules` pass for them, and both fail on
 * a broken copy (a syntax error; a rule whose threshold no longer matches the tested expectation).
 */
import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const MONITORING = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'monitoring');
/** Every promtool unit-test file shipped beside the rules. */
const TEST_FILES = readdirSync(MONITORING).filter((f) => f.endsWith('.test.yml')).sort();

function promtool(args: string[], cwd: string) {
  const r = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('alert rules shipped in monitoring/', function () {
  this.timeout(300_000); // real servers on a shared machine: starting them can take minutes
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kw-rules-'));
    for (const f of TEST_FILES.concat('kassenwart.rules.yml')) await copyFile(join(MONITORING, f), join(dir, f));
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', 'kassenwart.rules.yml'], MONITORING);
    expect(r.status, r.out).to.equal(0);
    expect(r.out).to.match(/SUCCESS: 8 rules found/);
  });

  it('pass their promtool unit tests (synthetic series, expected alerts at given times)', () => {
    expect(TEST_FILES).to.include.members(['kassenwart.test.yml', 'kassenwart-version.test.yml']);
    const r = promtool(['test', 'rules', ...TEST_FILES], MONITORING);
    expect(r.status, r.out).to.equal(0);
    expect(r.out.match(/SUCCESS/g)).to.have.length(TEST_FILES.length);
  });

  it('every rule has a German summary and a description', async () => {
    const text = await readFile(join(MONITORING, 'kassenwart.rules.yml'), 'utf8');
    const alerts = text.match(/- alert: \w+/g) ?? [];
    expect(alerts).to.have.length(8);
    expect(text.match(/summary: '/g)).to.have.length(8);
    expect(text.match(/description: '/g)).to.have.length(8);
    for (const name of ['BackupTooOld', 'OffsiteBackupTooOld', 'BackupVerificationFailed', 'UpdateFailed', 'VersionOutdated', 'PluginFailed']) {
      expect(text).to.contain(`- alert: ${name}`);
    }
  });

  it('promtool check rules fails on a broken rule', async () => {
    const file = join(dir, 'kassenwart.rules.yml');
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('kassenwart_backup_last_verification_success == 0', 'kassenwart_backup_last_verification_success == ('));
    const r = promtool(['check', 'rules', 'kassenwart.rules.yml'], dir);
    expect(r.status, r.out).to.not.equal(0);
    expect(r.out).to.match(/FAILED|parse error/i);
  });

  it('promtool test rules fails when a rule no longer does what its test expects', async () => {
    const file = join(dir, 'kassenwart.rules.yml');
    const text = await readFile(file, 'utf8');
    const broken = text.replace('{target="local"} > 26 * 3600', '{target="local"} > 28 * 3600');
    expect(broken).to.not.equal(text);
    await writeFile(file, broken);
    const check = promtool(['check', 'rules', 'kassenwart.rules.yml'], dir);
    expect(check.status, 'still valid syntax').to.equal(0);
    const r = promtool(['test', 'rules', 'kassenwart.test.yml'], dir);
    expect(r.status, r.out).to.not.equal(0);
    expect(r.out).to.match(/alertname: BackupTooOld/);
  });
});
