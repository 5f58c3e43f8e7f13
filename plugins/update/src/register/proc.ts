/** Which processes have a file open (Linux /proc): the register must have closed its database before an update. */
import { readdir, readlink, realpath } from 'node:fs/promises';

/** PIDs (other than ours) holding `path` (or its -wal/-journal/-shm side files) open; empty where /proc is missing. */
export async function processesWithFileOpen(path: string): Promise<number[]> {
  let target: string;
  try { target = await realpath(path); } catch { return []; }
  const names = new Set([target, target + '-wal', target + '-journal', target + '-shm']);
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

/** The command line of a process, for messages ("node kasse.mjs …"), or "". */
export async function commandLine(pid: number): Promise<string> {
  try {
    const { readFile } = await import('node:fs/promises');
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ').slice(0, 120);
  } catch { return ''; }
}
