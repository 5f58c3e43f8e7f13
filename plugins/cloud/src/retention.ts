/**
 * Retention on the store: the SDK's grandfather-father-son rule (as for the local folder), where the newest copy
 * and the newest verified copy are always kept. Pure; the caller deletes.
 */
import { retentionDeletions, type RetentionCopy, type RetentionPolicy } from 'kassenwart/sdk';

export type { RetentionPolicy } from 'kassenwart/sdk';
/** One copy as retention sees it. */
export type RetentionItem = RetentionCopy;

/** The names to delete. `newestVerified` (the last copy whose HEAD matched) is never among them. */
export function selectForDeletion(items: RetentionItem[], policy: RetentionPolicy, newestVerified?: string): string[] {
  const newest = [...items].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime())[0];
  return retentionDeletions(items, policy, { protect: [newestVerified, newest?.name] });
}
