/**
 * The plugin class: the `main` module's default export. The host constructs it from the plugin's own child
 * container, so its constructor takes services with `@inject(TOKENS.…)`, then calls `activate()`.
 */
export interface Plugin {
  /**
   * Register action handlers, extension point contributions, routes and commands. Runs once, with a timeout
   * (default 10 s). Throwing marks the plugin failed with the error as the reason.
   */
  activate?(): void | Promise<void>;
  /** Release resources. Runs in reverse activation order on shutdown or disable, with a timeout. */
  deactivate?(): void | Promise<void>;
}

/** The constructor type of a plugin class. */
export type PluginClass = new (...args: any[]) => Plugin;
