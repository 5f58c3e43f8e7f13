/**
 * The push for salons that cannot be scraped: every few minutes and shortly after each job, the current
 * values go to the vendor's remote-write endpoint. Offline-safe and bounded: batches that could not be sent
 * wait in a small queue (oldest dropped first); the next round sends them in order, then the new one. Nothing
 * here ever waits on a job: pushes run on timers, a push never runs twice at once, and every request has a
 * timeout.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { Logger } from 'kassenwart/sdk';
import { encodeWriteRequest, REMOTE_WRITE_HEADERS, type Series } from './remote-write-encode.js';
import type { MetricFamily } from './api.js';

/** Where and how to push (read from the settings before each round). */
export interface RemoteWriteConfig {
  url: string;
  auth: 'bearer' | 'basic' | 'none';
  user: string;
  secret: string;
  caCert: string;
  intervalSeconds: number;
}

/** Batches kept while the endpoint is unreachable: with the default 5 minutes, one hour. */
export const MAX_QUEUED_BATCHES = 12;
const REQUEST_TIMEOUT_MS = 30_000;
/** A job's result is pushed this long after it finished (jobs that end together share one push). */
export const AFTER_JOB_DELAY_MS = 2_000;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** German reason why the config cannot be used, or undefined. */
export function configProblem(c: RemoteWriteConfig): string | undefined {
  let u: URL;
  try { u = new URL(c.url); } catch { return `Die Remote-Write-Adresse „${c.url}“ ist keine gültige URL.`; }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
    return 'Remote-Write nur über https:// (unverschlüsseltes http:// ist nur an 127.0.0.1 erlaubt).';
  }
  if (u.username || u.password) return 'Benutzer und Passwort bitte nicht in die Adresse schreiben, sondern in die Felder „Benutzer“ und „Token bzw. Passwort“.';
  if (c.auth !== 'none' && !c.secret) return `Für die Anmeldung „${c.auth === 'basic' ? 'Basic' : 'Bearer-Token'}“ fehlt das Token bzw. Passwort.`;
  if (c.auth === 'basic' && !c.user) return 'Für die Anmeldung „Basic“ fehlt der Benutzer.';
  return undefined;
}

/** Outcome of one HTTP request. */
interface Sent { status: number; body: string }

function post(c: RemoteWriteConfig, body: Uint8Array): Promise<Sent> {
  const u = new URL(c.url);
  const headers: Record<string, string> = { ...REMOTE_WRITE_HEADERS, 'user-agent': 'kassenwart-metrics/1.0', 'content-length': String(body.byteLength) };
  if (c.auth === 'bearer') headers.authorization = `Bearer ${c.secret}`;
  if (c.auth === 'basic') headers.authorization = `Basic ${Buffer.from(`${c.user}:${c.secret}`).toString('base64')}`;
  const req = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const r = req(u, {
      method: 'POST', headers, timeout: REQUEST_TIMEOUT_MS,
      // An extra CA is added to Node's bundled ones; certificates are always verified.
      ...(u.protocol === 'https:' && c.caCert.trim() ? { ca: [...rootCertificates, c.caCert] } : {}),
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (text.length < 2000) text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    r.on('timeout', () => r.destroy(new Error(`keine Antwort innerhalb von ${REQUEST_TIMEOUT_MS / 1000} s`)));
    r.on('error', reject);
    r.end(body);
  });
}


/** What the status shows and the plugin's own metrics report. */
export interface PushState {
  lastSuccessAt?: number;
  lastFailureAt?: number;
  lastError?: string;
  queued: number;
  droppedBatches: number;
  sentBatches: number;
  sentBytes: number;
}

/** Runs the pushes. `collect` gives the series of one round. */
export class RemoteWriter {
  private queue: Uint8Array[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  /** Timers run only between start() and stop(). */
  private started = false;
  /** After stop(), no request is sent any more. */
  private closed = false;
  readonly state: PushState = { queued: 0, droppedBatches: 0, sentBatches: 0, sentBytes: 0 };

  constructor(
    private readonly config: () => RemoteWriteConfig | undefined,
    private readonly collect: () => Promise<Series[]>,
    private readonly log: Logger,
  ) {}

  /** Starts the interval (re-read from the settings after every round). */
  start(): void {
    this.started = true;
    this.closed = false;
    this.schedule(5_000);
  }

  stop(): void {
    this.started = false;
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.soon);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (!this.started) return;
    this.timer = setTimeout(() => { void this.pushNow(); }, ms);
    this.timer.unref();
  }

  /** A job finished: push its outcome shortly (several jobs in a row share one push). */
  afterJob(): void {
    if (!this.started || !this.config()) return;
    clearTimeout(this.soon);
    this.soon = setTimeout(() => { void this.pushNow(); }, AFTER_JOB_DELAY_MS);
    this.soon.unref();
  }

  /** One round: collect, enqueue, send what is queued (oldest first). Never throws; never runs twice at once. */
  pushNow(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = this.round().finally(() => {
      this.running = undefined;
      if (this.again && !this.closed) { this.again = false; void this.pushNow(); }
    });
    return this.running;
  }

  private async round(): Promise<void> {
    const c = this.config();
    try {
      if (!c) { this.queue = []; return; }
      const problem = configProblem(c);
      if (problem) {
        this.fail(problem);
        return;
      }
      this.enqueue(encodeWriteRequest(await this.collect()));
      while (this.queue.length && !this.closed) {
        const body = this.queue[0];
        let res: Sent;
        try {
          res = await post(c, body);
        } catch (e) {
          this.fail(`Remote-Write-Server nicht erreichbar: ${e instanceof Error ? e.message : String(e)}`);
          return;
        }
        if (res.status >= 200 && res.status < 300) {
          this.queue.shift();
          this.state.sentBatches++;
          this.state.sentBytes += body.byteLength;
          this.state.lastSuccessAt = Date.now();
          this.state.lastError = undefined;
        } else if (res.status >= 400 && res.status < 500 && res.status !== 429) {
          // The server will never take this batch (bad auth is kept: the technician may fix the token).
          if (res.status === 401 || res.status === 403) { this.fail(`Remote-Write-Server lehnt die Anmeldung ab (HTTP ${res.status}). Token bzw. Passwort prüfen.`); return; }
          this.queue.shift();
          this.state.droppedBatches++;
          this.fail(`Remote-Write-Server lehnt die Daten ab (HTTP ${res.status}): ${res.body.trim().slice(0, 200)}`);
        } else {
          this.fail(`Remote-Write-Server antwortet mit HTTP ${res.status}; neuer Versuch beim nächsten Senden.`);
          return;
        }
      }
    } catch (e) {
      this.fail(`Kennzahlen konnten nicht gesendet werden: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.state.queued = this.queue.length;
      this.schedule((c?.intervalSeconds ?? 300) * 1000);
    }
  }

  private enqueue(body: Uint8Array): void {
    this.queue.push(body);
    while (this.queue.length > MAX_QUEUED_BATCHES) {
      this.queue.shift();
      this.state.droppedBatches++;
    }
    this.state.queued = this.queue.length;
  }

  private fail(message: string): void {
    if (this.state.lastError !== message) this.log.warn(message);
    this.state.lastError = message;
    this.state.lastFailureAt = Date.now();
  }

  /** The plugin's own families about the push. */
  families(): MetricFamily[] {
    if (!this.config()) return [];
    const s = this.state;
    const out: MetricFamily[] = [
      { name: 'kassenwart_remote_write_queued_batches', help: 'Batches waiting to be pushed (bounded).', samples: [{ value: s.queued }] },
      { name: 'kassenwart_remote_write_dropped_batches_total', help: 'Batches dropped (queue full or refused by the server).', type: 'counter', samples: [{ value: s.droppedBatches }] },
      { name: 'kassenwart_remote_write_sent_bytes_total', help: 'Compressed bytes pushed successfully.', type: 'counter', samples: [{ value: s.sentBytes }] },
    ];
    if (s.lastSuccessAt) out.push({ name: 'kassenwart_remote_write_last_success_timestamp_seconds', help: 'When the last push succeeded.', samples: [{ value: s.lastSuccessAt / 1000 }] });
    return out;
  }
}
