/**
 * Talking to SQLite's own locking protocol from outside: Node has no fcntl(), so a tiny Python helper
 * (stdlib sqlite3 module) takes the locks. This is the only way to pause a foreign writer safely.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { UserError } from 'kassenwart/sdk';

const LOCK_SCRIPT = `
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=float(sys.argv[2]), isolation_level=None)
try:
    con.execute('BEGIN IMMEDIATE')
    con.execute('SELECT count(*) FROM sqlite_master').fetchone()
except sqlite3.Error as e:
    sys.stdout.write('ERROR ' + str(e).replace('\\n', ' ') + '\\n'); sys.stdout.flush(); sys.exit(3)
sys.stdout.write('LOCKED\\n'); sys.stdout.flush()
sys.stdin.readline()
con.execute('ROLLBACK')
con.close()
sys.stdout.write('RELEASED\\n'); sys.stdout.flush()
`;

const BACKUP_SCRIPT = `
import sqlite3, sys
src = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=float(sys.argv[3]))
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.execute('PRAGMA journal_mode=DELETE')
dst.close(); src.close()
sys.stdout.write('DONE\\n')
`;

/** The Python interpreter to use (python3 on PATH, else Debian's). */
export function pythonBin(): string {
  if (process.env.KASSENWART_PYTHON) return process.env.KASSENWART_PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

function noPython(e: unknown): UserError {
  return new UserError('Die Kassendatenbank konnte nicht angehalten werden: Python 3 fehlt auf dem Kassenserver.', {
    code: 'backup.python', hint: 'Bitte den Support informieren (Paket python3 installieren).', cause: e,
  });
}

/** A held SQLite RESERVED lock on the POS database: writers wait, readers go on. */
export interface HeldLock {
  /** When the lock was granted (performance.now()). */
  readonly since: number;
  /** Releases the lock; resolves with the milliseconds it was held. */
  release(): Promise<number>;
}

/**
 * Takes SQLite's write lock (`BEGIN IMMEDIATE`) on `dbPath` in a helper process, waiting up to `timeoutS`
 * for a writer in progress. A hot journal left by a crashed writer is rolled back by the helper first.
 */
export async function acquireWriteLock(dbPath: string, timeoutS = 20, signal?: AbortSignal): Promise<HeldLock> {
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(pythonBin(), ['-c', LOCK_SCRIPT, dbPath, String(timeoutS)], { stdio: 'pipe' });
  } catch (e) {
    throw noPython(e);
  }
  let out = '';
  child.stdout.setEncoding('utf8');
  const waitFor = (word: string) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (out.includes(word + '\n')) { cleanup(); resolve(); }
      else if (out.startsWith('ERROR ')) { cleanup(); reject(new Error(out.trim())); }
    };
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`lock helper exited (${code}): ${out.trim()}`)); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => { child.stdout.off('data', onData); child.off('exit', onExit); child.off('error', onError); };
    const onData = (d: string) => { out += d; check(); };
    child.stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    check();
  });
  const onAbort = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await waitFor('LOCKED');
  } catch (e) {
    child.kill('SIGKILL');
    signal?.removeEventListener('abort', onAbort);
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw noPython(e);
    throw new UserError('Die Kasse gibt die Datenbank gerade nicht frei (sie schreibt ununterbrochen).', {
      code: 'backup.busy', hint: 'Bitte in einigen Minuten erneut auf „Datensicherung“ klicken.', cause: e,
    });
  }
  const since = performance.now();
  return {
    since,
    async release() {
      const done = waitFor('RELEASED').catch(() => undefined);
      child.stdin.end('\n');
      await done;
      const held = performance.now() - since;
      signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null) child.kill('SIGKILL');
      return held;
    },
  };
}

/**
 * Copies a WAL-mode database consistently with SQLite's online backup API (a read transaction: the POS
 * keeps writing meanwhile; nothing is paused).
 */
export function onlineBackup(dbPath: string, destPath: string, timeoutS = 20): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(pythonBin(), ['-c', BACKUP_SCRIPT, dbPath, destPath, String(timeoutS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.once('error', (e) => reject((e as NodeJS.ErrnoException).code === 'ENOENT' ? noPython(e) : e));
    child.once('exit', (code) => {
      if (code === 0 && out.includes('DONE')) resolve();
      else reject(new UserError('Die Kassendatenbank (WAL-Modus) konnte nicht gelesen werden.', {
        code: 'backup.wal', hint: 'Bitte den Support informieren.', cause: new Error(out.trim()),
      }));
    });
  });
}
