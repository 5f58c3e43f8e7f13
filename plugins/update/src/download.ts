/**
 * Resumable package download: bytes go to "<final>.part"; an interrupted download continues with an HTTP
 * Range request; the result is checked for size and SHA-256 before it gets its final name.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CancelledError, UserError, fsyncDir } from 'kassenwart/sdk';

/** What to download and where. */
export interface DownloadRequest {
  url: string;
  /** Final path; the partial file is `${dest}.part`. */
  dest: string;
  size: number;
  sha256: string;
  signal?: AbortSignal;
  /** Called with bytes present so far. */
  onProgress?: (bytes: number, total: number) => void;
  /** Resume attempts after an interruption (default 5). */
  attempts?: number;
  /** An attempt that receives no bytes for this long counts as interrupted (default 60 s). */
  idleTimeoutMs?: number;
}

/** Maps a file system error to a German UserError (disk full, no permission), else returns it unchanged. */
export function fsError(e: unknown, what: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new UserError(`Nicht genug Speicherplatz auf dem Kassenserver (${what}). Es wurde nichts installiert, die laufende Version bleibt aktiv.`, {
      code: 'update.disk-full',
      hint: 'Bitte Speicherplatz freigeben (z. B. alte Datensicherungen löschen) und den Updatecheck erneut starten.',
      cause: e,
    });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new UserError(`Kein Schreibzugriff auf den Update-Ordner (${what}).`, { code: 'update.no-access', hint: 'Bitte den Support verständigen.', cause: e });
  }
  return e;
}

function networkError(url: string, e: unknown): UserError {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message ?? (e as Error)?.message ?? String(e);
  return new UserError(`Der Update-Server ist nicht erreichbar (${new URL(url).host}: ${detail}). Es wurde nichts installiert.`, {
    code: 'update.network',
    hint: 'Bitte die Internetverbindung des Kassenservers prüfen und den Updatecheck später erneut starten.',
    cause: e,
  });
}

/** GET a small resource fully (the index and its signature), with a German error on failure. */
export async function fetchBytes(url: string, signal?: AbortSignal, timeoutMs = 30_000): Promise<Uint8Array> {
  const s = signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { signal: s, redirect: 'follow' });
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw networkError(url, e);
  }
  if (res.status !== 200) {
    throw new UserError(`Der Update-Server antwortet mit Fehler ${res.status} für ${new URL(url).pathname}. Es wurde nichts installiert.`, {
      code: 'update.http', hint: 'Bitte die Update-Adresse in den Einstellungen prüfen lassen oder später erneut versuchen.',
    });
  }
  try {
    return new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    if (signal?.aborted) throw new CancelledError();
    throw networkError(url, e);
  }
}

async function sizeOf(path: string): Promise<number> {
  try { return (await stat(path)).size; } catch { return 0; }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/**
 * Downloads `url` to `dest`, resuming an existing `.part` file, retrying interrupted transfers with Range
 * requests, then verifies size and hash. On a hash mismatch the partial file is deleted.
 */
export async function downloadResumable(req: DownloadRequest): Promise<void> {
  const part = req.dest + '.part';
  try {
    await mkdir(dirname(req.dest), { recursive: true });
  } catch (e) { throw fsError(e, 'Download-Ordner anlegen'); }
  if ((await sizeOf(part)) > req.size) await truncate(part, 0);
  const attempts = req.attempts ?? 5;
  let lastError: unknown;
  for (let attempt = 0; attempt <= attempts; attempt++) {
    if (req.signal?.aborted) throw new CancelledError();
    let have = await sizeOf(part);
    if (have === req.size) break;
    // Per attempt: aborted by the job's signal, or by the idle timer when the server stops sending.
    const attemptAbort = new AbortController();
    const onJobAbort = () => attemptAbort.abort();
    req.signal?.addEventListener('abort', onJobAbort, { once: true });
    const idleMs = req.idleTimeoutMs ?? 60_000;
    let idle = setTimeout(() => attemptAbort.abort(), idleMs);
    const poke = () => { clearTimeout(idle); idle = setTimeout(() => attemptAbort.abort(), idleMs); };
    const endAttempt = () => { clearTimeout(idle); req.signal?.removeEventListener('abort', onJobAbort); };
    let res: Response;
    try {
      res = await fetch(req.url, { signal: attemptAbort.signal, headers: have > 0 ? { range: `bytes=${have}-` } : {} });
    } catch (e) {
      endAttempt();
      if (req.signal?.aborted) throw new CancelledError();
      lastError = networkError(req.url, e);
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      continue;
    }
    if (res.status === 206) {
      const m = /bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) { endAttempt(); await res.body?.cancel(); await truncate(part, 0); continue; }
    } else if (res.status === 200) {
      if (have > 0) { await truncate(part, 0); have = 0; }
    } else if (res.status === 416 && have > 0) {
      endAttempt();
      await res.body?.cancel();
      await truncate(part, 0);
      continue;
    } else {
      endAttempt();
      await res.body?.cancel();
      throw new UserError(`Der Update-Server antwortet mit Fehler ${res.status} beim Herunterladen des Updates. Es wurde nichts installiert.`, {
        code: 'update.http', hint: 'Bitte später erneut versuchen oder den Support verständigen.',
      });
    }
    let done = have;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        poke();
        done += chunk.length;
        if (done > req.size) { cb(new UserError('Das Update-Paket ist größer als angekündigt. Es wurde nichts installiert.', { code: 'update.size' })); return; }
        req.onProgress?.(done, req.size);
        cb(null, chunk);
      },
    });
    const out = createWriteStream(part, { flags: 'a' });
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), count, out, { signal: attemptAbort.signal });
    } catch (e) {
      if (req.signal?.aborted) throw new CancelledError();
      if ((e as UserError).code === 'update.size') { await rm(part, { force: true }); throw e; }
      const mapped = fsError(e, 'Update herunterladen');
      if (mapped !== e) { await rm(part, { force: true }); throw mapped; }
      lastError = networkError(req.url, e); // interrupted: resume with the next attempt
      continue;
    } finally {
      endAttempt();
      out.destroy();
    }
    try {
      const fh = await open(part, 'r+');
      await fh.sync();
      await fh.close();
    } catch (e) { throw fsError(e, 'Update herunterladen'); }
  }
  const got = await sizeOf(part);
  if (got !== req.size) {
    if (lastError instanceof UserError) {
      throw new UserError(`Der Download des Updates wurde wiederholt unterbrochen (${got} von ${req.size} Bytes). Es wurde nichts installiert.`, {
        code: 'update.download-incomplete',
        hint: 'Bitte die Internetverbindung prüfen und den Updatecheck erneut starten; der Download wird dann fortgesetzt.',
        cause: lastError,
      });
    }
    throw new UserError(`Das Update-Paket ist unvollständig (${got} von ${req.size} Bytes). Es wurde nichts installiert.`, {
      code: 'update.download-incomplete', hint: 'Bitte den Updatecheck erneut starten.',
    });
  }
  const hash = await hashFile(part);
  if (hash !== req.sha256) {
    await rm(part, { force: true });
    throw new UserError('Die Prüfsumme des heruntergeladenen Update-Pakets stimmt nicht (SHA-256). Das Paket ist beschädigt oder wurde verändert und wird nicht installiert.', {
      code: 'update.hash-mismatch',
      hint: 'Bitte den Updatecheck erneut starten; tritt der Fehler wieder auf, den Support verständigen.',
    });
  }
  try {
    await rename(part, req.dest);
    await fsyncDir(dirname(req.dest));
  } catch (e) { throw fsError(e, 'Update speichern'); }
}
