/**
 * One off-site copy: the local .gz is read as a stream, encrypted as a stream in the age format to every
 * recipient (never the whole backup in memory; age-stream.ts), and uploaded with the SDK's multipart helper, each part with
 * a Content-MD5. The copy counts as sent only when a HEAD afterwards shows the expected size, the expected
 * multipart ETag (where the store uses the usual MD5-of-MD5s form) and our SHA-256 metadata. An interrupted
 * multipart upload is aborted (and `abortOrphans` removes any the network kept us from aborting), so no
 * partial object ever appears under the final key.
 */
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { AbortMultipartUploadCommand, DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { encryptFileStream } from './age-stream.js';
import { UserError } from 'kassenwart/sdk';
import type { BackupFile } from 'kassenwart/plugins/backup/api';
import { createClient, multipartEtag, objectLockEnabled, type PartDigests } from './s3.js';
import { translateS3Error } from './errors.js';
import { copyKey } from './names.js';
import type { CloudSettings } from './settings.js';

/** Size of one multipart part (the store verifies each with its Content-MD5). */
export const PART_SIZE = 8 * 1024 * 1024;

/** What `uploadCopy` needs. */
export interface UploadRequest {
  settings: CloudSettings;
  file: BackupFile;
  signal: AbortSignal;
  /** Bytes of the local file done so far (plain-text scale, so it matches `file.size`). */
  progress(bytesDone: number): void;
  log(message: string): void;
}

/** A copy that the store confirmed. */
export interface UploadedCopy {
  key: string;
  /** Encrypted size, as the HEAD reported it. */
  bytes: number;
  etag: string;
  /** Object Lock retention until (ISO), when the bucket has Object Lock. */
  lockedUntil?: string;
}

/** The encrypting stream of a local file (age format, see age-stream.ts) and its exact encrypted size. */
export function encryptFile(path: string, size: number, recipients: string[]): Promise<{ stream: Readable; size: number }> {
  return encryptFileStream(path, size, recipients);
}

async function abortQuietly(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(10_000) });
  } catch { /* unreachable now: abortOrphans() removes it later */ }
}

/** Encrypts and uploads one backup; see the module comment. Throws a German UserError. */
export async function uploadCopy(req: UploadRequest): Promise<UploadedCopy> {
  const { settings: s, file } = req;
  const where = { endpoint: s.endpoint, bucket: s.bucket };
  try {
    await stat(file.path);
  } catch (e) {
    throw new UserError(`Die lokale Sicherung ${file.name} ist nicht mehr vorhanden (inzwischen gelöscht).`, { code: 'cloud.local-missing', cause: e });
  }
  const digests: PartDigests = new Map();
  const client = createClient(s, digests);
  const key = copyKey(s.prefix, file.name);
  try {
    const lock = s.objectLockDays > 0 && await objectLockEnabled(client, s.bucket, req.signal);
    const lockedUntil = lock ? new Date(Date.now() + s.objectLockDays * 86400_000) : undefined;
    const { stream, size } = await encryptFile(file.path, file.size, s.recipients);
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    req.signal.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client,
      params: {
        Bucket: s.bucket, Key: key, Body: stream, ContentLength: size, ContentType: 'application/octet-stream',
        Metadata: { 'kw-sha256': file.sha256, 'kw-size': String(file.size), 'kw-created': file.createdAt, 'kw-format': 'age+gzip+sqlite' },
        ...(lockedUntil ? { ObjectLockMode: s.objectLockMode, ObjectLockRetainUntilDate: lockedUntil } : {}),
      },
      partSize: PART_SIZE, queueSize: 4, leavePartsOnError: true, abortController: ac,
    });
    upload.on('httpUploadProgress', (p) => req.progress(Math.min(file.size, Math.round(((p.loaded ?? 0) * file.size) / Math.max(1, size)))));
    try {
      await upload.done();
    } catch (e) {
      stream.destroy();
      if (upload.uploadId) await abortQuietly(client, s.bucket, key, upload.uploadId);
      throw e;
    } finally {
      req.signal.removeEventListener('abort', onAbort);
    }
    const head = await client.send(new HeadObjectCommand({ Bucket: s.bucket, Key: key }), { abortSignal: req.signal });
    const etag = String(head.ETag ?? '').replace(/"/g, '');
    const problems: string[] = [];
    if (head.ContentLength !== size) problems.push(`Größe ${head.ContentLength ?? '–'} statt ${size} Byte`);
    if (head.Metadata?.['kw-sha256'] !== file.sha256) problems.push('Prüfsumme (SHA-256) in den Metadaten fehlt oder weicht ab');
    const multipart = [...digests.keys()].some((n) => n > 0);
    if (multipart && /^[0-9a-f]{32}-\d+$/.test(etag) && etag !== multipartEtag(digests)) problems.push('ETag der Teile stimmt nicht');
    if (!multipart && /^[0-9a-f]{32}$/.test(etag) && digests.get(0) && etag !== digests.get(0)!.toString('hex')) problems.push('MD5 stimmt nicht');
    if (problems.length) {
      if (!lock) await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: key })).catch(() => undefined);
      throw new UserError(`Die Kopie im Cloud-Speicher ist nicht vollständig angekommen (${problems.join('; ')}) und zählt nicht als gesendet.`, {
        code: 'cloud.bad-digest', hint: 'Die Übertragung wird automatisch wiederholt.',
      });
    }
    req.log(`Kopie geprüft: ${key}, ${size} Byte, ETag ${etag || '–'}${lockedUntil ? `, gesperrt bis ${lockedUntil.toISOString().slice(0, 10)}` : ''}.`);
    return { key, bytes: size, etag, lockedUntil: lockedUntil?.toISOString() };
  } catch (e) {
    if (req.signal.aborted) throw e;
    throw translateS3Error(e, where);
  } finally {
    client.destroy();
  }
}

/** Lists unfinished multipart uploads under the salon's prefix. */
export async function listOrphans(client: S3Client, s: CloudSettings, signal?: AbortSignal): Promise<{ key: string; uploadId: string; initiated?: string }[]> {
  const out: { key: string; uploadId: string; initiated?: string }[] = [];
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const r = await client.send(new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: `${s.prefix}/`, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }), { abortSignal: signal });
    for (const u of r.Uploads ?? []) if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated?.toISOString() });
    if (!r.IsTruncated) return out;
    keyMarker = r.NextKeyMarker;
    uploadIdMarker = r.NextUploadIdMarker;
  }
}

/** Aborts every unfinished multipart upload under the prefix (call only while no upload of ours runs). */
export async function abortOrphans(client: S3Client, s: CloudSettings, signal?: AbortSignal): Promise<string[]> {
  const orphans = await listOrphans(client, s, signal);
  for (const o of orphans) await client.send(new AbortMultipartUploadCommand({ Bucket: s.bucket, Key: o.key, UploadId: o.uploadId }), { abortSignal: signal });
  return orphans.map((o) => o.key);
}
