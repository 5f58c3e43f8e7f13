/**
 * Crash evidence: what the serving process tells its supervisor about plugin code in progress, so that when the
 * process dies (process.exit, an uncaught exception, heap exhaustion) or stalls, the supervisor can name the
 * plugin. Two small files in the data folder, both written synchronously (a dying process runs no more
 * asynchronous code; heap exhaustion runs no JavaScript at all):
 *
 *   plugin-activity.json  rewritten whenever plugin code starts or ends: the plugin being loaded (import,
 *                         construction, activate()) and the plugins with a route or job in flight
 *   plugin-verdict.json   written once, by whoever caught a plugin in the act: the process.exit wrapper,
 *                         the uncaught-exception monitor, or the stall watchdog (with the blocked stack)
 *
 * Both carry the pid and start time of the process, so evidence of an earlier process is never misread.
 */
import { readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processStart } from '../state/file-lock.js';

export const ACTIVITY_FILE = 'plugin-activity.json';
export const VERDICT_FILE = 'plugin-verdict.json';

/** The activity file's content. */
export interface ActivityRecord {
  pid: number;
  start?: string;
  /** True once the HTTP server listens. */
  listening: boolean;
  /** Plugins whose code is being loaded: import, construction, activate(). */
  loading: { plugin: string; builtin: boolean; phase: string; since: string }[];
  /** Plugins with a route handler or job running, with how many. */
  inFlight: { plugin: string; builtin: boolean; count: number }[];
}

/** A plugin caught in the act. */
export interface Verdict {
  pid: number;
  start?: string;
  plugin: string;
  builtin: boolean;
  /** "exit": called process.exit; "exception": threw an uncaught exception; "stall": blocked the event loop. */
  kind: 'exit' | 'exception' | 'stall';
  /** What happened, German, for the reason shown in "Plugins". */
  detail: string;
  /** The code involved (innermost frames). */
  frames?: string[];
  at: string;
}

/** A plugin folder as the attribution needs it. */
export interface PluginDir { id: string; dir: string; builtin: boolean }

/** The folders of `plugins` with their real paths (module URLs use real paths). */
export function pluginDirs(plugins: PluginDir[]): PluginDir[] {
  const out: PluginDir[] = [];
  for (const p of plugins) {
    if (p.id.includes('@') || p.id.startsWith('?')) continue;
    out.push(p);
    try {
      const real = realpathSync(p.dir);
      if (real !== p.dir) out.push({ ...p, dir: real });
    } catch { /* gone */ }
  }
  return out.sort((a, b) => b.dir.length - a.dir.length);
}

/** The plugin a file path or file: URL belongs to (longest folder match), if any. */
export function ownerOf(location: string, dirs: PluginDir[]): PluginDir | undefined {
  let path = location;
  if (path.startsWith('file://')) { try { path = fileURLToPath(path); } catch { return undefined; } }
  return dirs.find((d) => path.startsWith(d.dir.endsWith(sep) ? d.dir : d.dir + sep));
}

/**
 * The innermost plugin frame in a stack (an Error's `stack`, or frame locations from the inspector).
 * Returns the plugin and the frames from the top of the stack down to it.
 */
export function culpritOfStack(frames: string[], dirs: PluginDir[]): { plugin: PluginDir; frames: string[] } | undefined {
  for (let i = 0; i < frames.length; i++) {
    const m = /(file:\/\/[^\s)]+|\/[^\s():]+)/.exec(frames[i]);
    const owner = m ? ownerOf(m[1], dirs) : undefined;
    if (owner) return { plugin: owner, frames: frames.slice(0, i + 1).map((f) => f.trim()) };
  }
  return undefined;
}

/** Keeps the activity file current. Without a file (the CLI) it only counts. */
export class PluginActivity {
  private readonly loading = new Map<string, ActivityRecord['loading'][number]>();
  private readonly inFlight = new Map<string, { builtin: boolean; count: number }>();
  private listening = false;
  private readonly start = processStart(process.pid);

  constructor(readonly dataDir?: string) {
    this.flush();
  }

  /** Marks `plugin`'s code as loading (import, construction, activate()); call the result when done. */
  load(plugin: string, builtin: boolean, phase: string): () => void {
    this.loading.set(plugin, { plugin, builtin, phase, since: new Date().toISOString() });
    this.flush();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.loading.delete(plugin);
      this.flush();
    };
  }

  /** Marks a route handler or job of `plugin` as running; call the result when it has finished. */
  run(plugin: string, builtin: boolean): () => void {
    const e = this.inFlight.get(plugin) ?? { builtin, count: 0 };
    e.count++;
    this.inFlight.set(plugin, e);
    this.flush();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      e.count--;
      if (e.count <= 0) this.inFlight.delete(plugin);
      this.flush();
    };
  }

  setListening(): void {
    this.listening = true;
    this.flush();
  }

  private flush(): void {
    if (!this.dataDir) return;
    const rec: ActivityRecord = {
      pid: process.pid, start: this.start, listening: this.listening, loading: [...this.loading.values()],
      inFlight: [...this.inFlight].map(([plugin, e]) => ({ plugin, builtin: e.builtin, count: e.count })),
    };
    try { writeFileSync(join(this.dataDir, ACTIVITY_FILE), JSON.stringify(rec)); } catch { /* evidence is best effort */ }
  }
}

/** Writes a verdict for this process (synchronously; the first one wins). */
export function writeVerdict(dataDir: string, v: Omit<Verdict, 'pid' | 'start' | 'at'>): void {
  const file = join(dataDir, VERDICT_FILE);
  const own = readEvidence(dataDir, process.pid, processStart(process.pid)).verdict;
  if (own) return;
  const full: Verdict = { pid: process.pid, start: processStart(process.pid), at: new Date().toISOString(), ...v };
  try { writeFileSync(file, JSON.stringify(full)); } catch { /* best effort */ }
}

/** The evidence a process with `pid` (and start time, when known) left. */
export function readEvidence(dataDir: string, pid: number, start?: string): { activity?: ActivityRecord; verdict?: Verdict } {
  const read = <T extends { pid: number; start?: string }>(name: string): T | undefined => {
    try {
      const v = JSON.parse(readFileSync(join(dataDir, name), 'utf8')) as T;
      return v.pid === pid && (start === undefined || v.start === undefined || v.start === start) ? v : undefined;
    } catch { return undefined; }
  };
  return { activity: read<ActivityRecord>(ACTIVITY_FILE), verdict: read<Verdict>(VERDICT_FILE) };
}

/** Removes the evidence files (before a new process starts). */
export function clearEvidence(dataDir: string): void {
  for (const f of [ACTIVITY_FILE, VERDICT_FILE]) rmSync(join(dataDir, f), { force: true });
}

/**
 * Catches a plugin ending the process: wraps process.exit (the innermost plugin frame of the caller's stack is
 * blamed) and watches uncaught exceptions and unhandled rejections (the innermost plugin frame of the error's
 * stack). Host code calling process.exit has no plugin frame and is blamed on nobody.
 */
export function installExitEvidence(dataDir: string, dirs: () => PluginDir[]): void {
  const realExit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 50;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    const c = culpritOfStack(stack.split('\n').slice(2), dirs());
    if (c) {
      writeVerdict(dataDir, {
        plugin: c.plugin.id, builtin: c.plugin.builtin, kind: 'exit',
        detail: `process.exit(${code ?? ''}) in ${c.frames.at(-1)?.replace(/^at /, '')}`, frames: c.frames.slice(-5),
      });
    }
    return realExit(code as number);
  }) as typeof process.exit;
  process.on('uncaughtExceptionMonitor', (err, origin) => {
    const stack = err instanceof Error ? err.stack ?? '' : '';
    const c = culpritOfStack(stack.split('\n').slice(1), dirs());
    if (!c) return;
    const what = origin === 'unhandledRejection' ? 'unbehandelte Ablehnung' : 'unbehandelter Fehler';
    writeVerdict(dataDir, {
      plugin: c.plugin.id, builtin: c.plugin.builtin, kind: 'exception',
      detail: `${what} „${(err as Error)?.message ?? String(err)}“ in ${c.frames.at(-1)?.replace(/^at /, '')}`.slice(0, 400), frames: c.frames.slice(-5),
    });
  });
}
