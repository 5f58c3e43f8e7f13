/**
 * Smoke run of the mutation testing (`npm run mutation -- --smoke`): StrykerJS mutates two small modules
 * (the FTP target's remote names, the host's quarantine decisions) one after the other in one run, and runs
 * the specs that cover each against every mutant. Keeps the tool chain working in the normal suite (Stryker 9 +
 * mocha-runner + the mocha 12 shim + compiled specs + several modules in one process, which once broke on the
 * second module); the full run over the guarantee modules is `npm run mutation` (see docs/test-audit.md).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('mutation testing: smoke run on two small modules in one run (StrykerJS)', function () {
  this.timeout(600_000);

  it('kills at least 80 % of the mutants of the FTP remote-name rules and of the quarantine decisions, and says so', async () => {
    const out: string[] = [];
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'scripts', 'mutation.mjs'), '--smoke', '--no-build'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.setEncoding('utf8').on('data', (d: string) => out.push(d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => out.push(d));
      child.once('exit', resolve);
    });
    const text = out.join('');
    expect(code, text.slice(-3000)).to.equal(0);
    const summary = JSON.parse(await readFile(join(ROOT, 'reports', 'mutation', 'summary-smoke.json'), 'utf8'));
    for (const [name, least] of [['ftp-names', 30], ['host-quarantine', 100]] as const) {
      const s = summary[name];
      expect(s?.error, `${name}: ${text.slice(-2000)}`).to.equal(undefined);
      expect(s.mutants, `${name}: ${text.slice(-2000)}`).to.be.greaterThan(least);
      expect(s.score, name).to.be.at.least(80);
      expect(s.killed + s.timeout + s.survived + s.noCoverage + s.errors + s.ignored, name).to.equal(s.mutants);
      expect(text).to.match(new RegExp(`${name}\\s+\\d+(\\.\\d)? %`));
    }
  });
});
