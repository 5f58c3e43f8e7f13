import { Cron } from 'croner';
import { isUserError, type Logger } from 'kassenwart/sdk';
import type { StateDb } from './state/db.js';
import type { PluginManager } from './plugins/manager.js';
import type { SettingsRegistry } from './settings/registry.js';
import type { JobRunner } from './jobs/runner.js';
import { createLogger } from './log.js';

/** A schedule as the API shows it. */
export interface ScheduleView {
  id: string;
  plugin: string;
  action: string;
  cron: string[];
  next?: string;
  lastRun?: string;
  /** Set while a run is due but waits for the maintenance lock. */
  waitingSince?: string;
}

/** Turns "07:00,21:00" into cron expressions; passes cron expressions through. */
export function toCron(value: string): string[] {
  const v = value.trim();
  if (/^\d{1,2}:\d{2}(\s*,\s*\d{1,2}:\d{2})*$/.test(v)) {
    return v.split(',').map((t) => {
      const [h, m] = t.trim().split(':').map(Number);
      return `${m} ${h} * * *`;
    });
  }
  return [v];
}

type Schedule = ReturnType<PluginManager['schedules']>[number];

/** How often a run waiting for the maintenance lock looks again when another process holds it. */
const RETRY_MS = Number(process.env.KASSENWART_SCHEDULE_RETRY_MS ?? 2000);

/**
 * Runs plugin-contributed schedules (cron, local time) by starting their action. The last run of each
 * schedule is persisted; at start, a run that fell due while the server was off is caught up once.
 *
 * A run that cannot start because another exclusive job holds the maintenance lock (here or in another
 * process, e.g. `kassenwart action run` on the CLI) is not dropped: it waits, one per schedule, and starts as
 * soon as the lock is free (at once when a job of this process finishes, else within RETRY_MS). `lastRun`
 * records only runs that started, so a restart while one is waiting still catches it up.
 */
export class Scheduler {
  private crons: Cron[] = [];
  /** The schedules whose timers ran since the last start() (none before the first, or after stop()). */
  private timed = new Set<string>();
  private readonly log: Logger = createLogger('scheduler');
  private unsubscribe?: () => void;
  /** Runs waiting for the lock, by schedule id. */
  private readonly waiting = new Map<string, { s: Schedule; trigger: 'schedule' | 'catch-up'; since: Date }>();
  private retry?: NodeJS.Timeout;
  private trying?: Promise<void>;
  private readonly onFinished = () => { void this.tryWaiting(); };

  constructor(
    private readonly db: StateDb,
    private readonly plugins: PluginManager,
    private readonly settings: SettingsRegistry,
    private readonly jobs: JobRunner,
  ) {
    jobs.events.on('finished', this.onFinished);
  }

  private cronsOf(s: Schedule): string[] {
    if (s.cronSetting && this.settings.has(s.plugin)) {
      const v = this.settings.cached(s.plugin)[s.cronSetting];
      if (typeof v === 'string' && v.trim()) return toCron(v);
    }
    return Array.isArray(s.cron) ? s.cron : [s.cron];
  }

  async lastRuns(): Promise<Map<string, string>> {
    return new Map((await this.db.all<{ schedule: string; last_run: string }>('SELECT schedule, last_run FROM schedule_runs'))
      .map((r) => [r.schedule, r.last_run]));
  }

  async list(): Promise<ScheduleView[]> {
    const last = await this.lastRuns();
    return this.plugins.schedules().map((s) => {
      const crons = this.cronsOf(s);
      const nexts = crons.map((c) => { try { return new Cron(c, { paused: true }).nextRun(); } catch { return null; } })
        .filter((d): d is Date => !!d).sort((a, b) => a.getTime() - b.getTime());
      const w = this.waiting.get(s.id);
      return {
        id: s.id, plugin: s.plugin, action: s.action, cron: crons, next: nexts[0]?.toISOString(), lastRun: last.get(s.id),
        ...(w ? { waitingSince: w.since.toISOString() } : {}),
      };
    });
  }

  private async record(id: string, at: Date): Promise<void> {
    await this.db.write((tx) => tx.run(
      'INSERT INTO schedule_runs (schedule, last_run) VALUES (?, ?) ON CONFLICT (schedule) DO UPDATE SET last_run = excluded.last_run',
      [id, at.toISOString()]));
  }

  private fire(s: Schedule, trigger: 'schedule' | 'catch-up'): Promise<void> {
    if (!this.waiting.has(s.id)) this.waiting.set(s.id, { s, trigger, since: new Date() });
    return this.tryWaiting();
  }

  /** Starts every waiting run whose lock is free now; the rest keep waiting (single flight). */
  private tryWaiting(): Promise<void> {
    this.trying ??= (async () => {
      await null; // never settle synchronously: `finally` below must run after the assignment
      try {
        for (const [id, w] of [...this.waiting]) {
          try {
            await this.plugins.fire(`onSchedule:${id}`);
            const job = await this.jobs.start(w.s.action, { user: 'system', trigger: w.trigger });
            this.waiting.delete(id);
            await this.record(id, new Date(job.startedAt));
            this.log.info(`schedule ${id} started job ${job.id} (${w.trigger})`);
          } catch (e) {
            if (isUserError(e) && e.code === 'job.running') {
              this.log.info(`schedule ${id} waits for the maintenance lock: ${e.message}`);
              continue;
            }
            this.waiting.delete(id);
            this.log.warn(`schedule ${id} could not start ${w.s.action}: ${(e as Error).message}`);
          }
        }
      } finally {
        this.trying = undefined;
        clearTimeout(this.retry);
        this.retry = undefined;
        if (this.waiting.size) {
          this.retry = setTimeout(() => { void this.tryWaiting(); }, RETRY_MS);
          this.retry.unref();
        }
      }
    })();
    return this.trying;
  }

  /**
   * Starts all timers; catches up missed runs. Call again after settings or enablement changes.
   *
   * Only a schedule that was not running here until now (the server's first start, its plugin just enabled or
   * activated, the timers stopped) is checked for a missed run: one that ran on without a break has missed
   * nothing (a run that fell due waits in `waiting`), so changing its times — say 07:00,21:00 to 07:00,12:00 at
   * 13:00 — does not start a "missed" 12:00 run.
   */
  async start(): Promise<void> {
    const running = this.timed;
    this.stopTimers();
    const last = await this.lastRuns();
    const now = new Date();
    const schedules = this.plugins.schedules();
    this.timed = new Set(schedules.map((s) => s.id));
    for (const id of this.waiting.keys()) if (!schedules.some((s) => s.id === id)) this.waiting.delete(id); // plugin gone
    for (const s of schedules) {
      const crons = this.cronsOf(s);
      for (const expr of crons) {
        try {
          this.crons.push(new Cron(expr, { protect: true }, () => { void this.fire(s, 'schedule'); }));
        } catch (e) {
          this.log.error(`schedule ${s.id}: invalid cron "${expr}": ${(e as Error).message}`);
        }
      }
      const prev = last.get(s.id);
      if (!prev) {
        await this.record(s.id, now); // a new installation starts counting now; nothing to catch up
        continue;
      }
      if (s.catchUp === false || running.has(s.id)) continue;
      const due = crons.some((expr) => {
        try {
          const next = new Cron(expr, { paused: true }).nextRun(new Date(prev));
          return !!next && next.getTime() <= now.getTime();
        } catch { return false; }
      });
      if (due) {
        this.log.info(`schedule ${s.id} missed a run since ${prev}: catching up`);
        await this.fire(s, 'catch-up');
      }
    }
    this.unsubscribe ??= this.settings.onDidChange((c) => {
      if (this.plugins.schedules().some((s) => s.plugin === c.plugin && s.cronSetting && c.keys.includes(s.cronSetting))) {
        void this.start();
      }
    });
  }

  /** Stops the timers. Runs waiting for the lock stay listed until `close()` (a restart catches them up). */
  stop(): void {
    this.stopTimers();
    this.timed = new Set(); // runs may fall due unseen now: the next start() looks for missed ones
  }

  private stopTimers(): void {
    for (const c of this.crons) c.stop();
    this.crons = [];
  }

  /** Stops everything, including the waiting runs (the host shuts down). */
  close(): void {
    this.stop();
    this.waiting.clear();
    clearTimeout(this.retry);
    this.retry = undefined;
    this.jobs.events.off('finished', this.onFinished);
  }
}
