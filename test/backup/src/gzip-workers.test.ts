/**
 * Issue 15: the compression in worker threads (gzip.ts, gzip-worker.ts). Workers take members in any interleaving
 * and each writes its member at its place; the output must still be the members in input order, each trailer
 * reported in order, and a failing or cancelled run must end (no worker left waiting for a predecessor).
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, gunzipSync } from 'node:zlib';
import { tempDir, removeDir } from '../../support/dist/tmp.js';
import { gzipParallel } from '../../../plugins/backup/dist/src/gzip.js';

describe('backup: compression in worker threads', function () {
  this.timeout(120_000);
  let dir: string;
  let data: Buffer;
  let src: string;
  before(async () => {
    dir = await tempDir('kw-backup-gzw-');
    // compressible and random parts, so members differ in size and take different times
    const parts: Buffer[] = [];
    for (let i = 0; i < 40; i++) parts.push(i % 3 === 0 ? randomBytes(50_000 + i * 997) : Buffer.alloc(70_000 + i * 1301, `Kasse ${i} `));
    data = Buffer.concat(parts);
    src = join(dir, 'src.bin');
    await writeFile(src, data);
  });
  after(async () => { await removeDir(dir); });

  it('many small members on 4 workers: the .gz holds them in input order, each trailer is the CRC-32 and length of its chunk', async () => {
    const chunk = 16 * 1024;
    const input = await open(src, 'r');
    const output = await open(join(dir, 'many.gz'), 'w');
    const seen: Array<{ raw: number; gz: number; trailer: Buffer }> = [];
    let r;
    try {
      r = await gzipParallel(input, output, { chunkSize: chunk, concurrency: 4, hash: true, onProgress: (raw, gz, trailer) => seen.push({ raw, gz, trailer }) });
    } finally {
      await input.close();
      await output.close();
    }
    const gz = await readFile(join(dir, 'many.gz'));
    expect(r.gzBytes).to.equal(gz.length);
    expect(gunzipSync(gz).equals(data)).to.equal(true);
    expect(spawnSync('gzip', ['-t', join(dir, 'many.gz')]).status).to.equal(0);
    const members = Math.ceil(data.length / chunk);
    expect(seen).to.have.length(members);
    for (let i = 0; i < members; i++) {
      const piece = data.subarray(i * chunk, (i + 1) * chunk);
      expect(seen[i].raw).to.equal(Math.min(data.length, (i + 1) * chunk));
      expect(seen[i].trailer.readUInt32LE(0), `CRC-32 of member ${i}`).to.equal(crc32(piece));
      expect(seen[i].trailer.readUInt32LE(4)).to.equal(piece.length);
      // the member ends where reported, with that trailer
      expect(gz.subarray(seen[i].gz - 8, seen[i].gz).equals(seen[i].trailer)).to.equal(true);
      if (i > 0) expect(seen[i].gz).to.be.greaterThan(seen[i - 1].gz);
    }
  });

  it('a write error in a worker ends the run with that error (no worker left waiting)', async () => {
    await writeFile(join(dir, 'ro.gz'), '');
    const input = await open(src, 'r');
    const output = await open(join(dir, 'ro.gz'), 'r'); // read-only: every write fails
    let err: any;
    try {
      await gzipParallel(input, output, { chunkSize: 16 * 1024, concurrency: 3, hash: false });
    } catch (e) { err = e; } finally {
      await input.close();
      await output.close();
    }
    expect(err?.code).to.equal('EBADF');
  });

  it('cancelling stops the workers: CancelledError, and nothing is written after it returns', async () => {
    const input = await open(src, 'r');
    const output = await open(join(dir, 'cancel.gz'), 'w');
    const ac = new AbortController();
    let err: any;
    try {
      await gzipParallel(input, output, { chunkSize: 16 * 1024, concurrency: 2, hash: false, signal: ac.signal, onProgress: (raw) => { if (raw >= 32 * 1024) ac.abort(); } });
    } catch (e) { err = e; } finally {
      await input.close();
      await output.close();
    }
    expect(err?.name).to.equal('CancelledError');
    const size = (await readFile(join(dir, 'cancel.gz'))).length;
    await new Promise((r) => setTimeout(r, 200));
    expect((await readFile(join(dir, 'cancel.gz'))).length, 'no late writes').to.equal(size);
    expect(size).to.be.lessThan(data.length / 2);
  });
});
