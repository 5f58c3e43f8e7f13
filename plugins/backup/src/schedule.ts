/** The backup plugin's time settings ("07:00,21:00"): parsing, next run, and how old a backup may get. */

/** Parses "07:00, 21:00" into minutes after midnight, sorted, unique. Invalid parts are dropped. */
export function parseTimes(value: string | undefined): number[] {
  const out = new Set<number>();
  for (const part of (value ?? '').split(',')) {
    const m = /^\s*([01]\d|2[0-3]):([0-5]\d)\s*$/.exec(part);
    if (m) out.add(+m[1] * 60 + +m[2]);
  }
  return [...out].sort((a, b) => a - b);
}

/** The next local time after `now` that matches one of `times` (minutes after midnight). */
export function nextRun(times: number[], now = new Date()): Date | undefined {
  if (!times.length) return undefined;
  for (let day = 0; day < 2; day++) {
    for (const t of times) {
      const d = new Date(now.getFullYear(), now.getMonth(), now.getDate() + day, Math.floor(t / 60), t % 60, 0, 0);
      if (d.getTime() > now.getTime()) return d;
    }
  }
  return undefined;
}

/**
 * The longest gap between two consecutive scheduled times (wrapping over midnight), in milliseconds.
 * A local backup older than this plus a grace period is overdue.
 */
export function longestGapMs(times: number[]): number {
  if (!times.length) return 24 * 3600_000;
  let gap = 0;
  for (let i = 0; i < times.length; i++) {
    const next = i + 1 < times.length ? times[i + 1] : times[0] + 24 * 60;
    gap = Math.max(gap, next - times[i]);
  }
  return gap * 60_000;
}
