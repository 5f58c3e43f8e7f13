/** German number formatting for messages. */

const nf = new Intl.NumberFormat('de-DE', { maximumFractionDigits: 1 });

/** Bytes in decimal units as printed on sticks: "512 Byte", "12,3 MB", "4,3 GB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} Byte`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = -1;
  do { v /= 1000; i++; } while (v >= 1000 && i < units.length - 1);
  return `${nf.format(v)} ${units[i]}`;
}
