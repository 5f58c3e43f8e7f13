/**
 * The backup plugin's settings validator (plugin.json `contributes.settings.validator`): the checks the schema's
 * patterns cannot make. Folder and database paths: where they lead after symbolic links (never into a system
 * folder) and, when they exist, that they are a folder / a file. FTP: the fingerprint has 64 hex digits, every
 * CA certificate block parses, and "unverschlüsselt" is not combined with a certificate or fingerprint.
 * The rules are documented in docs/SECURITY.md ("Settings checked when they are set").
 */
import { X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { realPathSoFar, type SettingsProblem, type SettingsValidator } from 'kassenwart/sdk';
import { normalizeFingerprint, SETTING_TITLES } from './ftp/settings.js';

/** Operating-system folders no backup folder or database path may lie in (also in plugin.json's patterns). */
export const SYSTEM_FOLDERS = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/run',
  '/sbin', '/sys', '/usr', '/var/run', '/var/lock'];

const inSystemFolder = (p: string) => p === '/' || SYSTEM_FOLDERS.some((s) => p === s || p.startsWith(s + '/'));

async function pathProblems(key: 'backupDir' | 'posDatabasePath', value: string): Promise<SettingsProblem[]> {
  const p = value.trim();
  if (!p) return [];
  const title = key === 'backupDir' ? '„Ordner für lokale Sicherungen“' : '„Pfad der Kassendatenbank“';
  const example = key === 'backupDir' ? 'z. B. /var/backups/kasse' : 'z. B. /var/lib/kasse/kasse.sqlite';
  const real = await realPathSoFar(p);
  if (inSystemFolder(real)) {
    return [{ key, message: `${title}: „${p}“ führt über eine Verknüpfung nach „${real}“, in einen Systemordner. Bitte einen eigenen Ordner angeben, ${example}.` }];
  }
  const st = await stat(p).catch(() => undefined);
  if (st && key === 'backupDir' && !st.isDirectory()) {
    return [{ key, message: `${title}: „${p}“ ist kein Ordner. Bitte einen Ordner angeben, ${example}.` }];
  }
  if (st && key === 'posDatabasePath' && !st.isFile()) {
    return [{ key, message: `${title}: „${p}“ ist keine Datei. Erwartet wird die SQLite-Datei der Kasse, ${example}.` }];
  }
  return [];
}

function caProblem(text: string): string | undefined {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const rest = blocks.reduce((t, b) => t.replace(b, ''), text);
  if (!blocks.length || rest.trim()) return 'enthält Text außerhalb der Zertifikatsblöcke';
  for (const [i, b] of blocks.entries()) {
    try { new X509Certificate(b); } catch { return `Zertifikat ${i + 1} ist nicht lesbar`; }
  }
  return undefined;
}

const validateBackupSettings: SettingsValidator = async (values, { changed }) => {
  const out: SettingsProblem[] = [];
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : '');
  for (const key of ['backupDir', 'posDatabasePath'] as const) {
    if (changed.includes(key)) out.push(...(await pathProblems(key, str(key))));
  }
  const fp = str('ftpFingerprint').trim();
  if (changed.includes('ftpFingerprint') && fp && !normalizeFingerprint(fp)) {
    out.push({ key: 'ftpFingerprint', message: `„${SETTING_TITLES.ftpFingerprint}“: erwartet werden genau 64 Hexadezimalziffern (0–9, A–F), mit oder ohne Doppelpunkte, z. B. „AB:CD:…“ (32 Paare), wie „openssl x509 -fingerprint -sha256“ sie zeigt.` });
  }
  const ca = str('ftpCaCert').trim();
  const bad = ca && changed.includes('ftpCaCert') ? caProblem(ca) : undefined;
  if (bad) {
    out.push({ key: 'ftpCaCert', message: `„${SETTING_TITLES.ftpCaCert}“: ${bad}. Erwartet wird ein oder mehrere Zertifikate im PEM-Format, je von „-----BEGIN CERTIFICATE-----“ bis „-----END CERTIFICATE-----“.` });
  }
  if (str('ftpTls') === 'none' && (fp || ca)) {
    const message = `„${SETTING_TITLES.ftpTls}“ steht auf „unverschlüsselt“, aber ${fp ? 'ein Zertifikat-Fingerabdruck' : 'ein CA-Zertifikat'} ist hinterlegt: unverschlüsselt wird kein Zertifikat geprüft. Entweder FTPS (explizit oder implizit) wählen oder Fingerabdruck und CA-Zertifikat leeren.`;
    for (const key of ['ftpTls', 'ftpFingerprint', 'ftpCaCert']) if (changed.includes(key)) out.push({ key, message });
  }
  return out;
};

export default validateBackupSettings;
