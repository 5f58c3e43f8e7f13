/**
 * Opening one authenticated basic-ftp session with the trust rules of the FTP target:
 * system CAs by default, an extra CA certificate (ftpCaCert), or a pinned certificate fingerprint
 * (ftpFingerprint) that is checked before the password is sent and on every data connection.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates, TLSSocket, type ConnectionOptions } from 'node:tls';
import { Client } from 'basic-ftp';
import type { FtpSettings } from './settings.js';

/** Thrown when the server's certificate does not match the pinned fingerprint. */
export class FingerprintMismatchError extends Error {
  readonly code = 'KW_FINGERPRINT_MISMATCH';
  constructor(readonly actual: string | undefined) {
    super(`certificate fingerprint mismatch (server presented ${actual ?? 'no certificate'})`);
  }
}

/** The phase a failure happened in (used to pick the right German message). */
export type Phase = 'connect' | 'tls' | 'login' | 'folder' | 'upload' | 'verify' | 'rename' | 'list' | 'delete';

/** An error annotated with the phase it happened in and the server's last reply. */
export interface PhaseError extends Error {
  phase?: Phase;
  /** Last reply line seen on the control connection (e.g. "451 Failure writing to local file."). */
  lastReply?: string;
}

/** One open session. */
export interface FtpSession {
  client: Client;
  /** Last complete reply line the server sent on the control connection. */
  lastReply(): string | undefined;
  /** Waits up to `ms` for a reply line that arrives after the call (e.g. "451 …" after a broken upload). */
  waitForReply(ms: number): Promise<string | undefined>;
  close(): void;
}

let systemCaCache: string[] | undefined;

/** Node's bundled CAs plus the operating system's bundle (where an installation adds its own CAs). */
function systemCas(): string[] {
  if (systemCaCache) return systemCaCache;
  const list = [...rootCertificates];
  for (const file of ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt']) {
    try {
      list.push(readFileSync(file, 'utf8'));
      break;
    } catch { /* not on this system */ }
  }
  systemCaCache = list;
  return list;
}

/** TLS options for control and data connections according to the settings. */
export function tlsOptionsFor(s: FtpSettings): ConnectionOptions {
  if (s.fingerprint) {
    // Chain and name are not checked: the pinned fingerprint is the trust anchor, checked by hand.
    return { host: s.host, rejectUnauthorized: false };
  }
  if (s.caCert) return { host: s.host, ca: [...systemCas(), s.caCert] };
  return { host: s.host, ca: systemCas() };
}

/** SHA-256 fingerprint of the certificate a TLS socket got from the server. */
export function peerFingerprint(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerCertificate();
  return cert && typeof cert.fingerprint256 === 'string' && cert.fingerprint256 ? cert.fingerprint256 : undefined;
}

function mark(e: unknown, phase: Phase): PhaseError {
  const err = (e instanceof Error ? e : new Error(String(e))) as PhaseError;
  if (!err.phase) err.phase = phase;
  return err;
}

/**
 * Connects, sets up TLS as configured, checks a pinned fingerprint, logs in and applies the usual settings
 * (binary mode, PROT P). Aborting `signal` closes the client, which makes every pending call reject.
 */
export async function openSession(s: FtpSettings, signal?: AbortSignal): Promise<FtpSession> {
  const client = new Client(s.timeoutMs);
  const ftp = client.ftp;
  // Troubleshooting: KW_FTP_DEBUG=1 prints the FTP dialogue (passwords are masked by basic-ftp) to stdout.
  if (process.env.KW_FTP_DEBUG) ftp.verbose = true;
  let last: string | undefined;
  let waiters: ((line: string) => void)[] = [];
  let partial = '';
  const onAbort = () => client.close();
  signal?.addEventListener('abort', onAbort, { once: true });
  const sniff = (chunk: string | Buffer) => {
    partial += String(chunk);
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (/^\d{3} /.test(line)) {
        last = line;
        const w = waiters;
        waiters = [];
        for (const fn of w) fn(line);
      }
    }
  };

  // When the data connection breaks, basic-ftp closes the control connection at once, before the server's
  // explanation (e.g. "451 Failure writing to local file." on a full disk) can arrive. Give it a moment.
  const closeWithError = ftp.closeWithError.bind(ftp);
  ftp.closeWithError = (err: Error) => {
    if (/\(data socket\)$/.test(err.message) && !ftp.closed) {
      setTimeout(() => closeWithError(err), 750);
      return;
    }
    closeWithError(err);
  };

  const session: FtpSession = {
    client,
    lastReply: () => last,
    waitForReply: (ms) =>
      new Promise((resolve) => {
        if (ftp.closed) return resolve(undefined);
        const t = setTimeout(() => { waiters = waiters.filter((w) => w !== done); resolve(undefined); }, ms);
        const done = (line: string) => { clearTimeout(t); resolve(line); };
        waiters.push(done);
      }),
    close() {
      signal?.removeEventListener('abort', onAbort);
      client.close();
    },
  };

  const tlsOptions = tlsOptionsFor(s);
  const checkPin = (socket: TLSSocket) => {
    if (!s.fingerprint) return;
    const actual = peerFingerprint(socket);
    if (actual !== s.fingerprint) throw new FingerprintMismatchError(actual);
  };

  try {
    if (signal?.aborted) throw mark(new Error('aborted'), 'connect');
    try {
      if (s.tls === 'implicit') await client.connectImplicitTLS(s.host, s.port, tlsOptions);
      else await client.connect(s.host, s.port);
    } catch (e) {
      throw mark(e, s.tls === 'implicit' && isTlsError(e) ? 'tls' : 'connect');
    }
    if (s.tls === 'explicit') {
      try {
        await client.useTLS(tlsOptions);
      } catch (e) {
        throw mark(e, 'tls');
      }
    }
    if (s.tls !== 'none') {
      try {
        checkPin(ftp.socket as TLSSocket);
      } catch (e) {
        throw mark(e, 'tls');
      }
      if (s.fingerprint) {
        // Check every data connection too, before basic-ftp writes to it (our listener runs first).
        const proto = Object.getPrototypeOf(ftp) as object;
        const desc = Object.getOwnPropertyDescriptor(proto, 'dataSocket')!;
        Object.defineProperty(ftp, 'dataSocket', {
          configurable: true,
          get() { return desc.get!.call(this); },
          set(sock: unknown) {
            desc.set!.call(this, sock);
            if (sock instanceof TLSSocket) {
              sock.prependOnceListener('secureConnect', () => {
                // A resumed session was set up by the control connection, whose certificate was checked;
                // only the server holding that session's keys can resume it (and no certificate is sent again).
                if (sock.isSessionReused()) return;
                const actual = peerFingerprint(sock);
                if (actual !== s.fingerprint) sock.destroy(new FingerprintMismatchError(actual));
              });
            }
          },
        });
      }
    }
    ftp.socket.prependListener('data', sniff);
    try {
      await client.login(s.user, s.password);
    } catch (e) {
      throw mark(e, 'login');
    }
    try {
      await client.useDefaultSettings();
    } catch (e) {
      throw mark(e, 'connect');
    }
    return session;
  } catch (e) {
    session.close();
    const err = e as PhaseError;
    err.lastReply ??= last;
    throw err;
  }
}

/** True for errors raised by the TLS layer (handshake, certificate). */
export function isTlsError(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return false;
  return (
    code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || code === 'EPROTO' || code.includes('CERT') ||
    code === 'KW_FINGERPRINT_MISMATCH' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
  );
}

/**
 * Reads the fingerprint of the certificate the server presents, without trusting it and without logging in
 * (used only to show it in the error message after a certificate failure). Undefined when not readable.
 */
export async function probeFingerprint(s: FtpSettings): Promise<string | undefined> {
  if (s.tls === 'none') return undefined;
  const client = new Client(Math.min(s.timeoutMs, 10_000));
  try {
    const opts: ConnectionOptions = { host: s.host, rejectUnauthorized: false };
    if (s.tls === 'implicit') await client.connectImplicitTLS(s.host, s.port, opts);
    else {
      await client.connect(s.host, s.port);
      await client.useTLS(opts);
    }
    return peerFingerprint(client.ftp.socket as TLSSocket);
  } catch {
    return undefined;
  } finally {
    client.close();
  }
}
