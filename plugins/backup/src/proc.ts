/** Which other processes have a file open (Linux /proc). Used to refuse a restore while the POS runs. */
import { readdir, readlink, realpath } from 'node:fs/promises';

/** PIDs (other than ours) holding `path` open; empty where /proc is not available. */
export async function processesWithFileOpen(path: string): Promise<number[]> {
  let target: string;
  try { target = await realpath(path); } catch { return []; }
  let pids: string[];
  try { pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p)); } catch { return []; }
  const found: number[] = [];
  for (const pid of pids) {
    if (Number(pid) === process.pid) continue;
    let fds: string[];
    try { fds = await readdir(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try {
        if ((await readlink(`/proc/${pid}/fd/${fd}`)) === target) { found.push(Number(pid)); break; }
      } catch { /* fd closed meanwhile */ }
    }
  }
  return found;
}
