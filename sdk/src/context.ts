import type { ActionHandler } from './actions.js';
import type { ExtensionPoint, ExtensionPointRef } from './extension-point.js';
import type { Logger } from './logger.js';
import type { PluginManifest, Role } from './manifest.js';
import type { SettingsReader, SettingsView } from './settings.js';

/** A JSON route a plugin adds under `/api/ext/<pluginId>/…` for its own panels. */
export interface RouteRequest {
  /** Path below the plugin's prefix, starting with "/". */
  path: string;
  /** Named parameters from the route pattern. */
  params: Record<string, string>;
  /** Query string values. */
  query: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (for POST/PUT). */
  body: unknown;
  /** The signed-in user. */
  user: { name: string; role: Role };
  /** Request headers (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
}

/** Handler of a plugin route: return any JSON value (status 200), or throw a UserError. */
export type RouteHandler = (req: RouteRequest) => Promise<unknown> | unknown;

/** Options of a plugin route. */
export interface RouteOptions {
  /** Role needed (default: "operator" for GET, "technician" for anything else). */
  role?: Role;
}

/** A CLI command handler: gets the remaining arguments; returns the process exit code. */
export type CommandHandler = (args: string[], io: CommandIO) => Promise<number>;

/** Output channels of a CLI command. */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/**
 * Everything the host offers a plugin. Injected with `@inject(TOKENS.Context)`; the narrower services
 * (settings, logger, data folder) are also injectable one by one.
 */
export interface PluginContext {
  /** The plugin's validated manifest. */
  readonly manifest: PluginManifest;
  /** Absolute path of the plugin folder. */
  readonly pluginDir: string;
  /** Absolute path of the plugin's own data folder (created on first use, kept across updates). */
  readonly dataDir: string;
  /** Absolute path of the installation's data folder (shared; prefer `dataDir`). */
  readonly installationDir: string;
  /** The host version. */
  readonly hostVersion: string;
  readonly logger: Logger;
  readonly settings: SettingsView;
  readonly otherSettings: SettingsReader;
  /** Implement one of the actions declared in the manifest. */
  registerAction(actionId: string, handler: ActionHandler): void;
  /** The host-held registry of an extension point declared by this plugin or one it depends on. */
  extensionPoint<T>(ref: ExtensionPointRef<T>): ExtensionPoint<T>;
  /** Add a JSON route under `/api/ext/<pluginId>`; pattern like "/sticks" or "/backups/:name". */
  registerRoute(method: 'GET' | 'POST' | 'PUT' | 'DELETE', pattern: string, handler: RouteHandler, options?: RouteOptions): void;
  /** Implement a CLI command declared in the manifest. */
  registerCommand(commandId: string, handler: CommandHandler): void;
  /**
   * Register a cleanup to run when the plugin is deactivated (reverse order of registration).
   */
  onDispose(dispose: () => void | Promise<void>): void;
  /** Ask the host to restart itself (the update plugin uses it after switching releases). */
  requestRestart(reason: string): void;
}
