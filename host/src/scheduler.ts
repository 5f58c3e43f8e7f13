import { Cron } from 'croner';
import type { Logger } from 'kassenwart/sdk';
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

/**
 * Runs plugin-contributed schedules (cron, local time) by starting their action. The last run of each
 * schedule is persisted; at start, a run that fell due while the server was off is caught up once.
 */
export class Scheduler {
  private crons: Cron[] = [];
  private readonly log: Logger = createLogger('scheduler');
  private unsubscribe?: () => void;

  constructor(
    private readonly db: StateDb,
    private readonly plugins: PluginManager,
    private readonly settings: SettingsRegistry,
    private readonly jobs: JobRunner,
  ) {}

  private cronsOf(s: ReturnType<PluginManager['schedules']>[number]): string[] {
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
      return { id: s.id, plugin: s.plugin, action: s.action, cron: crons, next: nexts[0]?.toISOString(), lastRun: last.get(s.id) };
    });
  }

  private async record(id: string, at: Date): Promise<void> {
    await this.db.write((tx) => tx.run(
      'INSERT INTO schedule_runs (schedule, last_run) VALUES (?, ?) ON CONFLICT (schedule) DO UPDATE SET last_run = excluded.last_run',
      [id, at.toISOString()]));
  }

  private async fire(s: ReturnType<PluginManager['schedules']>[number], trigger: 'schedule' | 'catch-up'): Promise<void> {
    await this.record(s.id, new Date());
    try {
      await this.plugins.fire(`onSchedule:${s.id}`);
      const job = await this.jobs.start(s.action, { user: 'system', trigger });
      this.log.info(`schedule ${s.id} started job ${job.id} (${trigger})`);
    } catch (e) {
      this.log.warn(`schedule ${s.id} could not start ${s.action}: ${(e as Error).message}`);
    }
  }

  /** Starts all timers; catches up missed runs. Call again after settings or enablement changes. */
  async start(): Promise<void> {
    this.stop();
    const last = await this.lastRuns();
    const now = new Date();
    for (const s of this.plugins.schedules()) {
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
      if (s.catchUp === false) continue;
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

  stop(): void {
    for (const c of this.crons) c.stop();
    this.crons = [];
  }
}
