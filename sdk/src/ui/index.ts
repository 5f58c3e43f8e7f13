/**
 * `kassenwart/sdk/ui`: helpers for admin UI panels (browser code). In the admin UI this module is served as
 * `/sdk/ui/index.js` and mapped by the page's import map, so panels import it (and `lit`) as bare specifiers
 * and share the shell's single copy of lit. See docs/ui.md for an example panel.
 */
export {
  api,
  ApiError,
  getSession,
  primeSession,
  setCsrfToken,
  getSettings,
  startAction,
  followJob,
  UNAUTHORIZED_EVENT,
  JOB_FINISHED_EVENT,
  announceJobFinished,
  type SessionInfo,
  type SessionUser,
  type SettingsEntry,
  type Job,
  type JobProgress,
  type FollowOptions,
} from './api.js';
export { kwTheme, kwStyles } from './styles.js';
export { KwPanel } from './panel.js';
export { kwConfirm, CONFIRM_REQUEST_EVENT, type ConfirmOptions, type ConfirmRequestDetail } from './confirm.js';
export { onJobFinished } from './jobs.js';
export { formatBytes, formatMegabytes } from './format.js';
