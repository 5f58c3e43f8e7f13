/** What the CLI's commands share: exit codes, error mapping, the progress bar, the outcome of a job. */
import { isUserError } from 'kassenwart/sdk';
import type { JobView } from './jobs/runner.js';

/**
 * Exit codes — a stable contract for technicians' scripts (documented in docs/host.md):
 * 0 ok, 1 failed, 2 usage, 3 not found, 4 busy ("läuft bereits"), 5 invalid input,
 * 6 done with a warning (the action ran, but not everything worked — like restic's "partial" code).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, notFound: 3, busy: 4, invalid: 5, warning: 6 } as const;

export class UsageError extends Error {}

/** German role names, as the admin UI shows them (host/ui state.ts: "Bediener", "Techniker"). */
export const ROLE_NAMES: Record<string, string> = { operator: 'Bediener', technician: 'Techniker' };

/** A role typed on the command line: the API's id or the German name ("bediener", "techniker"). */
export function parseRole(raw: string | undefined): 'operator' | 'technician' | undefined {
  const r = (raw ?? 'operator').trim().toLowerCase();
  if (r === 'operator' || r === 'bediener') return 'operator';
  if (r === 'technician' || r === 'techniker') return 'technician';
  return undefined;
}

/** Job states in German, as the "Verlauf" page shows them. */
export const JOB_STATE_NAMES: Record<string, string> = {
  running: 'läuft', succeeded: 'erfolgreich', warning: 'Warnung', info: 'Information', failed: 'fehlgeschlagen', cancelled: 'abgebrochen',
};

/** Plugin states in German, as the "Plugins" page shows them. */
export const PLUGIN_STATE_NAMES: Record<string, string> = {
  active: 'aktiv', inactive: 'bereit', disabled: 'deaktiviert', failed: 'fehlerhaft',
};

/** German text for a node:util parseArgs error (the one implementation is in the SDK, for plugin commands too). */
export { germanArgsError } from 'kassenwart/sdk';

export function exitFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT.usage;
  if (isUserError(e)) {
    if (e.status === 404) return EXIT.notFound;
    if (e.status === 409) return EXIT.busy;
    if (e.status === 400) return EXIT.invalid;
  }
  return EXIT.failed;
}

/** A terminal progress bar on stderr (a line per 10 % when stderr is not a terminal). */
export function progressBar(stream: NodeJS.WriteStream = process.stderr) {
  let lastDecile = -1;
  let lastLine = '';
  return {
    update(percent: number | undefined, message = '') {
      const p = percent ?? 0;
      if (stream.isTTY) {
        const width = 30;
        const filled = Math.round((p / 100) * width);
        const line = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(Math.round(p)).padStart(3)}% ${message}`.slice(0, (stream.columns ?? 100) - 1);
        if (line !== lastLine) stream.write(`\r\x1b[K${line}`);
        lastLine = line;
      } else {
        const d = Math.floor(p / 10);
        if (d !== lastDecile) { stream.write(`${Math.round(p)}% ${message}\n`); lastDecile = d; }
      }
    },
    done() { if (stream.isTTY && lastLine) stream.write('\n'); },
  };
}

/**
 * Prints a finished job (result on stdout; error and hint on stderr; the whole job with --json) and returns
 * the exit code: 0 succeeded or information (nothing to do), 6 warning, 1 failed or cancelled.
 */
export function reportJob(final: JobView | undefined, json: boolean): number {
  const ok = final?.state === 'succeeded' || final?.state === 'warning' || final?.state === 'info';
  if (json) process.stdout.write(JSON.stringify(final ?? null, null, 2) + '\n');
  if (ok) {
    if (!json) process.stdout.write(`${final!.result?.message ?? 'Fertig.'}\n`);
    if (final!.state === 'warning') {
      process.stderr.write(`Mit Warnung beendet: nicht alles hat geklappt (Exit-Code ${EXIT.warning}). Details im Verlauf („kassenwart jobs list“).\n`);
      return EXIT.warning;
    }
    return EXIT.ok;
  }
  if (!json) {
    process.stderr.write(`${final?.error?.message ?? 'Fehlgeschlagen.'}${final?.error?.hint ? '\n' + final.error.hint : ''}\n`);
  }
  return EXIT.failed;
}
