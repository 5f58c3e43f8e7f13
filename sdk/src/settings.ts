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
