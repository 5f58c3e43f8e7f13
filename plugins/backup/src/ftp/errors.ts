/**
 * Turns what basic-ftp, the socket or TLS throw into German UserErrors, and says which failures are
 * transient (worth a retry with a new connection).
 */
import { UserError } from 'kassenwart/sdk';
import { FTPError } from 'basic-ftp';
import type { PhaseError } from './connection.js';
import { q, type FtpSettings } from './settings.js';

/** A classified failure. */
export interface Classified {
  /** A retry with a new connection may succeed. */
  transient: boolean;
  error: UserError;
}

const DISK_FULL = new Set([451, 452, 552]);

/** Reply code of a reply line such as "451 Failure writing to local file.". */
export function replyCode(line: string | undefined): number | undefined {
  const m = line ? /^(\d{3}) /.exec(line) : null;
  return m ? Number(m[1]) : undefined;
}

const CERT_SELF_SIGNED = new Set(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']);
const CERT_UNKNOWN_CA = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

const CONNECTION_LOST = /(ECONNRESET|EPIPE|ERR_STREAM_PREMATURE_CLOSE|ERR_SSL_DECRYPTION_FAILED|ECONNABORTED)/;

/** Text of the server reply without the code, shortened. */
function serverText(msg: string): string {
  return msg.replace(/^\d{3}[ -]/, '').replace(/\s+/g, ' ').trim().slice(0, 200);
}

/**
 * Classifies one failure. `presentedFingerprint` is the fingerprint of the certificate the server showed,
 * when it could be read, so the technician can compare it with the one the server's operator gives.
 */
export function classify(e: unknown, s: FtpSettings, presentedFingerprint?: string): Classified {
  const err = e as PhaseError & { code?: unknown };
  const where = `${s.host}:${s.port}`;
  const mk = (transient: boolean, code: string, message: string, hint?: string): Classified => ({
    transient,
    error: new UserError(message, { code, hint, cause: e }),
  });
  const sniffed = replyCode(err.lastReply);
  const ftpCode = err instanceof FTPError ? err.code : undefined;
  const sysCode = typeof err.code === 'string' ? err.code : '';
  const message = String(err?.message ?? e);

  // The server's own answer (or the one seen just after a broken data connection) comes first.
  const reply = ftpCode ?? (err.phase === 'upload' && sniffed && sniffed >= 400 ? sniffed : undefined);
  const replyText = ftpCode !== undefined ? serverText(message) : err.lastReply ? serverText(err.lastReply) : '';

  if (err.phase === 'tls' || sysCode === 'KW_FINGERPRINT_MISMATCH' || isCertCode(sysCode)) {
    return tlsFailure(err, sysCode, reply, s, presentedFingerprint);
  }
  if (reply !== undefined) {
    if (err.phase === 'login' && reply === 530) {
      if (/ssl|tls|encrypt/i.test(replyText)) {
        return mk(false, 'ftp.tlsRequired', `Der FTP-Server ${where} verlangt eine verschlüsselte Verbindung (FTPS).`,
          `Bitte die Einstellung ${q('ftpTls')} auf „FTPS explizit“ stellen.`);
      }
      return mk(false, 'ftp.auth', `Anmeldung am FTP-Server ${where} fehlgeschlagen: Benutzername oder Passwort ist falsch.`,
        `Bitte die Einstellungen ${q('ftpUser')} und ${q('ftpPassword')} prüfen (Zugangsdaten vom Betreiber des FTP-Servers).`);
    }
    if (DISK_FULL.has(reply) && (err.phase === 'upload' || err.phase === 'rename' || err.phase === 'verify')) {
      return mk(false, 'ftp.diskFull',
        `Der FTP-Server konnte die Sicherung nicht speichern: kein Speicherplatz mehr frei (Antwort ${reply}: ${replyText}).`,
        `Auf dem FTP-Server Platz schaffen (alte Sicherungen löschen oder ${q('ftpKeep')} verringern) oder den Betreiber des Servers fragen.`);
    }
    if (reply === 421) {
      return mk(true, 'ftp.lost', `Der FTP-Server ${where} hat die Verbindung beendet (Antwort 421: ${replyText}).`,
        'Später erneut versuchen; besteht das Problem weiter, den Betreiber des FTP-Servers fragen.');
    }
    if (reply === 550 || reply === 553 || reply === 532) {
      const what = err.phase === 'folder' ? `den FTP-Pfad „${s.remoteDir || '/'}“ anzulegen oder zu öffnen`
        : err.phase === 'delete' ? 'alte Sicherungen zu löschen'
          : err.phase === 'list' ? 'den Ordner zu lesen'
            : 'die Datei zu schreiben';
      return mk(false, 'ftp.permission',
        `Keine Berechtigung auf dem FTP-Server, ${what} (Antwort ${reply}: ${replyText}).`,
        `Bitte die Einstellung ${q('ftpRemoteDir')} und die Schreibrechte des FTP-Benutzers prüfen.`);
    }
    if (reply >= 400 && reply < 500) {
      return mk(true, 'ftp.server', `Der FTP-Server ${where} meldet einen vorübergehenden Fehler (Antwort ${reply}: ${replyText}).`,
        'Später erneut versuchen.');
    }
    return mk(false, 'ftp.server', `Der FTP-Server ${where} meldet einen Fehler (Antwort ${reply}: ${replyText}).`,
      'Bitte die FTP-Einstellungen prüfen oder den Betreiber des FTP-Servers fragen.');
  }

  if (sysCode === 'ECONNREFUSED') {
    return mk(true, 'ftp.refused', `Keine Verbindung zum FTP-Server ${where}: die Verbindung wurde abgelehnt.`,
      `Läuft der FTP-Server? Bitte ${q('ftpHost')} und ${q('ftpPort')} prüfen.`);
  }
  if (sysCode === 'ENOTFOUND' || sysCode === 'EAI_AGAIN' || sysCode === 'EAI_NONAME') {
    return mk(sysCode === 'EAI_AGAIN', 'ftp.dns', `Der FTP-Server „${s.host}“ wurde nicht gefunden (Namensauflösung/DNS fehlgeschlagen).`,
      `Bitte die Einstellung ${q('ftpHost')} und die Internetverbindung des Kassenservers prüfen.`);
  }
  if (sysCode === 'EHOSTUNREACH' || sysCode === 'ENETUNREACH' || sysCode === 'ENETDOWN') {
    return mk(true, 'ftp.unreachable', `Der FTP-Server ${where} ist nicht erreichbar (kein Netzwerkweg).`,
      'Bitte die Internetverbindung des Kassenservers prüfen.');
  }
  if (sysCode === 'ETIMEDOUT' || /^Timeout\b/.test(message) || /Timeout when trying to open data connection/.test(message)) {
    return mk(true, 'ftp.timeout',
      `Der FTP-Server ${where} antwortet nicht (Zeitlimit von ${seconds(s.timeoutMs)} überschritten).`,
      `Bitte Internetverbindung und Firewall prüfen; passt die Einstellung ${q('ftpTls')} zum Server (explizit/implizit)?`);
  }
  // TLS record errors after the handshake: the connection broke (e.g. the server process died and its
  // parent wrote a plain-text "500 OOPS" into the encrypted stream).
  if (sysCode.startsWith('ERR_SSL_') || /ssl3_get_record|wrong version number|bad record mac/i.test(message)) {
    return mk(true, 'ftp.lost', `Die verschlüsselte Verbindung zum FTP-Server ${where} wurde unterbrochen.`,
      'Später erneut versuchen; besteht das Problem weiter, Internetverbindung und FTP-Server prüfen.');
  }
  if (CONNECTION_LOST.test(sysCode) || CONNECTION_LOST.test(message) || /Server sent FIN|closed connection unexpectedly|Socket closed due to transmission error|Client is closed/.test(message)) {
    return mk(true, 'ftp.lost', `Die Verbindung zum FTP-Server ${where} wurde unterbrochen.`,
      'Später erneut versuchen; besteht das Problem weiter, Internetverbindung und FTP-Server prüfen.');
  }
  const short = message.replace(/\s*\((control|data) socket\)\s*$/, '').replace(/\s+/g, ' ').trim().slice(0, 300);
  return mk(false, 'ftp.failed', `Übertragung an den FTP-Server ${where} fehlgeschlagen: ${short}`,
    'Bitte die FTP-Einstellungen prüfen; die Meldung im Protokoll hilft dem Support.');
}

function seconds(ms: number): string {
  const n = Math.round(ms / 1000);
  return n === 1 ? '1 Sekunde' : `${n} Sekunden`;
}

function isCertCode(code: string): boolean {
  return CERT_SELF_SIGNED.has(code) || CERT_UNKNOWN_CA.has(code) || code.startsWith('CERT_') || code === 'ERR_TLS_CERT_ALTNAME_INVALID';
}

function tlsFailure(err: PhaseError & { code?: unknown }, code: string, reply: number | undefined, s: FtpSettings, presented?: string): Classified {
  const where = `${s.host}:${s.port}`;
  const mk = (c: string, message: string, hint: string): Classified => ({ transient: false, error: new UserError(message, { code: c, hint, cause: err }) });
  const shown = presented ? ` Fingerabdruck (SHA-256) des angebotenen Zertifikats: ${presented}.` : '';
  const pinHint =
    `Wenn es sicher der richtige Server ist: seinen SHA-256-Fingerabdruck (beim Betreiber des Servers erfragen und vergleichen) in der Einstellung ${q('ftpFingerprint')} hinterlegen, ` +
    `oder das Zertifikat der ausstellenden Stelle in ${q('ftpCaCert')}.` + shown;
  if (code === 'KW_FINGERPRINT_MISMATCH') {
    return mk('ftp.certPin',
      `Das Zertifikat des FTP-Servers ${where} passt nicht zum hinterlegten Fingerabdruck. Aus Sicherheitsgründen wurde nichts übertragen.`,
      `Hat der Betreiber das Zertifikat erneuert, den neuen Fingerabdruck in ${q('ftpFingerprint')} eintragen; sonst könnte sich ein fremder Server dazwischengeschaltet haben.` + shown);
  }
  if (CERT_SELF_SIGNED.has(code)) {
    return mk('ftp.certSelfSigned',
      `Das Zertifikat des FTP-Servers ${where} ist selbst signiert und wird deshalb nicht als vertrauenswürdig akzeptiert. Es wurde nichts übertragen.`, pinHint);
  }
  if (CERT_UNKNOWN_CA.has(code)) {
    return mk('ftp.certUnknownCa',
      `Das Zertifikat des FTP-Servers ${where} stammt von einer unbekannten Zertifizierungsstelle und wird nicht als vertrauenswürdig akzeptiert. Es wurde nichts übertragen.`, pinHint);
  }
  if (code === 'CERT_HAS_EXPIRED') {
    return mk('ftp.certExpired', `Das Zertifikat des FTP-Servers ${where} ist abgelaufen. Es wurde nichts übertragen.`,
      'Den Betreiber des FTP-Servers bitten, das Zertifikat zu erneuern.' + shown);
  }
  if (code === 'CERT_NOT_YET_VALID') {
    return mk('ftp.certNotYetValid', `Das Zertifikat des FTP-Servers ${where} ist noch nicht gültig. Es wurde nichts übertragen.`,
      'Bitte Datum und Uhrzeit des Kassenservers prüfen.');
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return mk('ftp.certName', `Das Zertifikat des FTP-Servers ist nicht für den Namen „${s.host}“ ausgestellt. Es wurde nichts übertragen.`,
      `Bitte in ${q('ftpHost')} den Namen eintragen, auf den das Zertifikat ausgestellt ist, oder den Fingerabdruck in ${q('ftpFingerprint')} hinterlegen.` + shown);
  }
  if (code.startsWith('CERT_') || code.includes('CERT')) {
    return mk('ftp.cert', `Das Zertifikat des FTP-Servers ${where} wurde nicht akzeptiert (${code}). Es wurde nichts übertragen.`, pinHint);
  }
  if (reply !== undefined) {
    return mk('ftp.noTls', `Der FTP-Server ${where} bietet keine verschlüsselte Verbindung (FTPS) an (Antwort ${reply}).`,
      `Passt die Einstellung ${q('ftpTls')} zum Server (explizit/implizit)? Unverschlüsselt nur auf ausdrücklichen Wunsch des Betreibers einstellen.`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return classify(Object.assign(err, { phase: 'connect' as const }), s, presented);
  }
  return mk('ftp.tls', `Die verschlüsselte Verbindung (TLS) zum FTP-Server ${where} kam nicht zustande (${code || err.message}).`,
    `Passt die Einstellung ${q('ftpTls')} zum Server (explizit/implizit)? Falls ja, den Betreiber des FTP-Servers fragen.`);
}
