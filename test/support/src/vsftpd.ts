/**
 * A real FTP server for tests: Debian's vsftpd, started per test with its own config on 127.0.0.1, explicit
 * (default) or implicit FTPS with a fresh self-signed certificate, and a temporary system user whose home is
 * a temp folder (optionally a small tmpfs, to make the disk run full). Needs root, vsftpd and openssl.
 *
 *   const ftp = await startFtpServer();
 *   try { ... connect to ftp.host:ftp.port as ftp.user/ftp.password; files land in ftp.root ... }
 *   finally { await ftp.stop(); }
 *
 * Everything it starts is also cleaned up when the test process exits (vsftpd killed, user removed,
 * tmpfs unmounted), so a failing test cannot leave a server or a user behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { freePort } from './net.js';
import { join } from 'node:path';
import { tempDir } from './tmp.js';

/** Options of {@link startFtpServer}. */
export interface FtpServerOptions {
  /** Implicit FTPS (TLS from the first byte, like port 990) instead of explicit FTPS (AUTH TLS). */
  implicitTls?: boolean;
  /** Put the user's home on a tmpfs of this size, so uploads beyond it fail with "451" (disk full). */
  diskLimitBytes?: number;
  /** Limit each transfer to this many bytes per second (vsftpd local_max_rate), to catch an upload midway. */
  maxRateBytesPerSecond?: number;
  /**
   * Demand that data connections resume the control connection's TLS session (vsftpd's own default,
   * stricter than the `require_ssl_reuse=NO` used otherwise).
   */
  requireSslReuse?: boolean;
  /** Use this certificate and key (e.g. from `makeServerCert` in certs.ts) instead of a fresh self-signed one. */
  tlsCert?: { certPem: string; keyPem: string };
}

/** A running vsftpd instance. */
export interface FtpServer {
  host: '127.0.0.1';
  port: number;
  /** The temporary system user's name and password. */
  user: string;
  password: string;
  /** The FTP user's home on disk (the folder a client sees as its start folder). */
  root: string;
  /** The server's certificate (PEM): self-signed with subjectAltName IP:127.0.0.1 and DNS:localhost, or `tlsCert`. */
  certPem: string;
  /** SHA-256 fingerprint of the certificate as Node prints it ("AB:CD:…"). */
  certFingerprint256: string;
  /** Kill the server and everything it started, remove the user, unmount and remove the folders. */
  stop(): Promise<void>;
  /**
   * Kill the server and all its sessions at once (like a crash or power loss), keeping the user and the
   * files so a test can look at what is left. `stop()` still has to be called.
   */
  kill(): Promise<void>;
  /** Start the server again after `kill()`, on the same port with the same user, files and certificate. */
  restart(): Promise<void>;
}

interface Instance {
  child?: ChildProcess;
  user: string;
  uid?: number;
  home: string;
  work: string;
  mounted: boolean;
  stopped: boolean;
}

const running = new Set<Instance>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last-resort cleanup (mocha --exit ends the process without running after hooks of a crash).
  process.on('exit', () => {
    for (const inst of running) cleanupSync(inst);
  });
  // Ctrl-C or a CI timeout: clean up, then let the signal do what it would have done.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const inst of running) cleanupSync(inst);
      process.kill(process.pid, sig);
    });
  }
}

/** Reads (pid, ppid, pgid) of every process. */
function processTable(): { pid: number; ppid: number; pgid: number }[] {
  const rows: { pid: number; ppid: number; pgid: number }[] = [];
  for (const entry of safeReaddir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      rows.push({ pid: Number(entry), ppid: Number(fields[1]), pgid: Number(fields[2]) });
    } catch { /* process ended meanwhile */ }
  }
  return rows;
}

/**
 * Kills vsftpd and every process it started. Session processes call setsid(), so they are found as
 * descendants of the listener (collected before anything is killed, as orphans are re-parented), plus
 * anything still running as the instance's user; all are killed by pid.
 */
function killAll(inst: Instance): void {
  const root = inst.child?.pid;
  const victims = new Set<number>();
  const table = processTable();
  if (root !== undefined && inst.child!.exitCode === null && inst.child!.signalCode === null) {
    victims.add(root);
    let grew = true;
    while (grew) {
      grew = false;
      for (const p of table) {
        if (!victims.has(p.pid) && (victims.has(p.ppid) || victims.has(p.pgid))) { victims.add(p.pid); grew = true; }
      }
    }
  }
  if (inst.uid !== undefined) {
    for (const p of table) {
      try {
        const status = readFileSync(`/proc/${p.pid}/status`, 'utf8');
        const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
        if (m && (Number(m[1]) === inst.uid || Number(m[2]) === inst.uid)) victims.add(p.pid);
      } catch { /* ended meanwhile */ }
    }
  }
  for (const pid of victims) {
    try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

function safeReaddir(dir: string): string[] {
  try { return readdirSync(dir); } catch { return []; }
}

function cleanupSync(inst: Instance): void {
  if (inst.stopped) return;
  inst.stopped = true;
  killAll(inst);
  spawnSync('userdel', ['-f', inst.user], { stdio: 'ignore' });
  if (inst.mounted) spawnSync('umount', ['-l', inst.home], { stdio: 'ignore' });
  spawnSync('rm', ['-rf', '--one-file-system', inst.work], { stdio: 'ignore' });
  running.delete(inst);
}

async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A range of `count` consecutive free ports for passive data connections. */
async function freePortRange(count: number): Promise<[number, number]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 42000 + Math.floor(Math.random() * 15000);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await portIsFree(p);
    if (ok) return [base, base + count - 1];
  }
  throw new Error('startFtpServer: found no free range of passive ports');
}

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.error) throw new Error(`startFtpServer: ${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`startFtpServer: ${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

async function waitForPort(port: number, child: ChildProcess, output: () => string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `vsftpd exited with ${child.exitCode ?? child.signalCode} before listening on port ${port} ` +
          `(exit code 2 without a message usually means an unknown or invalid config key): ${output() || '(no output)'}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`vsftpd did not listen on 127.0.0.1:${port} within ${timeoutMs} ms: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a vsftpd instance on 127.0.0.1 (see the module comment). Requires root. */
export async function startFtpServer(opts: FtpServerOptions = {}): Promise<FtpServer> {
  if (process.getuid?.() !== 0) throw new Error('startFtpServer needs root (it creates a system user)');
  if (!existsSync('/usr/sbin/vsftpd')) throw new Error('startFtpServer needs vsftpd: apt-get install -y vsftpd');
  installExitHook();

  const work = await tempDir('kw-vsftpd-');
  const user = 'kwftp' + randomBytes(4).toString('hex');
  const password = 'Pw-' + randomBytes(9).toString('base64url');
  const inst: Instance = { user, home: join(work, 'home'), work, mounted: false, stopped: false };
  running.add(inst);
  try {
    await mkdir(inst.home, { mode: 0o755 });
    const emptyDir = join(work, 'empty');
    await mkdir(emptyDir, { mode: 0o755 });
    if (opts.diskLimitBytes !== undefined) {
      run('mount', ['-t', 'tmpfs', '-o', `size=${Math.max(4096, Math.floor(opts.diskLimitBytes))},mode=755`, 'tmpfs', inst.home]);
      inst.mounted = true;
    }
    run('useradd', ['-M', '-d', inst.home, '-s', '/bin/sh', user]);
    run('chpasswd', [], `${user}:${password}\n`);
    const idOut = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    inst.uid = Number(idOut.stdout.trim());
    const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
    await chown(inst.home, inst.uid, gid);
    await chmod(inst.home, 0o755);

    const certFile = join(work, 'cert.pem');
    const keyFile = join(work, 'key.pem');
    if (opts.tlsCert) {
      await writeFile(certFile, opts.tlsCert.certPem);
      await writeFile(keyFile, opts.tlsCert.keyPem, { mode: 0o600 });
    } else {
      run('openssl', [
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout', keyFile, '-out', certFile,
      ]);
    }
    await chmod(keyFile, 0o600);
    const certPem = await readFile(certFile, 'utf8');
    const certFingerprint256 = new X509Certificate(certPem).fingerprint256;

    const port = await freePort();
    const [pasvMin, pasvMax] = await freePortRange(10);
    const config = [
      'listen=YES',
      'listen_ipv6=NO',
      'background=NO',
      'listen_address=127.0.0.1',
      `listen_port=${port}`,
      'anonymous_enable=NO',
      'local_enable=YES',
      'write_enable=YES',
      'local_umask=022',
      'pam_service_name=vsftpd',
      'seccomp_sandbox=NO',
      `secure_chroot_dir=${emptyDir}`,
      'pasv_enable=YES',
      'pasv_address=127.0.0.1',
      `pasv_min_port=${pasvMin}`,
      `pasv_max_port=${pasvMax}`,
      'ssl_enable=YES',
      `rsa_cert_file=${certFile}`,
      `rsa_private_key_file=${keyFile}`,
      'force_local_logins_ssl=YES',
      'force_local_data_ssl=YES',
      opts.requireSslReuse ? 'require_ssl_reuse=YES' : 'require_ssl_reuse=NO',
      'ssl_ciphers=HIGH',
      opts.implicitTls ? 'implicit_ssl=YES' : 'implicit_ssl=NO',
      ...(opts.maxRateBytesPerSecond ? [`local_max_rate=${Math.max(1, Math.floor(opts.maxRateBytesPerSecond))}`] : []),
      'xferlog_enable=NO',
      'dirmessage_enable=NO',
      'use_localtime=NO',
      '',
    ].join('\n');
    const configFile = join(work, 'vsftpd.conf');
    await writeFile(configFile, config, { mode: 0o600 });

    const launch = async () => {
      let out = '';
      // Own process group, so kill() can take down the listener and its session processes together.
      const child = spawn('/usr/sbin/vsftpd', [configFile], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.stderr!.setEncoding('utf8').on('data', (d: string) => { out += d; });
      child.once('error', (e) => { out += String(e); });
      child.unref();
      (child.stdout as unknown as { unref?: () => void }).unref?.();
      (child.stderr as unknown as { unref?: () => void }).unref?.();
      inst.child = child;
      try {
        await waitForPort(port, child, () => out);
      } catch (e) {
        killAll(inst);
        throw e;
      }
    };
    await launch();

    const exited = async () => {
      const child = inst.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        setTimeout(resolve, 5000);
      });
    };

    const server: FtpServer = {
      host: '127.0.0.1',
      port,
      user,
      password,
      root: inst.home,
      certPem,
      certFingerprint256,
      async kill() {
        killAll(inst);
        await exited();
      },
      async restart() {
        if (inst.stopped) throw new Error('restart() after stop()');
        killAll(inst);
        await exited();
        await launch();
      },
      async stop() {
        if (inst.stopped) return;
        killAll(inst);
        await exited();
        cleanupSync(inst);
      },
    };
    return server;
  } catch (e) {
    cleanupSync(inst);
    throw e;
  }
}

/** Stops a server started by {@link startFtpServer} (safe to call twice, and with undefined). */
export async function stopFtpServer(server: FtpServer | undefined): Promise<void> {
  await server?.stop();
}

/** Removes a folder tree (helper for tests that put files into `root`). */
export async function emptyFolder(dir: string): Promise<void> {
  for (const name of safeReaddir(dir)) await rm(join(dir, name), { recursive: true, force: true });
}
