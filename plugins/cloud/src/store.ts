/** The copies in the bucket: list them (newest first) and apply retention. */
import { DeleteObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { COPY_NAME, dateOfCopy } from './names.js';
import { selectForDeletion } from './retention.js';
import type { CloudSettings } from './settings.js';

/** A copy in the bucket. */
export interface CloudCopy {
  /** File name, e.g. "kasse-2026-11-29_07-00-00.sqlite.gz.age". */
  name: string;
  key: string;
  /** Encrypted size in bytes. */
  size: number;
  /** When the backup was taken (from its name). */
  createdAt: string;
  /** When the store received it. */
  uploadedAt?: string;
}

/** Every copy under the salon's prefix, newest first (other objects there are ignored). */
export async function listCopies(client: S3Client, s: CloudSettings, signal?: AbortSignal): Promise<CloudCopy[]> {
  const out: CloudCopy[] = [];
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: `${s.prefix}/`, ContinuationToken: token }), { abortSignal: signal });
    for (const o of r.Contents ?? []) {
      const name = (o.Key ?? '').slice(s.prefix.length + 1);
      const at = COPY_NAME.test(name) ? dateOfCopy(name) : undefined;
      if (!at || name.includes('/')) continue;
      out.push({ name, key: o.Key!, size: o.Size ?? 0, createdAt: at.toISOString(), uploadedAt: o.LastModified?.toISOString() });
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
}

/** Result of one retention pass. */
export interface PruneResult {
  deleted: string[];
  /** Copies retention wanted to delete but the store refused (Object Lock still running). */
  locked: string[];
}

/** Deletes what retention does not keep; never the newest verified copy. */
export async function pruneCopies(client: S3Client, s: CloudSettings, newestVerified: string | undefined, signal?: AbortSignal): Promise<PruneResult> {
  const copies = await listCopies(client, s, signal);
  const del = selectForDeletion(copies.map((c) => ({ name: c.name, createdAt: new Date(c.createdAt) })),
    { daily: s.retainDaily, weekly: s.retainWeekly, monthly: s.retainMonthly }, newestVerified);
  const result: PruneResult = { deleted: [], locked: [] };
  for (const name of del) {
    try {
      await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: `${s.prefix}/${name}` }), { abortSignal: signal });
      result.deleted.push(name);
    } catch (e) {
      const st = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (st === 403) result.locked.push(name); else throw e;
    }
  }
  return result;
}
