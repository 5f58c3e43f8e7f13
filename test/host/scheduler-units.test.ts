/**
 * The scheduler in the test process (host/src/scheduler.ts through the real Kernel: state database, plugin
 * manager, settings, job runner and its maintenance lock file): a forced run that falls due while another
 * exclusive job holds the lock — in this process or in another one — is not dropped: it waits (once, however
 * often its time comes round), is listed as waiting, and starts as soon as the lock is free; `lastRun` records
 * only runs that started; a run missed while the server was off is caught up once at start. The same
 * guarantees against the real host process: persistence.test.ts ("scheduler") and the backup plugin's
 * second-process tests; this file exists so mutation testing (host-schedule) can see the scheduler's code.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, removeDir } from '#support/tmp.js';
import { toCron } from '#host/scheduler.js';
import { writePlugin, manifest, pluginCode } from './fixtures.js';
import { startInProcessHost, type InProcessHost } from './inprocess.js';

/** What the fixture plugin's held action waits for; set by the tests (the plugin runs in this process). */
interface Gate { hold?: Promise<void>; runs: string[] }
const gate: Gate = ((globalThis as any).__kwSchedulerGate = { runs: [] });

const until = async <T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/**
 * The scheduler's lines in the log (what a technician reads in the journal) while `fn` runs: the log level is
 * set to info for that time and stderr collected instead of printed.
 */
async function schedulerLog(fn: (lines: string[]) => Promise<void>): Promise<string[]> {
  const level = process.env.KASSENWART_LOG;
  const write = process.stderr.write;
  const lines: string[] = [];
  process.env.KASSENWART_LOG = 'info';
  process.stderr.write = ((chunk: string | Uint8Array) => { for (const l of String(chunk).split('\n')) if (l.includes('[scheduler]')) lines.push(l.replace(/^.*?\[scheduler\] /, '')); return true; }) as typeof process.stderr.write;
  try { await fn(lines); } finally {
    process.stderr.write = write;
    if (level === undefined) delete process.env.KASSENWART_LOG; else process.env.KASSENWART_LOG = level;
  }
  return lines;
}

describe('host: scheduler (in-process: real kernel, real maintenance lock)', function () {
  this.timeout(60_000);
  let root: string;
  let host: InProcessHost;
  const view = async (id: string) => (await host.kernel.scheduler.list()).find((s) => s.id === id)!;
  /** Jobs of `action` started since the current test began (the history keeps the earlier tests' jobs). */
  let testStart = 0;
  const jobsOf = async (action: string) => (await host.kernel.jobs.history(50, action)).filter((j) => Date.parse(j.startedAt) >= testStart);
  const setLastRun = (id: string, at: Date) => host.kernel.db.write((tx) => tx.run(
    'INSERT INTO schedule_runs (schedule, last_run) VALUES (?, ?) ON CONFLICT (schedule) DO UPDATE SET last_run = excluded.last_run', [id, at.toISOString()]));
  /** Lets the `nightly` schedule fire every second (a cron with seconds in its setting), or puts it back to 03:00. */
  const everySecond = (on: boolean) => host.kernel.setSettings('sch', { times: on ? '* * * * * *' : '03:00' }, 'test');

  before(async () => {
    root = await tempDir('kw-sched-units-');
    await writePlugin(root, 'sch', manifest('sch', {
      activationEvents: ['onSchedule:sch.nightly', 'onSchedule:sch.quiet', 'onSchedule:sch.fresh', 'onAction:sch.hold', 'onAction:sch.run', 'onAction:sch.other'],
      contributes: {
        settings: { type: 'object', properties: { times: { type: 'string', default: '03:00' } } },
        actions: [
          { id: 'sch.hold', title: 'Lange Wartung', exclusive: true },
          { id: 'sch.run', title: 'Nachtlauf', exclusive: true },
          { id: 'sch.other', title: 'Anderer Lauf', exclusive: true },
        ],
        schedules: [
          { id: 'sch.nightly', action: 'sch.run', cron: '0 3 * * *', cronSetting: 'times' },
          { id: 'sch.quiet', action: 'sch.other', cron: '0 3 * * *', catchUp: false },
          { id: 'sch.fresh', action: 'sch.other', cron: '30 4 * * *' },
        ],
      },
    }), pluginCode(`
      const gate = globalThis.__kwSchedulerGate;
      ctx.registerAction('sch.hold', async () => { await gate.hold; return 'fertig'; });
      ctx.registerAction('sch.run', async (job) => { gate.runs.push('run:' + job.trigger); return 'Nachtlauf fertig'; });
      ctx.registerAction('sch.other', async (job) => { gate.runs.push('other:' + job.trigger); return 'anders'; });`));
    await writePlugin(root, 'other', manifest('other', {
      activationEvents: ['onAction:other.hold'],
      contributes: { actions: [{ id: 'other.hold', title: 'Fremde Wartung', exclusive: true }] },
    }), pluginCode(`ctx.registerAction('other.hold', async () => { await globalThis.__kwSchedulerGate.hold; return 'fertig'; });`));
    // activated only by its schedule (no onAction event, no settings): the scheduler must activate it first
    await writePlugin(root, 'lazy', manifest('lazy', {
      activationEvents: ['onSchedule:lazy.tick'],
      contributes: { actions: [{ id: 'lazy.run', title: 'Träger Lauf' }], schedules: [{ id: 'lazy.tick', action: 'lazy.run', cron: '15 4 * * *' }] },
    }), pluginCode(`ctx.registerAction('lazy.run', async (job) => { globalThis.__kwSchedulerGate.runs.push('lazy:' + job.trigger); return 'träge'; });`));
    host = await startInProcessHost({ pluginDirs: [root], enable: ['sch', 'other', 'lazy'] });
  });
  after(async () => {
    await host?.close();
    if (root) await removeDir(root);
  });
  beforeEach(async () => { testStart = Date.now(); await new Promise((r) => setTimeout(r, 2)); });
  afterEach(async () => { await everySecond(false); });

  it('toCron: times of day become one cron each (spaces and one-digit hours too); anything else is passed on as a cron', () => {
    expect(toCron('07:00,21:00')).to.deep.equal(['0 7 * * *', '0 21 * * *']);
    expect(toCron(' 7:05 , 21:30 ')).to.deep.equal(['5 7 * * *', '30 21 * * *']);
    expect(toCron('0:00')).to.deep.equal(['0 0 * * *']);
    expect(toCron('*/5 * * * *')).to.deep.equal(['*/5 * * * *']);
    expect(toCron('07:00,')).to.deep.equal(['07:00,']);
    expect(toCron('07:00;21:00')).to.deep.equal(['07:00;21:00']);
    expect(toCron('x07:00')).to.deep.equal(['x07:00']);
  });

  it('lists each schedule with the crons of its setting, its next run (the earliest of them) and its last run', async () => {
    await host.kernel.setSettings('sch', { times: '21:30,07:00' }, 'test');
    const v = await view('sch.nightly');
    expect(v).to.include({ plugin: 'sch', action: 'sch.run' });
    expect(v.cron).to.deep.equal(['30 21 * * *', '0 7 * * *']);
    // the next 07:00 or 21:30 after now, computed here
    const now = new Date();
    const at = (h: number, m: number) => { const d = new Date(now); d.setHours(h, m, 0, 0); if (d <= now) d.setDate(d.getDate() + 1); return d; };
    const earliest = [at(21, 30), at(7, 0)].sort((a, b) => a.getTime() - b.getTime())[0];
    expect(v.next).to.equal(earliest.toISOString());
    // whatever the time of day: three times listed latest first, the next run is the last one listed
    const inHours = (h: number) => { const d = new Date(Date.now() + h * 3600_000); return `${d.getHours()}:${String(d.getMinutes()).padStart(2, '0')}`; };
    await host.kernel.setSettings('sch', { times: `${inHours(3)},${inHours(2)},${inHours(1)}` }, 'test');
    const soon = new Date(Date.now() + 3600_000);
    soon.setSeconds(0, 0);
    expect((await view('sch.nightly')).next, 'the earliest of three').to.equal(soon.toISOString());
    await host.kernel.setSettings('sch', { times: '21:30,07:00' }, 'test');
    expect(v.lastRun, 'a new installation starts counting at its first start').to.be.a('string');
    expect(v.waitingSince).to.equal(undefined);
    // a schedule without a setting keeps its manifest cron
    expect((await view('sch.quiet')).cron).to.deep.equal(['0 3 * * *']);
    // an empty setting means the manifest's cron
    await host.kernel.setSettings('sch', { times: '  ' }, 'test');
    expect((await view('sch.nightly')).cron).to.deep.equal(['0 3 * * *']);
    // a cron that cannot be read is listed as written, without a next run; the others still have theirs
    await host.kernel.setSettings('sch', { times: '61 25 * * *' }, 'test');
    const bad = await view('sch.nightly');
    expect(bad.cron).to.deep.equal(['61 25 * * *']);
    expect(bad.next).to.equal(undefined);
    expect((await view('sch.quiet')).next).to.be.a('string');
  });

  it('a run due while another exclusive job of this process holds the lock waits (once), is listed as waiting, and starts when the job ends', async () => {
    let release!: () => void;
    gate.hold = new Promise<void>((r) => { release = r; });
    gate.runs = [];
    const before = (await view('sch.nightly')).lastRun;
    const held = await host.kernel.jobs.start('sch.hold', { user: 'tech', trigger: 'user' });
    let since = '';
    const waitLog = await schedulerLog(async (lines) => {
      await everySecond(true);
      since = await until('the nightly run waits for the lock', async () => (await view('sch.nightly')).waitingSince);
      await until('the refusal in the log', () => lines.some((l) => l.startsWith('schedule sch.nightly waits')) || undefined);
    });
    // the journal says why the run did not start
    expect(waitLog, waitLog.join('\n')).to.include('schedule sch.nightly waits for the maintenance lock: „Nachtlauf“ kann nicht starten: „Lange Wartung“ läuft bereits. Bitte warten, bis der Vorgang fertig ist.');
    // its time comes round again (every second) while it waits: still one waiting run, nothing started
    const firstWait = Date.parse(since);
    await until('two more seconds pass', () => Date.now() > firstWait + 2500 || undefined);
    expect((await view('sch.nightly')).waitingSince, 'waiting since its first due time').to.equal(since);
    expect(await jobsOf('sch.run')).to.deep.equal([]);
    expect((await view('sch.nightly')).lastRun, 'lastRun records only runs that started').to.equal(before);
    await everySecond(false);
    let started: Awaited<ReturnType<typeof jobsOf>> = [];
    const startLog = await schedulerLog(async (lines) => {
      release();
      await host.kernel.jobs.wait(held.id);
      started = await until('the waiting run started', async () => { const j = await jobsOf('sch.run'); return j.length ? j : undefined; });
      await until('its start in the log', () => lines.some((l) => l.startsWith('schedule sch.nightly started job')) || undefined);
    });
    const [job] = started;
    expect(job).to.include({ trigger: 'schedule', user: 'system' });
    expect(startLog).to.include(`schedule sch.nightly started job ${job.id} (schedule)`);
    await host.kernel.jobs.wait(job.id);
    expect(gate.runs, 'exactly one run for all the times it came round while waiting').to.deep.equal(['run:schedule']);
    const after = await view('sch.nightly');
    expect(after.waitingSince).to.equal(undefined);
    expect(after.lastRun, 'lastRun is the start of the run that ran').to.equal(job.startedAt);
  });

  it('a run due while ANOTHER PROCESS holds the maintenance lock waits and starts within seconds of its release', async () => {
    gate.runs = [];
    const lockPath = join(host.dataDir, 'maintenance.lock');
    // a live process that is not this one holds the lock (as `kassenwart action run` on the CLI would)
    const other: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const start = readFileSync(`/proc/${other.pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
      await writeFile(lockPath, JSON.stringify({ pid: other.pid, start, since: new Date().toISOString(), action: 'sch.hold' }));
      // the refusal a person would get names the other run
      let refused: any;
      try { await host.kernel.jobs.start('sch.run', { user: 'tech', trigger: 'user' }); } catch (e) { refused = e; }
      expect([refused?.code, refused?.message]).to.deep.equal(['job.running', '„Nachtlauf“ kann nicht starten: „Lange Wartung“ läuft bereits. Bitte warten, bis der Vorgang fertig ist.']);
      await everySecond(true);
      await until('the nightly run waits for the other process', async () => (await view('sch.nightly')).waitingSince);
      await everySecond(false);
      expect(await jobsOf('sch.run')).to.deep.equal([]);
      // the other process ends: the lock is stale, and the waiting run gets it (retried every 2 s)
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
      const [job] = await until('the waiting run started after the other process ended', async () => { const j = await jobsOf('sch.run'); return j.length ? j : undefined; });
      expect(job.trigger).to.equal('schedule');
      const done = await host.kernel.jobs.wait(job.id);
      expect(done?.state, JSON.stringify(done)).to.equal('succeeded');
      expect(gate.runs).to.deep.equal(['run:schedule']);
      expect((await view('sch.nightly')).waitingSince).to.equal(undefined);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('at start: a run missed while the server was off is caught up once; not for a schedule that says catchUp: false; a new schedule starts counting now', async () => {
    gate.runs = [];
    const dayAgo = new Date(Date.now() - 26 * 3600_000);
    await setLastRun('sch.nightly', dayAgo);
    await setLastRun('sch.quiet', dayAgo);
    await host.kernel.db.write((tx) => tx.run("DELETE FROM schedule_runs WHERE schedule = 'sch.fresh'"));
    host.kernel.scheduler.stop(); // the server is off (its timers were not running)
    const t0 = Date.now();
    const log = await schedulerLog(() => host.kernel.scheduler.start());
    expect(log).to.include(`schedule sch.nightly missed a run since ${dayAgo.toISOString()}: catching up`);
    const [job] = await until('the catch-up run', async () => { const j = await jobsOf('sch.run'); return j.length ? j : undefined; });
    expect(job.trigger).to.equal('catch-up');
    await host.kernel.jobs.wait(job.id);
    expect((await view('sch.nightly')).lastRun).to.equal(job.startedAt);
    // the schedule that must not catch up, and the new one, started nothing; the new one counts from now
    expect(await jobsOf('sch.other')).to.deep.equal([]);
    expect((await view('sch.quiet')).lastRun).to.equal(dayAgo.toISOString());
    const fresh = Date.parse((await view('sch.fresh')).lastRun!);
    expect(fresh).to.be.within(t0 - 1000, Date.now() + 1000);
    // a second start: nothing is due any more
    await host.kernel.scheduler.start();
    await new Promise((r) => setTimeout(r, 300));
    expect((await jobsOf('sch.run')).map((j) => j.trigger)).to.deep.equal(['catch-up']);
    expect(gate.runs).to.deep.equal(['run:catch-up']);
  });

  it('a waiting run stays waiting when the timers are started again (settings changed, a plugin enabled) and starts when the lock is free', async () => {
    let release!: () => void;
    gate.hold = new Promise<void>((r) => { release = r; });
    gate.runs = [];
    await setLastRun('sch.nightly', new Date(Date.now() - 26 * 3600_000));
    const held = await host.kernel.jobs.start('sch.hold', { user: 'tech', trigger: 'user' });
    host.kernel.scheduler.stop(); // the server was off
    await host.kernel.scheduler.start(); // the catch-up is due, but the lock is held: it waits
    await until('the catch-up waits', async () => (await view('sch.nightly')).waitingSince);
    // the timers are stopped and started again (settings changed, a plugin enabled): the waiting run stays
    host.kernel.scheduler.stop();
    expect((await view('sch.nightly')).waitingSince).to.be.a('string');
    release();
    await host.kernel.jobs.wait(held.id);
    const [job] = await until('the waiting catch-up started', async () => { const j = (await jobsOf('sch.run')).filter((x) => x.trigger === 'catch-up'); return j.length ? j : undefined; });
    await host.kernel.jobs.wait(job.id);
    expect(gate.runs).to.deep.equal(['run:catch-up']);
    await host.kernel.scheduler.start();
  });

  it('changing the times while the server runs starts no "missed" run (nothing was missed); after the server was off, the same change is caught up', async () => {
    gate.runs = [];
    // the last run was 10 minutes ago; the technician now adds a time 5 minutes ago
    const hhmm = (d: Date) => `${d.getHours()}:${String(d.getMinutes()).padStart(2, '0')}`;
    await setLastRun('sch.nightly', new Date(Date.now() - 10 * 60_000));
    await host.kernel.setSettings('sch', { times: `03:00,${hhmm(new Date(Date.now() - 5 * 60_000))}` }, 'test');
    await host.kernel.scheduler.start(); // what a plugin enabled elsewhere or a sync would do as well
    await new Promise((r) => setTimeout(r, 300));
    expect(await jobsOf('sch.run'), 'no run for a time that was not set when it passed').to.deep.equal([]);
    // the server off and on again: it cannot know when the times changed, and catches the run up (docs/host.md)
    host.kernel.scheduler.stop();
    await host.kernel.scheduler.start();
    const [job] = await until('the catch-up after the restart', async () => { const j = await jobsOf('sch.run'); return j.length ? j : undefined; });
    expect(job.trigger).to.equal('catch-up');
    await host.kernel.jobs.wait(job.id);
  });

  it('a waiting run whose plugin is disabled meanwhile is dropped; enabled again, its missed time is caught up once, as at a start', async () => {
    let release!: () => void;
    gate.hold = new Promise<void>((r) => { release = r; });
    gate.runs = [];
    // the run that waits belongs to another plugin than the job holding the lock
    const held = await host.kernel.jobs.start('other.hold', { user: 'tech', trigger: 'user' });
    await everySecond(true);
    await until('the nightly run waits', async () => (await view('sch.nightly')).waitingSince);
    await everySecond(false);
    await host.kernel.disablePlugin('sch', false, 'test');
    expect((await host.kernel.scheduler.list()).map((s) => s.id), 'its schedules are gone').to.not.include('sch.nightly');
    // the last run that ran was yesterday: enabled again, the plugin's missed 03:00 is due
    await setLastRun('sch.nightly', new Date(Date.now() - 26 * 3600_000));
    await host.kernel.enablePlugin('sch', 'test');
    await until('the catch-up waits for the lock', async () => (await view('sch.nightly')).waitingSince);
    release();
    await host.kernel.jobs.wait(held.id);
    const [job] = await until('the run after the lock', async () => { const j = await jobsOf('sch.run'); return j.length ? j : undefined; });
    await host.kernel.jobs.wait(job.id);
    await new Promise((r) => setTimeout(r, 2500)); // longer than the retry of a waiting run (2 s): nothing else starts
    expect((await jobsOf('sch.run')).map((j) => j.trigger), 'one run, the catch-up (the dropped run did not come back)').to.deep.equal(['catch-up']);
    expect(gate.runs).to.deep.equal(['run:catch-up']);
  });

  it('a plugin activated only by its schedule is activated for the run; a schedule whose cron cannot be read catches nothing up and keeps no other from it', async () => {
    gate.runs = [];
    const dayAgo = new Date(Date.now() - 26 * 3600_000);
    host.kernel.scheduler.stop(); // the server is off
    await setLastRun('lazy.tick', dayAgo);
    await setLastRun('sch.nightly', dayAgo);
    await host.kernel.setSettings('sch', { times: '61 25 * * *' }, 'test'); // no such minute or hour
    host.kernel.scheduler.stop();
    const log = await schedulerLog(() => host.kernel.scheduler.start());
    expect(log.find((l) => l.startsWith('schedule sch.nightly: invalid cron "61 25 * * *": ')), log.join('\n')).to.be.a('string');
    const [job] = await until('the lazy plugin\'s catch-up run', async () => { const j = await jobsOf('lazy.run'); return j.length ? j : undefined; });
    const done = await host.kernel.jobs.wait(job.id);
    expect([done?.state, done?.trigger]).to.deep.equal(['succeeded', 'catch-up']);
    expect(gate.runs).to.deep.equal(['lazy:catch-up']);
    expect(await jobsOf('sch.run'), 'nothing caught up for a cron that cannot be read').to.deep.equal([]);
    expect((await view('sch.nightly')).lastRun).to.equal(dayAgo.toISOString());
  });

  it('after the times change, the old ones no longer fire', async () => {
    gate.runs = [];
    await everySecond(true);
    await until('a run at the every-second time', () => (gate.runs.length ? true : undefined));
    await everySecond(false);
    await new Promise((r) => setTimeout(r, 300)); // a run the old time started just before the change ends
    const seen = gate.runs.length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(gate.runs.length, 'no run after the change to 03:00').to.equal(seen);
  });
});
