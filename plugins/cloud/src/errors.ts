/**
 * Every failure of the object store in German, with what to do: wrong keys (403), unknown bucket, clock skew,
 * endpoint unreachable, store full / quota, a copy that arrived damaged. `unreachable` marks the failures that
 * heal by themselves (network, timeouts, 5xx), for which the queue simply tries again later.
 */
import { UserError, isUserError } from 'kassenwart/sdk';

/** What the SDK's service errors carry. */
interface S3ErrorLike {
  name?: string;
  Code?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { statusCode?: number };
  cause?: unknown;
}

const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

function netCode(e: unknown, depth = 0): string | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const x = e as S3ErrorLike & { errors?: unknown[] };
  if (x.code && NET_CODES.has(x.code)) return x.code;
  if (x.name === 'TimeoutError' || x.name === 'RequestTimeout' || /socket hang up|timed out|ECONNRESET/i.test(x.message ?? '')) return 'ETIMEDOUT';
  for (const sub of x.errors ?? []) { const c = netCode(sub, depth + 1); if (c) return c; }
  return netCode(x.cause, depth + 1);
}

/** True for a failure that will likely go away by itself (the copy stays queued). */
export function isTransient(e: unknown): boolean {
  if (isUserError(e)) return e.code === 'cloud.unreachable' || e.code === 'cloud.server' || e.code === 'cloud.bad-digest';
  const status = (e as S3ErrorLike)?.$metadata?.httpStatusCode ?? 0;
  return !!netCode(e) || status >= 500;
}

/** Translates an SDK or network error into a UserError (passes UserErrors through). */
export function translateS3Error(e: unknown, where: { endpoint: string; bucket: string }): UserError {
  if (isUserError(e)) return e;
  const x = (e ?? {}) as S3ErrorLike;
  const code = x.Code ?? x.name ?? '';
  const status = x.$metadata?.httpStatusCode ?? x.$response?.statusCode ?? 0;
  const opts = (c: string, hint: string, st = 502) => ({ code: c, hint, cause: e, status: st });
  if (code === 'RequestTimeTooSkewed' || /time.*skew/i.test(x.message ?? '')) {
    return new UserError('Die Uhrzeit des Kassenservers weicht zu stark von der des Cloud-Speichers ab; der Speicher lehnt die Anfrage ab.',
      opts('cloud.clock-skew', 'Bitte Datum, Uhrzeit und Zeitzone des Kassenservers prüfen (Zeitsynchronisation einschalten) und erneut versuchen.'));
  }
  if (code === 'QuotaExceeded' || code === 'InsufficientStorage' || code === 'InsufficientCapacity' || code === 'StorageQuotaExceeded' || code === 'EntityTooLarge' || status === 507) {
    return new UserError('Der Cloud-Speicher ist voll oder das Speicherkontingent ist erschöpft; die Kopie wurde nicht gespeichert.',
      opts('cloud.full', 'Bitte beim Anbieter mehr Speicher buchen oder weniger Sicherungen aufbewahren (Einstellungen: täglich/wöchentlich/monatlich).', 507));
  }
  if (code === 'InvalidAccessKeyId' || code === 'SignatureDoesNotMatch' || code === 'InvalidToken' || code === 'AccessDenied' || status === 403) {
    return new UserError(`Der Cloud-Speicher verweigert den Zugang (403): Zugangsschlüssel oder geheimer Schlüssel sind falsch, oder der Schlüssel darf den Bucket „${where.bucket}“ nicht beschreiben.`,
      opts('cloud.auth', 'Bitte Zugangsschlüssel (Access Key) und geheimen Schlüssel (Secret Key) in den Einstellungen der Cloud-Kasse prüfen.'));
  }
  if (code === 'NoSuchBucket' || (status === 404 && /bucket/i.test(x.message ?? code))) {
    return new UserError(`Den Bucket „${where.bucket}“ gibt es beim Cloud-Speicher ${where.endpoint} nicht.`,
      opts('cloud.no-bucket', 'Bitte den Namen des Buckets in den Einstellungen prüfen oder den Bucket beim Anbieter anlegen.'));
  }
  if (code === 'BadDigest' || code === 'InvalidDigest') {
    return new UserError('Die Kopie kam beim Cloud-Speicher beschädigt an (Prüfsumme stimmt nicht) und wurde verworfen.',
      opts('cloud.bad-digest', 'Die Übertragung wird automatisch wiederholt.'));
  }
  const net = netCode(e);
  if (net) {
    return new UserError(`Der Cloud-Speicher ${where.endpoint} ist nicht erreichbar (${net}).`,
      opts('cloud.unreachable', 'Bitte Internetverbindung und S3-Endpunkt prüfen. Die Kopie wartet und wird automatisch gesendet, sobald der Speicher wieder erreichbar ist.', 503));
  }
  if (status >= 500) {
    return new UserError(`Der Cloud-Speicher meldet einen Fehler (${status}${code ? ' ' + code : ''}).`,
      opts('cloud.server', 'Die Übertragung wird später automatisch wiederholt.'));
  }
  return new UserError(`Der Cloud-Speicher hat die Anfrage abgelehnt (${status || '–'} ${code || x.message || 'unbekannter Fehler'}).`,
    opts('cloud.error', 'Bitte die Einstellungen der Cloud-Kasse prüfen.'));
}
