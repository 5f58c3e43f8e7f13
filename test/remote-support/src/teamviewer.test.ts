import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findTeamViewer } from '../../../plugins/remote-support/dist/src/teamviewer.js';
import { tempDir, removeDir } from '../../support/dist/tmp.js';

describe('remote-support: TeamViewer on the server (stand-ins for TeamViewer)', () => {
  let dir: string;
  let emptyProc: string;
  beforeEach(async () => {
    dir = await tempDir('kw-teamviewer-');
    emptyProc = join(dir, 'proc');
    await mkdir(emptyProc);
  });
  afterEach(async () => { await removeDir(dir); });

  it('finds nothing where there is nothing', async () => {
    const f = await findTeamViewer({ envPath: join(dir, 'bin'), paths: [join(dir, 'opt', 'teamviewer')], procRoot: emptyProc });
    expect(f).to.deep.equal({ found: false, places: [] });
  });

  it('finds a "teamviewer" program on PATH and an install folder', async () => {
    await mkdir(join(dir, 'bin'));
    await writeFile(join(dir, 'bin', 'teamviewer'), '#!/bin/sh\n');
    await chmod(join(dir, 'bin', 'teamviewer'), 0o755);
    await mkdir(join(dir, 'opt', 'teamviewer'), { recursive: true });
    const f = await findTeamViewer({ envPath: join(dir, 'bin'), paths: [join(dir, 'opt', 'teamviewer')], procRoot: emptyProc });
    expect(f.found).to.equal(true);
    expect(f.places).to.deep.equal([join(dir, 'bin', 'teamviewer'), join(dir, 'opt', 'teamviewer')]);
  });

  it('finds a running teamviewerd process', async () => {
    const script = join(dir, 'teamviewerd');
    await writeFile(script, 'setInterval(() => {}, 1000);\n');
    const child = spawn(process.execPath, [script], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const f = await findTeamViewer({ envPath: '', paths: [] });
      expect(f.found).to.equal(true);
      expect(f.places).to.include(`Prozess teamviewerd (PID ${child.pid})`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('does not mistake a running program that only mentions TeamViewer in its name for it', async () => {
    const script = join(dir, 'cleanup-teamviewer-logs');
    await writeFile(script, 'setInterval(() => {}, 1000);\n');
    const child = spawn(process.execPath, [script, '--teamviewer'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      const f = await findTeamViewer({ envPath: '', paths: [] });
      expect(f.places.filter((p) => p.includes(`PID ${child.pid})`))).to.deep.equal([]);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  });
});
