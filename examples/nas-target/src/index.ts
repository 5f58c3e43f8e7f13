/**
 * Example plugin "nas-target" (NAS-Ordner): a third-party backup target that stores every backup sent with
 * "Backup an FTP" in a folder, e.g. a mounted NAS share. Written against the SDK alone:
 * it imports `kassenwart/sdk` and the backup plugin's published API, never anything from the host.
 *
 * This file is the plugin class the host constructs (the default export of `main` in plugin.json);
 * the target itself lives in target.ts.
 */
import { inject, injectable, TOKENS, type Logger, type Plugin, type PluginContext, type SettingsView } from 'kassenwart/sdk';
import { backupTargetsExtensionPoint } from 'kassenwart/plugins/backup/api';
import { createNasTarget } from './target.js';

export { createNasTarget, readSettings, NAS_TARGET_ID, type NasSettings } from './target.js';

/**
 * The plugin class. The host resolves it from the plugin's own child container, so every constructor
 * parameter names its DI token explicitly with `@inject(TOKENS.…)`.
 */
@injectable()
export default class NasTargetPlugin implements Plugin {
  constructor(
    @inject(TOKENS.Context) private readonly ctx: PluginContext,
    @inject(TOKENS.Settings) private readonly settings: SettingsView,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  /**
   * Called once by the host (when the backup plugin's extension point "backup.targets" is ready).
   * Registers the target and one JSON route; both are removed automatically when the plugin is disabled.
   */
  activate(): void {
    const target = createNasTarget(this.settings);
    this.ctx.extensionPoint(backupTargetsExtensionPoint).register(target);

    // GET /api/ext/nas-target/backups → the backups in the NAS folder, newest first (role: operator).
    this.ctx.registerRoute('GET', '/backups', (_req) => target.list!());

    this.logger.info('NAS target registered', { directory: this.settings.get<string>('directory') });
  }
}
