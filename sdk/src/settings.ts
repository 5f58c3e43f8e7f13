/** A plugin's view of its own settings (values composed with the schema's defaults). */
export interface SettingsView {
  /** The current value of one setting (default applied). Secrets are returned decrypted: only to the owner. */
  get<T = unknown>(key: string): T;
  /** All values of this plugin, defaults applied. */
  all(): Record<string, unknown>;
  /**
   * Change values (validated against the schema as a whole; throws a UserError listing every problem
   * and stores nothing when invalid).
   */
  set(values: Record<string, unknown>, by?: string): Promise<void>;
  /** Called after any of this plugin's settings changed (with the keys that changed). Returns an unsubscribe. */
  onDidChange(listener: (changedKeys: string[]) => void): () => void;
}

/** Read-only view of another plugin's non-secret settings (e.g. usb reads backup's FTP coupling). */
export interface SettingsReader {
  /** Non-secret value of `pluginId`'s setting `key` (default applied); secrets read as undefined. */
  get<T = unknown>(pluginId: string, key: string): T | undefined;
}

/** One problem a plugin's settings validator found: which setting, and what is wrong and what a valid value looks like (German). */
export interface SettingsProblem {
  /** The setting's key, e.g. "path". */
  key: string;
  /** German text, e.g. "muss unterhalb von /media liegen, z. B. /media/usb0". */
  message: string;
}

/** What a settings validator is told about the change it checks. */
export interface SettingsValidationContext {
  /** The keys this change sets (problems about other keys are ignored, so an old value never blocks a new one). */
  changed: readonly string[];
}

/**
 * A plugin's own check of its settings, for what a JSON schema cannot say (a folder below a mount root, a
 * certificate that parses, two settings that contradict each other). It is the default export of the module
 * named by `contributes.settings.validator` in plugin.json, and runs in the host process (the server and the
 * CLI, without activating the plugin) at every change, after the schema check passed and before anything is
 * stored. It gets the merged values (defaults applied, secrets included) and must change nothing. Any problem
 * it returns refuses the whole change (400, nothing stored).
 */
export type SettingsValidator = (
  values: Readonly<Record<string, unknown>>,
  context: SettingsValidationContext,
) => SettingsProblem[] | Promise<SettingsProblem[]>;
