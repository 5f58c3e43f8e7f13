/**
 * The event-loop stall watchdog. The main thread bumps a shared counter every 100 ms; a worker thread
 * (watchdog-worker.ts) measures how long the counter stands still and, for a stall, reads the main thread's
 * stack through the inspector to name the plugin. Measured, not guessed: a stall is the time the heartbeat did
 * not move; the culprit is the plugin whose code is on the stack while it stands still.
 *
 * KASSENWART_STALL_MS (default 4000): a stall this long with a plugin on the stack ends the process (under a
 * supervisor), which quarantines the plugin. KASSENWART_STALL_WARN_MS (default 2000): stalls longer than this
 * are logged with the plugin. KASSENWART_STALL_MS=0 switches the watchdog off.
 */
import { Worker } from 'node:worker_threads';
import { pluginDirs, type PluginDir } from './plugins/activity.js';

export interface Watchdog {
  /** Tells the worker the current plugin folders (call after plugins were loaded or added). */
  update(plugins: PluginDir[]): void;
  stop(): Promise<void>;
}

export function startWatchdog(dataDir: string, supervised: boolean): Watchdog | undefined {
  const stallMs = Number(process.env.KASSENWART_STALL_MS ?? 4000);
  if (!(stallMs > 0)) return undefined;
  const warnMs = Math.min(Number(process.env.KASSENWART_STALL_WARN_MS ?? 2000), stallMs);
  const beat = new Int32Array(new SharedArrayBuffer(4));
  const timer = setInterval(() => { Atomics.add(beat, 0, 1); }, 100);
  timer.unref();
  const worker = new Worker(new URL('./watchdog-worker.js', import.meta.url), {
    workerData: { beat, warnMs, stallMs, dataDir, supervised, pid: process.pid },
    stdout: false, stderr: false,
  });
  worker.unref();
  worker.on('error', (e) => process.stderr.write(`watchdog: ${e.message}\n`));
  return {
    update: (plugins) => worker.postMessage({ dirs: pluginDirs(plugins) }),
    stop: async () => { clearInterval(timer); await worker.terminate(); },
  };
}
