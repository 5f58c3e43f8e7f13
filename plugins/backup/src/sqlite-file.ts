/**
 * Reading the SQLite file format from the outside, without opening the database: header fields and
 * the state of the rollback journal / WAL beside it. Used to detect torn snapshots of a file that another
 * process (the POS) writes to. See https://www.sqlite.org/fileformat2.html.
 */
import { open } from 'node:fs/promises';
import { closeSync, openSync, readSync } from 'node:fs';

/** The 16-byte magic at offset 0 of every SQLite database. */
export const SQLITE_MAGIC = 'SQLite format 3\0';
/** Magic at the start of a live rollback journal. */
const JOURNAL_MAGIC = Buffer.from([0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7]);

/** Fields of the 100-byte database header that matter for snapshots. */
export interface SqliteHeader {
  /** File change counter (offset 24): incremented by every committed write transaction (rollback mode). */
  changeCounter: number;
  /** Page size in bytes. */
  pageSize: number;
  /** Database size in pages (offset 28); valid when `versionValidFor` equals `changeCounter`. */
  pageCount: number;
  /** True when the file is in WAL mode (write/read versions = 2). */
  wal: boolean;
}

/** Parses the header of a database (first 100 bytes). Throws when it is not a SQLite 3 file. */
export function parseHeader(buf: Uint8Array): SqliteHeader {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 100 || b.toString('latin1', 0, 16) !== SQLITE_MAGIC) throw new Error('not a SQLite 3 database');
  const ps = b.readUInt16BE(16);
  return {
    changeCounter: b.readUInt32BE(24),
    pageSize: ps === 1 ? 65536 : ps,
    pageCount: b.readUInt32BE(28),
    wal: b[18] === 2 || b[19] === 2,
  };
}

/** Reads the header of the database file at `path`. */
export async function readHeader(path: string): Promise<SqliteHeader> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(100);
    const { bytesRead } = await fh.read(buf, 0, 100, 0);
    return parseHeader(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

/**
 * State of the files beside the database. `journalActive`: a rollback journal with a live header exists,
 * i.e. a write transaction is being committed right now, or a crashed writer left a hot journal that the
 * next opener must roll back; either way the main file alone may be inconsistent. `walFrames`: the -wal
 * file is non-empty (committed data may live only there).
 */
export interface SideFiles {
  journalActive: boolean;
  walBytes: number;
}

/** Inspects `<db>-journal` and `<db>-wal`. */
export async function sideFiles(dbPath: string): Promise<SideFiles> {
  let journalActive = false;
  try {
    const fh = await open(dbPath + '-journal', 'r');
    try {
      // DELETE mode: the file exists only during a write. PERSIST / TRUNCATE mode: an idle journal is
      // zeroed or empty. So any journal that starts with non-zero bytes counts as live (conservative).
      const buf = Buffer.alloc(8);
      const { bytesRead } = await fh.read(buf, 0, 8, 0);
      journalActive = bytesRead > 0 && (buf.equals(JOURNAL_MAGIC) || buf.subarray(0, bytesRead).some((x) => x !== 0));
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  let walBytes = 0;
  try {
    const fh = await open(dbPath + '-wal', 'r');
    try { walBytes = (await fh.stat()).size; } finally { await fh.close(); }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { journalActive, walBytes };
}

/**
 * {@link sideFiles}' `journalActive`, synchronously (a few microseconds): for the critical section of the locked
 * snapshot, where every thread-pool round trip would lengthen the POS pause.
 */
export function journalActiveSync(dbPath: string): boolean {
  let fd: number;
  try {
    fd = openSync(dbPath + '-journal', 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  try {
    const buf = Buffer.alloc(8);
    const n = readSync(fd, buf, 0, 8, 0);
    return n > 0 && (buf.equals(JOURNAL_MAGIC) || buf.subarray(0, n).some((x) => x !== 0));
  } finally {
    closeSync(fd);
  }
}
