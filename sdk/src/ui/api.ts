/**
 * Browser-side API helpers for the admin shell and for plugin panels: JSON calls with the session cookie and
 * the CSRF header, German errors, settings, actions and job progress over server-sent events.
 * Browser code only (no Node imports): served as `/sdk/ui/api.js` and imported as `kassenwart/sdk/ui`.
 */

/** The signed-in user. */
export interface SessionUser {
  name: string;
  role: 'operator' | 'technician';
}

/** What `GET /api/auth/session` answers. */
export interface SessionInfo {
  setupRequired: boolean;
  user: SessionUser | null;
  csrfToken?: string;
}

/** One entry of `GET /api/settings`. */
export interface SettingsEntry {
  plugin: string;
  displayName: string;
  schema: {
    type: 'object';
    properties: Record<string, Record<string, unknown>>;
    required?: string[];
    title?: string;
    description?: string;
  };
  /** Current values (defaults applied); secrets are absent. */
  values: Record<string, unknown>;
  /** For each secret key: whether it is set. */
  secrets: Record<string, boolean>;
}

/**
 * A job as the API shows it (`GET /api/jobs/:id`). `state` "info": the action had nothing to do and says so in
 * `result.message` (no failure; the UI shows it neutrally).
 */
export interface Job {
  id: string;
  actionId: string;
  title?: string;
  state: 'running' | 'succeeded' | 'warning' | 'info' | 'failed' | 'cancelled';
  percent?: number | null;
  message?: string | null;
  result?: { message?: string; outcome?: string; details?: Record<string, unknown> } | null;
  /** Set when the job failed or was cancelled; `details` as the thrown UserError gave them (e.g. per-target results). */
  error?: { code: string; message: string; hint?: string; details?: Record<string, unknown> | unknown[] } | null;
  user?: string;
  trigger?: string;
  startedAt?: string;
  finishedAt?: string | null;
  durationMs?: number | null;
  log?: { at: string; level: string; message: string }[];
}

/** Progress of a running job, as sent by `event: progress`. */
export interface JobProgress {
  percent?: number | null;
  message?: string | null;
}

/** A failed API call: `message` is the server's German message; `hint`, `code`, `details` as sent. */
export class ApiError extends Error {
  /** HTTP status (0 when the server could not be reached). */
  readonly status: number;
  /** Machine-readable code from the server, e.g. "settings.invalid" or "job.running". */
  readonly code: string;
  /** What to do next (German), when the server said so. */
  readonly hint?: string;
  /** Validation details, e.g. `[{ path: "/path", message: "…" }]`. */
  readonly details: { path?: string; message: string; [k: string]: unknown }[];

  constructor(status: number, code: string, message: string, hint?: string, details?: ApiError['details']) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.details = Array.isArray(details) ? details : [];
  }
}

let csrfToken: string | undefined;
let sessionPromise: Promise<SessionInfo> | undefined;

/** Event fired on `window` when the server answers 401 (the session ended); the shell shows the login page. */
export const UNAUTHORIZED_EVENT = 'kw-unauthorized';

/**
 * Event fired on `window` once per job when it reaches a final state (succeeded, warning, info, failed, cancelled),
 * whoever started it: `detail` is the {@link Job}. The shell feeds it from the host-wide job stream
 * (`GET /api/jobs/events`); {@link followJob} fires it too. Fired at most once per job id.
 */
export const JOB_FINISHED_EVENT = 'kw-job-finished';

const announced = new Set<string>();

/** Fires {@link JOB_FINISHED_EVENT} for a finished job, unless it was fired for this job id already. */
export function announceJobFinished(job: Job): void {
  if (!job || job.state === 'running' || announced.has(job.id) || typeof window === 'undefined') return;
  announced.add(job.id);
  if (announced.size > 500) announced.delete(announced.values().next().value as string);
  window.dispatchEvent(new CustomEvent<Job>(JOB_FINISHED_EVENT, { detail: job }));
}

/** Remember the CSRF token (the shell calls it after login/setup; panels never need to). */
export function setCsrfToken(token: string | undefined): void {
  csrfToken = token;
}

/**
 * The current session (`GET /api/auth/session`), cached; `refresh` asks the server again.
 * Also picks up the CSRF token for later mutating calls.
 */
export function getSession(refresh = false): Promise<SessionInfo> {
  if (!sessionPromise || refresh) {
    sessionPromise = request<SessionInfo>('GET', '/api/auth/session', undefined, false).then(
      (s) => {
        csrfToken = s.csrfToken;
        return s;
      },
      (e) => {
        sessionPromise = undefined;
        throw e;
      },
    );
  }
  return sessionPromise;
}

/**
 * Seeds the session cache with what the page already carries (the shell does this from the page's boot data),
 * so neither the shell nor a panel asks `GET /api/auth/session` again.
 */
export function primeSession(info: SessionInfo): void {
  csrfToken = info.csrfToken;
  sessionPromise = Promise.resolve(info);
}

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

async function request<T>(method: string, path: string, body: unknown, withCsrf: boolean): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (withCsrf && csrfToken) headers['x-csrf-token'] = csrfToken;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(
      0,
      'network',
      'Keine Verbindung zum Kassenserver.',
      'Bitte prüfen, ob der Kassenserver eingeschaltet und Kassenwart gestartet ist, und es erneut versuchen.',
    );
  }
  const text = await res.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const err = (data as { error?: Partial<ApiError> & { message?: string } } | undefined)?.error;
    if (err && typeof err.message === 'string') {
      throw new ApiError(res.status, String(err.code ?? 'error'), err.message, err.hint, err.details as ApiError['details']);
    }
    throw new ApiError(
      res.status,
      'http',
      `Unerwartete Antwort vom Kassenserver (HTTP ${res.status}).`,
      'Bitte die Seite neu laden. Bleibt der Fehler, den Support informieren.',
    );
  }
  return data as T;
}

/**
 * Calls the host's JSON API. Adds the session cookie and, for POST/PUT/PATCH/DELETE, the CSRF header
 * (fetched once from `GET /api/auth/session`). A JSON error answer is thrown as an {@link ApiError} whose
 * message is the server's German text. A 401 also fires {@link UNAUTHORIZED_EVENT} on `window`.
 *
 * @example const plugins = await api('GET', '/api/plugins');
 */
export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const m = method.toUpperCase();
  const mutating = MUTATING.has(m);
  if (mutating && !csrfToken) await getSession(true).catch(() => undefined);
  try {
    return await request<T>(m, path, body, mutating);
  } catch (e) {
    if (e instanceof ApiError && e.status === 403 && mutating && /csrf/i.test(e.code)) {
      // The token may be stale (new session in another tab): fetch it again and retry once.
      await getSession(true).catch(() => undefined);
      return request<T>(m, path, body, true);
    }
    if (e instanceof ApiError && e.status === 401 && typeof window !== 'undefined') {
      window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
    }
    throw e;
  }
}

/** The settings of one plugin: schema, values (defaults applied, no secrets) and which secrets are set. */
export function getSettings(pluginId: string): Promise<SettingsEntry> {
  return api<SettingsEntry>('GET', `/api/settings/${encodeURIComponent(pluginId)}`);
}

/**
 * Starts an action (`POST /api/actions/:id`) and returns its job. A running exclusive action answers 409:
 * the thrown {@link ApiError} has code "job.running" and the server's "… läuft bereits …" message.
 */
export async function startAction(actionId: string, params: Record<string, unknown> = {}): Promise<Job> {
  const r = await api<{ job: Job }>('POST', `/api/actions/${encodeURIComponent(actionId)}`, { params });
  return r.job;
}

/** Options of {@link followJob}. */
export interface FollowOptions {
  /** Stop following (the job keeps running on the server). The promise then rejects with an AbortError. */
  signal?: AbortSignal;
  /** Called for each `event: log` line. */
  onLog?: (line: { at?: string; level?: string; message: string }) => void;
}

function isFinished(job: Job | undefined): boolean {
  return !!job && job.state !== 'running';
}

/**
 * Follows a job until it has finished, calling `onProgress` for every progress event (server-sent events
 * from `GET /api/jobs/:id/events`). Resolves with the finished job (also when it failed: look at `state`
 * and `error`). If the event stream breaks, it falls back to asking `GET /api/jobs/:id` once a second.
 */
export function followJob(jobId: string, onProgress?: (p: JobProgress) => void, options: FollowOptions = {}): Promise<Job> {
  const url = `/api/jobs/${encodeURIComponent(jobId)}`;
  return new Promise<Job>((resolve, reject) => {
    let es: EventSource | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let settled = false;
    const finish = (job?: Job, error?: unknown) => {
      if (settled) return;
      settled = true;
      es?.close();
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (error !== undefined) reject(error);
      else {
        announceJobFinished(job!);
        resolve(job!);
      }
    };
    const onAbort = () => finish(undefined, new DOMException('Nicht mehr verfolgt.', 'AbortError'));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort);

    const poll = async () => {
      if (settled) return;
      try {
        const job = await api<Job>('GET', url);
        if (isFinished(job)) return finish(job);
        onProgress?.({ percent: job.percent, message: job.message });
      } catch (e) {
        if (e instanceof ApiError && (e.status === 404 || e.status === 401 || e.status === 403)) return finish(undefined, e);
      }
      timer = setTimeout(poll, 1000);
    };

    if (typeof EventSource === 'undefined') return void poll();
    es = new EventSource(`${url}/events`, { withCredentials: true });
    es.addEventListener('progress', (ev) => {
      try {
        onProgress?.(JSON.parse((ev as MessageEvent).data) as JobProgress);
      } catch {
        /* ignore a malformed event */
      }
    });
    es.addEventListener('log', (ev) => {
      try {
        options.onLog?.(JSON.parse((ev as MessageEvent).data));
      } catch {
        /* ignore a malformed event */
      }
    });
    es.addEventListener('done', (ev) => {
      let job: Job | undefined;
      try {
        job = JSON.parse((ev as MessageEvent).data) as Job;
      } catch {
        job = undefined;
      }
      if (job && isFinished(job)) finish(job);
      else {
        es?.close();
        void poll();
      }
    });
    es.onerror = () => {
      // The stream broke or the server closed it: switch to polling (which also catches a job that ended).
      es?.close();
      if (!timer) void poll();
    };
  });
}
