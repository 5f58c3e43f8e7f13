/**
 * The S3 client as the cloud plugin uses it: path-style or virtual-host addressing from the settings, short
 * connection timeouts (an offline salon must not hang a job), checksums only where S3 requires them (many
 * S3-compatible servers refuse the SDK's newer CRC headers), and a Content-MD5 on every PutObject and
 * UploadPart, so the store itself refuses a part that arrived damaged (BadDigest).
 */
import { createHash } from 'node:crypto';
import { GetObjectLockConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import type { CloudSettings } from './settings.js';

/** MD5 of each uploaded part, by part number (0 for a single PutObject), collected by the middleware. */
export type PartDigests = Map<number, Buffer>;

/** A client for the settings; `digests`, when given, collects the MD5 of every body sent. */
export function createClient(s: CloudSettings, digests?: PartDigests): S3Client {
  const client = new S3Client({
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    credentials: { accessKeyId: s.accessKeyId, secretAccessKey: s.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 5000, requestTimeout: s.timeoutSeconds * 1000 },
  });
  client.middlewareStack.add((next, context) => async (args) => {
    const cmd = (context as { commandName?: string }).commandName;
    const req = args.request as { headers?: Record<string, string>; body?: unknown };
    if ((cmd === 'UploadPartCommand' || cmd === 'PutObjectCommand') && req.headers && (req.body instanceof Uint8Array || typeof req.body === 'string')) {
      const md5 = createHash('md5').update(req.body).digest();
      req.headers['content-md5'] = md5.toString('base64');
      const part = Number((args.input as { PartNumber?: number }).PartNumber ?? 0);
      digests?.set(part, md5);
    }
    return next(args);
  }, { step: 'build', name: 'kassenwartContentMd5', priority: 'low' });
  return client;
}

/** The ETag S3 gives a multipart object: MD5 of the parts' MD5s, a dash, the number of parts. */
export function multipartEtag(digests: PartDigests): string {
  const parts = [...digests.entries()].filter(([n]) => n > 0).sort((a, b) => a[0] - b[0]).map(([, d]) => d);
  return `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
}

/** True when the bucket has Object Lock enabled (false when it has none or the store does not know it). */
export async function objectLockEnabled(client: S3Client, bucket: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const r = await client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }), { abortSignal: signal });
    return r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
  } catch (e) {
    const x = e as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (x.name === 'ObjectLockConfigurationNotFoundError' || x.$metadata?.httpStatusCode === 404 || x.$metadata?.httpStatusCode === 501 || x.$metadata?.httpStatusCode === 400) return false;
    throw e;
  }
}
