/**
 * The one host-wide job stream of a page (`GET /api/jobs/events`, server-sent events): every job of the host as
 * it starts and ends, whoever started it (this page, another browser, the CLI, a schedule). A finished job is
 * announced on `window` as `kw-job-finished` (detail: the job; once per job id, shared with followJob in
 * kassenwart/sdk/ui), a started one as `kw-job-started`. Pages and panels refresh what a finished job changed.
 */
import { announceJobFinished, type Job } from 'kassenwart/sdk/ui';

/** Fired on `window` when any job starts (detail: the job). */
export const JOB_STARTED_EVENT = 'kw-job-started';

let source: EventSource | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;
let wanted = false;

function parse(ev: Event): Job | undefined {
  try {
    return JSON.parse((ev as MessageEvent).data) as Job;
  } catch {
    return undefined;
  }
}

function open(): void {
  if (!wanted || source || typeof EventSource === 'undefined') return;
  const es = new EventSource('/api/jobs/events', { withCredentials: true });
  source = es;
  es.addEventListener('started', (ev) => {
    const job = parse(ev);
    if (job) window.dispatchEvent(new CustomEvent<Job>(JOB_STARTED_EVENT, { detail: job }));
  });
  es.addEventListener('finished', (ev) => {
    const job = parse(ev);
    if (job) announceJobFinished(job);
  });
  es.onerror = () => {
    // A network break reconnects by itself; a refused stream (e.g. 401) is closed: try again later.
    if (es.readyState === EventSource.CLOSED) {
      source = undefined;
      clearTimeout(retry);
      if (wanted) retry = setTimeout(open, 5000);
    }
  };
}

/** Opens the stream (after sign-in); a second call does nothing. */
export function startJobEvents(): void {
  wanted = true;
  open();
}

/** Closes the stream (sign-out, session end). */
export function stopJobEvents(): void {
  wanted = false;
  clearTimeout(retry);
  source?.close();
  source = undefined;
}
