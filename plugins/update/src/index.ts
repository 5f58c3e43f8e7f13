/**
 * The update plugin: "Updatecheck" (signed feed, safe apply, restart through the supervisor), the history
 * route for the sidebar panel, the optional monthly check and the vendor's `kassenwart release` command.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TOKENS, inject, injectable, type ActionResult, type JobContext, type Plugin, type PluginContext } from 'kassenwart/sdk';
import type { Channel } from './feed.js';
import { releaseCommand } from './release.js';
import { Updater } from './updater.js';
import { historyView } from './history.js';
import { updateGuardsExtensionPoint } from './api.js';
import { configureRegister, type AdapterConfig } from './register/adapter.js';
import { RegisterUpdater } from './register/updater.js';
import { contributeMetrics } from 'kassenwart/plugins/metrics/api';
import { updateCollector } from './metrics.js';

export { Updater } from './updater.js';

/** Folder of the Kassenwart package this plugin belongs to (the default source of `release build`). */
export function packageRoot(from: string): string {
  let dir = resolve(from);
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try { if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'kassenwart') return dir; } catch { /* keep looking */ }
    }
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/**
 * Pid of a live `kassenwart start` supervisor for this data folder (from <data>/supervisor.json, checked
 * against /proc so a stale pid of another program is never signalled), or undefined.
 */
export function runningSupervisor(installationDir: string): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(join(installationDir, 'supervisor.json'), 'utf8')) as { pid?: number };
    if (!pid || pid === process.pid) return undefined;
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmd.some((a) => a.endsWith('kassenwart.js')) && cmd.includes('start') ? pid : undefined;
  } catch {
    return undefined;
  }
}

@injectable()
export default class UpdatePlugin implements Plugin {
  private readonly updater: Updater;
  private readonly register: RegisterUpdater;

  constructor(@inject(TOKENS.Context) private readonly ctx: PluginContext) {
    const guards = ctx.extensionPoint(updateGuardsExtensionPoint);
    this.register = new RegisterUpdater({
      pluginDataDir: ctx.dataDir,
      adapter: () => this.registerConfig(),
      guards: () => guards.all(),
      log: ctx.logger,
      record: (entry) => this.updater.store.add(entry),
    });
    this.updater = new Updater({
      register: { config: () => this.registerConfig(), updater: this.register },
      installationDir: ctx.installationDir,
      pluginDataDir: ctx.dataDir,
      runningVersion: ctx.hostVersion,
      settings: () => ({
        feedUrl: String(ctx.settings.get('feedUrl') ?? '').trim(),
        channel: (ctx.settings.get<Channel>('channel') ?? 'stable'),
        publicKeys: String(ctx.settings.get('publicKeys') ?? ''),
      }),
      log: ctx.logger,
      supervised: process.env.KASSENWART_SUPERVISED === '1' || runningSupervisor(ctx.installationDir) !== undefined,
      restart: (reason) => {
        if (process.env.KASSENWART_SUPERVISED === '1') {
          // After the job has finished and been recorded (the journal already says "requested": a crash in
          // between still switches at the next start).
          setTimeout(() => ctx.requestRestart(reason), 1000).unref();
          return true;
        }
        // Started from the CLI (`kassenwart action run update.check`) while a server runs: ask its supervisor.
        const pid = runningSupervisor(ctx.installationDir);
        if (pid === undefined) return false;
        try {
          process.kill(pid, 'SIGUSR2');
          return true;
        } catch (e) {
          ctx.logger.warn('could not signal the supervisor', { pid, error: (e as Error).message });
          return false;
        }
      },
    });
  }

  /** The register adapter from the settings (section "Updates → Kassensoftware"). */
  private registerConfig(): AdapterConfig {
    const s = this.ctx.settings;
    const str = (k: string) => String(s.get(k) ?? '');
    let backupDb = '';
    try { backupDb = String(this.ctx.otherSettings.get('backup', 'posDatabasePath') ?? ''); } catch { /* backup plugin not installed */ }
    return configureRegister({
      installDir: str('kasseInstallDir'), unit: str('kasseUnit'), startCommand: str('kasseStartCommand'), stopCommand: str('kasseStopCommand'),
      healthUrl: str('kasseHealthUrl'), healthCommand: str('kasseHealthCommand'),
      healthTimeoutSeconds: Number(s.get('kasseHealthTimeoutSeconds') ?? 60), stopTimeoutSeconds: Number(s.get('kasseStopTimeoutSeconds') ?? 60),
      databasePath: str('kasseDatabasePath'),
    }, backupDb, this.ctx.dataDir);
  }

  activate(): void {
    this.ctx.registerAction('update.check', (job) => this.check(job));
    // An interrupted register update (kill -9, power cut) is undone at start, in the background.
    void this.register.recover().then((m) => { if (m) this.ctx.logger.warn('interrupted register update undone', { message: m }); }, (e) => this.ctx.logger.error('register recovery failed', { error: (e as Error).message }));
    this.ctx.registerRoute('GET', '/history', async () => {
      const cfg = this.registerConfig();
      const register = cfg.ok ? { installedVersion: await cfg.adapter.installedVersion(), skipped: null } : { installedVersion: null, skipped: cfg.reason };
      return historyView(await this.updater.store.loadReconciled(), this.ctx.hostVersion, register);
    });
    this.ctx.registerCommand('release', (args, io) => releaseCommand(args, io, packageRoot(this.ctx.pluginDir)));
    contributeMetrics(this.ctx, updateCollector(this.ctx, this.updater.store));
  }

  private async check(job: JobContext): Promise<ActionResult> {
    const scheduled = job.trigger === 'schedule' || job.trigger === 'catch-up';
    if (scheduled && (!this.ctx.settings.get<boolean>('autoCheckMonthly') || !String(this.ctx.settings.get('feedUrl') ?? '').trim())) {
      return { message: 'Automatischer Updatecheck ist ausgeschaltet – nichts zu tun.', details: { skipped: true } };
    }
    return this.updater.check(job);
  }
}
