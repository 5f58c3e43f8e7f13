/**
 * The host inside the test process: the real Kernel (state database, plugin manager, settings, jobs, users)
 * and the real koa app from host/dist, served over HTTP on 127.0.0.1 — what `kassenwart start` runs, minus
 * the process around it (CLI parsing, signals, the scheduler's start). Used where a test must run many
 * times quickly (mutation testing: Stryker can only switch mutants and see coverage in its own process);
 * the same guarantees are also tested against the real host process in access.test.ts and manifest.test.ts.
 */
import { createServer, type Server } from 'node:http';
import { Kernel } from '#host/kernel.js';
import { createApp } from '#host/http/server.js';
import { listenLocal, socketPath } from '#host/http/local.js';
import { tempDir, removeDir } from '#support/tmp.js';

export interface InProcessHost {
  url: string;
  kernel: Kernel;
  dataDir: string;
  /** The local control channel's unix socket (`<data>/kassenwart.sock`), when started with `local: true`. */
  socket?: string;
  close(): Promise<void>;
}

export async function startInProcessHost(o: {
  pluginDirs: string[];
  enable?: string[];
  users?: { name: string; password: string; role: 'operator' | 'technician' }[];
  /** Also answer on the local control channel (the CLI's unix socket), as `serve` does. */
  local?: boolean;
}): Promise<InProcessHost> {
  // the host's log lines would interleave with mocha's report; restored by close() (mocha runs one file at a time)
  const logLevel = process.env.KASSENWART_LOG;
  process.env.KASSENWART_LOG ??= 'error';
  const restoreLog = () => { if (logLevel === undefined) delete process.env.KASSENWART_LOG; else process.env.KASSENWART_LOG = logLevel; };
  const dataDir = await tempDir('kw-inproc-');
  const builtinDir = await tempDir('kw-inproc-builtin-');
  const kernel = await Kernel.open({ dataDir, builtinDir, pluginDirs: o.pluginDirs, serving: true });
  let server: Server | undefined;
  let localServer: Server | undefined;
  try {
    for (const u of o.users ?? []) await kernel.users.add(u.name, u.role, u.password, 'test');
    for (const id of o.enable ?? []) await kernel.enablePlugin(id, 'test');
    await kernel.plugins.activateStartup();
    const { app } = createApp(kernel);
    server = createServer(app.callback());
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(0, '127.0.0.1', () => resolve());
    });
    if (o.local) localServer = await listenLocal(dataDir, app.callback());
  } catch (e) {
    server?.close();
    localServer?.close();
    await kernel.close();
    await removeDir(dataDir);
    await removeDir(builtinDir);
    restoreLog();
    throw e;
  }
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    kernel,
    dataDir,
    socket: localServer ? socketPath(dataDir) : undefined,
    async close() {
      if (localServer) { localServer.closeAllConnections(); await new Promise((r) => localServer!.close(() => r(undefined))); }
      server!.closeAllConnections();
      await new Promise((r) => server!.close(() => r(undefined)));
      await kernel.close();
      await removeDir(dataDir);
      await removeDir(builtinDir);
      restoreLog();
    },
  };
}
