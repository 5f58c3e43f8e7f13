/**
 * `onJobFinished`: panels refresh what a job changed the moment it ends. The shell dispatches a
 * `kw-job-finished` CustomEvent on `window` (detail: the finished {@link Job}) for every job that ends, whatever
 * started it (a button, the schedule, the CLI, another browser). Panels keep a slow poll only as a fallback.
 * {@link announceJobFinished} lets a panel announce a job it followed itself (e.g. a restore started from its own
 * table), so other panels refresh too; it fires once per job id (the shell's job stream and `followJob` announce
 * through the same function), but listeners should still be idempotent.
 */
import { JOB_FINISHED_EVENT, type Job } from './api.js';

export { JOB_FINISHED_EVENT, announceJobFinished } from './api.js';

/** Calls `cb` for every finished job; returns the function that stops listening. */
export function onJobFinished(cb: (job: Job) => void): () => void {
  const listener = (e: Event) => {
    const job = (e as CustomEvent<Job>).detail;
    if (job && typeof job === 'object' && typeof job.actionId === 'string') cb(job);
  };
  window.addEventListener(JOB_FINISHED_EVENT, listener);
  return () => window.removeEventListener(JOB_FINISHED_EVENT, listener);
}
