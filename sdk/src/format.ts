/**
 * Size formatting for server-side messages (job results, progress, CLI). The one implementation lives in
 * `ui/format.ts` so panels (which can load only `sdk/ui`) and the server print the same text for the same file.
 */
export { formatBytes, formatMegabytes } from './ui/format.js';
