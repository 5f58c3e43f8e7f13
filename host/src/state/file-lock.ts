import { link, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Information stored in a lock file. */
export interface LockInfo {
  pid: number;
  since: string;
  /** Start time of the process (clock ticks since boot, /proc/<pid>/stat field 22), when known. */
  start?: string;
  [key: string]: unknown;
}

/** The start time of `pid` in clock ticks since boot (from /proc), or undefined without /proc. */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after "(comm)": state is field 3, starttime field 22
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

const OWN_START = processStart(process.pid);

/**
 * Whether a process still runs. A zombie (killed, not yet reaped — common in containers whose init does not
 * reap orphans) counts as gone: it holds nothing any more. With `start`, a process that has the pid but started
 * at another time (the pid was reused, e.g. after a reboot) counts as gone too.
 */
export function alive(pid: number, start?: string): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z') return false;
    return start === undefined || fields[19] === start;
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** True when `h` is this very process (same pid and, when recorded, same start time). */
function isSelf(h: LockInfo): boolean {
  return h.pid === process.pid && (h.start === undefined || OWN_START === undefined || h.start === OWN_START);
}

/** A takeover guard older than this was left by a process that died inside the takeover. */
const GUARD_STALE_MS = 5_000;

/**
 * An inter-process lock held as a file, created atomically with its content (a hard link of a file written
 * under a temporary name). A lock whose process is gone is stale and taken over. Used for the state database
 * writes, the maintenance lock shared by server and CLI, and the server and supervisor locks of a data folder.
 *
 * Liveness is pid + process start time, so a pid reused after a reboot (even by this process) does not keep
 * a lock held for ever. Taking over a stale lock is serialized through a guard file (`<lock>.takeover`): two
 * processes that both find the same stale lock cannot delete each other's fresh lock.
 */
export class FileLock {
  constructor(readonly path: string) {}

  /**
   * Creates the lock file with its content in one step: written under a temporary name, then hard-linked to
   * the lock's name (which fails when it exists). A lock file is never seen empty or half-written by another
   * process, so an unreadable lock file is a broken one, never one being created right now.
   */
  private async create(info: Record<string, unknown>): Promise<boolean> {
    const tmp = `${this.path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      const content = { pid: process.pid, start: OWN_START, since: new Date().toISOString(), ...info };
      await writeFile(tmp, JSON.stringify(content), { mode: 0o600 });
      await link(tmp, this.path);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      return false;
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Removes the lock file when it still holds exactly `stale` (or is still unreadable), under the takeover
   * guard. Only this removes a readable lock of another process, so it cannot change between the look and the
   * removal; a missing one is left missing.
   */
  private async takeOver(stale: LockInfo | undefined): Promise<void> {
    const guard = this.path + '.takeover';
    let fh;
    try {
      fh = await open(guard, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > GUARD_STALE_MS) await rm(guard, { force: true });
      return; // another process is taking over right now; the caller tries again
    }
    try {
      await fh.close();
      let now: LockInfo | undefined;
      try {
        now = JSON.parse(await readFile(this.path, 'utf8')) as LockInfo;
      } catch (e) {
        // gone meanwhile: nothing to remove — and a lock created from now on (which needs no guard) is not ours to delete
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      }
      const same = stale === undefined ? now === undefined : (now?.pid === stale.pid && now?.since === stale.since);
      if (same) await rm(this.path, { force: true });
    } finally {
      await rm(guard, { force: true });
    }
  }

  /** Tries once; returns false (and who holds it) when another live process holds the lock. */
  async tryAcquire(info: Record<string, unknown> = {}): Promise<{ ok: true } | { ok: false; holder: LockInfo }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.create(info)) return { ok: true };
      const holder = await this.holder();
      if (holder && isSelf(holder)) return { ok: false, holder };
      if (holder && alive(holder.pid, holder.start)) return { ok: false, holder };
      if (!holder && attempt === 0) {
        // maybe half-written right now by an older creator (open + write): look again before calling it broken
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      await this.takeOver(holder); // stale (process gone) or unreadable half-written lock
      if (attempt > 0) await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
    }
    const holder = (await this.holder()) ?? { pid: -1, since: '' };
    return { ok: false, holder };
  }

  /** Waits until the lock is free (polling), up to `timeoutMs`. */
  async acquire(timeoutMs = 10_000, info: Record<string, unknown> = {}): Promise<void> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.tryAcquire(info);
      if (r.ok) return;
      if (Date.now() > end) throw new Error(`lock ${this.path} held by pid ${r.holder.pid}`);
      await new Promise((res) => setTimeout(res, 15));
    }
  }

  async holder(): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8')) as LockInfo;
    } catch {
      return undefined;
    }
  }

  /** True when a live process other than this one holds the lock. */
  async heldByOther(): Promise<LockInfo | undefined> {
    const h = await this.holder();
    return h && !isSelf(h) && alive(h.pid, h.start) ? h : undefined;
  }

  async release(): Promise<void> {
    const h = await this.holder();
    if (!h || isSelf(h)) await rm(this.path, { force: true });
  }
}
