/**
 * Reading and checking the FTP target's settings (keys of the backup plugin's manifest).
 */
import { X509Certificate } from 'node:crypto';
import type { SettingsView } from 'kassenwart/sdk';

/** How the connection is encrypted. */
export type FtpTlsMode = 'explicit' | 'implicit' | 'none';

/** The checked FTP settings. */
export interface FtpSettings {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Remote folder as configured: absolute, relative to the login folder, or "" for the login folder. */
  remoteDir: string;
  tls: FtpTlsMode;
  /** How many remote backups to keep (0 = never delete). */
  keep: number;
  /** Timeout for each answer of the server, in milliseconds. */
  timeoutMs: number;
  /** Pinned SHA-256 fingerprint of the server certificate, upper-case hex with colons, if set. */
  fingerprint?: string;
  /** Extra trusted CA certificate(s), PEM, if set. */
  caCert?: string;
}

/** German titles of the settings as the UI shows them (used in messages that name a setting). */
export const SETTING_TITLES = {
  ftpEnabled: 'FTP-Server gekoppelt',
  ftpHost: 'FTP-Server',
  ftpPort: 'FTP-Port',
  ftpUser: 'FTP-Benutzer',
  ftpPassword: 'FTP-Passwort',
  ftpRemoteDir: 'FTP-Pfad',
  ftpTls: 'Verschlüsselung',
  ftpKeep: 'Sicherungen auf dem FTP-Server behalten',
  ftpTimeoutSeconds: 'Zeitlimit (Sekunden)',
  ftpFingerprint: 'Zertifikat-Fingerabdruck (SHA-256)',
  ftpCaCert: 'CA-Zertifikat (PEM)',
} as const;

/** „Titel“ in German quotes. */
export function q(key: keyof typeof SETTING_TITLES): string {
  return `„${SETTING_TITLES[key]}“`;
}

/** Result of reading the settings: either usable settings, or why not (German). */
export type FtpSettingsResult =
  | { state: 'ok'; settings: FtpSettings }
  | { state: 'off'; reason: string }
  | { state: 'invalid'; reason: string };

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : v === undefined || v === null ? '' : String(v).trim());

function num(v: unknown, fallback: number): number {
  if (v === undefined || v === null || v === '') return fallback;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : NaN;
}

/** Normalises a SHA-256 fingerprint ("ab cd …", "AB:CD:…", "abcd…") to "AB:CD:…"; undefined if malformed. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/^sha-?256[:=\s]*/i, '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

/** Reads the ftp* settings, applying the documented defaults when a value is missing. */
export function readFtpSettings(view: Pick<SettingsView, 'get'>): FtpSettingsResult {
  if (view.get<boolean>('ftpEnabled') !== true) {
    return { state: 'off', reason: `Nicht mit einem FTP-Server gekoppelt (Einstellung ${q('ftpEnabled')} ist aus).` };
  }
  const missing: string[] = [];
  const host = str(view.get('ftpHost'));
  const user = str(view.get('ftpUser'));
  const passwordRaw = view.get<unknown>('ftpPassword');
  const password = typeof passwordRaw === 'string' ? passwordRaw : '';
  if (!host) missing.push(q('ftpHost'));
  if (!user) missing.push(q('ftpUser'));
  if (!password) missing.push(q('ftpPassword'));
  if (missing.length) {
    const which = missing.length === 1 ? `die Einstellung ${missing[0]} fehlt` : `die Einstellungen ${missing.join(', ')} fehlen`;
    return { state: 'invalid', reason: `FTP-Server nicht vollständig eingerichtet: ${which}.` };
  }
  const port = num(view.get('ftpPort'), 21);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { state: 'invalid', reason: `Die Einstellung ${q('ftpPort')} ist ungültig (erlaubt: 1 bis 65535).` };
  }
  const tlsRaw = str(view.get('ftpTls')) || 'explicit';
  if (tlsRaw !== 'explicit' && tlsRaw !== 'implicit' && tlsRaw !== 'none') {
    return { state: 'invalid', reason: `Die Einstellung ${q('ftpTls')} ist ungültig („${tlsRaw}“; erlaubt: explicit, implicit, none).` };
  }
  const keep = num(view.get('ftpKeep'), 14);
  if (!Number.isInteger(keep) || keep < 0) {
    return { state: 'invalid', reason: `Die Einstellung ${q('ftpKeep')} ist ungültig (eine ganze Zahl ab 0 erwartet).` };
  }
  const timeout = num(view.get('ftpTimeoutSeconds'), 30);
  if (!(timeout > 0)) {
    return { state: 'invalid', reason: `Die Einstellung ${q('ftpTimeoutSeconds')} ist ungültig (eine Zahl größer 0 erwartet).` };
  }
  const settings: FtpSettings = {
    host, port, user, password, tls: tlsRaw, keep,
    remoteDir: str(view.get('ftpRemoteDir')),
    timeoutMs: Math.round(timeout * 1000),
  };
  const fp = str(view.get('ftpFingerprint'));
  if (fp) {
    const norm = normalizeFingerprint(fp);
    if (!norm) {
      return {
        state: 'invalid',
        reason: `Die Einstellung ${q('ftpFingerprint')} ist ungültig: erwartet werden 64 Hexadezimalziffern (mit oder ohne Doppelpunkte).`,
      };
    }
    settings.fingerprint = norm;
  }
  const ca = str(view.get('ftpCaCert'));
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      return {
        state: 'invalid',
        reason: `Die Einstellung ${q('ftpCaCert')} enthält kein lesbares Zertifikat (erwartet: PEM-Text ab „-----BEGIN CERTIFICATE-----“).`,
      };
    }
    settings.caCert = ca;
  }
  if (settings.tls === 'none' && (settings.fingerprint || settings.caCert)) {
    return {
      state: 'invalid',
      reason: `Ein Zertifikat bzw. Fingerabdruck ist hinterlegt, aber die Einstellung ${q('ftpTls')} steht auf „unverschlüsselt“.`,
    };
  }
  return { state: 'ok', settings };
}
