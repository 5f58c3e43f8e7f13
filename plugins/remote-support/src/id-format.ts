/**
 * Formatting of RustDesk IDs for reading over the phone. Browser-safe (no Node imports): used by the
 * plugin and by its panel.
 */

/**
 * Groups a numeric RustDesk ID in threes from the right ("123456789" → "123 456 789",
 * "1234567890" → "1 234 567 890"), as RustDesk itself shows it. Custom (alphanumeric) IDs stay as they are.
 */
export function formatRustDeskId(id: string): string {
  const t = id.trim();
  if (!/^\d+$/.test(t)) return t;
  return t.replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
}

/** A RustDesk ID as `--get-id` prints it: digits, or a custom ID of letters, digits, "-" and "_". */
export const RUSTDESK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{5,31}$/;
