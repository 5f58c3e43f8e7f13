/**
 * Retention of local backups: grandfather-father-son. Keeps every backup of the newest `daily` days that
 * have backups (so the 07:00 and the 21:00 backup of a day both stay), the newest backup of each of the
 * newest `weekly` ISO weeks and `monthly` months, and always the newest verified backup. Pure function;
 * the caller deletes.
 */

/** One backup as retention sees it. */
export interface RetentionItem {
  name: string;
  createdAt: Date;
  verified: boolean;
}

/** Retention settings. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

const p2 = (n: number) => String(n).padStart(2, '0');
const dayKey = (d: Date) => `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())}`;
const monthKey = (d: Date) => `${d.getFullYear()}-${p2(d.getMonth() + 1)}`;
/** ISO 8601 week key (local time), e.g. "2026-W48". */
export function isoWeekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const dayNum = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dayNum); // Thursday of this week decides the year
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${p2(week)}`;
}

/** Returns the names to delete (never the newest verified one). Input order does not matter. */
export function selectForDeletion(items: RetentionItem[], policy: RetentionPolicy): string[] {
  const sorted = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<string>();
  const newestVerified = sorted.find((i) => i.verified);
  if (newestVerified) keep.add(newestVerified.name);
  const bucket = (key: (d: Date) => string, n: number, all = false) => {
    const seen = new Set<string>();
    for (const i of sorted) {
      if (!i.verified) continue;
      const k = key(i.createdAt);
      if (seen.has(k)) { if (all) keep.add(i.name); continue; }
      if (seen.size >= n) break;
      seen.add(k);
      keep.add(i.name);
    }
  };
  bucket(dayKey, policy.daily, true);
  bucket(isoWeekKey, policy.weekly);
  bucket(monthKey, policy.monthly);
  return sorted.filter((i) => !keep.has(i.name)).map((i) => i.name);
}
