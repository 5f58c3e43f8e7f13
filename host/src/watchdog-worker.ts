/**
 * The stall watchdog's worker thread (see watchdog.ts). It watches the main thread's heartbeat counter; when the
 * counter has not moved for `warnMs`, it pauses the main thread through the inspector (connectToMainThread; the
 * pause interrupts running JavaScript) and reads the stack to find the innermost plugin frame. A stall that lasts
 * `stallMs` with a plugin on the stack is written as a verdict, and — when a supervisor runs this process — the
 * process is killed so the supervisor can quarantine the plugin and start again.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { writeSync } from 'node:fs';
import { culpritOfStack, writeVerdict, type PluginDir } from './plugins/activity.js';

interface Data { beat: Int32Array; warnMs: number; stallMs: number; dataDir: string; supervised: boolean; pid: number }
const d = workerData as Data;
let dirs: PluginDir[] = [];
parentPort!.on('message', (m: { dirs?: PluginDir[] }) => { if (m.dirs) dirs = m.dirs; });

const TICK = 100;
// straight to fd 2: a worker's process.stderr goes through the main thread, which is the one that is blocked
const say = (line: string) => { try { writeSync(2, `${new Date().toISOString()} WARN  [watchdog] ${line}\n`); } catch { /* closed */ } };

/** Pauses the main thread and returns its stack ("function location:line"), or undefined within `ms`. */
function mainStack(ms: number): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const s = new Session();
    const urls = new Map<string, string>();
    let done = false;
    const finish = (frames?: string[]) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { s.post('Debugger.resume'); s.post('Debugger.disable'); } catch { /* closed */ }
      setTimeout(() => { try { s.disconnect(); } catch { /* closed */ } resolve(frames); }, 10);
    };
    const timer = setTimeout(() => finish(undefined), ms);
    try {
      s.connectToMainThread();
      s.on('Debugger.scriptParsed', (m) => { urls.set(m.params.scriptId, m.params.url); });
      s.on('Debugger.paused', (m) => {
        finish(m.params.callFrames.map((f) => `${f.functionName || '(anonym)'} ${urls.get(f.location.scriptId) ?? f.url ?? '?'}:${f.location.lineNumber + 1}`));
      });
      s.post('Debugger.enable', () => s.post('Debugger.pause'));
    } catch {
      finish(undefined);
    }
  });
}

let last = Atomics.load(d.beat, 0);
let lastChange = performance.now();
let lastTick = lastChange;
let capturing = false;
let blamed: { plugin: PluginDir; frames: string[] } | undefined;
let looked = false;
let killed = false;

setInterval(() => {
  const now = performance.now();
  const late = now - lastTick - TICK;
  lastTick = now;
  if (late > Math.max(1000, d.warnMs / 2)) { lastChange = now; return; } // this thread was stopped too: the whole process was paused
  const v = Atomics.load(d.beat, 0);
  if (v !== last) {
    const stalled = now - lastChange;
    if (blamed && stalled >= d.warnMs) say(`Plugin „${blamed.plugin.id}“ hat Kassenwart ${(stalled / 1000).toFixed(1)} s blockiert (${blamed.frames.at(-1)}).`);
    last = v;
    lastChange = now;
    blamed = undefined;
    looked = false;
    return;
  }
  const stalled = now - lastChange;
  if (stalled >= d.warnMs && !looked && !capturing) {
    capturing = true;
    void mainStack(1500).then((frames) => {
      capturing = false;
      looked = true;
      if (!frames) { say(`Kassenwart reagiert seit ${(stalled / 1000).toFixed(1)} s nicht (Ursache unbekannt: kein JavaScript-Stack).`); return; }
      blamed = culpritOfStack(frames, dirs);
      say(blamed
        ? `Plugin „${blamed.plugin.id}“ blockiert Kassenwart (seit ${(stalled / 1000).toFixed(1)} s): ${blamed.frames.slice(-3).join(' ← ')}`
        : `Kassenwart reagiert seit ${(stalled / 1000).toFixed(1)} s nicht; kein Plugin auf dem Stack: ${frames.slice(0, 3).join(' ← ')}`);
    });
  }
  if (stalled >= d.stallMs && blamed && !killed) {
    killed = true;
    writeVerdict(d.dataDir, {
      plugin: blamed.plugin.id, builtin: blamed.plugin.builtin, kind: 'stall',
      detail: `Ereignisschleife ${(stalled / 1000).toFixed(1)} s blockiert in ${blamed.frames.at(-1)}`, frames: blamed.frames.slice(-5),
    });
    if (d.supervised) {
      say(`Plugin „${blamed.plugin.id}“ blockiert Kassenwart seit ${(stalled / 1000).toFixed(1)} s: Kassenwart wird ohne das Plugin neu gestartet.`);
      process.kill(d.pid, 'SIGKILL');
    }
  }
}, TICK);
