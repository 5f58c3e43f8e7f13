import type { Logger } from './logger.js';

/** Who or what started a job. */
export type JobTrigger = 'user' | 'schedule' | 'cli' | 'catch-up' | 'api';

/** What an action handler gets while it runs. */
export interface JobContext {
  /** The job id (shown in history). */
  readonly jobId: string;
  /** The action id. */
  readonly actionId: string;
  /** Aborted when the user cancels or the host shuts down. Pass it to everything that waits. */
  readonly signal: AbortSignal;
  /** What started it. */
  readonly trigger: JobTrigger;
  /** User name that started it (or "system" for schedules). */
  readonly user: string;
  /** Optional parameters given with the start request (validated by the handler). */
  readonly params: Record<string, unknown>;
  /** Report progress: percent 0..100 (or undefined for "unknown"), and a German message. */
  progress(percent: number | undefined, message?: string): void;
  /** Job-scoped logger (lines also go to the job's log shown in the UI). */
  readonly log: Logger;
}

/** What a handler returns: a German text for the operator, and optional structured details. */
export interface ActionResult {
  /** Overrides the action's `success` text. */
  message?: string;
  /**
   * Outcome for partial results: "warning" means the job finished but something needs attention
   * (e.g. one of several backup targets failed). "info" means there was nothing to do and that is no
   * failure (e.g. "Stick sicher entfernen" with no stick plugged in): the job ends in state "info" and the UI
   * shows `message` neutrally (neither green nor red). Default "success".
   */
  outcome?: 'success' | 'warning' | 'info';
  /** Structured details (shown in the job view, available over the API). */
  details?: Record<string, unknown>;
}

/** Implements one contributed action. Throw a UserError for expected failures. */
export type ActionHandler = (job: JobContext) => Promise<ActionResult | string | void>;
