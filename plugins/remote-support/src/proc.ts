/**
 * A small reader of the Linux process table (/proc), used to tell whether the RustDesk service runs and
 * whether a TeamViewer process is running. Processes that end while being read, or that the host may not
 * inspect, are skipped.
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

/** One process as read from /proc. Fields that could not be read are empty. */
export interface ProcessInfo {
  pid: number;
  /** Kernel command name (at most 15 characters). */
  comm: string;
  /** Arguments, argv[0] first. */
  argv: string[];
  /** Target of /proc/<pid>/exe ('' when not readable). */
  exe: string;
  /** Target of /proc/<pid>/cwd ('' when not readable). */
  cwd: string;
}

/** Lists the processes under `procRoot` (default /proc). Returns [] where there is no /proc. */
export async function listProcesses(procRoot = '/proc'): Promise<ProcessInfo[]> {
  let entries: string[];
  try {
    entries = await readdir(procRoot);
  } catch {
    return [];
  }
  const out: ProcessInfo[] = [];
  await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
    const dir = join(procRoot, e);
    let cmdline: string;
    try {
      cmdline = await readFile(join(dir, 'cmdline'), 'utf8');
    } catch {
      return; // gone meanwhile
    }
    const argv = cmdline.split('\0');
    while (argv.length && argv[argv.length - 1] === '') argv.pop();
    const comm = (await readFile(join(dir, 'comm'), 'utf8').catch(() => '')).trim();
    const exe = await readlink(join(dir, 'exe')).catch(() => '');
    const cwd = await readlink(join(dir, 'cwd')).catch(() => '');
    out.push({ pid: Number(e), comm, argv, exe: exe.replace(/ \(deleted\)$/, ''), cwd });
  }));
  return out.sort((a, b) => a.pid - b.pid);
}

/**
 * The program files a process may be running: its executable, argv[0], and argv[1] (for a script started
 * through an interpreter), each made absolute against the process's working folder.
 */
export function programPathsOf(p: ProcessInfo): string[] {
  const paths = new Set<string>();
  if (p.exe) paths.add(p.exe);
  for (const a of p.argv.slice(0, 2)) {
    if (!a || a.startsWith('-')) continue;
    if (isAbsolute(a)) paths.add(a);
    else if (a.includes('/') && p.cwd) paths.add(resolve(p.cwd, a));
  }
  return [...paths];
}
