/**
 * The status the panel shows: RustDesk found?, version, service, ID, TeamViewer, and what identifies this
 * installation on the phone. Every part carries its own German reason when it could not be told, so one
 * failure never hides the others.
 */
import { hostname } from 'node:os';
import { isUserError } from 'kassenwart/sdk';
import { formatRustDeskId } from './id-format.js';
import {
  getRustDeskId, getRustDeskVersion, locateRustDesk, rustDeskServiceState, type LocateOptions,
} from './rustdesk.js';
import { findTeamViewer, TEAMVIEWER_WARNING, type TeamViewerSearch } from './teamviewer.js';

/** A German reason why a part of the status is missing. */
export interface Problem {
  code: string;
  message: string;
  hint?: string;
}

/** What `GET /api/ext/remote-support/status` returns. */
export interface RemoteSupportStatus {
  /** When this was checked (ISO 8601). */
  checkedAt: string;
  rustdesk: { found: boolean; path?: string; problem?: Problem };
  version: { value?: string; problem?: Problem };
  service: { running?: boolean; pids?: number[]; problem?: Problem };
  id: { value?: string; formatted?: string; problem?: Problem };
  teamviewer: { found: boolean; places: string[]; message?: string; hint?: string };
  installation: { name: string; customerNumber: string; hostname: string; supportContact: string };
  server: { idServer: string; relayServer: string; keySet: boolean };
}

/** The plugin's settings, as far as the status needs them. */
export interface StatusSettings {
  rustdeskPath: string;
  timeoutSeconds: number;
  idServer: string;
  relayServer: string;
  key: string;
  installationName: string;
  customerNumber: string;
  supportContact: string;
}

/** Where to look (tests point these elsewhere). */
export interface StatusEnvironment {
  locate?: LocateOptions;
  teamviewer?: TeamViewerSearch;
  procRoot?: string;
  signal?: AbortSignal;
}

function problemOf(e: unknown): Problem {
  if (isUserError(e)) return { code: e.code, message: e.message, hint: e.hint };
  return { code: 'error', message: 'Unerwarteter Fehler bei der Abfrage von RustDesk.', hint: 'Details stehen im Protokoll des Kassenservers.' };
}

/** Collects the whole status. Never throws for expected failures: they become `problem`s. */
export async function collectStatus(s: StatusSettings, env: StatusEnvironment = {}, onUnexpected?: (e: unknown) => void): Promise<RemoteSupportStatus> {
  const guard = (e: unknown): Problem => {
    if (!isUserError(e)) onUnexpected?.(e);
    return problemOf(e);
  };
  const status: RemoteSupportStatus = {
    checkedAt: new Date().toISOString(),
    rustdesk: { found: false },
    version: {},
    service: {},
    id: {},
    teamviewer: { found: false, places: [] },
    installation: {
      name: s.installationName, customerNumber: s.customerNumber, hostname: hostname(), supportContact: s.supportContact,
    },
    server: { idServer: s.idServer, relayServer: s.relayServer, keySet: s.key.trim() !== '' },
  };
  const tv = findTeamViewer({ procRoot: env.procRoot, ...env.teamviewer }).then((f) => {
    status.teamviewer = f.found ? { ...f, ...TEAMVIEWER_WARNING } : f;
  }, (e) => { onUnexpected?.(e); });

  let bin: string;
  try {
    bin = await locateRustDesk(s.rustdeskPath, env.locate);
  } catch (e) {
    const p = guard(e);
    status.rustdesk = { found: false, problem: p };
    const skipped = { code: 'rustdesk.missing', message: 'RustDesk wurde nicht gefunden.' };
    status.version.problem = skipped;
    status.service.problem = skipped;
    status.id.problem = skipped;
    await tv;
    return status;
  }
  status.rustdesk = { found: true, path: bin };
  const call = { bin, timeoutMs: s.timeoutSeconds * 1000, signal: env.signal };
  await Promise.all([
    getRustDeskVersion(call).then((v) => { status.version.value = v; }, (e) => { status.version.problem = guard(e); }),
    getRustDeskId(call).then((id) => { status.id = { value: id, formatted: formatRustDeskId(id) }; }, (e) => { status.id.problem = guard(e); }),
    rustDeskServiceState(bin, env.procRoot).then((st) => {
      status.service = st.running ? { running: true, pids: st.pids } : {
        running: false, pids: [],
        problem: {
          code: 'rustdesk.service',
          message: 'Der RustDesk-Dienst läuft nicht: Der Support kann sich so nicht mit dem Kassenserver verbinden.',
          hint: 'Starten Sie den RustDesk-Dienst auf dem Kassenserver (als Administrator: „systemctl start rustdesk“) oder starten Sie den Kassenserver neu.',
        },
      };
    }, (e) => { status.service.problem = guard(e); }),
    tv,
  ]);
  return status;
}
