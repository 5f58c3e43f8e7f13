import { open, readFile, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';

/** Information stored in a lock file. */
export interface LockInfo {
  pid: number;
  since: string;
  [key: string]: unknown;
}

/**
 * Whether a process still runs. A zombie (killed, not yet reaped — common in containers whose init does not
 * reap orphans) counts as gone: it holds nothing any more.
 */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * An inter-process lock held as a file created with O_EXCL. A lock whose process is gone is stale and
 * taken over. Used for the state database writes and the maintenance lock shared by server and CLI.
 */
export class FileLock {
  constructor(readonly path: string) {}

  /** Tries once; returns false (and who holds it) when another live process holds the lock. */
  async tryAcquire(info: Record<string, unknown> = {}): Promise<{ ok: true } | { ok: false; holder: LockInfo }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.path, 'wx', 0o600);
        await fh.writeFile(JSON.stringify({ pid: process.pid, since: new Date().toISOString(), ...info }));
        await fh.close();
        return { ok: true };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const holder = await this.holder();
        if (holder && holder.pid !== process.pid && alive(holder.pid)) return { ok: false, holder };
        if (holder && holder.pid === process.pid) return { ok: false, holder };
        await rm(this.path, { force: true }); // stale (process gone) or unreadable half-written lock
      }
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

  async release(): Promise<void> {
    const h = await this.holder();
    if (!h || h.pid === process.pid) await rm(this.path, { force: true });
  }
}
