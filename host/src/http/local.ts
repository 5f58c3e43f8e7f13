/**
 * The local control channel: the running server also answers its HTTP API on a unix socket in the data
 * folder (`<data>/kassenwart.sock`, mode 0600, owned by the server's user), so that `kassenwart …` on the
 * same machine asks the server instead of working beside it. Whoever may open the socket may run the CLI on
 * the data folder anyway (it reads `secret.key` and `state.sqlite`); requests on the socket therefore act
 * as the local administrator "cli" with the technician's rights, without sign-in or CSRF token (a browser
 * cannot reach a unix socket). See docs/SECURITY.md ("Local control channel").
 */
import { createServer, request, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { connect } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { join } from 'node:path';

/** File name of the socket in the data folder. */
export const SOCKET_NAME = 'kassenwart.sock';
/** Longest unix socket path Linux accepts (sun_path is 108 bytes with the terminating NUL). */
const MAX_SOCKET_PATH = 107;

export function socketPath(dataDir: string): string {
  return join(dataDir, SOCKET_NAME);
}

const local = new WeakSet<IncomingMessage>();

/** True when the request came in on the local socket. */
export function isLocalRequest(req: IncomingMessage): boolean {
  return local.has(req);
}

/** Whether something answers on the socket (a server for this data folder runs). */
export function probe(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export class LocalChannelError extends Error {}

/**
 * Listens on `<data>/kassenwart.sock`. Refuses (LocalChannelError, German) when another server already
 * answers there; removes a socket file a killed server left behind. The socket is created under umask 177,
 * so it is never reachable by others, not even for a moment.
 */
export async function listenLocal(dataDir: string, handler: RequestListener): Promise<Server> {
  const path = socketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new LocalChannelError(`Der Pfad des Datenordners ist zu lang für den lokalen Steuerkanal (${path}).`);
  }
  if (await probe(path)) {
    throw new LocalChannelError(`Für den Datenordner ${dataDir} läuft bereits ein Kassenwart-Server. Diesen zuerst beenden.`);
  }
  await unlink(path).catch(() => {});
  const server = createServer((req, res) => { local.add(req); handler(req, res); });
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const old = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(old);
    }
  });
  await chmod(path, 0o600);
  return server;
}

/** Answer of a request over the socket. */
export interface LocalResponse<T = any> {
  status: number;
  body: T;
}

/** A client of the running server's API over the local socket (the CLI side). */
export class LocalClient {
  constructor(readonly path: string) {}

  /** A client when a server answers for this data folder, else undefined (then the CLI works in-process). */
  static async connect(dataDir: string, answerMs = Number(process.env.KASSENWART_LOCAL_TIMEOUT_MS ?? 5000)): Promise<LocalClient | undefined> {
    const path = socketPath(dataDir);
    // KASSENWART_CLI_LOCAL=1: work on the data folder itself even beside a running server (scripts, a server
    // that must not be asked); the maintenance lock still keeps the two apart.
    if (process.env.KASSENWART_CLI_LOCAL === '1') return undefined;
    if (!(await probe(path))) return undefined;
    // A socket that accepts is not yet a server that answers: a stopped or hung server (SIGSTOP, a blocked event
    // loop) accepts in the kernel and never replies. Ask its health (any HTTP status counts, 503 while starting).
    const client = new LocalClient(path);
    const answered = await new Promise<boolean>((resolve) => {
      const req = request({ socketPath: path, method: 'GET', path: '/api/health', headers: { host: 'localhost' }, timeout: answerMs }, (res) => {
        res.resume();
        resolve(true);
      });
      req.once('timeout', () => { req.destroy(); resolve(false); });
      req.once('error', () => resolve(false));
      req.end();
    });
    if (!answered) {
      process.stderr.write(`Der Server für diesen Datenordner antwortet nicht (seit ${Math.round(answerMs / 1000)} s); der Befehl läuft ohne ihn, `
        + 'mit der Wartungssperre des Datenordners.\n');
      return undefined;
    }
    return client;
  }

  private open(method: string, path: string, body?: unknown): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request({
        socketPath: this.path, method, path,
        headers: { host: 'localhost', ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
      }, resolve);
      req.once('error', reject);
      req.end(data);
    });
  }

  /** Calls the API; the body is parsed as JSON. */
  async api<T = any>(method: string, path: string, body?: unknown): Promise<LocalResponse<T>> {
    return LocalClient.read<T>(await this.open(method, path, body));
  }

  private static async read<T>(res: IncomingMessage): Promise<LocalResponse<T>> {
    let text = '';
    res.setEncoding('utf8');
    for await (const chunk of res) text += chunk;
    let parsed: any = text;
    try { parsed = text ? JSON.parse(text) : undefined; } catch { /* not JSON */ }
    return { status: res.statusCode ?? 0, body: parsed };
  }

  /**
   * A request whose answer may be server-sent events: calls `on(event, data)` for each event until the server
   * ends the stream (resolves undefined) or rejects when the connection breaks. An answer that is not an event
   * stream (an error, or JSON) is returned as a LocalResponse instead.
   */
  async stream(method: string, path: string, body: unknown, on: (event: string, data: unknown) => void): Promise<LocalResponse | undefined> {
    const res = await this.open(method, path, body);
    if (res.statusCode !== 200 || !String(res.headers['content-type'] ?? '').startsWith('text/event-stream')) return LocalClient.read(res);
    res.setEncoding('utf8');
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (!data.length) continue; // a comment (heartbeat)
          let parsed: unknown;
          try { parsed = JSON.parse(data.join('\n')); } catch { continue; }
          on(event, parsed);
        }
      });
      res.once('end', () => resolve());
      res.once('aborted', () => reject(new Error('Verbindung zum Server unterbrochen.')));
      res.once('error', reject);
    });
    return undefined;
  }
}
