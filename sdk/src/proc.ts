/** Which other processes have a file open (Linux /proc), for plugins that must not touch a file in use. */
import { readdir, readlink, realpath } from 'node:fs/promises';

/**
 * PIDs (other than ours) holding `path` open — with `sqliteSideFiles`, also its `-wal`, `-journal` and `-shm`
 * files. Empty where /proc is not available.
 */
export async function processesWithFileOpen(path: string, o: { sqliteSideFiles?: boolean } = {}): Promise<number[]> {
  let target: string;
  try { target = await realpath(path); } catch { return []; }
  const names = new Set(o.sqliteSideFiles ? [target, target + '-wal', target + '-journal', target + '-shm'] : [target]);
  let pids: string[];
  try { pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)); } catch { return []; }
  const found: number[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try { fds = await readdir(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if (names.has(await readlink(`/proc/${pid}/fd/${fd}`))) { found.push(Number(pid)); break; }
      } catch { /* fd closed meanwhile */ }
    }
  }
  return found;
}
