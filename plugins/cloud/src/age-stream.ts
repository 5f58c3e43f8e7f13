/**
 * age encryption of a large file as a stream, fast: the header (file key wrapped for every X25519 recipient,
 * header MAC) comes from the `age-encryption` package; the payload — age's STREAM construction, 64 KiB chunks
 * of ChaCha20-Poly1305 with an 11-byte big-endian counter and a last-chunk flag as nonce — is encrypted with
 * Node's OpenSSL ChaCha20-Poly1305 instead of the package's pure-JavaScript cipher (which managed 13–70 MB/s
 * on these machines and made the encryption the bottleneck of an upload). The output is the standard format:
 * Debian's `age -d` and the package's Decrypter read it (see test/cloud).
 */
import { createCipheriv, hkdfSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { Encrypter, type Recipient } from 'age-encryption';

const CHUNK = 64 * 1024;
const TAG = 16;

/** Exact size of the encrypted file for `size` plain bytes and `headerBytes` of header and payload nonce. */
export function encryptedSize(size: number, headerBytes: number): number {
  const chunks = Math.max(1, Math.ceil(size / CHUNK));
  return headerBytes + size + chunks * TAG;
}

/** The age header for the recipients, and the payload key (derived from the file key and a fresh nonce). */
async function header(recipients: string[]): Promise<{ head: Uint8Array; streamKey: Buffer }> {
  let fileKey: Uint8Array | undefined;
  // A recipient that adds no stanza but sees the file key the package generated (the Recipient interface).
  const capture: Recipient = { wrapFileKey(k: Uint8Array) { fileKey = new Uint8Array(k); return []; } };
  const enc = new Encrypter();
  for (const r of recipients) enc.addRecipient(r);
  enc.addRecipient(capture);
  // An empty file: header, 16-byte payload nonce, one empty final chunk (its 16-byte tag).
  const empty = await enc.encrypt(new Uint8Array(0));
  if (!fileKey) throw new Error('age header without file key');
  const nonce = empty.subarray(empty.length - 32, empty.length - 16);
  const streamKey = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  fileKey.fill(0);
  return { head: empty.subarray(0, empty.length - 16), streamKey };
}

function sealChunk(key: Buffer, counter: number, last: boolean, plain: Buffer): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6); // 11-byte counter; 2^48 chunks (16 EiB) are plenty
  nonce[11] = last ? 1 : 0;
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG });
  const out = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  return out;
}

/** Encrypts the file at `path` (of `size` bytes; it must not change meanwhile) as a stream. */
export async function encryptFileStream(path: string, size: number, recipients: string[]): Promise<{ stream: Readable; size: number }> {
  const { head, streamKey } = await header(recipients);
  const chunks = Math.max(1, Math.ceil(size / CHUNK));
  async function* generate(): AsyncGenerator<Buffer> {
    yield Buffer.from(head);
    let index = 0;
    let seen = 0;
    let pending: Buffer = Buffer.alloc(0);
    for await (const data of createReadStream(path, { highWaterMark: 16 * CHUNK })) {
      pending = pending.length ? Buffer.concat([pending, data as Buffer]) : (data as Buffer);
      seen += (data as Buffer).length;
      if (seen > size) throw new Error('the file grew while it was encrypted');
      const out: Buffer[] = [];
      while (pending.length >= CHUNK && (index < chunks - 1 || pending.length === CHUNK && seen === size)) {
        out.push(sealChunk(streamKey, index, index === chunks - 1, pending.subarray(0, CHUNK)));
        pending = pending.subarray(CHUNK);
        index++;
      }
      if (out.length) yield Buffer.concat(out);
    }
    if (seen !== size) throw new Error('the file changed size while it was encrypted');
    if (index < chunks) yield sealChunk(streamKey, index, true, pending);
    else if (pending.length) throw new Error('unexpected trailing bytes');
  }
  return { stream: Readable.from(generate(), { objectMode: false }), size: encryptedSize(size, head.length) };
}
