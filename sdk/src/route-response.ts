/**
 * A plugin route normally answers JSON. A route that must answer another format (the Prometheus text
 * format of /metrics) returns a RawResponse made with rawResponse().
 */
const RAW = Symbol.for('kassenwart.rawResponse');

/** A non-JSON answer of a plugin route. */
export interface RawResponse {
  readonly [RAW]: true;
  status: number;
  contentType: string;
  body: string | Uint8Array;
  headers: Record<string, string>;
}

/** Makes a non-JSON answer, e.g. `rawResponse(text, { contentType: 'text/plain; version=0.0.4' })`. */
export function rawResponse(body: string | Uint8Array, options: { status?: number; contentType?: string; headers?: Record<string, string> } = {}): RawResponse {
  return { [RAW]: true, status: options.status ?? 200, contentType: options.contentType ?? 'text/plain; charset=utf-8', body, headers: options.headers ?? {} };
}

/** True for a value made by rawResponse() (also from another copy of the SDK). */
export function isRawResponse(v: unknown): v is RawResponse {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[RAW] === true;
}
