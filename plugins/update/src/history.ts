/** The JSON the history panel shows (GET /api/ext/update/history). */
import { changeLines } from './feed.js';
import type { HistoryEntry, LastCheck, UpdateState } from './state.js';

/** A month, for the "last check is too old" reminder. */
export const REMINDER_AFTER_MS = 31 * 86_400_000;

export interface HistoryView {
  /** Version running now. */
  runningVersion: string;
  /** The last update actually installed, or null. */
  lastUpdate: { version: string; installedAt: string } | null;
  /** Every update (installed, pending or rolled back), newest first, with the changes of each release. */
  updates: Array<Omit<HistoryEntry, 'notes'> & { notes: Array<{ version: string; date: string; lines: string[] }> }>;
  lastCheck: LastCheck | null;
  /** True when there was no check in the last month (or never). */
  reminder: boolean;
}

export function historyView(state: UpdateState, runningVersion: string, now = new Date()): HistoryView {
  const updates = [...state.history].sort((a, b) => Date.parse(b.installedAt) - Date.parse(a.installedAt));
  const last = updates.find((u) => u.status === 'installed');
  return {
    runningVersion,
    lastUpdate: last ? { version: last.version, installedAt: last.installedAt } : null,
    updates: updates.map((u) => ({ ...u, notes: u.notes.map((n) => ({ version: n.version, date: n.date, lines: changeLines(n.changes) })) })),
    lastCheck: state.lastCheck ?? null,
    reminder: !state.lastCheck || now.getTime() - Date.parse(state.lastCheck.at) > REMINDER_AFTER_MS,
  };
}
