/**
 * Helpers for the FTP target tests: a settings stand-in built from plain values, backup files of random
 * bytes, a SendContext that records progress and log lines, and watching the server's folder.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PluginContext } from 'kassenwart/sdk';
import type { BackupFile, SendContext } from 'kassenwart/plugins/backup/api';
import type { FtpServer } from '../../support/dist/vsftpd.js';

/** The part of PluginContext the FTP target uses, backed by plain values. */
export function fakeContext(values: Record<string, unknown>): Pick<PluginContext, 'settings' | 'logger'> & { values: Record<string, unknown> } {
  const noop = () => {};
  return {
    values,
    settings: {
      get: <T>(key: string) => values[key] as T,
      all: () => ({ ...values }),
      set: async (v: Record<string, unknown>) => { Object.assign(values, v); },
      onDidChange: () => noop,
    },
    logger: { debug: noop, info: noop, warn: noop, error: noop },
  };
}

/** Settings that point at `server` with explicit FTPS and its certificate pinned. */
export function settingsFor(server: FtpServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ftpEnabled: true,
    ftpHost: server.host,
    ftpPort: server.port,
    ftpUser: server.user,
    ftpPassword: server.password,
    ftpRemoteDir: 'salon-17',
    ftpTls: 'explicit',
    ftpKeep: 14,
    ftpTimeoutSeconds: 10,
    ftpFingerprint: server.certFingerprint256,
    ...extra,
  };
}

/** Writes a backup file of `size` random bytes named like a real one. */
export async function makeBackup(dir: string, size: number, stamp = '2026-11-29_07-00-00'): Promise<BackupFile> {
  const name = `kasse-${stamp}.sqlite.gz`;
  const path = join(dir, name);
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  try {
    let left = size;
    while (left > 0) {
      const n = Math.min(left, 4 * 1024 * 1024);
      const buf = randomBytes(n);
      hash.update(buf);
      await fh.write(buf);
      left -= n;
    }
  } finally {
    await fh.close();
  }
  return { path, name, size, sha256: hash.digest('hex'), createdAt: new Date().toISOString() };
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** A SendContext recording what the target reports. */
export function recorder(signal: AbortSignal = new AbortController().signal, onProgress?: (bytes: number) => void) {
  const progress: number[] = [];
  const logs: string[] = [];
  const ctx: SendContext = {
    signal,
    progress(bytes) { progress.push(bytes); onProgress?.(bytes); },
    log(m) { logs.push(m); },
  };
  return { ctx, progress, logs };
}

/** File names in a folder (empty list if the folder does not exist). */
export async function namesIn(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** Resolves once a temporary upload file in `dir` has grown beyond `bytes` (polling the disk). */
export async function whenPartFileExceeds(dir: string, bytes: number, timeoutMs = 60_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    for (const n of await namesIn(dir)) {
      if (n.endsWith('.part')) {
        const st = await stat(join(dir, n)).catch(() => undefined);
        if (st && st.size > bytes) return n;
      }
    }
    if (Date.now() > end) throw new Error(`no .part file above ${bytes} bytes in ${dir} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Awaits a promise that must reject; returns the rejection. */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but it resolved');
}
