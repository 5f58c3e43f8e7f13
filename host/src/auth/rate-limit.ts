/**
 * Lock-out after repeated failed logins: after `max` failures within `windowMs` for one user name (from
 * any address) or one address, further attempts are refused until `lockMs` has passed. In memory: a restart
 * clears it (documented in docs/SECURITY.md).
 */
export class LoginLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly locked = new Map<string, number>();

  constructor(private readonly max = 5, private readonly windowMs = 15 * 60_000, private readonly lockMs = 15 * 60_000) {}

  /** Milliseconds until one of the keys is unlocked, or 0 when none is locked. */
  lockedFor(keys: string[]): number {
    const now = Date.now();
    let wait = 0;
    for (const k of keys) {
      const until = this.locked.get(k);
      if (until && until > now) wait = Math.max(wait, until - now);
      else if (until) this.locked.delete(k);
    }
    return wait;
  }

  fail(keys: string[]): void {
    const now = Date.now();
    for (const k of keys) {
      const list = (this.failures.get(k) ?? []).filter((t) => now - t < this.windowMs);
      list.push(now);
      this.failures.set(k, list);
      if (list.length >= this.max) {
        this.locked.set(k, now + this.lockMs);
        this.failures.delete(k);
      }
    }
  }

  succeed(keys: string[]): void {
    for (const k of keys) this.failures.delete(k);
  }
}
