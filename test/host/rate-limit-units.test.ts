/**
 * The login lock-out (host/src/auth/rate-limit.ts) in the test process: LoginLimiter.begin() and its Attempt,
 * with the host's rules and with small injected rules, each boundary to the millisecond. The limiter reads
 * only Date.now, which each test replaces by a clock it moves itself (restored afterwards). The same limiter
 * over HTTP (parallel guesses, per user and per client, behind a proxy): adversarial.test.ts, proxy.test.ts.
 */
import { expect } from 'chai';
import { LoginLimiter, defaultLoginRule, isRefusal, type Attempt, type Refusal } from '#host/auth/rate-limit.js';

const MIN = 60_000;

describe('auth: login lock-out (LoginLimiter.begin and its attempts, in-process)', () => {
  const realNow = Date.now;
  let now = 0;
  beforeEach(() => { now = Date.UTC(2026, 11, 1, 7, 0, 0); Date.now = () => now; });
  afterEach(() => { Date.now = realNow; });

  /** An admitted attempt, or a failed test saying what refused it. */
  function admit(l: LoginLimiter, keys: string[]): Attempt {
    const a = l.begin(keys);
    if (isRefusal(a)) throw new Error(`refused (${a.key}, locked ${a.locked}, wait ${a.waitMs} ms), expected admitted: ${keys}`);
    return a;
  }
  function refusal(l: LoginLimiter, keys: string[]): Refusal {
    const a = l.begin(keys);
    if (!isRefusal(a)) throw new Error(`admitted, expected refused: ${keys}`);
    return a;
  }
  const fail = (l: LoginLimiter, keys: string[], n: number) => { for (let i = 0; i < n; i++) admit(l, keys).failed(); };
  const small = (key: string) => ({ max: 3, windowMs: 10 * MIN, lockMs: 5 * MIN, ...(key.startsWith('ip:') ? { max: 4 } : {}) });

  it("the host's rules: 5 failures per user name, 20 per client address, 15-minute window and lock", () => {
    expect(defaultLoginRule('chef')).to.deep.equal({ max: 5, windowMs: 15 * MIN, lockMs: 15 * MIN });
    expect(defaultLoginRule('ip:10.0.0.7')).to.deep.equal({ max: 20, windowMs: 15 * MIN, lockMs: 15 * MIN });
    expect(defaultLoginRule('kasse-ip:1')).to.deep.equal({ max: 5, windowMs: 15 * MIN, lockMs: 15 * MIN });
  });

  it('default limiter: the 5th wrong password locks the user name for exactly 15 minutes, from every address', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < 4; i++) admit(l, ['chef', `ip:10.0.0.${i}`]).failed();
    admit(l, ['chef', 'ip:10.0.0.9']).failed();
    const r = refusal(l, ['chef', 'ip:10.0.0.50']);
    expect(r).to.deep.equal({ refused: true, key: 'chef', waitMs: 15 * MIN, locked: true });
    now += 15 * MIN - 1;
    expect(refusal(l, ['chef', 'ip:10.0.0.51']).waitMs).to.equal(1);
    now += 1;
    admit(l, ['chef', 'ip:10.0.0.52']).succeeded(['chef']);
  });

  it('default limiter: 20 failures from one address lock that address for every user name, not the names elsewhere', () => {
    const l = new LoginLimiter();
    for (let i = 0; i < 20; i++) admit(l, [`name${i}`, 'ip:10.0.0.1']).failed();
    expect(refusal(l, ['chef', 'ip:10.0.0.1'])).to.deep.equal({ refused: true, key: 'ip:10.0.0.1', waitMs: 15 * MIN, locked: true });
    admit(l, ['name3', 'ip:10.0.0.2']).succeeded(['name3']);
  });

  it('counts an attempt before its outcome: parallel attempts beyond the limit are refused at once, without a lock', () => {
    const l = new LoginLimiter(small);
    const inFlight = [admit(l, ['chef']), admit(l, ['chef']), admit(l, ['chef'])];
    expect(refusal(l, ['chef'])).to.deep.equal({ refused: true, key: 'chef', waitMs: 60_000, locked: false });
    inFlight[0].succeeded([]);
    const fourth = admit(l, ['chef']);
    expect(isRefusal(l.begin(['chef']))).to.equal(true);
    fourth.succeeded([]);
    inFlight[1].succeeded([]);
    inFlight[2].succeeded([]);
    // nothing failed: three more may run at once again
    admit(l, ['chef']); admit(l, ['chef']); admit(l, ['chef']);
    expect(isRefusal(l.begin(['chef']))).to.equal(true);
  });

  it('failures and attempts in flight share the limit', () => {
    const l = new LoginLimiter(small);
    fail(l, ['chef'], 2);
    const a = admit(l, ['chef']);
    expect(refusal(l, ['chef']).locked).to.equal(false);
    a.failed();
    expect(refusal(l, ['chef'])).to.deep.equal({ refused: true, key: 'chef', waitMs: 5 * MIN, locked: true });
  });

  it('locks at exactly max failures (not one before), for lockMs, and starts counting afresh after the lock', () => {
    const l = new LoginLimiter(small);
    fail(l, ['chef'], 2);
    admit(l, ['chef']).succeeded([]); // a third attempt is still admitted after 2 failures
    admit(l, ['chef']).failed();
    const r = refusal(l, ['chef']);
    expect([r.locked, r.waitMs]).to.deep.equal([true, 5 * MIN]);
    now += 2 * MIN;
    expect(refusal(l, ['chef']).waitMs).to.equal(3 * MIN);
    now += 3 * MIN - 1;
    expect(refusal(l, ['chef']).waitMs).to.equal(1);
    now += 1;
    // the lock has ended and the failures before it are forgotten: 2 more failures do not lock, the 3rd does
    fail(l, ['chef'], 2);
    admit(l, ['chef']).failed();
    expect(refusal(l, ['chef']).locked).to.equal(true);
  });

  it('forgets a failure once it is windowMs old, not a millisecond earlier', () => {
    const l = new LoginLimiter(small);
    fail(l, ['chef'], 2);
    now += 10 * MIN - 1;
    admit(l, ['chef']).failed(); // 3 failures within the window → locked
    expect(refusal(l, ['chef']).locked).to.equal(true);

    const m = new LoginLimiter(small);
    fail(m, ['chef'], 2);
    now += 10 * MIN;
    admit(m, ['chef']).failed(); // the first two are exactly windowMs old: forgotten, 1 failure only
    fail(m, ['chef'], 1);
    admit(m, ['chef']).succeeded([]);
  });

  it('a right password clears the failures of the keys it names, and only those', () => {
    const l = new LoginLimiter(small);
    fail(l, ['chef', 'ip:1'], 2);
    admit(l, ['chef', 'ip:1']).succeeded(['chef']);
    fail(l, ['chef', 'ip:1'], 2); // chef back to 2 failures (not locked); ip:1 now at 4 → locked
    expect(refusal(l, ['chef', 'ip:1'])).to.deep.include({ key: 'ip:1', locked: true });
    expect(refusal(l, ['ip:1', 'chef'])).to.deep.include({ key: 'ip:1', locked: true });
    admit(l, ['chef', 'ip:2']).failed();
    expect(refusal(l, ['chef', 'ip:2'])).to.deep.include({ key: 'chef', locked: true });
  });

  it('names the first key that refuses, in the order given', () => {
    const l = new LoginLimiter(small);
    fail(l, ['a'], 3);
    fail(l, ['b'], 3);
    expect(refusal(l, ['a', 'b']).key).to.equal('a');
    expect(refusal(l, ['b', 'a']).key).to.equal('b');
  });

  it('a refused attempt takes no place on the other keys', () => {
    const l = new LoginLimiter(small);
    fail(l, ['locked'], 3);
    for (let i = 0; i < 10; i++) refusal(l, ['free', 'locked']);
    // "free" has no attempt in flight and no failure: three may run at once
    admit(l, ['free']); admit(l, ['free']); admit(l, ['free']);
    expect(refusal(l, ['free']).locked).to.equal(false);
  });

  it('each attempt reports its outcome once: a second failed() or succeeded() changes nothing', () => {
    const l = new LoginLimiter(small);
    const a = admit(l, ['chef']);
    a.failed(); a.failed(); a.succeeded(['chef']); a.failed();
    const b = admit(l, ['chef']);
    b.succeeded([]); b.failed(); b.failed();
    // exactly one failure so far, and no place held: two failures and then one attempt in flight are still admitted
    fail(l, ['chef'], 1);
    const c = admit(l, ['chef']);
    expect(refusal(l, ['chef']).locked).to.equal(false);
    c.failed();
    expect(refusal(l, ['chef']).locked).to.equal(true);
  });

  it('a lock on one key does not lock another key of the same failed attempt below its own limit', () => {
    const l = new LoginLimiter(small);
    fail(l, ['chef', 'ip:1'], 3); // chef (max 3) locked; ip:1 (max 4) at 3 failures, not locked
    const a = admit(l, ['kasse', 'ip:1']);
    expect(refusal(l, ['other', 'ip:1']).locked).to.equal(false); // 3 failures + 1 in flight = 4
    a.succeeded([]);
    admit(l, ['other', 'ip:1']).failed();
    expect(refusal(l, ['x', 'ip:1']).locked).to.equal(true);
  });

  describe('forgetting keys (every 256th begin) keeps what still matters', () => {
    const size = (l: LoginLimiter) => (l as unknown as { keys: Map<string, unknown> }).keys.size;
    /** Calls begin() on fresh names until the next call is a multiple of 256 (the prune runs inside it). */
    function churnTo255(l: LoginLimiter, calls: number): void {
      for (let i = calls; i < 255; i++) admit(l, [`guess${i}`]).succeeded([]);
    }

    it('guessed user names with nothing to remember do not pile up', () => {
      const l = new LoginLimiter(small);
      for (let i = 0; i < 255; i++) admit(l, [`guess${i}`]).succeeded([]);
      expect(size(l)).to.equal(255);
      admit(l, ['last']).succeeded([]);
      expect(size(l)).to.equal(1); // the 256th call pruned the 255 before it (the new key is added after)
    });

    it('keeps a key with attempts in flight', () => {
      const l = new LoginLimiter(small);
      admit(l, ['chef']); admit(l, ['chef']); admit(l, ['chef']);
      churnTo255(l, 3);
      expect(refusal(l, ['chef']).locked).to.equal(false); // call 256: pruned, then checked
      expect(refusal(l, ['chef']).locked).to.equal(false);
    });

    it('keeps a locked key until its lock ends', () => {
      const l = new LoginLimiter(small);
      fail(l, ['chef'], 3);
      now += 10 * MIN + 1; // the failures are out of the window; the lock (5 min) is over too → forgettable
      const m = new LoginLimiter((k) => ({ ...small(k), lockMs: 60 * MIN }));
      fail(m, ['chef'], 3);
      now += 10 * MIN + 1; // failures out of the window, but locked for 50 more minutes
      churnTo255(m, 3);
      expect(refusal(m, ['chef'])).to.deep.include({ locked: true, waitMs: 50 * MIN - 1 });
      churnTo255(l, 3);
      admit(l, ['chef']).succeeded([]);
    });

    it('keeps a key whose failures are still in the window, and forgets it once they are not', () => {
      const l = new LoginLimiter(small);
      fail(l, ['chef'], 2);
      now += 10 * MIN - 1;
      churnTo255(l, 2);
      admit(l, ['chef']).failed(); // call 256: the two failures must survive the prune → third locks
      expect(refusal(l, ['chef']).locked).to.equal(true);

      const m = new LoginLimiter(small);
      fail(m, ['chef'], 2);
      now += 10 * MIN;
      churnTo255(m, 2);
      const before = size(m);
      admit(m, ['x']).succeeded([]); // call 256
      expect(size(m)).to.be.lessThan(before);
      expect((m as unknown as { keys: Map<string, unknown> }).keys.has('chef')).to.equal(false);
    });
  });
});
