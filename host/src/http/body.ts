import type Koa from 'koa';
import getRawBody from 'raw-body';
import { UserError } from 'kassenwart/sdk';

/** Largest JSON body the API accepts. */
export const BODY_LIMIT_BYTES = 256 * 1024;

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function bad(message: string, code = 'request.body', status = 400): UserError {
  return new UserError(message, {
    code, status,
    hint: status === 415
      ? 'Die Schnittstelle nimmt nur JSON an: Kopfzeile „Content-Type: application/json“ und ein JSON-Objekt in UTF-8.'
      : 'Ein JSON-Objekt in UTF-8 senden, z. B. {"mode": "D"}.',
  });
}

function hasBody(req: Koa.Request['req']): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const len = req.headers['content-length'];
  return len !== undefined && len !== '0';
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'eine Liste';
  if (typeof v === 'number') return 'eine Zahl';
  if (typeof v === 'string') return 'ein Text';
  if (typeof v === 'boolean') return 'ein Wahrheitswert';
  return typeof v;
}

/**
 * Parses the JSON text of a request body strictly. Returns the object, or throws a UserError (400) saying what is
 * wrong, in German: a byte-order mark, bytes that are not UTF-8, text that is not JSON, a top-level value that is
 * not an object, a key `__proto__` (or `constructor.prototype`) anywhere, nesting too deep to walk.
 */
export function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw bad('Die Anfrage beginnt mit einer Byte-Order-Mark (BOM); JSON wird ohne BOM erwartet.');
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw bad('Die Anfrage enthält Bytes, die kein gültiges UTF-8 sind.');
  }
  let value: unknown;
  try {
    value = JSON.parse(text, (key, v) => {
      if (key === '__proto__' || (key === 'constructor' && v && typeof v === 'object' && 'prototype' in v)) {
        throw new UserError(`Die Anfrage enthält den nicht erlaubten Schlüssel „${key === '__proto__' ? '__proto__' : 'constructor.prototype'}“.`,
          { code: 'request.body', status: 400, hint: 'Diesen Schlüssel entfernen.' });
      }
      return v;
    });
  } catch (e) {
    if (e instanceof UserError) throw e;
    if (e instanceof RangeError) throw bad('Die Anfrage ist zu tief verschachtelt.');
    throw bad('Die Anfrage ist kein gültiges JSON.');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw bad(`Erwartet wird ein JSON-Objekt ({…}), nicht ${kindOf(value)}.`);
  }
  return value as Record<string, unknown>;
}

/**
 * Reads the body of every request that may change something (not GET/HEAD/OPTIONS) and has one: it must be JSON
 * (`application/json`, UTF-8, not compressed; 415 otherwise), at most BODY_LIMIT_BYTES (413), and one JSON object
 * (400, see parseJsonObject). The result is `ctx.request.body`; a request without a body gets `undefined`.
 */
export function jsonBody(limit = BODY_LIMIT_BYTES): Koa.Middleware {
  return async (ctx, next) => {
    if (SAFE.has(ctx.method) || !hasBody(ctx.req)) return next();
    const encoding = (ctx.get('content-encoding') || 'identity').toLowerCase();
    if (encoding !== 'identity') throw bad(`Komprimierte Anfragen („${encoding}“) werden nicht angenommen.`, 'request.type', 415);
    if (!ctx.is('application/json')) {
      const sent = ctx.get('content-type');
      throw bad(sent ? `Die Anfrage muss JSON sein, nicht „${sent.split(';')[0].trim().slice(0, 60)}“.` : 'Die Anfrage muss JSON sein (Content-Type fehlt).', 'request.type', 415);
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(ctx.get('content-type'))?.[1]?.toLowerCase();
    if (charset && charset !== 'utf-8' && charset !== 'utf8') {
      throw bad(`Die Anfrage muss UTF-8 sein, nicht „${charset.slice(0, 30)}“.`, 'request.type', 415);
    }
    let bytes: Buffer;
    try {
      bytes = await getRawBody(ctx.req, { length: ctx.get('content-length') || undefined, limit });
    } catch (e) {
      const type = (e as { type?: string }).type;
      if (type === 'entity.too.large') {
        ctx.set('Connection', 'close');
        ctx.req.resume(); // discard the rest instead of leaving the sender stuck
        throw new UserError(`Die Anfrage ist zu groß (höchstens ${Math.round(limit / 1024)} KB).`,
          { code: 'request.too-large', status: 413, hint: 'Weniger auf einmal senden, z. B. nur die geänderten Einstellungen.' });
      }
      throw bad('Die Anfrage kam nicht vollständig an.', 'request.incomplete');
    }
    (ctx.request as { body?: unknown }).body = bytes.length ? parseJsonObject(bytes) : undefined;
    await next();
  };
}
