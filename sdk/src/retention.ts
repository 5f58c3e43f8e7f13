/**
 * Grandfather-father-son retention, shared by every plugin that keeps dated copies (the backup plugin's local
 * folder, the Cloud-Kasse store, third-party targets). Keeps every copy of the newest `daily` days that have
 * copies (so the 07:00 and the 21:00 copy of a day both stay), the newest copy of each of the newest `weekly` ISO
 * weeks and `monthly` months, and every name in `protect`. Pure: the caller deletes. Days, weeks and months are
 * local time, as the salon sees them.
 */

/** One dated copy as retention sees it. */
export interface RetentionCopy {
  name: string;
  createdAt: Date;
}

/** How many days, ISO weeks and months keep a copy. */
export interface RetentionPolicy {
  daily: number;
  weekly: number;
  monthly: number;
}

export interface RetentionOptions<T extends RetentionCopy> {
  /** Only copies for which this is true fill the day/week/month slots (e.g. only verified ones); default all. */
  counts?: (copy: T) => boolean;
  /** Names that are never deleted (e.g. the newest verified copy). */
  protect?: Iterable<string | undefined>;
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

/** The names to delete, newest first. Input order does not matter. */
export function retentionDeletions<T extends RetentionCopy>(items: T[], policy: RetentionPolicy, options: RetentionOptions<T> = {}): string[] {
  const counts = options.counts ?? (() => true);
  const sorted = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  const keep = new Set<string>();
  for (const name of options.protect ?? []) if (name) keep.add(name);
  const bucket = (key: (d: Date) => string, n: number, all = false) => {
    const seen = new Set<string>();
    for (const i of sorted) {
      if (!counts(i)) continue;
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
