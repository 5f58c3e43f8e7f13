/**
 * Lock-out after repeated failed logins, counted per key (the host uses one key per user name and one per
 * client address). An attempt takes its place in the count *before* the password is checked, synchronously,
 * so parallel guesses cannot all slip past the check while the first ones are still being hashed: once the
 * failures plus the attempts in flight reach a key's limit, further attempts are refused at once.
 * In memory: a restart clears it (documented in docs/SECURITY.md).
 */

/** How many failures a kind of key may collect within the window. */
export interface LimitRule {
  max: number;
  windowMs: number;
  lockMs: number;
}

/** An admitted attempt: report its outcome exactly once. */
export interface Attempt {
  /** The password was right: the attempt is dropped and the keys in `clear` forget their failures. */
  succeeded(clear: string[]): void;
  /** The password was wrong: the attempt counts as a failure (and may lock its keys). */
  failed(): void;
}

/** Why an attempt was refused: locked until a time, or too many attempts already in flight. */
export type Refusal = { refused: true; key: string; waitMs: number; locked: boolean };

interface KeyState {
  failures: number[];
  inFlight: number;
  lockedUntil: number;
}

/**
 * The host's rules: a user name may collect 5 failures in 15 minutes (then it is locked for 15 minutes, from every
 * address); a client address 20 (guessing across many user names from one address locks that address only).
 */
export function defaultLoginRule(key: string): LimitRule {
  return key.startsWith('ip:') ? { max: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 } : { max: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
}

export class LoginLimiter {
  private readonly keys = new Map<string, KeyState>();
  private calls = 0;

  /** @param ruleFor the rule of a key (default: defaultLoginRule) */
  constructor(private readonly ruleFor: (key: string) => LimitRule = defaultLoginRule) {}

  private state(key: string, now: number): KeyState {
    let s = this.keys.get(key);
    if (!s) { s = { failures: [], inFlight: 0, lockedUntil: 0 }; this.keys.set(key, s); }
    const { windowMs } = this.ruleFor(key);
    s.failures = s.failures.filter((t) => now - t < windowMs);
    return s;
  }

  /**
   * Takes a place for one attempt on every key, or refuses (without taking any place) when one key is locked
   * or full. Synchronous: no other attempt can run between the check and the count.
   */
  begin(keys: string[]): Attempt | Refusal {
    const now = Date.now();
    if (++this.calls % 256 === 0) this.prune(now);
    for (const key of keys) {
      const s = this.state(key, now);
      if (s.lockedUntil > now) return { refused: true, key, waitMs: s.lockedUntil - now, locked: true };
      if (s.failures.length + s.inFlight >= this.ruleFor(key).max) return { refused: true, key, waitMs: 60_000, locked: false };
    }
    const states = keys.map((k) => [k, this.state(k, now)] as const);
    for (const [, s] of states) s.inFlight++;
    let done = false;
    return {
      succeeded: (clear) => {
        if (done) return;
        done = true;
        for (const [k, s] of states) {
          s.inFlight--;
          if (clear.includes(k)) s.failures = [];
        }
      },
      failed: () => {
        if (done) return;
        done = true;
        const at = Date.now();
        for (const [k, s] of states) {
          s.inFlight--;
          s.failures.push(at);
          const rule = this.ruleFor(k);
          if (s.failures.length >= rule.max) {
            s.lockedUntil = at + rule.lockMs;
            s.failures = [];
          }
        }
      },
    };
  }

  /** Forgets keys with nothing left to remember (so guessed user names do not pile up in memory). */
  private prune(now: number): void {
    for (const [key, s] of this.keys) {
      const { windowMs } = this.ruleFor(key);
      if (s.inFlight === 0 && s.lockedUntil <= now && s.failures.every((t) => now - t >= windowMs)) this.keys.delete(key);
    }
  }
}

/** True when `x` is a refusal. */
export function isRefusal(x: Attempt | Refusal): x is Refusal {
  return (x as Refusal).refused === true;
}
