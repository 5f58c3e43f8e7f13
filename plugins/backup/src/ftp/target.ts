/**
 * The FTP backup target ("FTP-Server") of the backup plugin, written against the public backup-target API.
 *
 * send(): explicit FTPS by default (implicit or plain FTP only when configured), upload to a temporary name,
 * compare the remote SIZE with the local size, rename to the final name; transient failures are retried with
 * backoff on a new connection, resuming the temporary file (APPE from the remote size) or restarting it; on
 * failure or cancel the temporary file is removed where the server still answers; afterwards only our own
 * backup files beyond the newest `ftpKeep` are deleted. See docs/backup-ftp.md.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { CancelledError, UserError, formatBytes, type PluginContext } from 'kassenwart/sdk';
import { FTPError, type Client, type FileInfo } from 'basic-ftp';
import { FTP_TARGET_ID, type Availability, type BackupFile, type BackupTarget, type SendContext, type SendResult, type StoredBackup } from '../api.js';
import { openSession, probeFingerprint, type FtpSession, type Phase, type PhaseError } from './connection.js';
import { classify } from './errors.js';
import { isBackupName, isTempName, namesToPrune, newestFirst, tempNameFor } from './names.js';
import { readFtpSettings, type FtpSettings } from './settings.js';

export { FTP_TARGET_ID };
export { readFtpSettings, SETTING_TITLES } from './settings.js';
export { BACKUP_NAME_PATTERN, isBackupName } from './names.js';

/** Tuning knobs, for tests and benchmarks; the defaults are what the product uses. */
export interface FtpTargetOptions {
  /** Waits before the 2nd, 3rd, … attempt after a transient failure (default 1 s, 2 s, 4 s: 4 attempts). */
  retryDelaysMs?: number[];
  /** Read buffer for the upload stream (default 1 MiB). */
  readChunkBytes?: number;
}

const DEFAULT_DELAYS = [1000, 2000, 4000];

/** Runs `fn`, tagging anything it throws with `phase`. */
async function step<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = (e instanceof Error ? e : new Error(String(e))) as PhaseError;
    if (!err.phase) err.phase = phase;
    throw err;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Size of a remote file: SIZE, or the listing when the server does not know SIZE. Undefined if missing. */
async function remoteSize(client: Client, name: string): Promise<number | undefined> {
  try {
    return await client.size(name);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 550) return undefined;
    if (code === 500 || code === 502 || code === 504) {
      const entry = (await client.list()).find((f) => f.name === name);
      return entry?.size;
    }
    throw e;
  }
}

/** Changes into the remote folder, creating it when `create` (ensureDir); false if it does not exist. */
async function enterDir(client: Client, s: FtpSettings, create: boolean): Promise<boolean> {
  if (!s.remoteDir) return true;
  if (create) {
    await client.ensureDir(s.remoteDir);
    return true;
  }
  try {
    await client.cd(s.remoteDir);
    return true;
  } catch (e) {
    if ((e as { code?: unknown }).code === 550) return false;
    throw e;
  }
}

function locationOf(s: FtpSettings, name: string): string {
  const scheme = s.tls === 'implicit' ? 'ftps' : 'ftp';
  const port = (s.tls === 'implicit' ? s.port === 990 : s.port === 21) ? '' : `:${s.port}`;
  const dir = s.remoteDir.replace(/^\/+|\/+$/g, '');
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${scheme}://${host}${port}/${dir ? dir + '/' : ''}${name}`;
}


/**
 * Creates the FTP target. It reads the backup plugin's ftp* settings through `ctx.settings` on every call,
 * so a settings change applies to the next send without re-registration.
 */
export function createFtpTarget(ctx: Pick<PluginContext, 'settings' | 'logger'>, options: FtpTargetOptions = {}): BackupTarget {
  const delays = options.retryDelaysMs ?? DEFAULT_DELAYS;
  const chunk = options.readChunkBytes ?? 1024 * 1024;

  const settingsOrThrow = (): FtpSettings => {
    const r = readFtpSettings(ctx.settings);
    if (r.state === 'ok') return r.settings;
    throw new UserError(r.reason, {
      code: r.state === 'off' ? 'ftp.off' : 'ftp.settings',
      hint: r.state === 'off' ? undefined : 'Bitte die FTP-Einstellungen der Datensicherung ergänzen (Techniker).',
    });
  };

  /** Classifies an error, reading the presented certificate's fingerprint for certificate failures. */
  const toUserError = async (e: unknown, s: FtpSettings) => {
    let c = classify(e, s);
    if (c.error.code.startsWith('ftp.cert')) c = classify(e, s, await probeFingerprint(s));
    return c;
  };

  /**
   * Runs `fn` on a new connection inside the remote backup folder (returns `absent` when the folder does not
   * exist); errors become German UserErrors, the connection is always closed.
   */
  const inRemoteFolder = async <T>(signal: AbortSignal | undefined, fn: (client: Client, s: FtpSettings) => Promise<T>, absent: T): Promise<T> => {
    const s = settingsOrThrow();
    let session: FtpSession | undefined;
    try {
      session = await openSession(s, signal);
      const client = session.client;
      if (!(await step('folder', () => enterDir(client, s, false)))) return absent;
      return await fn(client, s);
    } catch (e) {
      if (signal?.aborted) throw new CancelledError();
      if (e instanceof UserError) throw e;
      throw (await toUserError(e, s)).error;
    } finally {
      session?.close();
    }
  };

  /** Best effort: removes a remote file on a new short-lived connection. */
  const removeQuietly = async (s: FtpSettings, name: string): Promise<'removed' | 'absent' | 'failed'> => {
    let session: FtpSession | undefined;
    try {
      session = await openSession({ ...s, timeoutMs: Math.min(s.timeoutMs, 10_000) });
      if (!(await enterDir(session.client, s, false))) return 'absent';
      if ((await remoteSize(session.client, name)) === undefined) return 'absent';
      await session.client.remove(name, true);
      return (await remoteSize(session.client, name)) === undefined ? 'removed' : 'failed';
    } catch {
      return 'failed';
    } finally {
      session?.close();
    }
  };

  const prune = async (client: Client, s: FtpSettings, keep: number, protect: string | undefined, log: (m: string) => void): Promise<string[]> => {
    const entries: FileInfo[] = await step('list', () => client.list());
    const victims = namesToPrune(entries.filter((f) => f.isFile).map((f) => f.name), keep, protect);
    const deleted: string[] = [];
    for (const name of victims) {
      await step('delete', () => client.remove(name));
      deleted.push(name);
      log(`Alte Sicherung auf dem FTP-Server gelöscht: ${name}`);
    }
    return deleted;
  };

  const target: BackupTarget = {
    id: FTP_TARGET_ID,
    displayName: 'FTP-Server',
    offsite: true,

    async availability(): Promise<Availability> {
      const r = readFtpSettings(ctx.settings);
      if (r.state === 'off') return { available: false, kind: 'skipped', reason: r.reason };
      if (r.state === 'invalid') return { available: false, kind: 'unavailable', reason: r.reason };
      return { available: true };
    },

    async send(file: BackupFile, sctx: SendContext): Promise<SendResult> {
      const s = settingsOrThrow();
      const signal = sctx.signal;
      const temp = tempNameFor(file.name);
      const maxAttempts = delays.length + 1;
      let attempt = 0;
      let offset = 0;
      let tempMayExist = false;
      let restarted = false;
      let firstSession = true;

      const cleanupTemp = async (): Promise<string> => {
        if (!tempMayExist) return '';
        const outcome = await removeQuietly(s, temp);
        tempMayExist = outcome === 'failed';
        if (outcome === 'absent') return '';
        if (outcome === 'removed') {
          sctx.log(`Unvollständige Datei ${temp} auf dem FTP-Server entfernt.`);
          return ' Die unvollständige Datei wurde vom FTP-Server entfernt.';
        }
        sctx.log(`Unvollständige Datei ${temp} konnte nicht entfernt werden (Server nicht erreichbar); sie wird bei der nächsten Übertragung entfernt.`);
        return ` Die unvollständige Datei „${temp}“ auf dem Server wird bei der nächsten Übertragung entfernt; unter dem endgültigen Namen liegt nichts Unvollständiges.`;
      };

      for (;;) {
        if (signal.aborted) {
          await cleanupTemp();
          throw new CancelledError();
        }
        attempt++;
        let session: FtpSession | undefined;
        try {
          session = await openSession(s, signal);
          const client = session.client;
          await step('folder', () => enterDir(client, s, true));
          if (firstSession) {
            firstSession = false;
            // Leftovers of earlier sends that were interrupted (e.g. the server or this host went down).
            const entries = await step('list', () => client.list());
            for (const f of entries) {
              if (f.isFile && isTempName(f.name) && f.name !== temp) {
                await client.remove(f.name, true);
                sctx.log(`Übrig gebliebene unvollständige Datei ${f.name} vom FTP-Server entfernt.`);
              }
            }
          }
          if (tempMayExist) {
            const have = (await step('verify', () => remoteSize(client, temp))) ?? 0;
            if (have > file.size) {
              await step('delete', () => client.remove(temp, true));
              offset = 0;
            } else {
              offset = have;
            }
            sctx.log(offset > 0
              ? `Übertragung wird bei ${formatBytes(offset)} fortgesetzt (Versuch ${attempt}).`
              : `Übertragung beginnt neu (Versuch ${attempt}).`);
          }
          const upload = async (base: number) => {
            client.trackProgress((info) => sctx.progress(Math.min(file.size, base + info.bytes)));
            sctx.progress(base, 'Übertragung an den FTP-Server …');
            tempMayExist = true;
            // Never more than the verified size, even if the local file grew meanwhile.
            const source = file.size > base
              ? createReadStream(file.path, { start: base, end: file.size - 1, highWaterMark: chunk })
              : Readable.from([]);
            try {
              await step('upload', () => (base > 0 ? client.appendFrom(source, temp) : client.uploadFrom(source, temp)));
            } finally {
              source.destroy();
              client.trackProgress();
            }
          };
          try {
            await upload(offset);
          } catch (e) {
            // A server without APPE: start the temporary file over instead of resuming it.
            if (offset > 0 && e instanceof FTPError && [500, 502, 504].includes(e.code)) {
              sctx.log('Der FTP-Server kann nicht fortsetzen (kein APPE); Übertragung beginnt neu.');
              offset = 0;
              await upload(0);
            } else {
              throw e;
            }
          }
          const size = await step('verify', () => remoteSize(client, temp));
          if (size !== file.size) {
            // basic-ftp issue 260: an upload can "succeed" with the wrong size. Start over once.
            await step('delete', () => client.remove(temp, true));
            offset = 0;
            if (!restarted) {
              restarted = true;
              sctx.log(`Größe auf dem FTP-Server stimmt nicht (${size ?? 'keine Datei'} statt ${file.size} Bytes); Übertragung beginnt neu.`);
              attempt--;
              continue;
            }
            tempMayExist = false;
            throw new UserError(
              `Die Datei kam nicht vollständig auf dem FTP-Server an (${size ?? 0} statt ${file.size} Bytes), auch nicht im zweiten Anlauf.`,
              { code: 'ftp.size', hint: 'Später erneut versuchen; besteht das Problem weiter, den Betreiber des FTP-Servers fragen.' },
            );
          }
          try {
            await step('rename', () => client.rename(temp, file.name));
          } catch (e) {
            // Some servers refuse to rename onto an existing file: replace the older copy of the same backup.
            if (!(e instanceof FTPError && (e.code === 550 || e.code === 553)) || (await remoteSize(client, file.name)) === undefined) throw e;
            sctx.log(`${file.name} liegt schon auf dem FTP-Server; die ältere Kopie wird ersetzt.`);
            await step('delete', () => client.remove(file.name));
            await step('rename', () => client.rename(temp, file.name));
          }
          tempMayExist = false;
          const finalSize = await step('verify', () => remoteSize(client, file.name));
          if (finalSize !== file.size) {
            throw new UserError(
              `Nach dem Umbenennen hat die Sicherung auf dem FTP-Server die falsche Größe (${finalSize ?? 0} statt ${file.size} Bytes).`,
              { code: 'ftp.size', hint: 'Bitte den Betreiber des FTP-Servers fragen.' },
            );
          }
          sctx.progress(file.size, 'Auf dem FTP-Server geprüft');
          let deleted: string[] = [];
          try {
            deleted = await prune(client, s, s.keep, file.name, sctx.log);
          } catch (e) {
            // Retention is housekeeping: the backup itself is stored and verified, so this is only logged.
            const c = classify(e, s);
            sctx.log(`Alte Sicherungen auf dem FTP-Server konnten nicht gelöscht werden: ${c.error.message}`);
            ctx.logger.warn('ftp prune failed', { error: String((e as Error)?.message ?? e) });
          }
          return {
            location: locationOf(s, file.name),
            bytes: finalSize,
            message: `Auf FTP-Server gesichert (${s.host}${s.remoteDir ? ', ' + s.remoteDir : ''}, ${formatBytes(finalSize)}` +
              (deleted.length ? `, ${deleted.length} alte Sicherung${deleted.length === 1 ? '' : 'en'} gelöscht)` : ')'),
          };
        } catch (e) {
          if (signal.aborted) {
            session?.close();
            session = undefined;
            await cleanupTemp();
            throw new CancelledError();
          }
          if (e instanceof UserError) {
            session?.close();
            session = undefined;
            const extra = await cleanupTemp();
            throw extra ? new UserError(e.message + extra, { code: e.code, hint: e.hint, cause: e }) : e;
          }
          const err = e as PhaseError;
          if (err.phase === 'upload' && session) {
            // The reply that explains a broken data connection (e.g. 451 disk full) may still be on its way.
            err.lastReply = (await session.waitForReply(500)) ?? session.lastReply();
          }
          session?.close();
          session = undefined;
          const c = await toUserError(err, s);
          if (c.transient && attempt < maxAttempts) {
            const wait = delays[attempt - 1] ?? delays[delays.length - 1] ?? 1000;
            sctx.log(`${c.error.message} Neuer Versuch in ${Math.round(wait / 1000)} s (Versuch ${attempt + 1} von ${maxAttempts}).`);
            await sleep(wait, signal);
            continue;
          }
          const extra = await cleanupTemp();
          const tries = attempt > 1 ? ` (${attempt} Versuche)` : '';
          throw new UserError(c.error.message + tries + extra, { code: c.error.code, hint: c.error.hint, cause: e });
        } finally {
          session?.close();
        }
      }
    },

    async list(signal?: AbortSignal): Promise<StoredBackup[]> {
      return inRemoteFolder(signal, async (client) => {
        const entries = await step('list', () => client.list());
        return entries
          .filter((f) => f.isFile && isBackupName(f.name))
          .sort((a, b) => newestFirst(a.name, b.name))
          .map((f) => ({ name: f.name, size: f.size, modifiedAt: f.modifiedAt?.toISOString() }));
      }, []);
    },

    async prune(keep: number, signal?: AbortSignal): Promise<string[]> {
      return inRemoteFolder(signal, (client, s) => prune(client, s, keep, undefined, (m) => ctx.logger.info(m)), []);
    },
  };
  return target;
}

