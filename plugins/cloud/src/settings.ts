/**
 * The cloud plugin's settings, typed, and what "eingerichtet" means: endpoint, bucket, both keys and at least
 * one age recipient. Recipients are public keys only (`age1…`); the schema pattern refuses anything else at
 * set time, and `parseRecipients` re-checks each one's bech32 checksum before it is used.
 */
import { hostname } from 'node:os';
import { Encrypter } from 'age-encryption';
import type { SettingsReader, SettingsView } from 'kassenwart/sdk';

/** The plugin's settings with defaults applied. */
export interface CloudSettings {
  endpoint: string;
  region: string;
  bucket: string;
  /** Folder in the bucket for this salon, without slashes at either end. */
  prefix: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  recipients: string[];
  intervalHours: number;
  retainDaily: number;
  retainWeekly: number;
  retainMonthly: number;
  objectLockDays: number;
  objectLockMode: 'GOVERNANCE' | 'COMPLIANCE';
  timeoutSeconds: number;
}

/** Splits the recipients setting (comma, semicolon, space or line break separated). */
export function splitRecipients(value: string): string[] {
  return value.split(/[\s,;]+/).map((r) => r.trim()).filter(Boolean);
}

/** German reason why a recipient is not a usable age public key, or undefined when it is. */
export function recipientProblem(r: string): string | undefined {
  if (/^AGE-SECRET-KEY-/i.test(r)) return 'Das ist ein geheimer age-Schlüssel (AGE-SECRET-KEY-…). Hier gehört nur der öffentliche Schlüssel (age1…) hin; der geheime Schlüssel darf nicht auf dem Kassenserver liegen.';
  if (!r.startsWith('age1')) return `„${r.slice(0, 20)}…“ ist kein öffentlicher age-Schlüssel (er beginnt mit „age1“).`;
  try {
    new Encrypter().addRecipient(r); // parses the bech32 key and its checksum
  } catch {
    return `Der öffentliche age-Schlüssel „${r.slice(0, 12)}…“ ist unvollständig oder vertippt (Prüfsumme stimmt nicht).`;
  }
  return undefined;
}

/** The recipients, each checked; throws nothing, returns the problems instead. */
export function parseRecipients(value: string): { recipients: string[]; problems: string[] } {
  const recipients = splitRecipients(value);
  const problems = recipients.map(recipientProblem).filter((p): p is string => !!p);
  return { recipients, problems };
}

/** A bucket folder name from the installation's name: lower case, letters, digits and dashes. */
export function slug(name: string): string {
  const s = name.normalize('NFKD').replace(/[\u0300-\u036f]/g, '').replace(/ß/g, 'ss').toLowerCase()
    .replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 60);
  return s || 'kasse';
}

/** The per-salon prefix: the setting, else the remote-support installation name, else the host name. */
export function defaultPrefix(other: Pick<SettingsReader, 'get'> | undefined): string {
  const name = other?.get<string>('remote-support', 'installationName');
  return slug(typeof name === 'string' && name.trim() ? name : hostname());
}

/** Reads the current settings. */
export function readSettings(settings: Pick<SettingsView, 'get'>, other?: Pick<SettingsReader, 'get'>): CloudSettings {
  const str = (k: string, d = '') => String(settings.get<string>(k) ?? d).trim();
  const num = (k: string, d: number) => { const v = Number(settings.get(k)); return Number.isFinite(v) ? v : d; };
  const prefix = str('prefix').replace(/^\/+|\/+$/g, '');
  return {
    endpoint: str('endpoint').replace(/\/+$/, ''),
    region: str('region', 'us-east-1') || 'us-east-1',
    bucket: str('bucket'),
    prefix: prefix || defaultPrefix(other),
    accessKeyId: str('accessKeyId'),
    secretAccessKey: String(settings.get<string>('secretAccessKey') ?? ''),
    forcePathStyle: settings.get<boolean>('forcePathStyle') !== false,
    recipients: splitRecipients(str('recipients')),
    intervalHours: num('intervalHours', 24),
    retainDaily: num('retainDaily', 14),
    retainWeekly: num('retainWeekly', 8),
    retainMonthly: num('retainMonthly', 12),
    objectLockDays: num('objectLockDays', 30),
    objectLockMode: settings.get<string>('objectLockMode') === 'COMPLIANCE' ? 'COMPLIANCE' : 'GOVERNANCE',
    timeoutSeconds: num('timeoutSeconds', 60),
  };
}

/** What is missing before the cloud target can be used (German field names); empty when "eingerichtet". */
export function missingSettings(s: CloudSettings): string[] {
  const out: string[] = [];
  if (!s.endpoint) out.push('S3-Endpunkt');
  if (!s.bucket) out.push('Bucket');
  if (!s.accessKeyId) out.push('Zugangsschlüssel (Access Key)');
  if (!s.secretAccessKey) out.push('geheimer Schlüssel (Secret Key)');
  if (!s.recipients.length) out.push('öffentlicher age-Schlüssel des Herstellers');
  return out;
}
