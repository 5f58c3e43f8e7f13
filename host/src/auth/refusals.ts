/**
 * Audits login attempts refused by the lock-out without one state-database write per refused request (a flood
 * of refused guesses must stay cheap): refusals are counted per attempted user name and client address and
 * written as one audit entry `login.refused` {ip, count, by} per pair, at most once a second.
 */
export class RefusalLog {
  private pending = new Map<string, { user: string; ip: string; by: string; count: number }>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (user: string, event: string, target: string | null, details: Record<string, unknown>) => Promise<void>,
    private readonly delayMs = 1000,
  ) {}

  /** Counts one refused attempt; `by` says which counter refused it ("user" or "client"). */
  note(user: string, ip: string, by: 'user' | 'client'): void {
    const shown = user.slice(0, 80);
    const key = `${shown}\u0000${ip}\u0000${by}`;
    const e = this.pending.get(key);
    if (e) e.count++;
    else this.pending.set(key, { user: shown, ip, by, count: 1 });
    this.timer ??= setTimeout(() => { this.timer = undefined; void this.flush(); }, this.delayMs);
    this.timer.unref?.();
  }

  /** Writes what is pending (also called at shutdown). */
  flush(): Promise<void> {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const batch = [...this.pending.values()];
    this.pending.clear();
    this.flushing = this.flushing.then(async () => {
      for (const e of batch) {
        await this.write(e.user, 'login.refused', null, { ip: e.ip, count: e.count, by: e.by }).catch(() => {});
      }
    });
    return this.flushing;
  }
}
