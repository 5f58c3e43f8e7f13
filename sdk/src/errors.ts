/**
 * An expected failure with a German message for the operator and, optionally, what to do about it.
 * Throw it from action handlers, targets and routes: the host shows `message` (and `hint`) as they are,
 * never a stack trace. Anything else thrown is reported as an unexpected error.
 */
export class UserError extends Error {
  /** Stable machine-readable code, e.g. "ftp.auth". */
  readonly code: string;
  /** What the user should do next (German), if there is something useful to say. */
  readonly hint?: string;
  /** HTTP status when the error leaves through the API (default 400). */
  readonly status: number;
  /** Structured details kept with a failed job (e.g. per-target results), shown in the job view. */
  readonly details?: Record<string, unknown> | unknown[];

  constructor(message: string, options: { code?: string; hint?: string; status?: number; cause?: unknown; details?: Record<string, unknown> | unknown[] } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'UserError';
    this.code = options.code ?? 'error';
    this.hint = options.hint;
    this.status = options.status ?? 400;
    this.details = options.details;
  }
}

/** True for a UserError from any copy of the SDK (checks the shape, not the class identity). */
export function isUserError(e: unknown): e is UserError {
  return e instanceof Error && e.name === 'UserError' && typeof (e as UserError).code === 'string';
}

/** Thrown when a job was cancelled through its AbortSignal. */
export class CancelledError extends Error {
  constructor(message = 'Abgebrochen.') {
    super(message);
    this.name = 'CancelledError';
  }
}

/** Throws a CancelledError if the signal is aborted. Call it between steps of long work. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError();
}
