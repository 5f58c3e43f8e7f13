/**
 * Smoke run of the mutation testing (`npm run mutation -- --smoke`): StrykerJS mutates one small module
 * (the FTP target's remote names) and runs the specs that cover it against every mutant. Keeps the tool
 * chain working in the normal suite (Stryker 9 + mocha-runner + the mocha 12 shim + compiled specs); the
 * full run over the guarantee modules is `npm run mutation` (see docs/test-audit.md).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

describe('mutation testing: smoke run on one small module (StrykerJS)', function () {
  this.timeout(600_000);

  it('kills at least 80 % of the mutants of the FTP remote-name rules, and says so', async () => {
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
    const s = summary['ftp-names'];
    expect(s.mutants, text.slice(-2000)).to.be.greaterThan(30);
    expect(s.score).to.be.at.least(80);
    expect(s.killed + s.timeout + s.survived + s.noCoverage + s.errors + s.ignored).to.equal(s.mutants);
    expect(text).to.match(/ftp-names\s+\d+(\.\d)? %/);
  });
});
