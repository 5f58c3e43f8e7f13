/** The JSON the history panel shows (GET /api/ext/update/history). */
import { COMPONENT_NAMES, type ComponentId } from './api.js';
import { changeLines } from './feed.js';
import type { HistoryEntry, LastCheck, UpdateState } from './state.js';

/** A month, for the "last check is too old" reminder. */
export const REMINDER_AFTER_MS = 31 * 86_400_000;

type UpdateView = Omit<HistoryEntry, 'notes'> & {
  component: ComponentId;
  componentName: string;
  notes: Array<{ version: string; date: string; lines: string[] }>;
};

/** One component in the right-hand column. */
export interface ComponentView {
  id: ComponentId;
  /** "Kassensoftware", "Kassenwart". */
  displayName: string;
  /** Installed version, or null (register not configured / not installed). */
  installedVersion: string | null;
  /** German reason when the component is skipped ("nicht eingerichtet (es fehlt: …)"). */
  skipped: string | null;
  lastUpdate: { version: string; installedAt: string } | null;
  /** This component's updates, newest first. */
  updates: UpdateView[];
}

export interface HistoryView {
  /** Version running now. */
  runningVersion: string;
  /** The last update actually installed, of any component, or null. */
  lastUpdate: { version: string; installedAt: string; component: ComponentId; componentName: string } | null;
  /** Every update of every component (installed, pending or rolled back), newest first, with the changes of each release. */
  updates: UpdateView[];
  /** Per component: the register first, then Kassenwart. */
  components: ComponentView[];
  lastCheck: LastCheck | null;
  /** When the last check of all components succeeded. */
  lastSuccessAt: string | null;
  /** True when there was no successful check in the last month (or never). */
  reminder: boolean;
}

export function historyView(state: UpdateState, runningVersion: string, register: { installedVersion: string | null; skipped: string | null }, now = new Date()): HistoryView {
  const updates: UpdateView[] = [...state.history]
    .sort((a, b) => Date.parse(b.installedAt) - Date.parse(a.installedAt))
    .map((u) => {
      const component = u.component ?? 'kassenwart';
      return { ...u, component, componentName: COMPONENT_NAMES[component], notes: u.notes.map((n) => ({ version: n.version, date: n.date, lines: changeLines(n.changes, n.labels) })) };
    });
  const last = (c: ComponentId) => {
    const u = updates.find((x) => x.component === c && x.status === 'installed');
    return u ? { version: u.version, installedAt: u.installedAt } : null;
  };
  const components: ComponentView[] = [
    { id: 'kasse', displayName: COMPONENT_NAMES.kasse, installedVersion: register.installedVersion, skipped: register.skipped, lastUpdate: last('kasse'), updates: updates.filter((u) => u.component === 'kasse') },
    { id: 'kassenwart', displayName: COMPONENT_NAMES.kassenwart, installedVersion: runningVersion, skipped: null, lastUpdate: last('kassenwart'), updates: updates.filter((u) => u.component === 'kassenwart') },
  ];
  // Older state files have no lastSuccessAt: a successful last check counts.
  const success = state.lastSuccessAt ?? (state.lastCheck?.ok ? state.lastCheck.at : undefined);
  return {
    runningVersion,
    lastUpdate: ((u) => (u ? { version: u.version, installedAt: u.installedAt, component: u.component, componentName: u.componentName } : null))(updates.find((x) => x.status === 'installed')),
    updates,
    components,
    lastCheck: state.lastCheck ?? null,
    lastSuccessAt: success ?? null,
    reminder: !success || now.getTime() - Date.parse(success) > REMINDER_AFTER_MS,
  };
}
