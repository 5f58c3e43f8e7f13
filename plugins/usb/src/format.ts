/** German number formatting for messages. */

/** Bytes in decimal units as printed on sticks: "512 Byte", "12,3 MB", "4,3 GB" (the SDK's one formatter). */
export { formatBytes } from 'kassenwart/sdk';
