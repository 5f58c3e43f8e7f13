import type { ActionHandler } from './actions.js';
import type { ExtensionPoint, ExtensionPointRef } from './extension-point.js';
import type { HostView } from './host-view.js';
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
  /** Address of the connecting peer (the socket's, never a forwarded header), e.g. "127.0.0.1". */
  remoteAddress: string;
  /**
   * True when the request carried forwarding headers (X-Forwarded-For, Forwarded, X-Real-IP). From a peer that
   * is not a configured proxy the host removes those headers before any code reads them; this flag still says
   * that a proxy (perhaps an unconfigured one on this machine) sent it.
   */
  forwarded?: boolean;
}

/** What an `auth: 'plugin'` route gets: `user` only when the caller happens to be signed in. */
export interface PluginAuthRouteRequest extends Omit<RouteRequest, 'user'> {
  user?: RouteRequest['user'];
}

/**
 * Handler of a plugin route: return any JSON value (status 200), a `rawResponse()` for another format, or
 * throw a UserError.
 */
export type RouteHandler = (req: RouteRequest) => Promise<unknown> | unknown;

/** Options of a plugin route. */
export interface RouteOptions {
  /** Role needed (default: "operator" for GET, "technician" for anything else). */
  role?: Role;
}

/**
 * A GET route that does its own authentication instead of the host's session check (e.g. a bearer token
 * for a Prometheus scraper). The host still applies its headers and error shape; the route must refuse
 * what it does not trust. See docs/SECURITY.md, "Plugin routes with their own authentication".
 */
export interface PluginAuthRouteOptions {
  auth: 'plugin';
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
  /** A GET route under `/api/ext/<pluginId>` that checks its callers itself (no session needed). */
  registerRoute(method: 'GET', pattern: string, handler: (req: PluginAuthRouteRequest) => Promise<unknown> | unknown, options: PluginAuthRouteOptions): void;
  /** Implement a CLI command declared in the manifest. */
  registerCommand(commandId: string, handler: CommandHandler): void;
  /**
   * Register a cleanup to run when the plugin is deactivated (reverse order of registration).
   */
  onDispose(dispose: () => void | Promise<void>): void;
  /** Read-only view of the host: plugins and their states, job history and job-finished events. */
  readonly host: HostView;
  /** Ask the host to restart itself (the update plugin uses it after switching releases). */
  requestRestart(reason: string): void;
  /**
   * Write an entry into the installation's audit log ("Protokoll"), e.g. when a technician revealed a secret.
   * Stored as event `<pluginId>.<event>` with target `<pluginId>`; `by` is the user name (e.g. `req.user.name`).
   * Never put a secret's value into `details`.
   */
  audit(event: string, by: string, details?: Record<string, unknown>): Promise<void>;
}
