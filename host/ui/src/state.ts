/** Shell-wide state: the signed-in user, role checks, German labels and formatting. */
import type { ActionContribution, Role } from 'kassenwart/sdk';
import type { SessionUser } from 'kassenwart/sdk/ui';

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

/** An action as `GET /api/actions` lists it: the manifest's contribution plus where it runs. */
export interface ActionInfo extends ActionContribution {
  plugin: string;
  running?: string | null;
}

/** A panel as `GET /api/panels` lists it. */
export interface PanelInfo {
  plugin: string;
  id: string;
  element: string;
  url: string;
  location: 'maintenance' | 'sidebar' | 'settings';
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
