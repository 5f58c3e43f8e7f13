/**
 * A real HTTP update server for tests: node:http on 127.0.0.1 serving one folder, with Range support and
 * failure modes (truncate downloads, refuse everything). Records the requests it saw.
 */
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import type { AddressInfo } from 'node:net';

export interface UpdateServer {
  url: string;
  /** `null` = normal; a number = each package response is cut off after that many bytes; `always` too on resumes. */
  truncate: { after: number; times: number } | null;
  /** Packages: send this many bytes, then stall (connection stays open) until the server closes. */
  stallAfter: number | null;
  requests: Array<{ path: string; range?: string }>;
  close(): Promise<void>;
}

export async function startUpdateServer(root: string): Promise<UpdateServer> {
  const state: UpdateServer = { url: '', truncate: null, stallAfter: null, requests: [], close: async () => {} };
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    state.requests.push({ path, range: req.headers.range });
    const file = join(root, normalize(path).replace(/^(\.\.[/\\])+/, ''));
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    let start = 0;
    let end = size - 1;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m) {
      start = Number(m[1]);
      if (m[2]) end = Math.min(Number(m[2]), size - 1);
      if (start >= size) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return; }
      res.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${size}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' });
    }
    if (state.stallAfter !== null && path.endsWith('.tar.gz')) {
      createReadStream(file, { start, end: Math.min(end, start + state.stallAfter - 1) }).pipe(res, { end: false });
      return;
    }
    const cut = state.truncate && path.endsWith('.tar.gz') && state.truncate.times > 0 ? state.truncate : null;
    if (cut) {
      cut.times--;
      const stream = createReadStream(file, { start, end: Math.min(end, start + cut.after - 1) });
      stream.pipe(res, { end: false });
      // Cut the connection after the bytes were sent: the client sees a premature end of the body.
      stream.on('end', () => setTimeout(() => res.socket?.destroy(), 20));
      return;
    }
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return state;
}
