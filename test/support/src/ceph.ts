/**
 * A real S3 server for tests: Debian's radosgw on a one-node Ceph (one monitor, one in-memory OSD), all on
 * 127.0.0.1 on free ports, in a temp folder, following the recipe in shared/TESTING.md. About 3 s to start,
 * ~7 s to stop: start it ONCE per test file (before/after).
 *
 *   const s3 = await startCeph();
 *   try { ... new S3Client({ endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1', credentials: s3.credentials }) ... }
 *   finally { await s3.stop(); }
 *
 * `stopGateway()` / `startGateway()` stop and start only radosgw (the store "goes offline" while the
 * data in the OSD stays), for tests of interrupted uploads and offline catch-up.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { freePort } from './net.js';
import { join } from 'node:path';
import { tempDir, removeDir } from './tmp.js';

/** A running one-node Ceph with radosgw. */
export interface CephS3 {
  /** http://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  region: 'us-east-1';
  /** Access and secret key of a radosgw user created for the test. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Creates another radosgw user (for "wrong keys" tests of a second account). */
  createUser(): { accessKeyId: string; secretAccessKey: string };
  /** Kills only radosgw (by PID): the endpoint stops answering, stored objects stay. */
  stopGateway(): Promise<void>;
  /** Starts radosgw again on the same port. */
  startGateway(): Promise<void>;
  /** Stops radosgw, the OSD and the monitor by their PIDs and removes the temp folder. */
  stop(): Promise<void>;
}

const live = new Set<() => void>();
process.once('exit', () => { for (const f of live) f(); });

function run(cmd: string, args: string[], timeout = 60_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (r.error) throw new Error(`startCeph: ${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`startCeph: ${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

async function killPid(pid: number | undefined, timeoutMs = 20_000): Promise<void> {
  if (!pid || !alive(pid)) return;
  try { process.kill(pid, 'SIGTERM'); } catch { return; }
  const end = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  while (alive(pid)) await new Promise((r) => setTimeout(r, 50));
}

async function waitHttp(url: string, timeoutMs: number, what: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`startCeph: radosgw did not answer on ${url}: ${what()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Starts a monitor, an in-memory OSD and radosgw; creates one S3 user. Needs ceph-mon, ceph-osd, radosgw. */
export async function startCeph(): Promise<CephS3> {
  const dir = await tempDir('kw-ceph-');
  const fsid = randomUUID();
  const [p1, p2, port] = [await freePort(), await freePort(), await freePort()];
  const bindMin = 40000 + Math.floor(Math.random() * 20000);
  const conf = join(dir, 'ceph.conf');
  const keyring = join(dir, 'keyring');
  const pids = { mon: join(dir, 'mon.pid'), osd: join(dir, 'osd.pid'), rgw: join(dir, 'rgw.pid') };
  await writeFile(conf, `[global]
fsid = ${fsid}
mon_host = [v2:127.0.0.1:${p1},v1:127.0.0.1:${p2}]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_port_min = ${bindMin}
ms_bind_port_max = ${bindMin + 40}
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
ms_mon_cluster_mode = crc
mon_allow_pool_size_one = true
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_crush_chooseleaf_type = 0
mon_data_avail_warn = 1
run_dir = ${dir}/run
admin_socket = ${dir}/run/$name.asok
log_file = ${dir}/log/$name.log
keyring = ${keyring}
mon_data = ${dir}/mon/$cluster-$id
osd_data = ${dir}/osd/$cluster-$id
[mon]
paxos_propose_interval = 0.1
pid_file = ${pids.mon}
[osd]
osd_objectstore = memstore
memstore_device_bytes = 2147483648
pid_file = ${pids.osd}
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:${port}
rgw_data = ${dir}/rgw
pid_file = ${pids.rgw}
`);
  for (const sub of ['run', 'log', 'mon/ceph-a', 'osd/ceph-0', 'rgw']) run('mkdir', ['-p', join(dir, sub)]);

  let stopped = false;
  const killAllSync = () => {
    for (const f of [pids.rgw, pids.osd, pids.mon]) {
      const pid = readPid(f);
      if (pid) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    spawnSync('rm', ['-rf', dir]);
  };
  live.add(killAllSync);
  const logs = () => {
    const f = join(dir, 'log', 'client.rgw.a.log');
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-15).join('\n') : '(no radosgw log)';
  };
  const startGateway = async () => {
    run('radosgw', ['-c', conf, '-n', 'client.rgw.a']);
    await waitHttp(`http://127.0.0.1:${port}/`, 60_000, logs);
  };
  try {
    const monmap = join(dir, 'monmap');
    run('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${p1},v1:127.0.0.1:${p2}]`, monmap]);
    run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
    run('ceph-mon', ['-c', conf, '-i', 'a']);
    run('ceph', ['-c', conf, 'osd', 'create']);
    run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs']);
    run('ceph-osd', ['-c', conf, '-i', '0']);
    await startGateway();
  } catch (e) {
    killAllSync();
    live.delete(killAllSync);
    throw e;
  }
  const createUser = () => {
    const accessKeyId = 'KW' + randomBytes(9).toString('hex').toUpperCase();
    const secretAccessKey = randomBytes(24).toString('base64url');
    run('radosgw-admin', ['-c', conf, 'user', 'create', `--uid=kw-${randomBytes(4).toString('hex')}`, '--display-name=Kassenwart Test',
      `--access-key=${accessKeyId}`, `--secret-key=${secretAccessKey}`]);
    return { accessKeyId, secretAccessKey };
  };
  const credentials = createUser();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    region: 'us-east-1',
    credentials,
    createUser,
    stopGateway: () => killPid(readPid(pids.rgw)),
    startGateway,
    async stop() {
      if (stopped) return;
      stopped = true;
      await killPid(readPid(pids.rgw));
      await killPid(readPid(pids.osd));
      await killPid(readPid(pids.mon));
      live.delete(killAllSync);
      await removeDir(dir);
    },
  };
}
