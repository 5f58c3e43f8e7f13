/**
 * A read-only view of the host for plugins that watch the installation (the metrics plugin): which plugins
 * there are and in what state, and the jobs that ran. Nothing here changes anything.
 */
import type { JobTrigger } from './actions.js';

/** One installed plugin as the host sees it. */
export interface PluginInfo {
  id: string;
  displayName: string;
  /** Manifest version (missing when the manifest could not be read). */
  version?: string;
  /** active = running; inactive = enabled, waiting to be activated (lazy); disabled; failed (see reasons). */
  state: 'active' | 'inactive' | 'disabled' | 'failed';
  /** German reasons for failed/disabled. */
  reasons: string[];
  builtin: boolean;
}

/** One job (a run of an action) from the history. */
export interface JobInfo {
  id: string;
  actionId: string;
  /** Plugin that owns the action. */
  plugin: string;
  state: 'running' | 'succeeded' | 'warning' | 'info' | 'failed' | 'cancelled';
  trigger: JobTrigger;
  /** ISO 8601. */
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** The final German message. */
  message?: string;
  /** The result's structured details (succeeded / warning). */
  details?: Record<string, unknown>;
  /** The error code (failed), e.g. "backup.verify". */
  errorCode?: string;
}

/** `PluginContext.host`. */
export interface HostView {
  /** Every plugin the host knows, in dependency order. */
  plugins(): PluginInfo[];
  /** Jobs, newest first, from the persisted history (at most `limit`, default 50, max 500). */
  jobs(options?: { actionId?: string; limit?: number }): Promise<JobInfo[]>;
  /**
   * Called after each job has finished and was stored (any plugin's). Returns a disposer; the host also
   * removes the listener when the plugin is deactivated. Exceptions in the listener are logged, never thrown.
   */
  onJobFinished(listener: (job: JobInfo) => void): () => void;
}
