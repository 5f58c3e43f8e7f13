/**
 * Runs an external program without a shell, with a timeout, an output limit and cancellation.
 *
 * Why not `execFile`: its error message contains the full command line (which may carry the RustDesk
 * password), and a timed-out child that left grandchildren holding its stdout keeps `execFile` waiting.
 * Here the child runs in its own process group; on timeout or abort the whole group gets SIGKILL.
 */
import { spawn } from 'node:child_process';

/** How a run ended. `stdout`/`stderr` are what was read until then (capped at `maxOutput` bytes). */
export interface RunResult {
  /** "exited": the program ended by itself; "timeout": killed after `timeoutMs`; "aborted": cancelled;
   *  "spawn-failed": could not be started at all (see `spawnError`). */
  outcome: 'exited' | 'timeout' | 'aborted' | 'spawn-failed';
  /** Exit code when it exited normally (null when it was ended by a signal). */
  code: number | null;
  /** Signal that ended it, if any. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** errno code when `outcome` is "spawn-failed" (ENOENT, EACCES, …). */
  spawnError?: string;
}

/** Options of {@link runProgram}. */
export interface RunOptions {
  /** Kill the program (and its process group) after this many milliseconds. */
  timeoutMs: number;
  /** Cancel from outside (job cancellation). */
  signal?: AbortSignal;
  /** Environment (default: the host's environment). */
  env?: NodeJS.ProcessEnv;
  /** Keep at most this many bytes of each output stream (default 64 KiB). */
  maxOutput?: number;
}

/**
 * Starts `file` with `args` (no shell, arguments passed as they are) and resolves when it has ended.
 * Never rejects: every way of ending is described by the result.
 */
export function runProgram(file: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const max = options.maxOutput ?? 64 * 1024;
  return new Promise<RunResult>((resolve) => {
    if (options.signal?.aborted) {
      resolve({ outcome: 'aborted', code: null, signal: null, stdout: '', stderr: '' });
      return;
    }
    let stdout = '';
    let stderr = '';
    let settled = false;
    let ended: RunResult['outcome'] | undefined;
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, {
        shell: false,
        detached: true, // own process group, so a kill reaches its children too
        stdio: ['ignore', 'pipe', 'pipe'],
        env: options.env ?? process.env,
        windowsHide: true,
      });
    } catch (e) {
      // e.g. an argument with a NUL byte: never let the message (it names the arguments) escape.
      resolve({ outcome: 'spawn-failed', code: null, signal: null, stdout: '', stderr: '', spawnError: (e as NodeJS.ErrnoException).code ?? 'EINVAL' });
      return;
    }
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => { if (stdout.length < max) stdout += d.slice(0, max - stdout.length); });
    child.stderr!.on('data', (d: string) => { if (stderr.length < max) stderr += d.slice(0, max - stderr.length); });

    const finish = (r: RunResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const killGroup = () => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        try { child.kill('SIGKILL'); } catch { /* already gone */ }
      }
    };
    const stop = (why: 'timeout' | 'aborted') => {
      if (settled || ended) return;
      ended = why;
      killGroup();
      if (exited && why === 'timeout') {
        // It did end in time; only a left-over child still holds its output open.
        child.stdout!.destroy();
        child.stderr!.destroy();
        finish({ outcome: 'exited', code: exited.code, signal: exited.signal, stdout, stderr });
        return;
      }
      // Do not wait for pipes a surviving grandchild might still hold: report now.
      child.stdout!.destroy();
      child.stderr!.destroy();
      finish({ outcome: why, code: null, signal: 'SIGKILL', stdout, stderr });
    };
    const onAbort = () => stop('aborted');
    const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.once('error', (e: NodeJS.ErrnoException) => {
      finish({ outcome: 'spawn-failed', code: null, signal: null, stdout, stderr, spawnError: e.code ?? 'EUNKNOWN' });
    });
    child.once('exit', (code, sig) => { exited = { code, signal: sig }; });
    child.once('close', (code, sig) => {
      finish({ outcome: 'exited', code, signal: sig, stdout, stderr });
    });
  });
}
