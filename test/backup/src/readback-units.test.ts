/**
 * The read-back of a .gz while the compressor writes it (verify.ts: followGzipFile), in the test process:
 * "Datensicherung" counts a backup as verified only when the file on disk, read back as it grows, gunzips to
 * exactly what the compressor read, member by member. Each test writes the file the way the pipeline does (the
 * real parallel compressor, or members built here) and tells the follower what was written, in the steps
 * and the order a writer would, or in ways a broken writer or a changed file would. The whole pipeline with
 * the register stand-in committing is create.test.ts; these are the read-back's own rules.
 */
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { gzipParallel } from '../../../plugins/backup/dist/src/gzip.js';
import { followGzipFile, type GzipFollower } from '../../../plugins/backup/dist/src/verify.js';
import { rejection } from '../../support/dist/rejection.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The 256 KiB the read-back reads at most at once (verify.ts); a member's trailer can straddle two reads. */
const PIECE = 256 * 1024;

/** A gzip member's 8-byte trailer: CRC-32 and length of its input (what the compressor reports). */
const trailerOf = (member: Buffer) => member.subarray(member.length - 8);

/** One gzip member of incompressible bytes whose size is exactly `size` (stored blocks, level 0). */
function memberOfSize(size: number, seed: number): { member: Buffer; raw: Buffer } {
  const pool = Buffer.alloc(size);
  const rnd = createHash('sha256').update(String(seed)).digest();
  for (let i = 0; i < size; i++) pool[i] = rnd[i % 32] ^ ((i * 131) >> 3) & 0xff;
  // each step corrects the length by what the stored blocks' overhead left over
  let len = size - 18;
  for (let tries = 0; tries < 50 && len > 0; tries++) {
    const raw = pool.subarray(0, len);
    const member = zlib.gzipSync(raw, { level: 0 });
    if (member.length === size) return { member, raw: Buffer.from(raw) };
    len -= member.length > size ? Math.max(1, Math.floor((member.length - size) / 2)) : -1;
  }
  throw new Error(`no stored gzip member of exactly ${size} bytes`);
}

/** Reads the follower's decoded output (onRaw) into one buffer. */
function collecting() {
  const chunks: Buffer[] = [];
  return { onRaw: (c: Buffer) => { chunks.push(Buffer.from(c)); }, bytes: () => Buffer.concat(chunks) };
}

describe('backup: the read-back of a .gz while it is written (in-process)', function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => { dir = await tempDir('kw-readback-'); });
  after(async () => { await removeDir(dir); });

  it('follows a file that grows in small steps (started before it exists): the exact bytes, their digest and every member', async () => {
    // members of the real compressor, written here a few hundred bytes at a time, each step announced
    const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(700_000, 'Haarschnitt ')]);
    const whole = join(dir, 'whole.gz');
    const trailers: Array<[number, Buffer]> = [];
    const input = await open(await (async () => { await writeFile(join(dir, 'in.bin'), data); return join(dir, 'in.bin'); })(), 'r');
    const output = await open(whole, 'w');
    await gzipParallel(input, output, { chunkSize: 128 * 1024, hash: false, onProgress: (_r, gz, t) => trailers.push([gz, t]) });
    await input.close(); await output.close();
    const gz = await readFile(whole);
    expect(trailers.length).to.equal(8);

    const path = join(dir, 'growing.gz');
    const out = collecting();
    const f = followGzipFile(path, undefined, out.onRaw);
    await writeFile(path, Buffer.alloc(0));
    let at = 0;
    const STEP = 997; // not a divisor of anything: member ends and steps never line up by chance
    while (at < gz.length) {
      const next = Math.min(gz.length, at + STEP);
      await appendFile(path, gz.subarray(at, next));
      // the trailer of each member whose end this step reached, then how far the file is written
      for (const [end, t] of trailers) if (end > at && end <= next) f.written(end, t);
      f.written(next);
      at = next;
      if (at % (STEP * 50) < STEP) await new Promise((r) => setTimeout(r, 2)); // let the reader catch up now and then
    }
    const d = await f.end();
    expect(d).to.deep.equal({ gzSha256: sha(gz), rawBytes: data.length, members: 8 });
    expect(out.bytes().equals(data), 'the decoded bytes are the input, in order').to.equal(true);
  });

  it("a member's trailer that straddles two reads (a member one read and 3 bytes long) is still recognised", async () => {
    const a = memberOfSize(PIECE + 3, 1);
    const b = memberOfSize(5000, 2);
    const gz = Buffer.concat([a.member, b.member]);
    const path = join(dir, 'straddle.gz');
    await writeFile(path, gz);
    const out = collecting();
    const f = followGzipFile(path, undefined, out.onRaw);
    f.written(a.member.length, trailerOf(a.member));
    f.written(gz.length, trailerOf(b.member));
    const d = await f.end();
    expect(d).to.deep.equal({ gzSha256: sha(gz), rawBytes: a.raw.length + b.raw.length, members: 2 });
    expect(out.bytes().equals(Buffer.concat([a.raw, b.raw]))).to.equal(true);
  });

  it('refuses a member whose trailer is not the one reported for that place (same length, other content)', async () => {
    const a = memberOfSize(9000, 3);
    const b = memberOfSize(9000, 4);
    const path = join(dir, 'other.gz');
    await writeFile(path, Buffer.concat([b.member, a.member]));
    const f = followGzipFile(path);
    // the compressor reported A first, B second; the file holds B first (each one gunzips fine)
    f.written(9000, trailerOf(a.member));
    f.written(18000, trailerOf(b.member));
    const e = await rejection(f.end());
    expect([e.name, e.code, e.message]).to.deep.equal(['UserError', 'backup.verify', 'Die Sicherungsdatei weicht vom gelesenen Datenbankstand ab (ein Block passt nicht).']);
  });

  it('refuses member ends that do not fall where the file has them: a reported end in the middle of a member, and ends reported out of order', async () => {
    const a = memberOfSize(9000, 5);
    const b = memberOfSize(7000, 6);
    const gz = Buffer.concat([a.member, b.member]);
    const path = join(dir, 'ends.gz');
    await writeFile(path, gz);
    // the right trailer, but at a place 100 bytes early
    const early = followGzipFile(path);
    early.written(8900, trailerOf(a.member));
    early.written(gz.length, trailerOf(b.member));
    const e1 = await rejection(early.end());
    expect(e1.code).to.equal('backup.verify');
    expect(e1.message).to.match(/ein Block passt nicht/);
    // the second member reported before the first: once the first is read, the second's end lies behind
    const swapped = followGzipFile(path);
    swapped.written(gz.length, trailerOf(b.member));
    swapped.written(a.member.length, trailerOf(a.member));
    const e2 = await rejection(swapped.end());
    expect(e2.code).to.equal('backup.verify');
    expect(e2.message).to.match(/ein Block passt nicht/);
    // the same file, reported in order, passes (the refusals above were the order)
    const right = followGzipFile(path);
    right.written(a.member.length, trailerOf(a.member));
    right.written(gz.length, trailerOf(b.member));
    expect((await right.end()).members).to.equal(2);
  });

  it('a member the writer reports only after the read-back has passed its end (and nothing follows) leaves the file incomplete', async () => {
    const a = memberOfSize(9000, 7);
    const path = join(dir, 'late.gz');
    await writeFile(path, a.member);
    const out = collecting();
    const f = followGzipFile(path, undefined, out.onRaw);
    f.written(a.member.length);
    for (let i = 0; i < 500 && out.bytes().length < a.raw.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(out.bytes().length, 'everything written was read back').to.equal(a.raw.length);
    f.written(a.member.length, trailerOf(a.member));
    const e = await rejection(f.end());
    expect([e.code, e.message]).to.deep.equal(['backup.verify', 'Die Sicherungsdatei ist unvollständig.']);
  });

  it('refuses a file that is shorter than the writer said (cut off on disk), and one written but empty', async () => {
    const gz = zlib.gzipSync(randomBytes(50_000));
    const path = join(dir, 'short.gz');
    await writeFile(path, gz.subarray(0, 30_000));
    const f = followGzipFile(path);
    f.written(gz.length, trailerOf(gz));
    const e = await rejection(f.end());
    expect([e.name, e.code, e.message]).to.deep.equal(['UserError', 'backup.verify', 'Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).']);
    expect(String(e.cause?.message)).to.include('shorter than written');
    // nothing written at all is no backup either: gunzip finds no member
    await writeFile(path, Buffer.alloc(0));
    const g = followGzipFile(path);
    const e2 = await rejection(g.end());
    expect(e2.code).to.equal('backup.verify');
  });

  it('a file that does not exist is "beschädigt", not a crash', async () => {
    const f = followGzipFile(join(dir, 'missing.gz'));
    f.written(100);
    const e = await rejection(f.end());
    expect([e.name, e.code]).to.deep.equal(['UserError', 'backup.verify']);
    expect(e.cause?.code).to.equal('ENOENT');
  });

  it("the decoded bytes' consumer: it is awaited before the next piece, a full disk there is reported as such, any other failure as a damaged file", async () => {
    const data = Buffer.concat([randomBytes(400_000), Buffer.alloc(900_000, 'Farbe ')]);
    const gz = zlib.gzipSync(data);
    const path = join(dir, 'consumer.gz');
    await writeFile(path, gz);
    // a slow consumer: the follower must wait for it (the chunk it got is only valid until the next call)
    let busy = false;
    let overlapped = false;
    let copied = Buffer.alloc(0);
    const slow = followGzipFile(path, undefined, async (c) => {
      if (busy) overlapped = true;
      busy = true;
      const keep = Buffer.from(c);
      await new Promise((r) => setTimeout(r, 1));
      if (!keep.equals(c)) overlapped = true; // the view changed under the consumer
      copied = Buffer.concat([copied, keep]);
      busy = false;
    });
    slow.written(gz.length);
    expect((await slow.end()).rawBytes).to.equal(data.length);
    expect(overlapped).to.equal(false);
    expect(copied.equals(data)).to.equal(true);

    const failing = (err: Error) => {
      const f = followGzipFile(path, undefined, async () => { throw err; });
      f.written(gz.length);
      return rejection(f.end());
    };
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(await failing(full), 'a full disk is passed on as it is (the caller says "zu wenig Platz")').to.equal(full);
    const other = await failing(new Error('EIO'));
    expect([other.name, other.code, other.message]).to.deep.equal(['UserError', 'backup.verify', 'Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).']);
    expect(other.cause?.message).to.equal('EIO');
  });

  it('cancelled through its signal or cancel(), while waiting for the writer or while reading: a cancellation, not a damaged file', async () => {
    const gz = zlib.gzipSync(randomBytes(3 * 1024 * 1024));
    const path = join(dir, 'cancel.gz');
    await writeFile(path, gz);
    const outcome = async (f: GzipFollower) => { const e = await rejection(f.end()); return [e.name, e.message]; };
    const cancelled = ['CancelledError', 'Abgebrochen.'];

    // waiting for the writer, then the job is cancelled
    const c1 = new AbortController();
    const waiting = followGzipFile(path, c1.signal);
    waiting.written(1000);
    await new Promise((r) => setTimeout(r, 20));
    c1.abort();
    expect(await outcome(waiting)).to.deep.equal(cancelled);

    // reading (the consumer cancels the job after the first decoded chunk)
    const c2 = new AbortController();
    let chunks = 0;
    const reading = followGzipFile(path, c2.signal, () => { if (++chunks === 1) c2.abort(); });
    reading.written(gz.length);
    expect(await outcome(reading)).to.deep.equal(cancelled);
    expect(chunks, 'it stopped soon after the cancel').to.be.below(4);

    // the pipeline stops the follower itself (cancel()), without a job signal, and with one that stays unaborted
    for (const signal of [undefined, new AbortController().signal]) {
      let n = 0;
      const stopped: GzipFollower = followGzipFile(path, signal, () => { if (++n === 1) stopped.cancel(); });
      stopped.written(gz.length);
      expect(await outcome(stopped)).to.deep.equal(cancelled);
      stopped.cancel(); // idempotent
    }
  });

  describe('on a Node without the zlib internal the sync engine uses (the stream fallback)', () => {
    // zlib-engine.ts drives ZlibBase.prototype._processChunk; where that is missing (another Node) the read-back
    // falls back to a gunzip stream. Hidden here only while the follower is made, as on such a Node.
    const withoutInternal = (make: () => GzipFollower): GzipFollower => {
      let proto: any = Object.getPrototypeOf(zlib.createGunzip());
      while (proto && !Object.prototype.hasOwnProperty.call(proto, '_processChunk')) proto = Object.getPrototypeOf(proto);
      expect(proto, 'the internal exists on this Node').to.not.equal(null);
      const saved = proto._processChunk;
      proto._processChunk = undefined;
      try { return make(); } finally { proto._processChunk = saved; }
    };

    it('the same digest, decoded bytes and members, and the same refusals of a cut-off file, a flipped byte and a wrong member', async () => {
      const data = Buffer.concat([randomBytes(600_000), Buffer.alloc(1_500_000, 'Dauerwelle ')]);
      const m1 = zlib.gzipSync(data.subarray(0, 1_000_000));
      const m2 = zlib.gzipSync(data.subarray(1_000_000));
      const gz = Buffer.concat([m1, m2]);
      const path = join(dir, 'fallback.gz');
      await writeFile(path, gz);
      const out = collecting();
      const f = withoutInternal(() => followGzipFile(path, undefined, out.onRaw));
      f.written(m1.length, trailerOf(m1));
      f.written(gz.length, trailerOf(m2));
      expect(await f.end()).to.deep.equal({ gzSha256: sha(gz), rawBytes: data.length, members: 2 });
      expect(out.bytes().equals(data)).to.equal(true);

      const refused = async (bytes: Buffer, trailers: Array<[number, Buffer]> = []) => {
        await writeFile(path, bytes);
        const g = withoutInternal(() => followGzipFile(path));
        for (const [end, t] of trailers) g.written(end, t);
        g.written(bytes.length);
        return rejection(g.end());
      };
      const cut = await refused(gz.subarray(0, gz.length - 500));
      expect([cut.code, cut.message]).to.deep.equal(['backup.verify', 'Die Sicherungsdatei ist beschädigt (nicht lesbar als .gz).']);
      const flipped = Buffer.from(gz);
      flipped[m1.length + 2000] ^= 0x04;
      expect((await refused(flipped)).code).to.equal('backup.verify');
      const wrong = await refused(Buffer.concat([m2, m1]), [[m2.length, trailerOf(m1)]]);
      expect(wrong.message).to.match(/ein Block passt nicht/);
    });
  });
});
