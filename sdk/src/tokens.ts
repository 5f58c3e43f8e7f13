/**
 * DI tokens. Symbol.for() keys, so two copies of the SDK (a third-party plugin with its own) still agree.
 * Inject every constructor parameter explicitly: `constructor(@inject(TOKENS.Settings) s: SettingsView)`.
 */
export const TOKENS = {
  /** PluginContext of the plugin being constructed. */
  Context: Symbol.for('kassenwart.context'),
  /** SettingsView of the plugin being constructed. */
  Settings: Symbol.for('kassenwart.settings'),
  /** SettingsReader for other plugins' non-secret settings. */
  OtherSettings: Symbol.for('kassenwart.otherSettings'),
  /** Logger of the plugin being constructed. */
  Logger: Symbol.for('kassenwart.logger'),
  /** string: the plugin's data folder. */
  DataDir: Symbol.for('kassenwart.dataDir'),
  /** string: the plugin folder. */
  PluginDir: Symbol.for('kassenwart.pluginDir'),
  /** PluginManifest of the plugin being constructed. */
  Manifest: Symbol.for('kassenwart.manifest'),
  /** string: the host version. */
  HostVersion: Symbol.for('kassenwart.hostVersion'),
} as const;
