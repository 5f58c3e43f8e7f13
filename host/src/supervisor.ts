import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join, dirname } from 'node:path';
import { RESTART_EXIT_CODE, type ServeOptions } from './serve.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'kassenwart.js');

async function freePort(bind: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, bind, () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/**
 * `kassenwart start`: runs `serve` as a child process and starts it again when it exits with the restart
 * code (a plugin asked for a restart, e.g. after an update). Port 0 is resolved once, so a restart keeps the
 * address. SIGTERM/SIGINT are passed on; the supervisor exits with the child's code.
 */
export async function runSupervisor(o: ServeOptions): Promise<number> {
  const port = o.port === 0 ? await freePort(o.bind) : o.port;
  let stopping = false;
  let child: ReturnType<typeof spawn> | undefined;
  const forward = (sig: NodeJS.Signals) => () => { stopping = true; child?.kill(sig); };
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGINT', forward('SIGINT'));
  for (;;) {
    const args = [BIN, 'serve', '--data', o.dataDir, '--port', String(port), '--bind', o.bind,
      ...(o.pluginDirs ?? []).flatMap((d) => ['--plugins', d])];
    child = spawn(process.execPath, args, { stdio: 'inherit' });
    const code = await new Promise<number>((resolve) => child!.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
    if (code === RESTART_EXIT_CODE && !stopping) {
      process.stdout.write('Kassenwart startet neu …\n');
      continue;
    }
    return code;
  }
}
