/**
 * Quarantine: a plugin that killed or blocked the serving process is disabled with a reason, so the supervisor
 * can start Kassenwart again without it. The reason lives in the state database's `meta` table under
 * `quarantine:<id>` and is shown in "Plugins" (GET /api/plugins) while the plugin stays disabled; enabling the
 * plugin again clears it. Every quarantine is in the audit log.
 *
 * Who is blamed (see docs/host.md "Plugins that break the process"):
 * - direct evidence — the plugin was caught in the act (its frame called process.exit, threw the uncaught
 *   exception, or was on the stack of a stalled event loop), or its code was being loaded (import, construction,
 *   activate()) when the process died: that plugin, built-in or not;
 * - weaker evidence — the process died (e.g. heap exhaustion) while exactly one plugin had a route or job in
 *   flight and nothing was loading: that plugin, but only a third-party one. A built-in is the vendor's tested
 *   product (a backup running while something else exhausts the heap must not switch off backups); an
 *   unexplained crash restarts with a growing pause instead;
 * - killed by a signal (SIGKILL from outside, the kernel's OOM killer) without a verdict: nobody.
 */
import { join } from 'node:path';
import type { ActivityRecord, Verdict } from './activity.js';
import type { StateDb } from '../state/db.js';

/** A plugin blamed for the end or stall of the process. */
export interface Culprit {
  plugin: string;
  builtin: boolean;
  kind: 'exit' | 'exception' | 'stall' | 'crash';
  /** The German reason shown in "Plugins". */
  reason: string;
  details: Record<string, unknown>;
}

/** A quarantine record as stored. */
export interface QuarantineRecord {
  reason: string;
  at: string;
  kind: string;
  details?: Record<string, unknown>;
}

const KEY = 'quarantine:';

function describeExit(code: number | null, signal: string | null): string {
  if (signal === 'SIGABRT' || code === 134) return 'der Arbeitsspeicher (Heap) war erschöpft oder der Prozess wurde abgebrochen';
  if (signal) return `Signal ${signal}`;
  return `Exit-Code ${code}`;
}

/**
 * Decides who is to blame for a process that ended with `code`/`signal`, from the evidence it left.
 * Returns undefined when nobody can be named.
 */
export function blame(ev: { activity?: ActivityRecord; verdict?: Verdict }, code: number | null, signal: string | null): Culprit | undefined {
  const when = new Date().toLocaleString('de-DE');
  const v = ev.verdict;
  if (v) {
    const what = v.kind === 'stall' ? 'hat Kassenwart blockiert' : 'hat Kassenwart beendet';
    return {
      plugin: v.plugin, builtin: v.builtin, kind: v.kind,
      reason: `Automatisch deaktiviert: das Plugin ${what} (${v.detail}; ${when}). Erst nach Rücksprache mit dem Hersteller des Plugins wieder aktivieren.`,
      details: { detail: v.detail, frames: v.frames, code, signal },
    };
  }
  if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') return undefined; // from outside
  const a = ev.activity;
  if (!a) return undefined;
  const how = describeExit(code, signal);
  if (a.loading.length === 1) {
    const l = a.loading[0];
    return {
      plugin: l.plugin, builtin: l.builtin, kind: 'crash',
      reason: `Automatisch deaktiviert: das Plugin hat Kassenwart beendet, während es geladen wurde (${how}; ${when}). Erst nach Rücksprache mit dem Hersteller des Plugins wieder aktivieren.`,
      details: { phase: l.phase, code, signal },
    };
  }
  if (a.loading.length === 0 && a.inFlight.length === 1 && !a.inFlight[0].builtin) {
    const f = a.inFlight[0];
    return {
      plugin: f.plugin, builtin: false, kind: 'crash',
      reason: `Automatisch deaktiviert: das Plugin hat Kassenwart beendet, während es eine Anfrage oder Aktion bearbeitete (${how}; ${when}). Erst nach Rücksprache mit dem Hersteller des Plugins wieder aktivieren.`,
      details: { inFlight: f.count, code, signal },
    };
  }
  return undefined;
}

/** Disables `c.plugin` with its reason, and audits it (one transaction). */
export async function quarantine(db: StateDb, c: Culprit): Promise<void> {
  const at = new Date().toISOString();
  const rec: QuarantineRecord = { reason: c.reason, at, kind: c.kind, details: c.details };
  await db.write((tx) => {
    tx.run(`INSERT INTO plugin_enablement (plugin, enabled, changed_at) VALUES (?, 0, ?)
            ON CONFLICT (plugin) DO UPDATE SET enabled = 0, changed_at = excluded.changed_at`, [c.plugin, at]);
    tx.run('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [KEY + c.plugin, JSON.stringify(rec)]);
    tx.run('INSERT INTO audit (at, user, event, target, details) VALUES (?, ?, ?, ?, ?)',
      [at, 'system', 'plugin.quarantine', c.plugin, JSON.stringify({ reason: c.reason, kind: c.kind, ...c.details })]);
  });
}

/** Opens the state database of `dataDir`, quarantines, closes. For the supervisor (no kernel there). */
export async function quarantineIn(dataDir: string, c: Culprit): Promise<void> {
  const { StateDb } = await import('../state/db.js');
  const db = await StateDb.open(join(dataDir, 'state.sqlite'));
  try { await quarantine(db, c); } finally { db.close(); }
}

/** Every stored quarantine, by plugin id. */
export async function quarantines(db: StateDb): Promise<Map<string, QuarantineRecord>> {
  const rows = await db.all<{ key: string; value: string }>(`SELECT key, value FROM meta WHERE key LIKE 'quarantine:%'`);
  const out = new Map<string, QuarantineRecord>();
  for (const r of rows) {
    try { out.set(r.key.slice(KEY.length), JSON.parse(r.value) as QuarantineRecord); } catch { /* unreadable: ignore */ }
  }
  return out;
}

/** Forgets the quarantine of `plugin` (it was enabled again). */
export async function clearQuarantine(db: StateDb, plugin: string): Promise<void> {
  if (!(await db.get('SELECT 1 FROM meta WHERE key = ?', [KEY + plugin]))) return;
  await db.write((tx) => tx.run('DELETE FROM meta WHERE key = ?', [KEY + plugin]));
}
