import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KASSENWART_BIN, type TestHost } from 'kassenwart/sdk/testing';
import { writePlugin, manifest, pluginCode, startFixtureHost, type FixtureHost } from './fixtures.js';

/** Runs the CLI as a real second process; kills it after `ms` (a second server that was not refused keeps running). */
function second(dataDir: string, args: string[], env: Record<string, string> = {}, ms = 60_000) {
  return new Promise<{ status: number | null; out: string; killed: boolean }>((resolve) => {
    const c = spawn(process.execPath, [KASSENWART_BIN, ...args, '--data', dataDir], { env: { ...process.env, KASSENWART_LOG: 'warn', ...env } });
    let out = '';
    let killed = false;
    c.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    c.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    const t = setTimeout(() => { killed = true; c.kill('SIGKILL'); }, ms);
    c.once('exit', (status) => { clearTimeout(t); resolve({ status, out, killed }); });
  });
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const childPid = async (h: TestHost) => (JSON.parse(await readFile(join(h.dataDir, 'supervisor.json'), 'utf8')) as { childPid: number }).childPid;

describe('a second process on a served data folder', function () {
  this.timeout(300_000);
  let fixture: FixtureHost;
  let host: TestHost;
  before(async () => {
    fixture = await startFixtureHost(async (root) => {
      await writePlugin(root, 'pp', manifest('pp', { activationEvents: ['onStartup'] }), pluginCode(`ctx.registerRoute('GET', '/ping', () => ({ pong: true }));`));
    }, { enable: ['pp'] });
    host = fixture.host;
  });
  after(async () => { await fixture?.dispose(); });

  it('a second serve and a second start are refused in German; the running server is untouched', async () => {
    const pid = await childPid(host);
    // with a wait long enough that a second server that was not refused would show up as "killed"
    const serve = await second(host.dataDir, ['serve', '--port', '0'], {}, 30_000);
    expect(serve.killed, 'the second serve ran instead of being refused:\n' + serve.out).to.equal(false);
    expect(serve.status, serve.out).to.equal(4);
    expect(serve.out).to.match(/Kassenwart läuft für den Datenordner „.*“ bereits \(Prozess \d+/);
    expect(serve.out).to.match(/eigenen Datenordner wählen/);
    const start = await second(host.dataDir, ['start', '--port', '0'], {}, 30_000);
    expect(start.killed, 'the second start ran instead of being refused:\n' + start.out).to.equal(false);
    expect(start.status, start.out).to.equal(4);
    expect(start.out).to.match(/läuft für den Datenordner .* bereits/);
    // the first supervisor's server was neither killed as an "orphan" nor replaced
    expect(alive(pid), 'the running server still runs').to.equal(true);
    expect(await childPid(host)).to.equal(pid);
    expect((await host.api('GET', '/api/ext/pp/ping')).body).to.deep.equal({ pong: true });
  });

  it('after kill -9 the stale locks do not block: the next start takes them over', async () => {
    const before = JSON.parse(await readFile(join(host.dataDir, 'server.lock'), 'utf8')) as { pid: number };
    await host.kill();
    expect(JSON.parse(await readFile(join(host.dataDir, 'server.lock'), 'utf8')).pid, 'kill -9 left the lock behind').to.equal(before.pid);
    await host.restart();
    const now = JSON.parse(await readFile(join(host.dataDir, 'server.lock'), 'utf8')) as { pid: number };
    expect(now.pid).to.not.equal(before.pid);
    expect(now.pid).to.equal(await childPid(host));
    expect((await host.api('GET', '/api/ext/pp/ping')).status).to.equal(200);
  });

  it('a lock whose pid was reused by another living process (as after a reboot) is stale too', async () => {
    await host.stop();
    // a living process with the lock's pid, but not the one that took it (other start time)
    const sleeper = spawn('sleep', ['120']);
    try {
      for (const f of ['server.lock', 'supervisor.lock']) {
        await writeFile(join(host.dataDir, f), JSON.stringify({ pid: sleeper.pid, start: '1', since: new Date(0).toISOString() }));
      }
      await host.restart();
      expect((await host.api('GET', '/api/ext/pp/ping')).status).to.equal(200);
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

describe('a scheduled run while the maintenance lock is held', function () {
  this.timeout(300_000);
  let fixture: FixtureHost;
  let host: TestHost;
  type Sched = { id: string; lastRun?: string; waitingSince?: string };
  type Job = { id: string; actionId: string; trigger: string; state: string; startedAt: string };
  const schedule = async () => ((await host.api<Sched[]>('GET', '/api/schedules')).body).find((s) => s.id === 'hold.tick')!;
  const ticks = async () => (await host.api<Job[]>('GET', '/api/jobs?action=hold.tick&limit=20')).body;
  /** Sets the tick schedule to fire once, `sec` seconds from now (a cron with seconds); returns that time. */
  const fireIn = async (sec: number) => {
    const at = new Date(Date.now() + sec * 1000);
    at.setMilliseconds(0);
    const r = await host.api('PUT', '/api/settings/hold', { tickAt: `${at.getSeconds()} ${at.getMinutes()} ${at.getHours()} ${at.getDate()} ${at.getMonth() + 1} *` });
    expect(r.status, JSON.stringify(r.body)).to.equal(200);
    return at;
  };
  const sleepUntil = async (t: number) => { const d = t - Date.now(); if (d > 0) await new Promise((r) => setTimeout(r, d)); };
  const until = async <T>(what: string, f: () => Promise<T | undefined>, ms = 150_000): Promise<T> => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out: ${what}\n${host.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    fixture = await startFixtureHost(async (root) => {
      await writePlugin(root, 'hold', manifest('hold', {
        activationEvents: ['onStartup'],
        contributes: {
          settings: { type: 'object', properties: { tickAt: { type: 'string', default: '' } } },
          actions: [
            { id: 'hold.wait', title: 'Lange Wartung', exclusive: true },
            { id: 'hold.tick', title: 'Zwangssicherung', exclusive: true },
          ],
          schedules: [{ id: 'hold.tick', action: 'hold.tick', cron: '0 3 1 1 *', cronSetting: 'tickAt' }],
        },
      }), pluginCode(`
        // holds the maintenance lock until <installation>/release-<key> exists
        ctx.registerAction('hold.wait', async (job) => {
          const file = path.join(ctx.installationDir, 'release-' + job.params.key);
          while (!fs.existsSync(file)) {
            if (job.signal.aborted) throw new Error('abgebrochen');
            await new Promise((r) => setTimeout(r, 50));
          }
          return 'fertig';
        });
        ctx.registerAction('hold.tick', async () => 'gesichert');`));
    }, { enable: ['hold'], env: { KASSENWART_SCHEDULE_RETRY_MS: '500', KASSENWART_LOG: process.env.DEBUG_KW ? 'info' : 'warn' } });
    host = fixture.host;
  });
  after(async () => { await fixture?.dispose(); });

  it('held by another job of the server: the run waits, starts when the job ends, and only then counts as lastRun', async () => {
    const lastBefore = (await schedule()).lastRun;
    const r = await host.api('POST', '/api/actions/hold.wait', { params: { key: 'a' } });
    expect(r.status).to.equal(202);
    const at = await fireIn(6);
    await sleepUntil(at.getTime() + 2500);
    expect(await ticks(), 'no run while the lock is held').to.deep.equal([]);
    const waiting = await schedule();
    expect(waiting.lastRun, 'lastRun records only runs that ran').to.equal(lastBefore);
    expect(waiting.waitingSince).to.be.a('string');
    const released = Date.now();
    await writeFile(join(host.dataDir, 'release-a'), '');
    const tick = await until('the waiting run', async () => (await ticks()).find((j) => j.state === 'succeeded'));
    // (a time that had already passed when the setting was stored would not run: the server was running, so
    // nothing was missed — docs/host.md; 6 s is ample for one PUT)
    expect(tick.trigger).to.equal('schedule');
    expect(Date.parse(tick.startedAt)).to.be.at.least(released - 1000);
    const after = await schedule();
    expect(after.lastRun).to.equal(tick.startedAt);
    expect(after.waitingSince).to.equal(undefined);
    expect(await ticks(), 'exactly one run').to.have.length(1);
  });

  it('held by a second process (kassenwart action run on the CLI): the run waits for it, and a restart meanwhile still catches it up', async () => {
    const serverPid = await childPid(host);
    // KASSENWART_CLI_LOCAL: the CLI runs the action itself (not through the server), so another process holds the lock.
    const cli = second(host.dataDir, ['action', 'run', 'hold.wait', '--param', 'key=b'], { KASSENWART_CLI_LOCAL: '1' });
    const holder = await until('the CLI holds the maintenance lock', async () => {
      const h = await readFile(join(host.dataDir, 'maintenance.lock'), 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => undefined);
      return h && h.pid !== serverPid ? h : undefined;
    });
    expect(holder.pid).to.not.equal(serverPid);
    const before = (await ticks()).length;
    const lastBefore = (await schedule()).lastRun;
    const at = await fireIn(6);
    await sleepUntil(at.getTime() + 2500);
    expect((await ticks()).length, 'no run while another process holds the lock').to.equal(before);
    const waiting = await schedule();
    expect(waiting.waitingSince, 'the run is due and waits').to.be.a('string');
    expect(waiting.lastRun).to.equal(lastBefore);

    // the server goes down while the run waits; the CLI job ends meanwhile; the next start catches the run up
    await host.stop();
    await writeFile(join(host.dataDir, 'release-b'), '');
    const done = await cli;
    expect(done.status, done.out).to.equal(0);
    await host.restart();
    const caught = await until('the catch-up run', async () => (await ticks()).find((j) => j.trigger === 'catch-up' && j.state === 'succeeded'));
    expect((await schedule()).lastRun).to.equal(caught.startedAt);
    expect((await ticks()).length).to.equal(before + 1);
  });

  it('held by a second process while the server runs on: the run starts as soon as that process releases the lock', async () => {
    const serverPid = await childPid(host);
    // KASSENWART_CLI_LOCAL: the CLI runs the action itself (not through the server), so another process holds the lock.
    const cli = second(host.dataDir, ['action', 'run', 'hold.wait', '--param', 'key=c'], { KASSENWART_CLI_LOCAL: '1' });
    await until('the CLI holds the maintenance lock', async () => {
      const h = await readFile(join(host.dataDir, 'maintenance.lock'), 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => undefined);
      return h && h.pid !== serverPid ? h : undefined;
    }).catch(async (e) => { throw new Error(`${(e as Error).message}\nCLI: ${JSON.stringify(await Promise.race([cli, new Promise((r) => setTimeout(() => r('still running'), 100))]))}`); });
    const before = (await ticks()).length;
    const at = await fireIn(6);
    await sleepUntil(at.getTime() + 2500);
    expect((await ticks()).length).to.equal(before);
    expect((await schedule()).waitingSince, 'the run is due and waits').to.be.a('string');
    const released = Date.now();
    await writeFile(join(host.dataDir, 'release-c'), '');
    expect((await cli).status).to.equal(0);
    const tick = await until('the waiting run', async () => (await ticks()).find((j) => Date.parse(j.startedAt) >= released - 1000));
    expect(tick.state === 'succeeded' || tick.state === 'running').to.equal(true);
    expect((await ticks()).length).to.equal(before + 1);
    await until('lastRun', async () => ((await schedule()).lastRun === tick.startedAt ? true : undefined));
  });
});
