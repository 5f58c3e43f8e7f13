/**
 * The backup plugin ("Datensicherung"): local verified .gz backups of the POS database on a schedule,
 * "Backup an FTP" to every contributed backup target, restore, and the status panel's route.
 */
import { inject, injectable, TOKENS, isUserError, type Plugin, type PluginContext, type JobContext, type ActionResult } from 'kassenwart/sdk';
import { backupListenersExtensionPoint, backupPoliciesExtensionPoint, backupRestorerExtensionPoint, backupTargetsExtensionPoint } from './api.js';
import { createFtpTarget } from './ftp/target.js';
import { BackupService } from './service.js';
import { updateGuardsExtensionPoint } from 'kassenwart/plugins/update/api';
import { createUpdateGuard } from './update-guard.js';
import { contributeMetrics } from 'kassenwart/plugins/metrics/api';
import { backupCollector } from './metrics.js';

@injectable()
export default class BackupPlugin implements Plugin {
  private readonly service: BackupService;

  constructor(@inject(TOKENS.Context) private readonly ctx: PluginContext) {
    const targets = ctx.extensionPoint(backupTargetsExtensionPoint);
    const policies = ctx.extensionPoint(backupPoliciesExtensionPoint);
    const listeners = ctx.extensionPoint(backupListenersExtensionPoint);
    this.service = new BackupService({
      dataDir: ctx.dataDir,
      settings: ctx.settings,
      logger: ctx.logger,
      targets: () => targets.all(),
      policies: () => policies.all(),
      listeners: () => listeners.all(),
    });
  }

  activate(): void {
    const { ctx, service } = this;
    // Start-up work (leftover cleanup, demo database) runs in the background so activation stays fast;
    // every handler awaits it.
    service.start().catch((e) => ctx.logger.error(`start-up of the backup plugin failed: ${e instanceof Error ? e.message : String(e)}`));

    const recording = (action: string, fn: (job: JobContext) => Promise<ActionResult>) => async (job: JobContext) => {
      try {
        return await fn(job);
      } catch (e) {
        if (!job.signal.aborted && !(isUserError(e) && e.code === 'backup.send-failed')) {
          const message = isUserError(e) ? e.message : `Unerwarteter Fehler: ${e instanceof Error ? e.message : String(e)}`;
          await service.recordFailure(action, { at: new Date().toISOString(), message }, action === 'backup.create' ? 'local' : undefined, action === 'backup.create' ? 'Lokal (Kassenserver)' : undefined);
        }
        throw e;
      }
    };
    ctx.registerAction('backup.create', recording('backup.create', async (job) => (await service.create(job)).result));
    ctx.registerAction('backup.send', recording('backup.send', (job) => service.send(job)));
    ctx.registerAction('backup.restore', recording('backup.restore', (job) => service.restore(job)));

    ctx.extensionPoint(backupTargetsExtensionPoint).register(createFtpTarget(ctx));
    ctx.extensionPoint(backupRestorerExtensionPoint).register({
      restoreFile: (path, options, job) => service.restoreFile(path, options.label, options.expectSha256 ? { gzSha256: options.expectSha256 } : {}, job),
    });
    // The safety backup before a register update: update is an optional dependency, so that disabling updates
    // never disables backups (without it there is simply no register update to guard).
    let guards;
    try { guards = ctx.extensionPoint(updateGuardsExtensionPoint); } catch (e) {
      ctx.logger.debug(`update not available, no update guard: ${e instanceof Error ? e.message : String(e)}`);
    }
    guards?.register(createUpdateGuard(service, ctx.logger));

    ctx.registerRoute('GET', '/status', (req) => service.status(req.user));
    contributeMetrics(ctx, backupCollector(ctx, service, () => ctx.extensionPoint(backupTargetsExtensionPoint).all()));
  }
}
