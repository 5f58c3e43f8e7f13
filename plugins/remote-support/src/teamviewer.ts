/**
 * Finds TeamViewer on the POS server: the vendor no longer supports it since 01.08.2022, so the panel warns
 * when it is still installed or running.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { findInPath } from './rustdesk.js';
import { listProcesses } from './proc.js';

/** Usual TeamViewer install places on Linux (the Debian/RPM packages and the tar package). */
export const DEFAULT_TEAMVIEWER_PATHS = ['/opt/teamviewer', '/usr/bin/teamviewer', '/etc/teamviewer', '/usr/share/teamviewer'];

/** Options of {@link findTeamViewer} (tests point them elsewhere). */
export interface TeamViewerSearch {
  envPath?: string;
  paths?: string[];
  procRoot?: string;
}

/** What was found; `places` are shown to the technician. */
export interface TeamViewerFinding {
  found: boolean;
  /** Programs, folders and processes found (e.g. "/opt/teamviewer", "Prozess teamviewerd (PID 812)"). */
  places: string[];
}

const TV_NAME = /^teamviewer(d)?$/i;

/** Looks for TeamViewer on PATH, in the usual install folders and among the running processes. */
export async function findTeamViewer(search: TeamViewerSearch = {}): Promise<TeamViewerFinding> {
  const places: string[] = [];
  for (const name of ['teamviewer', 'teamviewerd']) {
    const p = await findInPath(name, search.envPath);
    if (p) places.push(p);
  }
  for (const p of search.paths ?? DEFAULT_TEAMVIEWER_PATHS) {
    if (places.includes(p)) continue;
    if (await stat(p).then(() => true, () => false)) places.push(p);
  }
  for (const p of await listProcesses(search.procRoot)) {
    const names = [p.comm, p.exe && basename(p.exe), p.argv[0] && basename(p.argv[0]), p.argv[1] && basename(p.argv[1])];
    const hit = names.find((n) => n && TV_NAME.test(n));
    if (hit) places.push(`Prozess ${hit} (PID ${p.pid})`);
  }
  return { found: places.length > 0, places };
}

/** The German warning shown when TeamViewer was found. */
export const TEAMVIEWER_WARNING = {
  message: 'TeamViewer wurde auf dem Kassenserver gefunden. TeamViewer wird seit dem 01.08.2022 nicht mehr unterstützt: Der Support hat keine Möglichkeit, sich über TeamViewer mit Ihrem System zu verbinden!',
  hint: 'Nutzen Sie für die Fernwartung RustDesk: Geben Sie dem Techniker die RustDesk-ID durch und akzeptieren Sie anschließend seine Sitzungsanfrage. TeamViewer wird dafür nicht mehr gebraucht und kann deinstalliert werden.',
};
