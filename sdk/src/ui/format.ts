/**
 * Sizes for people, in ONE unit system everywhere (panels, job results, CLI): decimal units, 1 MB = 10^6 bytes,
 * as printed on USB sticks and by the storage providers; German number format with one decimal ("4,9 MB").
 * Pure code (no DOM, no Node): panels import it from `kassenwart/sdk/ui`, server code from `kassenwart/sdk`.
 */

const one = new Intl.NumberFormat('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const UNITS = ['kB', 'MB', 'GB', 'TB'] as const;

/** Bytes in the largest fitting decimal unit: "512 Byte", "12,3 kB", "4,9 MB", "1,2 GB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  if (bytes < 1000) return `${Math.round(bytes)} Byte`;
  let v = bytes / 1000;
  let i = 0;
  // 999 960 bytes read "1,0 MB", not "1.000,0 kB" (one decimal rounds up from 999.95).
  while (v >= 999.95 && i < UNITS.length - 1) { v /= 1000; i++; }
  return `${one.format(v)} ${UNITS[i]}`;
}

/** Bytes as a number of MB without the unit ("4,9"), for "4,9 von 12,0 MB übertragen". */
export function formatMegabytes(bytes: number): string {
  return one.format(Math.max(0, bytes) / 1e6);
}
