/**
 * Retention on the store (grandfather-father-son): keeps every copy of the newest `daily` days that have copies
 * (the 07:00 and the 21:00 copy of a day both stay, as in the local folder), the newest copy of each of the newest
 * `weekly` ISO weeks and `monthly` months, and always the newest verified copy. Pure; the
 * caller deletes. (The backup plugin has its own for the local folder; plugins do not share internals.)
 */

/** One copy as retention sees it. */
export interface RetentionItem {
  name: string;
  createdAt: Date;
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
function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const week = Math.ceil(((t.getTime() - Date.UTC(t.getUTCFullYear(), 0, 1)) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${p2(week)}`;
}

/** The names to delete. `newestVerified` (the last copy whose HEAD matched) is never among them. */
export function selectForDeletion(items: RetentionItem[], policy: RetentionPolicy, newestVerified?: string): string[] {
  const sorted = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<string>();
  if (newestVerified) keep.add(newestVerified);
  if (sorted[0]) keep.add(sorted[0].name);
  const bucket = (key: (d: Date) => string, n: number, all = false) => {
    const seen = new Set<string>();
    for (const i of sorted) {
      const k = key(i.createdAt);
      if (seen.has(k)) { if (all) keep.add(i.name); continue; }
      if (seen.size >= n) break;
      seen.add(k);
      keep.add(i.name);
    }
  };
  bucket(dayKey, policy.daily, true);
  bucket(weekKey, policy.weekly);
  bucket(monthKey, policy.monthly);
  return sorted.filter((i) => !keep.has(i.name)).map((i) => i.name);
}
