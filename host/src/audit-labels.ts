/**
 * German names of audit events, for Protokoll (GET /api/audit adds `label`) and `kassenwart audit`. The host's own
 * events are listed here; a plugin names its events in its manifest (`contributes.auditEvents`, keyed without the
 * plugin prefix), so the host knows no plugin's events. An event without a name reads „Ereignis „<code>““.
 */
import type { PluginManifest } from 'kassenwart/sdk';

export const HOST_AUDIT_EVENTS: Record<string, string> = {
  login: 'Anmeldung',
  'login.failed': 'Anmeldung fehlgeschlagen',
  'login.refused': 'Anmeldung gesperrt (zu viele Versuche)',
  logout: 'Abmeldung',
  setup: 'Ersteinrichtung',
  'setup.failed': 'Ersteinrichtung: falscher Einrichtungscode',
  'settings.change': 'Einstellung geändert',
  'action.start': 'Vorgang gestartet',
  'action.cancel': 'Vorgang abgebrochen',
  'plugin.enable': 'Plugin aktiviert',
  'plugin.disable': 'Plugin deaktiviert',
  'plugin.quarantine': 'Plugin gesperrt',
  'plugin.add-folder': 'Plugin-Ordner hinzugefügt',
  'plugin.remove-folder': 'Plugin-Ordner entfernt',
  'user.add': 'Benutzer angelegt',
  'user.passwd': 'Passwort geändert',
  'user.remove': 'Benutzer entfernt',
};

/** The German name of `event`, from the host's list or the writing plugin's manifest; undefined if unnamed. */
export function auditEventName(event: string, manifests: Iterable<PluginManifest | undefined>): string | undefined {
  if (Object.hasOwn(HOST_AUDIT_EVENTS, event)) return HOST_AUDIT_EVENTS[event];
  for (const m of manifests) {
    const names = m?.contributes?.auditEvents;
    if (!names || !event.startsWith(m.id + '.')) continue;
    const own = event.slice(m.id.length + 1);
    if (Object.hasOwn(names, own)) return names[own];
  }
  return undefined;
}

/** Audit entries with their German `label` (the code stays in `event`). */
export function withAuditLabels<T extends { event: string }>(entries: T[], manifests: (PluginManifest | undefined)[]): (T & { label: string })[] {
  return entries.map((e) => ({ ...e, label: auditEventName(e.event, manifests) ?? `Ereignis „${e.event}“` }));
}
