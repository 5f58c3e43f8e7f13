/**
 * Retention of local backups: the SDK's grandfather-father-son rule where only verified backups fill the
 * day/week/month slots and the newest verified backup is always kept. Pure function; the caller deletes.
 */
import { retentionDeletions, type RetentionPolicy } from 'kassenwart/sdk';

export { isoWeekKey, type RetentionPolicy } from 'kassenwart/sdk';

/** One backup as retention sees it. */
export interface RetentionItem {
  name: string;
  createdAt: Date;
  verified: boolean;
}

/** Returns the names to delete (never the newest verified one). Input order does not matter. */
export function selectForDeletion(items: RetentionItem[], policy: RetentionPolicy): string[] {
  const newestVerified = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime()).find((i) => i.verified);
  return retentionDeletions(items, policy, { counts: (i) => i.verified, protect: [newestVerified?.name] });
}
