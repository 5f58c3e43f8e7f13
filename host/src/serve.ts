import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { mkdir } from 'node:fs/promises';
import { UserError } from 'kassenwart/sdk';
import { Kernel } from './kernel.js';
import { createApp } from './http/server.js';
import { createLogger } from './log.js';
import { LocalChannelError, listenLocal, socketPath } from './http/local.js';
import { unlink } from 'node:fs/promises';
import { FileLock } from './state/file-lock.js';
import { installExitEvidence, PluginActivity } from './plugins/activity.js';
import { startWatchdog } from './watchdog.js';
import { HOST_VERSION } from './version.js';
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
 * Takes the data folder's server lock (`<data>/server.lock`: pid and start time; a lock whose process is gone,
 * e.g. after kill -9, is taken over). A second server on a data folder already served would run the plugins'
 * start-up work and jobs next to the first one's: refused with a German message (status 409, CLI exit code 4).
 */
export async function takeServerLock(dataDir: string, what: string, file = 'server.lock'): Promise<FileLock> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const lock = new FileLock(join(dataDir, file));
  const got = await lock.tryAcquire({ what });
  if (!got.ok) {
    const h = got.holder;
    const since = h.since ? ` seit ${new Date(h.since).toLocaleString('de-DE')}` : '';
    throw new UserError(
      `Kassenwart läuft für den Datenordner „${dataDir}“ bereits (Prozess ${h.pid}${since}${h.port ? `, Port ${h.port}` : ''}). ` +
      'Ein zweiter Server auf denselben Daten würde die laufenden Sicherungen und Einstellungen stören und wird nicht gestartet.',
      { code: 'server.running', status: 409, hint: 'Den laufenden Server benutzen oder zuerst beenden (z. B. „systemctl stop kassenwart“); für einen zweiten Server einen eigenen Datenordner wählen (--data).' });
  }
  return lock;
}

/**
 * Runs the host: takes the server lock, opens the kernel, starts the HTTP server, then activates plugins (a
 * plugin whose activate() hangs cannot keep the server from listening; GET /api/health answers 503 "starting"
 * until the start-up activations are through), starts the scheduler (with catch-up). Crash evidence and the
 * stall watchdog let the supervisor name a plugin that ends or blocks the process. On SIGTERM/SIGINT stops
 * accepting, cancels running jobs cleanly, deactivates plugins in reverse order.
 */
export async function serve(o: ServeOptions): Promise<void> {
  if (!isLoopback(o.bind) && isIP(o.bind) === 0 && o.bind !== '0.0.0.0') {
    throw new Error(`„${o.bind}“ ist keine gültige Adresse.`);
  }
  const dataDir = resolve(o.dataDir);
  const serverLock = await takeServerLock(dataDir, 'serve');
  const proxy = parseProxySetting(o.proxy ?? process.env.KASSENWART_PROXY);
  let restartReason: string | undefined;
  let localServer: Server | undefined;
  let shuttingDown: Promise<void> | undefined;
  let server: Server | undefined;
  const activity = new PluginActivity(dataDir);
  // started first, so the worker thread boots while the kernel opens, not while the first plugin is imported
  const watchdog = startWatchdog(dataDir, process.env.KASSENWART_SUPERVISED === '1');
  const k = await Kernel.open({
    dataDir, pluginDirs: o.pluginDirs, serving: true, activity,
    requestRestart: (reason) => {
      restartReason = reason;
      log.info(`restart requested: ${reason}`);
      setTimeout(() => void shutdown('restart'), 200);
    },
  });
  if (!isLoopback(o.bind) && !(await k.users.hasTechnician())) {
    await k.close();
    await watchdog?.stop();
    await serverLock.release();
    throw new Error(`Der Server lauscht nur dann auf ${o.bind} (außerhalb dieses Rechners), wenn ein Techniker-Konto existiert. ` +
      'Zuerst „kassenwart users add NAME --role technician“ ausführen oder ohne --bind starten.');
  }
  await k.jobs.recover();
  const dirs = () => k.plugins.list().map((r) => ({ id: r.id, dir: r.dir, builtin: r.builtin }));
  installExitEvidence(dataDir, dirs);
  watchdog?.update(dirs());
  const { app, flush } = createApp(k, { proxy });
  if (proxy.length) log.info(`trusting X-Forwarded-* from ${proxy.join(', ')}`);
  const handle = app.callback();
  let started = false;
  server = createServer((req, res) => {
    // Until the start-up activations are through, health says "starting" (the supervisor's health check after
    // an update waits for a host whose plugins came up), everything else is served already.
    if (!started && /^\/api\/health\/?(\?|$)/i.test(req.url ?? '')) {
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ ok: false, starting: true, version: HOST_VERSION }));
      return;
    }
    void handle(req, res);
  });
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
      if (localServer) { localServer.close(); await unlink(socketPath(k.dataDir)).catch(() => {}); }
      await flush().catch(() => {});
      await k.close();
      await watchdog?.stop().catch(() => {});
      await serverLock.release().catch(() => {});
      for (const s of sockets) s.destroy();
      process.exitCode = restartReason ? RESTART_EXIT_CODE : 0;
      setTimeout(() => process.exit(process.exitCode ?? 0), 100).unref();
    })();
    return shuttingDown;
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  try {
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(o.port, o.bind, () => resolve());
    });
  } catch (e) {
    await k.close();
    await watchdog?.stop();
    await serverLock.release();
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new Error(`Port ${o.port} auf ${o.bind} ist schon belegt (läuft Kassenwart bereits?). Den anderen Dienst beenden oder mit --port einen freien Port wählen.`);
    if (code === 'EADDRNOTAVAIL') throw new Error(`Die Adresse ${o.bind} gibt es auf diesem Rechner nicht. Mit --bind eine Adresse dieses Rechners angeben.`);
    if (code === 'EACCES') throw new Error(`Port ${o.port} darf dieser Benutzer nicht öffnen. Einen Port über 1024 wählen (--port).`);
    throw e;
  }
  // the local control channel for the CLI on this machine (see http/local.ts)
  try {
    const callback = app.callback();
    localServer = await listenLocal(k.dataDir, callback);
    localServer.on('connection', (s) => { sockets.add(s as never); s.on('close', () => sockets.delete(s as never)); });
  } catch (e) {
    if (!(e instanceof LocalChannelError)) throw e;
    log.warn(`local control channel not available: ${e.message}`);
    process.stderr.write(`Achtung: ${e.message} Die Befehle „kassenwart …“ arbeiten dann ohne den Server auf dem Datenordner.\n`);
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  const host = o.bind === '0.0.0.0' ? '127.0.0.1' : o.bind.includes(':') ? `[${o.bind}]` : o.bind;
  activity.setListening();
  // The server answers from here on; the line that says so (scripts and the test harness wait for it) comes
  // once the start-up activations are through, as GET /api/health does.
  await k.plugins.activateStartup();
  started = true;
  watchdog?.update(dirs());
  process.stdout.write(`Kassenwart ${k.pluginList().length ? '' : '(ohne Plugins) '}läuft auf http://${host}:${port}\n`);
  const failed = k.pluginList().filter((p) => p.state === 'failed');
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
    k.syncFromDisk().then(() => watchdog?.update(dirs()))
      .catch((e) => log.warn(`sync from disk: ${(e as Error).message}`)).finally(() => { syncing = false; });
  }, Number(process.env.KASSENWART_SYNC_MS ?? 2000));
  sync.unref();
}
