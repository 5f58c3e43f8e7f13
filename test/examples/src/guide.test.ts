/**
 * docs/writing-a-plugin.md, section 0, as a test: every code block marked `<!-- guide-test: run -->` (shell)
 * or `<!-- guide-test: file PATH -->` (a file to write) runs in order, in one bash, in a temporary folder
 * outside this repository, with `$KASSENWART` set to this checkout — the way a plugin author follows the
 * guide. A block marked `<!-- guide-test: skip (…) -->` is not run (building the checkout: the test suite
 * runs in a built one). Needs what CI has: the npm registry (packages come from npm's cache when the
 * checkout's `npm install` has fetched them, `prefer-offline`).
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const GUIDE = join(REPO, 'docs', 'writing-a-plugin.md');

interface Step { kind: 'run' | 'file' | 'skip'; path?: string; body: string }

/** The marked blocks of the guide, in order. */
export function guideSteps(markdown: string): Step[] {
  const re = /<!-- guide-test: (run|file (\S+)|skip[^>]*) -->\s*\n```[a-z]*\n([\s\S]*?)\n```/g;
  const steps: Step[] = [];
  for (const m of markdown.matchAll(re)) {
    const kind = m[1].startsWith('file') ? 'file' : m[1].startsWith('skip') ? 'skip' : 'run';
    steps.push({ kind, path: m[2], body: m[3] });
  }
  return steps;
}

/** One bash script: shell blocks as they are, file blocks as quoted here-documents. */
function script(steps: Step[]): string {
  const out = ['set -euo pipefail'];
  steps.forEach((s, i) => {
    if (s.kind === 'skip') return;
    out.push(`echo '=== guide step ${i + 1} (${s.kind}${s.path ? ' ' + s.path : ''})'`);
    if (s.kind === 'file') out.push(`cat > ${JSON.stringify(s.path)} <<'__KW_GUIDE_FILE__'\n${s.body}\n__KW_GUIDE_FILE__`);
    else out.push(s.body);
  });
  return out.join('\n') + '\n';
}

describe('docs/writing-a-plugin.md, followed step by step outside the repository', function () {
  this.timeout(20 * 60_000);
  let work: string;
  before(async () => { work = await mkdtemp(join(tmpdir(), 'kw-guide-')); });
  after(async () => { if (work) await rm(work, { recursive: true, force: true }); });

  it('marks the steps: build the checkout, set up the project, tsconfig, build and test, install and send', async () => {
    const steps = guideSteps(await readFile(GUIDE, 'utf8'));
    expect(steps.map((s) => s.kind + (s.path ? ' ' + s.path : ''))).to.deep.equal(['skip', 'run', 'file tsconfig.json', 'run', 'run']);
    expect(steps[0].body).to.match(/npm install && npm run build/);
    expect(steps[1].body).to.match(/npm install --save-dev "\$KASSENWART"/);
    expect(steps[1].body).to.match(/mocha/);
    expect(steps[1].body).to.match(/chai/);
  });

  it('the plugin compiles against kassenwart/sdk, its own mocha tests pass, and "Backup an FTP" fills the NAS folder', async () => {
    expect(work.startsWith(REPO)).to.equal(false);
    const file = join(work, 'guide.sh');
    await writeFile(file, script(guideSteps(await readFile(GUIDE, 'utf8'))));
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const c = spawn('bash', [file], {
        cwd: work,
        env: {
          ...process.env, KASSENWART: REPO, KASSENWART_LOG: 'warn', KASSENWART_DEMO_DB_MB: '1',
          npm_config_prefer_offline: 'true', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
      c.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
      c.once('exit', (code) => resolve({ code, out }));
    });
    expect(r.code, r.out.slice(-6000)).to.equal(0);
    expect(r.out).to.match(/passing/);
    expect(r.out).to.not.match(/failing/);
    expect(r.out).to.match(/^Datenbank gesendet! \(NAS-Ordner\)$/m);
    const nas = join(work, 'my-nas-target', 'nas');
    const names = await readdir(nas);
    expect(names.filter((n) => n.endsWith('.sqlite.gz'))).to.have.length(1);
    expect(names.filter((n) => n.endsWith('.sqlite.gz.sha256'))).to.have.length(1);
  });
});
