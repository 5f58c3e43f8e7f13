/**
 * SQLite's own write lock on the POS database, taken natively (better-sqlite3) in this process: the way to
 * pause a foreign writer (the register) safely for the few milliseconds a file copy takes.
 *
 * POSIX trap (https://www.sqlite.org/howtocorrupt.html, 2.2): fcntl() locks belong to the process, and closing
 * ANY file descriptor of the database file drops every lock the process holds on it. So while the lock is held,
 * this process must not open and close the database file except for the one copy whose close ends the
 * critical section (snapshot.ts: `stat` by path, the copy, then {@link HeldLock.release}).
 */
import Database from 'better-sqlite3';
import { UserError, throwIfAborted } from 'kassenwart/sdk';
import { journalActiveSync } from './sqlite-file.js';

/** A held SQLite RESERVED lock on the POS database: the POS's next write waits, readers go on. */
export interface HeldLock {
  /** performance.now() right before the lock was first requested (the POS may have been held up from then on). */
  readonly requestedAt: number;
  /** performance.now() when the lock was granted. */
  readonly grantedAt: number;
  /**
   * Ends the transaction and closes the connection. Returns the pause the POS could see: milliseconds from
   * before the lock was first requested until it was released (not only the time it was held).
   */
  release(): number;
}

/** How long a live journal holds back the lock requests (a hot journal of a crashed POS stays "live"). */
const SPIN_MS = 250;

const busy = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(String((e as { code?: unknown })?.code ?? ''));

/**
 * Takes SQLite's write lock (`BEGIN IMMEDIATE`) on `dbPath`. The attempt never blocks the event loop: with a
 * busy timeout of 0 it is repeated every millisecond while a write transaction of the POS is in progress, for
 * up to `timeoutS`. The first read under the lock rolls back a hot journal left by a crashed writer, so the
 * file holds the last committed state afterwards.
 */
export async function acquireWriteLock(dbPath: string, timeoutS = 30, signal?: AbortSignal): Promise<HeldLock> {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { fileMustExist: true, timeout: 0 });
  } catch (e) {
    throw new UserError('Die Kassendatenbank konnte nicht zum Sichern geöffnet werden.', {
      code: 'backup.lock', hint: 'Bitte Pfad und Berechtigungen der Kassendatenbank prüfen.', cause: e,
    });
  }
  // Opening the connection takes no lock: the pause starts with the first lock request.
  const requestedAt = performance.now();
  const deadline = requestedAt + timeoutS * 1000;
  const spinUntil = requestedAt + SPIN_MS;
  const tick = () => new Promise((res) => setTimeout(res, 1));
  // While the POS is inside a write (its journal is live), wait without asking for a lock: even a failed
  // `BEGIN IMMEDIATE` holds a SHARED lock for microseconds, and a POS that meets it on its way to commit sleeps
  // in its busy handler (1 ms and more). Reading the journal's first bytes takes no SQLite lock. A hot journal of
  // a crashed POS stays "live": after SPIN_MS the lock is simply requested (its first read rolls it back).
  const idle = async () => { while (performance.now() < spinUntil && !signal?.aborted && journalActiveSync(dbPath)) await tick(); };
  for (;;) {
    await idle();
    try {
      db.exec('BEGIN IMMEDIATE');
      db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
      break;
    } catch (e) {
      try { if (db.inTransaction) db.exec('ROLLBACK'); } catch { /* nothing held */ }
      const again = busy(e) && performance.now() < deadline && !signal?.aborted;
      if (!again) {
        db.close();
        throwIfAborted(signal);
        if (busy(e)) {
          throw new UserError('Die Kasse gibt die Datenbank gerade nicht frei (sie schreibt ununterbrochen).', {
            code: 'backup.busy', hint: 'Bitte in einigen Minuten erneut auf „Datensicherung“ klicken.', cause: e,
          });
        }
        throw new UserError('Die Kassendatenbank konnte nicht angehalten werden.', {
          code: 'backup.lock', hint: 'Bitte den Support informieren.', cause: e,
        });
      }
      // Every millisecond: retrying on every event-loop turn instead was measured worse — each failed request
      // holds a SHARED lock for microseconds, which a POS on its way to commit meets more often, and on a loaded
      // machine the spinning takes CPU from the POS itself.
      await tick();
    }
  }
  const grantedAt = performance.now();
  let released: number | undefined;
  return {
    requestedAt,
    grantedAt,
    release() {
      if (released === undefined) {
        try { db.exec('ROLLBACK'); } catch { /* the connection ends anyway */ }
        db.close();
        released = performance.now() - requestedAt;
      }
      return released;
    },
  };
}
