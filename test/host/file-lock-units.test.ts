/**
 * The inter-process file lock (host/src/state/file-lock.ts) in the test process, against real processes and
 * real files: the lock that keeps a second process from deleting a running backup, a second `serve` off a
 * served data folder, and serialises the state writes. Other holders are real processes (`sleep`, a zombie,
 * a process of another user, a pid that has exited) whose pid and start time the test writes into the lock
 * file, as their own FileLock would have. One real race: eight `node` processes take over one stale lock at
 * once. The lock seen from a second `kassenwart` process: second-process.test.ts.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { readFile, writeFile, stat, utimes, access, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { FileLock, alive, processStart, type LockInfo } from '#host/state/file-lock.js';
import { tempDir, removeDir } from '#support/tmp.js';
import { rejection } from '#support/rejection.js';

const LOCK_MODULE = resolve('host/dist/state/file-lock.js');

const exists = (p: string) => access(p).then(() => true, () => false);

/** Fields of /proc/<pid>/stat after "(comm)", numbered as in proc(5) (state = 3, starttime = 22). */
function statField(pid: number | 'self', n: number): string {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[n - 3];
}

/** The files this process has open (targets of /proc/self/fd). */
function openFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try { out.push(readlinkSync(`/proc/self/fd/${fd}`)); } catch { /* closed meanwhile */ }
  }
  return out;
}

describe('host: the inter-process file lock (FileLock, alive, processStart; real processes and files)', function () {
  this.timeout(20_000);
  let dir: string;
  let path: string;
  const children: ChildProcess[] = [];

  /** A live process of our own (a real `sleep`), killed after the test. */
  function start(cmd: string, args: string[], opts: { uid?: number; gid?: number } = {}): ChildProcess {
    const c = spawn(cmd, args, { stdio: 'ignore', ...opts });
    children.push(c);
    return c;
  }
  async function live(): Promise<{ pid: number; start: string }> {
    const c = start('sleep', ['30']);
    await new Promise((r, j) => { c.once('spawn', r); c.once('error', j); });
    return { pid: c.pid!, start: processStart(c.pid!)! };
  }
  /** The pid of a process that has exited and been reaped. */
  async function gonePid(): Promise<number> {
    const c = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => c.once('exit', r));
    expect(() => process.kill(c.pid!, 0)).to.throw(/ESRCH/);
    return c.pid!;
  }
  const holderFile = (h: Record<string, unknown>) => writeFile(path, JSON.stringify(h));
  const onDisk = async (): Promise<LockInfo> => JSON.parse(await readFile(path, 'utf8'));

  beforeEach(async () => {
    dir = await tempDir('kw-file-lock-');
    path = join(dir, 'state.lock');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await removeDir(dir);
  });

  it('processStart(pid) is field 22 (starttime) of /proc/<pid>/stat; undefined for a pid that does not exist', async () => {
    expect(processStart(process.pid)).to.equal(statField('self', 22)).and.to.match(/^\d+$/);
    const other = await live();
    expect(other.start).to.equal(statField(other.pid, 22));
    expect(processStart(await gonePid())).to.equal(undefined);
  });

  it('acquire → lock file (mode 600) with pid, start, since and the extra info → release removes it', async () => {
    const lock = new FileLock(path);
    const before = Date.now();
    expect(await lock.tryAcquire({ purpose: 'backup', job: 'j-1' })).to.deep.equal({ ok: true });
    const h = await onDisk();
    expect(h.pid).to.equal(process.pid);
    expect(h.start).to.equal(statField('self', 22));
    expect(h.purpose).to.equal('backup');
    expect(h.job).to.equal('j-1');
    expect(Date.parse(h.since)).to.be.within(before, Date.now());
    expect(h.since).to.equal(new Date(Date.parse(h.since)).toISOString());
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    expect(await lock.holder()).to.deep.equal(h);
    expect(await lock.heldByOther()).to.equal(undefined);
    // no file handle left open on the lock (or its takeover guard)
    expect(openFiles().filter((f) => f.startsWith(path))).to.deep.equal([]);
    // created in one step: no temporary file left beside it, also not by a refused attempt
    expect((await new FileLock(path).tryAcquire()).ok).to.equal(false);
    expect(readdirSync(dir)).to.deep.equal(['state.lock']);
    await lock.release();
    expect(await exists(path)).to.equal(false);
    expect(await lock.holder()).to.equal(undefined);
    await lock.acquire(1000);
    expect((await onDisk()).pid).to.equal(process.pid);
  });

  it('is not re-entrant: the same process asking again gets ok:false with itself as the holder', async () => {
    const lock = new FileLock(path);
    expect((await lock.tryAcquire()).ok).to.equal(true);
    const mine = await onDisk();
    const again = await new FileLock(path).tryAcquire({ other: 1 });
    expect(again).to.deep.equal({ ok: false, holder: mine });
    expect(await onDisk()).to.deep.equal(mine);
    // a lock of this pid without a recorded start (an older lock file) is this process too
    await holderFile({ pid: process.pid, since: 'x' });
    expect(await lock.tryAcquire()).to.deep.equal({ ok: false, holder: { pid: process.pid, since: 'x' } });
    expect(await lock.heldByOther()).to.equal(undefined);
    await lock.release();
    expect(await exists(path)).to.equal(false);
  });

  it('a lock held by a live other process is refused, named as holder, and acquire fails after its timeout naming the pid', async () => {
    const other = await live();
    const theirs = { pid: other.pid, start: other.start, since: '2026-12-01T07:00:00.000Z', purpose: 'serve' };
    await holderFile(theirs);
    const lock = new FileLock(path);
    expect(alive(other.pid)).to.equal(true);
    expect(alive(other.pid, other.start)).to.equal(true);
    expect(await lock.tryAcquire()).to.deep.equal({ ok: false, holder: theirs });
    expect(await lock.heldByOther()).to.deep.equal(theirs);
    const e = await rejection(lock.acquire(150));
    expect(e.message).to.equal(`lock ${path} held by pid ${other.pid}`);
    // release() never removes another process's lock
    await lock.release();
    expect(await onDisk()).to.deep.equal(theirs);
  });

  it('acquire gives up only once its whole timeout has passed (the clock moved by replacing Date.now)', async () => {
    const other = await live();
    await holderFile({ pid: other.pid, start: other.start, since: 's' });
    const realNow = Date.now;
    const T = Date.UTC(2026, 11, 1, 7, 0, 0);
    try {
      Date.now = () => T;
      let settled = false;
      const got = rejection(new FileLock(path).acquire(50)).finally(() => { settled = true; });
      Date.now = () => T + 50; // exactly the timeout: still waiting
      await new Promise((r) => setTimeout(r, 80));
      expect(settled).to.equal(false);
      Date.now = () => T + 51;
      expect((await got).message).to.equal(`lock ${path} held by pid ${other.pid}`);
    } finally {
      Date.now = realNow;
    }
  });

  it('acquire waits while the lock is held and takes it once the holder releases it', async () => {
    const other = await live();
    await holderFile({ pid: other.pid, start: other.start, since: 's' });
    const lock = new FileLock(path);
    const got = lock.acquire(10_000, { purpose: 'restore' });
    await new Promise((r) => setTimeout(r, 100));
    expect((await onDisk()).pid).to.equal(other.pid);
    await new FileLock(path).release(); // not ours: stays
    expect((await onDisk()).pid).to.equal(other.pid);
    await rm(path); // the holder releases
    await got;
    expect(await onDisk()).to.include({ pid: process.pid, purpose: 'restore' });
  });

  it('acquire takes the lock over when its holder is killed (kill -9) while it waits', async () => {
    const other = await live();
    await holderFile({ pid: other.pid, start: other.start, since: 's' });
    const lock = new FileLock(path);
    const got = lock.acquire(10_000);
    await new Promise((r) => setTimeout(r, 100));
    expect((await onDisk()).pid).to.equal(other.pid);
    const c = children.find((x) => x.pid === other.pid)!;
    c.kill('SIGKILL');
    await new Promise((r) => c.once('exit', r));
    await got;
    expect((await onDisk()).pid).to.equal(process.pid);
  });

  it('a lock whose process is gone is taken over (with and without a recorded start time)', async () => {
    const lock = new FileLock(path);
    const pid = await gonePid();
    expect(alive(pid)).to.equal(false);
    await holderFile({ pid, start: '12345', since: 's' });
    expect(await lock.heldByOther()).to.equal(undefined);
    expect(await lock.tryAcquire({ n: 1 })).to.deep.equal({ ok: true });
    expect(await onDisk()).to.include({ pid: process.pid, n: 1 });
    await lock.release();
    await holderFile({ pid, since: 's' });
    expect(await lock.tryAcquire()).to.deep.equal({ ok: true });
    expect((await onDisk()).pid).to.equal(process.pid);
    expect(await exists(path + '.takeover')).to.equal(false);
    expect(openFiles().filter((f) => f.startsWith(path))).to.deep.equal([]);
  });

  it('a live pid with another start time (pid reused) counts as gone — also when the pid is this process', async () => {
    const other = await live();
    expect(alive(other.pid, String(Number(other.start) + 1))).to.equal(false);
    const lock = new FileLock(path);
    await holderFile({ pid: other.pid, start: '1', since: 's' });
    expect(await lock.heldByOther()).to.equal(undefined);
    expect(await lock.tryAcquire()).to.deep.equal({ ok: true });
    expect((await onDisk()).start).to.equal(processStart(process.pid));
    // this process's pid, but from a process that ran before (another start): not ours, and stale
    expect(alive(process.pid, '1')).to.equal(false);
    await holderFile({ pid: process.pid, start: '1', since: 'old' });
    expect(await lock.heldByOther()).to.equal(undefined);
    expect(await lock.tryAcquire()).to.deep.equal({ ok: true });
    expect(await onDisk()).to.include({ pid: process.pid, start: processStart(process.pid) });
    // release() leaves such a lock of a former process with our pid alone: it is not ours
    await holderFile({ pid: process.pid, start: '1', since: 'old' });
    await lock.release();
    expect((await onDisk()).since).to.equal('old');
  });

  it('a zombie (exited, not reaped) counts as gone: its lock is taken over', async () => {
    // sh forks `sleep 0` and becomes `sleep 30`, which never reaps it
    const parent = start('sh', ['-c', 'sleep 0 & exec sleep 30']);
    let zombie: number | undefined;
    for (let i = 0; i < 200 && zombie === undefined; i++) {
      await new Promise((r) => setTimeout(r, 10));
      for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
        try {
          if (statField(Number(p), 4) === String(parent.pid) && statField(Number(p), 3) === 'Z') zombie = Number(p);
        } catch { /* gone */ }
      }
    }
    expect(zombie, 'zombie child of sh/sleep').to.be.a('number');
    const zstart = processStart(zombie!)!;
    expect(() => process.kill(zombie!, 0)).not.to.throw(); // kill(0) alone calls it alive
    expect(alive(zombie!)).to.equal(false);
    expect(alive(zombie!, zstart)).to.equal(false);
    const lock = new FileLock(path);
    await holderFile({ pid: zombie, start: zstart, since: 's' });
    expect(await lock.heldByOther()).to.equal(undefined);
    expect(await lock.tryAcquire()).to.deep.equal({ ok: true });
    expect((await onDisk()).pid).to.equal(process.pid);
  });

  it('a process we may not signal (EPERM) counts as alive: its lock is respected', async function () {
    // as root every kill(0) is allowed: drop the effective uid for the one check (its real uid stays 0)
    const root = process.getuid!() === 0;
    const other = root ? start('sleep', ['30'], { uid: 65533, gid: 65533 }) : undefined;
    if (other) await new Promise((r, j) => { other.once('spawn', r); other.once('error', j); });
    const pid = other ? other.pid! : 1;
    const check = () => {
      if (root) process.seteuid!(65534);
      try {
        let code = '';
        try { process.kill(pid, 0); } catch (e) { code = (e as NodeJS.ErrnoException).code!; }
        return { code, alive: alive(pid), aliveWithStart: alive(pid, '1') };
      } finally {
        if (root) process.seteuid!(0);
      }
    };
    const r = check();
    if (r.code !== 'EPERM') this.skip(); // pid 1 is ours (not root, no other user's process to test with)
    expect(r).to.deep.equal({ code: 'EPERM', alive: true, aliveWithStart: true });
    expect(process.geteuid!()).to.equal(root ? 0 : process.getuid!());
  });

  it('an empty (half-written) lock file is looked at again, then taken over', async () => {
    const lock = new FileLock(path);
    await writeFile(path, '');
    expect(await lock.holder()).to.equal(undefined);
    expect(await lock.tryAcquire({ n: 2 })).to.deep.equal({ ok: true });
    expect(await onDisk()).to.include({ pid: process.pid, n: 2 });
    await lock.release();
    await writeFile(path, '{"pid": 12');
    expect((await lock.tryAcquire()).ok).to.equal(true);
  });

  it('an unreadable lock file that its (older) creator completes while we look again is respected, not taken over', async () => {
    const other = await live();
    await writeFile(path, '');
    const lock = new FileLock(path);
    const theirs = { pid: other.pid, start: other.start, since: 'now' };
    // completed 15 ms from now: after the lock's first look, before its second one (it waits 20 ms in between;
    // this timer, set first, fires first, and writes synchronously)
    setTimeout(() => writeFileSync(path, JSON.stringify(theirs)), 15);
    const tried = lock.tryAcquire();
    expect(await tried).to.deep.equal({ ok: false, holder: theirs });
    expect(await onDisk()).to.deep.equal(theirs);
  });

  it('a fresh takeover guard makes tryAcquire give up (ok:false) without deleting the stale lock', async () => {
    const pid = await gonePid();
    const stale = { pid, since: 's' };
    await holderFile(stale);
    await writeFile(path + '.takeover', '');
    const lock = new FileLock(path);
    expect(await lock.tryAcquire()).to.deep.equal({ ok: false, holder: stale });
    expect(await onDisk()).to.deep.equal(stale);
    expect(await exists(path + '.takeover')).to.equal(true);
    // an unreadable lock under a fresh guard: nobody to name
    await writeFile(path, '');
    expect(await lock.tryAcquire()).to.deep.equal({ ok: false, holder: { pid: -1, since: '' } });
    expect(await exists(path)).to.equal(true);
    const e = await rejection(lock.acquire(50));
    expect(e.message).to.equal(`lock ${path} held by pid -1`);
  });

  describe('the takeover guard ages out after 5 s (the clock moved by replacing Date.now)', () => {
    const realNow = Date.now;
    afterEach(() => { Date.now = realNow; });
    const T = Date.UTC(2026, 11, 1, 7, 0, 0);

    for (const [age, removed] of [[5_000, false], [5_001, true], [60_000, true]] as const) {
      it(`a guard ${age} ms old is ${removed ? 'removed and the stale lock taken over' : 'still respected'}`, async () => {
        const pid = await gonePid();
        await holderFile({ pid, since: 's' });
        await writeFile(path + '.takeover', '');
        await utimes(path + '.takeover', T / 1000, T / 1000);
        expect((await stat(path + '.takeover')).mtimeMs).to.equal(T);
        Date.now = () => T + age;
        const r = await new FileLock(path).tryAcquire();
        Date.now = realNow;
        expect(r.ok).to.equal(removed);
        expect((await onDisk()).pid).to.equal(removed ? process.pid : pid);
        expect(await exists(path + '.takeover')).to.equal(!removed);
      });
    }
  });

  describe('takeOver deletes the lock only when it still holds exactly the stale holder', () => {
    // (the private step tryAcquire runs after it found a stale holder; another process may have replaced
    // the lock in between — here the test replaces it)
    const takeOver = (lock: FileLock, stale: LockInfo | undefined) => (lock as any).takeOver(stale) as Promise<void>;

    it('same pid and since: deleted; the guard is gone afterwards', async () => {
      const stale = { pid: 99_999_999, since: 'a' };
      await holderFile(stale);
      await takeOver(new FileLock(path), { ...stale });
      expect(await exists(path)).to.equal(false);
      expect(await exists(path + '.takeover')).to.equal(false);
      expect(openFiles().filter((f) => f.startsWith(path))).to.deep.equal([]);
    });

    it('re-created meanwhile (other pid, or same pid with another since, readable now, half-written now): kept', async () => {
      const lock = new FileLock(path);
      const other = await live();
      for (const [now, stale] of [
        [{ pid: other.pid, start: other.start, since: 'b' }, { pid: 99_999_999, since: 'b' }],
        [{ pid: other.pid, start: other.start, since: 'b' }, { pid: other.pid, since: 'a' }],
        [{ pid: other.pid, start: other.start, since: 'b' }, undefined],
        ['{"pid": 1', { pid: 99_999_999, since: 'b' }], // half-written now (by an older creator): not the stale one
      ] as const) {
        await (typeof now === 'string' ? writeFile(path, now) : holderFile(now));
        await takeOver(lock, stale);
        if (typeof now === 'string') expect(await readFile(path, 'utf8')).to.equal(now);
        else expect(await onDisk(), JSON.stringify(stale)).to.deep.equal(now);
        expect(await exists(path + '.takeover')).to.equal(false);
      }
    });

    it('unreadable and still unreadable: deleted; unreadable before but a holder now: kept', async () => {
      const lock = new FileLock(path);
      await writeFile(path, '{');
      await takeOver(lock, undefined);
      expect(await exists(path)).to.equal(false);
      await holderFile({ pid: 99_999_999, since: 'a' });
      await takeOver(lock, undefined);
      expect(await exists(path)).to.equal(true);
    });
  });

  it('errors other than "exists" are thrown, not reported as a held lock', async () => {
    // a folder that is not there: the lock cannot be created
    const e = await rejection(new FileLock(join(dir, 'missing', 'x.lock')).tryAcquire());
    expect(e.code).to.equal('ENOENT');
    // a lock name that leaves no room for the temporary name beside it (but for the guard's)
    const n = await rejection(new FileLock(join(dir, 'n'.repeat(245))).tryAcquire());
    expect(n.code).to.equal('ENAMETOOLONG');
    // a lock name whose guard name is too long: the takeover cannot be serialized, and says so
    const long = join(dir, 'l'.repeat(250));
    await writeFile(long, JSON.stringify({ pid: await gonePid(), since: 's' }));
    const g = await rejection((new FileLock(long) as any).takeOver({ pid: 1, since: 's' }));
    expect(g.code).to.equal('ENAMETOOLONG');
    expect(await exists(long)).to.equal(true);
    // release without a lock file is fine
    await new FileLock(join(dir, 'none.lock')).release();
  });

  it('race: 8 processes take over the same stale lock at once, 5 times — each time exactly one wins', async function () {
    this.timeout(60_000);
    const gone = await gonePid();
    const script = `
      import { FileLock } from ${JSON.stringify(LOCK_MODULE)};
      import { createInterface } from 'node:readline';
      process.stdout.write('ready\\n');
      for await (const path of createInterface({ input: process.stdin })) {
        const r = await new FileLock(path).tryAcquire({ racer: process.pid });
        process.stdout.write(JSON.stringify(r) + '\\n');
      }`;
    const racers = Array.from({ length: 8 }, () => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
      children.push(c);
      const lines: string[] = [];
      let buf = '';
      const waiters: (() => void)[] = [];
      c.stdout!.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); waiters.splice(0).forEach((w) => w()); }
      });
      const line = async (n: number) => { while (lines.length < n) await new Promise<void>((r) => waiters.push(r)); return lines[n - 1]; };
      return { c, line };
    });
    for (const r of racers) expect(await r.line(1)).to.equal('ready');
    for (let round = 1; round <= 5; round++) {
      path = join(dir, `round-${round}.lock`);
      await holderFile({ pid: gone, since: 'stale' });
      for (const r of racers) r.c.stdin!.write(path + '\n');
      const results = await Promise.all(racers.map(async (r) => ({ pid: r.c.pid!, r: JSON.parse(await r.line(round + 1)) })));
      const winners = results.filter((x) => x.r.ok);
      expect(winners.map((w) => w.pid), `round ${round}: ${JSON.stringify(results)}`).to.have.length(1);
      expect(await onDisk()).to.include({ pid: winners[0].pid, racer: winners[0].pid });
      // a loser names the winner (or, when it gave up while the takeover was under way, the stale holder)
      for (const l of results.filter((x) => !x.r.ok)) expect([winners[0].pid, gone]).to.include(l.r.holder.pid);
      expect(readdirSync(dir).filter((f) => f.startsWith(`round-${round}.`))).to.deep.equal([`round-${round}.lock`]);
    }
  });
});
