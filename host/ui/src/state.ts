/** Shell-wide state: the signed-in user, role checks, German labels and formatting. */
import type { ActionContribution, Role } from 'kassenwart/sdk';
import type { Job, SessionUser } from 'kassenwart/sdk/ui';

/** A role from the manifests. */
export type { Role };

let user: SessionUser | null = null;

/** The signed-in user (null before login). */
export function currentUser(): SessionUser | null {
  return user;
}

/** Set by the shell after session check, login, setup and logout. */
export function setCurrentUser(u: SessionUser | null): void {
  user = u;
}

const rank: Record<string, number> = { operator: 1, technician: 2 };

/** True when the signed-in user has at least `role`. */
export function hasRole(role: Role | undefined): boolean {
  return !!user && (rank[user.role] ?? 0) >= (rank[role ?? 'operator'] ?? 1);
}

/** German role name. */
export function roleLabel(role: string | undefined): string {
  return role === 'technician' ? 'Techniker' : role === 'operator' ? 'Bediener' : String(role ?? '');
}

const dateFormat = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short' });

/** "29.11.2026, 07:00" (local time); "–" for nothing. */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
}

/** "4 s", "2 min 5 s", "1 h 3 min"; "–" for nothing. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** German label of a job state. */
export function jobStateLabel(state: string): string {
  return (
    {
      running: 'läuft',
      succeeded: 'erfolgreich',
      warning: 'mit Warnung',
      info: 'Information',
      failed: 'fehlgeschlagen',
      cancelled: 'abgebrochen',
    } as Record<string, string>
  )[state] ?? state;
}

/** German label of who started a job. */
export function triggerLabel(trigger: string | undefined): string {
  return (
    {
      user: 'manuell',
      schedule: 'Zeitplan',
      cli: 'Kommandozeile',
      'catch-up': 'nachgeholt',
      api: 'API',
    } as Record<string, string>
  )[trigger ?? ''] ?? (trigger ?? '');
}

/** Deepest focused element, looking through open shadow roots. */
export function deepActiveElement(): HTMLElement | null {
  let el = document.activeElement as HTMLElement | null;
  while (el?.shadowRoot?.activeElement) el = el.shadowRoot.activeElement as HTMLElement;
  return el;
}

/** An action as `GET /api/actions` lists it: the manifest's contribution plus where it runs and its last run. */
export interface ActionInfo extends ActionContribution {
  plugin: string;
  running?: string | null;
  /** The newest finished run (for "Zuletzt: …"). */
  last?: Job | null;
}

/** A panel as `GET /api/panels` lists it ("sidebar" already turned into maintenance + side by the server). */
export interface PanelInfo {
  plugin: string;
  id: string;
  element: string;
  url: string;
  location: 'maintenance' | 'settings';
  /** On the maintenance page: left ("main", default) or right ("side"). */
  column?: 'main' | 'side';
  /** For settings panels: the section it belongs to. */
  section?: string;
  title?: string;
}

/** A plugin as `GET /api/plugins` lists it. */
export interface PluginInfo {
  id: string;
  displayName: string;
  version: string;
  description?: string;
  enabled: boolean;
  state: 'active' | 'inactive' | 'disabled' | 'failed' | string;
  reasons?: string[];
  builtin?: boolean;
  dependencies?: Record<string, string> | string[];
  dependants?: string[];
}

/** German text of an audit entry: the server's `label` (host and plugin manifests name their events). */
export function auditEventLabel(entry: { event: string; label?: string }): string {
  return entry.label ?? `Ereignis „${entry.event}“`;
}

/** German names of the keys in audit details. */
const detailKeys: Record<string, string> = {
  ip: 'Adresse', role: 'Rolle', job: 'Vorgang', keys: 'Einstellungen', before: 'vorher', after: 'nachher',
  alsoEnabled: 'ebenfalls aktiviert', alsoDisabled: 'ebenfalls deaktiviert', found: 'gefunden', count: 'Anzahl',
  by: 'über', reason: 'Grund',
};

/** Audit details as German text: "Rolle: Techniker · Adresse: 127.0.0.1"; values of `role` are translated. */
export function auditDetails(d: unknown): string {
  const value = (k: string, v: unknown): string => {
    if (k === 'role' && typeof v === 'string') return roleLabel(v);
    if (Array.isArray(v)) return v.length ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ') : '–';
    if (typeof v === 'boolean') return v ? 'ja' : 'nein';
    return typeof v === 'string' ? v : JSON.stringify(v);
  };
  if (d === undefined || d === null) return '';
  if (typeof d !== 'object' || Array.isArray(d)) return value('', d);
  return Object.entries(d as Record<string, unknown>)
    .filter(([, v]) => !(Array.isArray(v) && v.length === 0) && v !== undefined)
    .map(([k, v]) => `${detailKeys[k] ?? k}: ${value(k, v)}`).join(' · ');
}
