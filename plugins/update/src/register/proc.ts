/** Which processes have a file open (Linux /proc): the register must have closed its database before an update. */
import { processesWithFileOpen as sdkProcessesWithFileOpen } from 'kassenwart/sdk';

/** PIDs (other than ours) holding the database `path` or its -wal/-journal/-shm files open. */
export function processesWithFileOpen(path: string): Promise<number[]> {
  return sdkProcessesWithFileOpen(path, { sqliteSideFiles: true });
}

/** The command line of a process, for messages ("node kasse.mjs …"), or "". */
export async function commandLine(pid: number): Promise<string> {
  try {
    const { readFile } = await import('node:fs/promises');
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ').slice(0, 120);
  } catch { return ''; }
}
