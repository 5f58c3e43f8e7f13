import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Kernel } from './kernel.js';
import { createApp } from './http/server.js';
import { createLogger } from './log.js';
import { parseProxySetting } from './http/proxy.js';

const log = createLogger('host');

/** Exit code that asks the supervisor to start the host again (plugins request it, e.g. after an update). */
export const RESTART_EXIT_CODE = 75;

export interface ServeOptions {
  dataDir: string;
  port: number;
  bind: string;
  pluginDirs?: string[];
  /**
   * Trusted reverse proxies (`--proxy ADDR[,ADDR]`, or KASSENWART_PROXY): X-Forwarded-For/-Proto/-Host are honoured
   * only from these addresses; then the session cookie is `Secure` when the proxy reports https.
   */
  proxy?: string;
}

function isLoopback(addr: string): boolean {
  return addr === 'localhost' || addr === '::1' || addr.startsWith('127.');
}

/**
 * Runs the host: opens the kernel, activates plugins, starts the scheduler (with catch-up) and the HTTP
 * server; on SIGTERM/SIGINT stops accepting, cancels running jobs cleanly, deactivates plugins in reverse order.
 */
export async function serve(o: ServeOptions): Promise<void> {
  if (!isLoopback(o.bind) && isIP(o.bind) === 0 && o.bind !== '0.0.0.0') {
    throw new Error(`„${o.bind}“ ist keine gültige Adresse.`);
  }
  const proxy = parseProxySetting(o.proxy ?? process.env.KASSENWART_PROXY);
  let restartReason: string | undefined;
  let shuttingDown: Promise<void> | undefined;
  let server: Server | undefined;
  const k = await Kernel.open({
    dataDir: o.dataDir, pluginDirs: o.pluginDirs, serving: true,
    requestRestart: (reason) => {
      restartReason = reason;
      log.info(`restart requested: ${reason}`);
      setTimeout(() => void shutdown('restart'), 200);
    },
  });
  if (!isLoopback(o.bind) && !(await k.users.hasTechnician())) {
    await k.close();
    throw new Error(`Der Server lauscht nur dann auf ${o.bind} (außerhalb dieses Rechners), wenn ein Techniker-Konto existiert. ` +
      'Zuerst „kassenwart users add NAME --role technician“ ausführen oder ohne --bind starten.');
  }
  await k.jobs.recover();
  const { app, flush } = createApp(k, { proxy });
  if (proxy.length) log.info(`trusting X-Forwarded-* from ${proxy.join(', ')}`);
  server = createServer(app.callback());
  server.requestTimeout = 0;
  // Long enough that a client blocked for a while (a browser tab in the background, a script) does not reuse
  // a connection the server has just closed.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });

  const shutdown = (why: string) => {
    shuttingDown ??= (async () => {
      log.info(`shutting down (${why})`);
      server?.close();
      await flush().catch(() => {});
      await k.close();
      for (const s of sockets) s.destroy();
      process.exitCode = restartReason ? RESTART_EXIT_CODE : 0;
      setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
    })();
    return shuttingDown;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await k.plugins.activateStartup();
  try {
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(o.port, o.bind, () => resolve());
    });
  } catch (e) {
    await k.close();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`Port ${o.port} auf ${o.bind} ist schon belegt (läuft Kassenwart bereits?). Den anderen Dienst beenden oder mit --port einen freien Port wählen.`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`Die Adresse ${o.bind} gibt es auf diesem Rechner nicht. Mit --bind eine Adresse dieses Rechners angeben.`);
    if (code === 'EACCES') throw new Error(`Port ${o.port} darf dieser Benutzer nicht öffnen. Einen Port über 1024 wählen (--port).`);
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.bind === '0.0.0.0' ? '127.0.0.1' : o.bind.includes(':') ? `[${o.bind}]` : o.bind;
  const failed = k.pluginList().filter((p) => p.state === 'failed');
  process.stdout.write(`Kassenwart ${k.pluginList().length ? '' : '(ohne Plugins) '}läuft auf http://${host}:${port}\n`);
  if (failed.length) process.stdout.write(`Achtung: ${failed.length} Plugin(s) fehlerhaft: ${failed.map((p) => `${p.id} (${p.reasons.join(' ')})`).join('; ')}\n`);
  const token = await k.prepareSetup();
  if (token) {
    process.stdout.write(
      `\nErsteinrichtung: Es gibt noch kein Techniker-Konto.\n` +
      `  Öffnen Sie http://${host}:${port}/ und geben Sie diesen Einrichtungscode ein: ${token}\n` +
      `  (oder auf diesem Rechner: npx kassenwart users add NAME --role technician)\n\n`);
  }
  await k.scheduler.start();
  // pick up what the CLI changes meanwhile (plugins enabled or added, settings, schedule times)
  let syncing = false;
  const sync = setInterval(() => {
    if (syncing || shuttingDown) return;
    syncing = true;
    k.syncFromDisk().catch((e) => log.warn(`sync from disk: ${(e as Error).message}`)).finally(() => { syncing = false; });
  }, Number(process.env.KASSENWART_SYNC_MS ?? 2000));
  sync.unref();
}
