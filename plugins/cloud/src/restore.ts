/**
 * Getting a copy back: download it, decrypt it as a stream with the identity the technician pastes in
 * (held in memory for this one call, never stored), and check it against the SHA-256 recorded at upload.
 * The result is a plain backup .gz that the backup plugin verifies and restores like a local one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Decrypter } from 'age-encryption';
import { UserError } from 'kassenwart/sdk';
import { translateS3Error } from './errors.js';
import { copyKey } from './names.js';
import type { CloudSettings } from './settings.js';

/** A decrypter for a pasted identity (one or more AGE-SECRET-KEY-1… lines; comments allowed). */
export function decrypterFor(identityText: string): Decrypter {
  const keys = identityText.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!keys.length || keys.some((k) => !/^AGE-SECRET-KEY-1[0-9A-Z]+$/.test(k))) {
    throw new UserError('Der eingegebene Schlüssel ist kein age-Identitätsschlüssel. Erwartet wird der geheime Schlüssel, der mit „AGE-SECRET-KEY-1“ beginnt (Zeilen mit # werden ignoriert).', {
      code: 'cloud.identity-format', hint: 'Bitte den geheimen Schlüssel vollständig aus der Schlüsseldatei des Herstellers einfügen.',
    });
  }
  const d = new Decrypter();
  try {
    for (const k of keys) d.addIdentity(k);
  } catch (e) {
    throw new UserError('Der eingegebene age-Identitätsschlüssel ist unvollständig oder vertippt (Prüfsumme stimmt nicht).', { code: 'cloud.identity-format', cause: e });
  }
  return d;
}

function decryptError(e: unknown): unknown {
  const msg = e instanceof Error ? e.message : String(e);
  if (/no identity matched|identity/i.test(msg)) {
    return new UserError('Diese Kopie lässt sich mit dem eingegebenen Schlüssel nicht entschlüsseln: sie wurde für einen anderen Schlüssel verschlüsselt.', {
      code: 'cloud.wrong-identity', hint: 'Bitte den geheimen Schlüssel verwenden, dessen öffentlicher Schlüssel (age1…) in den Einstellungen der Cloud-Kasse eingetragen war.',
    });
  }
  if (/invalid|tag|header|decrypt|stream/i.test(msg)) {
    return new UserError('Die Kopie ist beschädigt: sie lässt sich nicht vollständig entschlüsseln.', { code: 'cloud.corrupt', hint: 'Bitte eine ältere Kopie wählen.' });
  }
  return e;
}

/** What fetchCopy produced. */
export interface FetchedCopy {
  /** Where the file is (decrypted .gz, or the encrypted .age when no identity was given). */
  path: string;
  /** Bytes written. */
  bytes: number;
  /** SHA-256 of the .gz as recorded at upload (from the object's metadata), when present. */
  expectSha256?: string;
}

/**
 * Downloads the copy `name` to `dest` (temp name, fsync, rename): decrypted when a decrypter is given, then
 * checked against the recorded SHA-256. `progress` gets downloaded bytes and the total.
 */
export async function fetchCopy(opts: {
  client: S3Client; settings: CloudSettings; name: string; dest: string; decrypter?: Decrypter; signal?: AbortSignal;
  progress?(bytesDone: number, total: number): void;
}): Promise<FetchedCopy> {
  const { client, settings: s, name, dest } = opts;
  const tmp = join(dirname(dest), `.tmp-${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    let obj;
    try {
      obj = await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: copyKey(s.prefix, name.replace(/\.age$/, '')) }), { abortSignal: opts.signal });
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') throw new UserError(`Die Kopie ${name} gibt es im Cloud-Speicher nicht (mehr).`, { code: 'cloud.no-copy', status: 404 });
      throw translateS3Error(e, { endpoint: s.endpoint, bucket: s.bucket });
    }
    const total = obj.ContentLength ?? 0;
    const expectSha256 = obj.Metadata?.['kw-sha256'];
    let done = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) { done += chunk.length; opts.progress?.(done, total); cb(null, chunk); },
    });
    const body = obj.Body as Readable;
    const hash = createHash('sha256');
    let bytes = 0;
    const hasher = new Transform({ transform(chunk: Buffer, _e, cb) { hash.update(chunk); bytes += chunk.length; cb(null, chunk); } });
    const out = createWriteStream(tmp, { mode: 0o600, flush: true });
    try {
      if (opts.decrypter) {
        const web = Readable.toWeb(body.pipe(counter)) as unknown as ReadableStream<Uint8Array>;
        const plain = Readable.fromWeb((await opts.decrypter.decrypt(web)) as unknown as WebReadableStream<Uint8Array>);
        await pipeline(plain, hasher, out, { signal: opts.signal });
      } else {
        await pipeline(body, counter, hasher, out, { signal: opts.signal });
      }
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      if (opts.decrypter) throw decryptError(e);
      throw translateS3Error(e, { endpoint: s.endpoint, bucket: s.bucket });
    }
    if (opts.decrypter && expectSha256 && hash.digest('hex') !== expectSha256) {
      throw new UserError('Die entschlüsselte Kopie weicht von der hochgeladenen Sicherung ab (Prüfsumme stimmt nicht).', { code: 'cloud.corrupt', hint: 'Bitte eine ältere Kopie wählen.' });
    }
    await rename(tmp, dest);
    return { path: dest, bytes, expectSha256 };
  } finally {
    await rm(tmp, { force: true });
  }
}
