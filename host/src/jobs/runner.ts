import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  UserError, isUserError, type ActionContribution, type ActionResult, type JobContext, type JobTrigger, type Logger, type JobInfo,
} from 'kassenwart/sdk';
import type { StateDb } from '../state/db.js';
import { FileLock } from '../state/file-lock.js';
import type { JobSource, PluginManager } from '../plugins/manager.js';
import { createLogger } from '../log.js';
import type { PluginActivity } from '../plugins/activity.js';

export type JobState = 'running' | 'succeeded' | 'warning' | 'info' | 'failed' | 'cancelled';

/** A job as the API shows it. */
export interface JobView {
  id: string;
  actionId: string;
  plugin: string;
  title: string;
  state: JobState;
  percent?: number;
  message?: string;
  result?: { message: string; details?: Record<string, unknown> };
  error?: { code: string; message: string; hint?: string; details?: unknown };
  user: string;
  trigger: JobTrigger;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  exclusive: boolean;
  log?: { at: string; level: string; message: string }[];
}

interface RunningJob {
  view: JobView;
  controller: AbortController;
  events: EventEmitter;
  done: Promise<JobView>;
  log: { at: string; level: string; message: string }[];
}

export interface StartOptions {
  user: string;
  trigger: JobTrigger;
  params?: Record<string, unknown>;
}

const MAX_LOG = 500;

/**
 * Runs actions as jobs: progress, cancellation, result text, persisted history. Exclusive actions share
 * one maintenance lock (in this process, and across processes through a lock file the CLI honours too):
 * a second start gets 409 "läuft bereits", never a concurrent run.
 */
export class JobRunner {
  private readonly running = new Map<string, RunningJob>();
  private readonly lock: FileLock;
  private exclusiveJob: string | undefined;
  readonly events = new EventEmitter();
  private readonly log: Logger = createLogger('jobs');

  constructor(private readonly db: StateDb, private readonly plugins: PluginManager, dataDir: string,
    private readonly refreshSettings: (plugin: string) => Promise<void> = async () => {},
    private readonly activity?: PluginActivity) {
    this.lock = new FileLock(join(dataDir, 'maintenance.lock'));
    this.events.setMaxListeners(0);
  }

  /** Marks jobs a crash left "running" as failed, so history never shows a run that is not there. */
  async recover(): Promise<void> {
    const stale = await this.db.all<{ id: string }>("SELECT id FROM jobs WHERE state = 'running'");
    if (!stale.length) return;
    await this.db.write((tx) => {
      for (const { id } of stale) {
        tx.run(`UPDATE jobs SET state = 'failed', finished_at = ?, error = ? WHERE id = ?`, [new Date().toISOString(),
          JSON.stringify({ code: 'job.interrupted', message: 'Abgebrochen: Der Server wurde während des Vorgangs beendet.',
            hint: 'Den Vorgang bitte erneut starten.' }), id]);
      }
    });
  }

  runningFor(actionId: string): JobView | undefined {
    for (const j of this.running.values()) if (j.view.actionId === actionId) return j.view;
    return undefined;
  }

  private busyError(action: ActionContribution, other?: string): UserError {
    return new UserError(other
      ? `„${action.title}“ kann nicht starten: „${other}“ läuft bereits. Bitte warten, bis der Vorgang fertig ist.`
      : `„${action.title}“ läuft bereits. Bitte warten, bis der Vorgang fertig ist.`,
    { code: 'job.running', status: 409 });
  }

  /** Starts an action; resolves once the job is registered (not when it finishes). */
  async start(actionId: string, opts: StartOptions): Promise<JobView> {
    const action = this.plugins.action(actionId);
    if (!action) {
      throw new UserError(`Die Aktion „${actionId}“ gibt es nicht (oder ihr Plugin ist deaktiviert).`, { code: 'action.unknown', status: 404 });
    }
    const same = this.runningFor(actionId);
    if (same) throw this.busyError(action);
    if (action.exclusive) {
      if (this.exclusiveJob) throw this.busyError(action, this.running.get(this.exclusiveJob)?.view.title);
      const got = await this.lock.tryAcquire({ action: actionId });
      if (!got.ok) {
        const other = this.plugins.action(String(got.holder.action ?? ''))?.title ?? String(got.holder.action ?? 'eine Wartung');
        throw this.busyError(action, other === action.title ? undefined : other);
      }
    }
    const id = randomUUID();
    if (action.exclusive) this.exclusiveJob = id;
    const view: JobView = {
      id, actionId, plugin: action.plugin, title: action.title, state: 'running', percent: 0, message: 'Wird gestartet …',
      user: opts.user, trigger: opts.trigger, startedAt: new Date().toISOString(), exclusive: !!action.exclusive,
    };
    const job: RunningJob = { view, controller: new AbortController(), events: new EventEmitter(), done: undefined!, log: [] };
    job.events.setMaxListeners(0);
    this.running.set(id, job);
    try {
      await this.db.write((tx) => tx.run(
        'INSERT INTO jobs (id, action, plugin, title, state, user, trigger, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [id, actionId, action.plugin, action.title, 'running', opts.user, opts.trigger, view.startedAt]));
    } catch (e) {
      this.running.delete(id);
      if (action.exclusive) { this.exclusiveJob = undefined; await this.lock.release(); }
      throw e;
    }
    job.done = this.execute(job, action, opts);
    this.events.emit('started', view);
    return { ...view };
  }

  private async execute(job: RunningJob, action: ActionContribution & { plugin: string }, opts: StartOptions): Promise<JobView> {
    const v = job.view;
    const push = (level: string, message: string) => {
      const entry = { at: new Date().toISOString(), level, message };
      job.log.push(entry);
      if (job.log.length > MAX_LOG) job.log.shift();
      job.events.emit('log', entry);
    };
    const base = createLogger(`job:${action.id}`);
    const logger: Logger = {
      debug: (m, f) => base.debug(m, f),
      info: (m, f) => { base.info(m, f); push('info', m); },
      warn: (m, f) => { base.warn(m, f); push('warn', m); },
      error: (m, f) => { base.error(m, f); push('error', m); },
    };
    let lastEmit = 0;
    const ctx: JobContext = {
      jobId: v.id, actionId: action.id, signal: job.controller.signal, trigger: opts.trigger, user: opts.user,
      params: opts.params ?? {}, log: logger,
      progress: (percent, message) => {
        if (v.state !== 'running') return;
        v.percent = percent === undefined ? undefined : Math.max(0, Math.min(100, Math.round(percent * 10) / 10));
        if (message !== undefined) v.message = message;
        const now = Date.now();
        if (now - lastEmit >= 100 || percent === 100) {
          lastEmit = now;
          job.events.emit('progress', { percent: v.percent, message: v.message });
        }
      },
    };
    // The outcome is published only after it is stored and the lock is released, so whoever sees the job
    // finished can start the next exclusive action at once.
    const fin: Partial<JobView> = {};
    try {
      await this.refreshSettings(action.plugin); // another process (CLI) may have changed them
      await this.plugins.fire(`onAction:${action.id}`);
      await this.plugins.activate(action.plugin);
      const handler = this.plugins.get(action.plugin)?.handlers.get(action.id);
      if (!handler) {
        throw new UserError(`Die Aktion „${action.title}“ ist nicht verfügbar: das Plugin hat sie nicht bereitgestellt.`,
          { code: 'action.no-handler', status: 503 });
      }
      const done = this.activity?.run(action.plugin, !!this.plugins.get(action.plugin)?.builtin);
      let out: Awaited<ReturnType<typeof handler>>;
      try {
        out = await handler(ctx);
      } finally {
        done?.();
      }
      const result: ActionResult = typeof out === 'string' ? { message: out } : (out ?? {});
      if (job.controller.signal.aborted) throw job.controller.signal.reason ?? new Error('aborted');
      fin.state = result.outcome === 'warning' ? 'warning' : result.outcome === 'info' ? 'info' : 'succeeded';
      fin.result = { message: result.message ?? action.success ?? 'Fertig.', details: result.details };
      fin.percent = 100;
      fin.message = fin.result.message;
    } catch (e) {
      if (job.controller.signal.aborted) {
        fin.state = 'cancelled';
        fin.error = { code: 'job.cancelled', message: `„${action.title}“ wurde abgebrochen.` };
      } else if (isUserError(e)) {
        fin.state = 'failed';
        fin.error = { code: e.code, message: e.message, hint: e.hint, details: e.details };
      } else {
        fin.state = 'failed';
        this.log.error(`job ${v.id} (${action.id}) crashed: ${(e as Error)?.stack ?? e}`);
        fin.error = {
          code: 'job.crashed',
          message: `„${action.title}“ ist mit einem unerwarteten Fehler abgebrochen: ${(e as Error)?.message ?? e}`,
          hint: 'Bitte erneut versuchen; wenn es wieder passiert, den Support anrufen (Einzelheiten unter „Verlauf“ → „anzeigen“).',
        };
      }
      fin.message = fin.error.message;
      push('error', fin.error.message);
    }
    fin.finishedAt = new Date().toISOString();
    fin.durationMs = Date.parse(fin.finishedAt) - Date.parse(v.startedAt);
    try {
      await this.db.write((tx) => tx.run(
        `UPDATE jobs SET state = ?, message = ?, result = ?, error = ?, finished_at = ?, duration_ms = ?, log = ? WHERE id = ?`,
        [fin.state!, fin.message ?? null, fin.result ? JSON.stringify(fin.result) : null, fin.error ? JSON.stringify(fin.error) : null,
          fin.finishedAt!, fin.durationMs!, JSON.stringify(job.log.slice(-200)), v.id]));
    } catch (e) {
      this.log.error(`could not store job ${v.id}: ${(e as Error).message}`);
    }
    if (this.exclusiveJob === v.id) {
      this.exclusiveJob = undefined;
      await this.lock.release();
    }
    Object.assign(v, fin);
    this.running.delete(v.id);
    const final = { ...v, log: job.log };
    job.events.emit('done', final);
    this.events.emit('finished', final);
    return final;
  }

  /** Follows a running job: returns undefined when it is not running (read it from history instead). */
  follow(id: string): { view: JobView; events: EventEmitter; log: JobView['log'] } | undefined {
    const j = this.running.get(id);
    return j ? { view: j.view, events: j.events, log: j.log } : undefined;
  }

  /** Resolves with the job's final view once it has ended (at once for a job that is not running). */
  async wait(id: string): Promise<JobView | undefined> {
    const j = this.running.get(id);
    if (!j) return this.get(id);
    // a job is registered before its history row is written, and start() sets `done` only after that write:
    // until then there is nothing to wait on yet (returning the live view here would say "running" for good)
    while (!j.done && this.running.get(id) === j) await new Promise((r) => setImmediate(r));
    return j.done ?? this.get(id);
  }

  cancel(id: string): boolean {
    const j = this.running.get(id);
    if (!j) return false;
    j.controller.abort(new Error('cancelled'));
    return true;
  }

  /** Cancels all running jobs and waits for them (up to `ms`). */
  async cancelAll(ms = 15_000): Promise<void> {
    const all = [...this.running.values()];
    for (const j of all) j.controller.abort(new Error('shutdown'));
    if (!all.length) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(all.map((j) => j.done)), new Promise((r) => { timer = setTimeout(r, ms); })]);
    clearTimeout(timer);
  }

  private fromRow(r: Record<string, unknown>): JobView {
    return {
      id: String(r.id), actionId: String(r.action), plugin: String(r.plugin), title: String(r.title), state: r.state as JobState,
      message: (r.message as string) ?? undefined, result: r.result ? JSON.parse(String(r.result)) : undefined,
      error: r.error ? JSON.parse(String(r.error)) : undefined, user: String(r.user ?? ''), trigger: (r.trigger as JobTrigger) ?? 'user',
      startedAt: String(r.started_at), finishedAt: (r.finished_at as string) ?? undefined,
      durationMs: (r.duration_ms as number) ?? undefined, exclusive: !!this.plugins.action(String(r.action))?.exclusive,
      percent: r.state === 'running' ? undefined : 100,
    };
  }

  async get(id: string): Promise<JobView | undefined> {
    const live = this.running.get(id);
    if (live) return { ...live.view, log: live.log };
    const r = await this.db.get<Record<string, unknown>>('SELECT * FROM jobs WHERE id = ?', [id]);
    if (!r) return undefined;
    return { ...this.fromRow(r), log: r.log ? JSON.parse(String(r.log)) : [] };
  }

  /** History, newest first (running jobs included with live progress). */
  async history(limit = 50, actionId?: string): Promise<JobView[]> {
    const rows = await this.db.all<Record<string, unknown>>(
      `SELECT * FROM jobs ${actionId ? 'WHERE action = ?' : ''} ORDER BY started_at DESC LIMIT ?`,
      actionId ? [actionId, limit] : [limit]);
    return rows.map((r) => this.running.get(String(r.id))?.view ?? this.fromRow(r)).map((v) => ({ ...v }));
  }
}

/** A job as `PluginContext.host` shows it to plugins (no log, no user name). */
export function jobInfo(v: JobView): JobInfo {
  return {
    id: v.id, actionId: v.actionId, plugin: v.plugin, state: v.state, trigger: v.trigger, startedAt: v.startedAt,
    finishedAt: v.finishedAt, durationMs: v.durationMs, message: v.message, details: v.result?.details, errorCode: v.error?.code,
  };
}

/** The read-only job history and finish events for the plugins' host view. */
export function jobSource(jobs: JobRunner): JobSource {
  return {
    history: async (limit, actionId) => (await jobs.history(limit, actionId)).map(jobInfo),
    onFinished: (listener) => {
      const h = (v: JobView) => listener(jobInfo(v));
      jobs.events.on('finished', h);
      return () => { jobs.events.off('finished', h); };
    },
  };
}
