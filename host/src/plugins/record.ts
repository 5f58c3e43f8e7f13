import type { DependencyContainer } from 'tsyringe';
import type { ActionHandler, CommandHandler, Plugin, PluginManifest } from 'kassenwart/sdk';
import type Router from '@koa/router';

/**
 * What the host knows about one plugin folder.
 * - failed: unusable (bad manifest, activation threw or timed out, dependency problem) — `reasons` say why
 * - disabled: switched off for this installation (or a dependency is) — `reasons` say why when not by choice
 * - inactive: enabled and healthy, waiting for one of its activation events (lazy)
 * - active: activated
 */
export type PluginState = 'failed' | 'disabled' | 'inactive' | 'activating' | 'active';

export interface PluginRecord {
  id: string;
  dir: string;
  builtin: boolean;
  manifest?: PluginManifest;
  enabled: boolean;
  state: PluginState;
  reasons: string[];
  /** Problems found in plugin.json (permanent until the folder changes). */
  manifestErrors: string[];
  /** Why activation failed (cleared when the plugin is disabled, so enabling retries). */
  activationError?: string;
  /** Why the plugin was quarantined (it ended or blocked the process); shown while it is disabled. */
  quarantine?: string;
  container?: DependencyContainer;
  instance?: Plugin;
  disposers: (() => void | Promise<void>)[];
  handlers: Map<string, ActionHandler>;
  commands: Map<string, CommandHandler>;
  router?: Router;
  /** Routes with `auth: 'plugin'` (checked before the host's session check). */
  publicRouter?: Router;
  activation?: Promise<void>;
}
