/**
 * RustDesk on the POS server, through its documented command line only:
 * `--version`, `--get-id`, `--password <pw>`, `--option <key> [<value>]`.
 * The ID is never read from RustDesk's config files (it may be stored encrypted there).
 *
 * RustDesk exits with code 0 even when it refuses (it prints "Installation and administrative privileges
 * required!" instead), so every answer is checked by its text, not only by its exit code.
 */
import { access, constants, realpath, stat } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';
import { CancelledError, UserError } from 'kassenwart/sdk';
import { RUSTDESK_ID_PATTERN } from './id-format.js';
import { listProcesses, programPathsOf } from './proc.js';
import { runProgram } from './run.js';

/** Where RustDesk is looked for when no path is configured and it is not on PATH (Debian package, AppImage installs). */
export const DEFAULT_RUSTDESK_FALLBACKS = ['/usr/bin/rustdesk', '/usr/local/bin/rustdesk', '/usr/lib/rustdesk/rustdesk', '/opt/rustdesk/rustdesk'];

/** How to call RustDesk. */
export interface RustDeskCall {
  /** Absolute path of the RustDesk program (from {@link locateRustDesk}). */
  bin: string;
  /** Time limit per call in milliseconds. */
  timeoutMs: number;
  /** Cancellation (job signal). */
  signal?: AbortSignal;
  /** Environment for RustDesk (default: the host's). */
  env?: NodeJS.ProcessEnv;
}

/** Options of {@link locateRustDesk}. */
export interface LocateOptions {
  /** The PATH to search (default process.env.PATH). */
  envPath?: string;
  /** Further places tried after PATH (default {@link DEFAULT_RUSTDESK_FALLBACKS}). */
  fallbacks?: string[];
}

async function isExecutableFile(p: string): Promise<boolean> {
  try {
    const s = await stat(p);
    if (!s.isFile()) return false;
    await access(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Looks for an executable file `name` in the folders of `envPath`. */
export async function findInPath(name: string, envPath = process.env.PATH ?? ''): Promise<string | undefined> {
  for (const dir of envPath.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue; // relative PATH entries depend on the host's cwd: ignored
    const p = join(dir, name);
    if (await isExecutableFile(p)) return p;
  }
  return undefined;
}

/**
 * Finds the RustDesk program: the configured path (setting `rustdeskPath`) if set, else `rustdesk` on
 * PATH, else the usual install places. Throws a UserError (code `rustdesk.missing`) with the reason.
 */
export async function locateRustDesk(configured: string | undefined, options: LocateOptions = {}): Promise<string> {
  const path = (configured ?? '').trim();
  if (path) {
    if (!isAbsolute(path)) {
      throw new UserError(`Der eingestellte Pfad zu RustDesk „${path}“ ist kein absoluter Pfad.`, {
        code: 'rustdesk.missing', hint: 'Tragen Sie den vollständigen Pfad ein, z. B. /usr/bin/rustdesk, oder lassen Sie das Feld leer.',
      });
    }
    let s;
    try {
      s = await stat(path);
    } catch {
      throw new UserError(`RustDesk wurde unter „${path}“ nicht gefunden.`, {
        code: 'rustdesk.missing',
        hint: 'Installieren Sie RustDesk auf dem Kassenserver oder korrigieren Sie die Einstellung „Pfad zu RustDesk“ (leer = Suche im Suchpfad).',
      });
    }
    if (!s.isFile()) {
      throw new UserError(`„${path}“ ist keine Programmdatei.`, {
        code: 'rustdesk.missing', hint: 'Tragen Sie bei „Pfad zu RustDesk“ die Programmdatei selbst ein, z. B. /usr/bin/rustdesk.',
      });
    }
    if (!(await isExecutableFile(path))) {
      throw new UserError(`RustDesk unter „${path}“ ist nicht ausführbar.`, {
        code: 'rustdesk.missing', hint: 'Prüfen Sie die Dateirechte (chmod +x) oder installieren Sie RustDesk neu.',
      });
    }
    return path;
  }
  const found = await findInPath('rustdesk', options.envPath);
  if (found) return found;
  for (const p of options.fallbacks ?? DEFAULT_RUSTDESK_FALLBACKS) {
    if (await isExecutableFile(p)) return p;
  }
  throw new UserError('RustDesk ist auf dem Kassenserver nicht installiert: Das Programm „rustdesk“ wurde weder im Suchpfad noch an den üblichen Orten gefunden.', {
    code: 'rustdesk.missing',
    hint: 'Installieren Sie RustDesk auf dem Kassenserver, oder tragen Sie in den Einstellungen (Fernwartung) den Pfad zu RustDesk ein.',
  });
}

/** Replaces every occurrence of the secrets in `text` (so nothing RustDesk echoes can leak them). */
export function redact(text: string, secrets: readonly string[]): string {
  let t = text;
  for (const s of secrets) if (s) t = t.split(s).join('****');
  return t;
}

/** The first meaningful line of a program's output, shortened for a message. */
function firstLine(text: string): string {
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l) ?? '';
  return line.length > 200 ? line.slice(0, 200) + '…' : line;
}

const ADMIN_REFUSAL = /administrative privileges required|permission denied|installation and administrative/i;
const DISABLED_REFUSAL = /settings are disabled|is disabled!/i;

/**
 * Runs RustDesk once and returns its standard output, or throws a UserError that says what went wrong:
 * could not start, timeout, non-zero exit, or a refusal for missing installation/administrative rights.
 * `what` is the German name of the step ("die ID abfragen"); `secrets` are removed from any text shown.
 */
export async function callRustDesk(call: RustDeskCall, args: string[], what: string, secrets: string[] = []): Promise<string> {
  const r = await runProgram(call.bin, args, { timeoutMs: call.timeoutMs, signal: call.signal, env: call.env });
  const seconds = Math.round(call.timeoutMs / 100) / 10;
  switch (r.outcome) {
    case 'aborted':
      throw new CancelledError();
    case 'spawn-failed':
      throw new UserError(
        r.spawnError === 'ENOENT' ? `RustDesk konnte nicht gestartet werden: „${call.bin}“ gibt es nicht (mehr).`
          : r.spawnError === 'EACCES' ? `RustDesk konnte nicht gestartet werden: keine Berechtigung für „${call.bin}“.`
            : `RustDesk konnte nicht gestartet werden (${r.spawnError}).`,
        { code: 'rustdesk.start', hint: 'Prüfen Sie die RustDesk-Installation auf dem Kassenserver und die Einstellung „Pfad zu RustDesk“.' },
      );
    case 'timeout':
      throw new UserError(`RustDesk hat beim Versuch, ${what}, nicht innerhalb von ${seconds} Sekunden geantwortet und wurde abgebrochen.`, {
        code: 'rustdesk.timeout',
        hint: 'Starten Sie den RustDesk-Dienst auf dem Kassenserver neu (oder den Kassenserver) und versuchen Sie es erneut. Bei einem langsamen System kann das Zeitlimit in den Einstellungen erhöht werden.',
      });
    case 'exited':
      break;
  }
  const out = redact(r.stdout, secrets);
  const err = redact(r.stderr, secrets);
  if (ADMIN_REFUSAL.test(out) || ADMIN_REFUSAL.test(err)) {
    throw new UserError(`RustDesk verweigert, ${what}: Dafür muss RustDesk auf dem Kassenserver installiert sein (nicht nur als portables Programm gestartet) und mit Administratorrechten aufgerufen werden.`, {
      code: 'rustdesk.admin',
      hint: 'Installieren Sie RustDesk fest auf dem Kassenserver und lassen Sie Kassenwart als Dienst mit Administratorrechten (root) laufen.',
    });
  }
  if (DISABLED_REFUSAL.test(out)) {
    throw new UserError(`RustDesk verweigert, ${what}: Änderungen an den Einstellungen sind in dieser RustDesk-Installation gesperrt.`, {
      code: 'rustdesk.disabled', hint: 'Verwenden Sie eine RustDesk-Installation, in der die Einstellungen nicht gesperrt sind.',
    });
  }
  if (r.code !== 0) {
    const detail = firstLine(err) || firstLine(out);
    const how = r.code === null ? `durch das Signal ${r.signal ?? 'unbekannt'} beendet` : `mit dem Fehlercode ${r.code} beendet`;
    throw new UserError(`RustDesk wurde beim Versuch, ${what}, ${how}${detail ? `: ${detail}` : '.'}`, {
      code: 'rustdesk.failed', hint: 'Prüfen Sie die RustDesk-Installation auf dem Kassenserver; ein Neustart des RustDesk-Dienstes hilft oft.',
    });
  }
  return out;
}

/** Lines of output, trimmed, without empty ones. */
function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l);
}

/** `rustdesk --version`: the version string, e.g. "1.4.1". */
export async function getRustDeskVersion(call: RustDeskCall): Promise<string> {
  const out = lines(await callRustDesk(call, ['--version'], 'die Version abzufragen'));
  if (out.length === 0) {
    throw new UserError('RustDesk hat keine Version gemeldet (leere Ausgabe).', {
      code: 'rustdesk.empty', hint: 'Die RustDesk-Installation ist vermutlich beschädigt. Installieren Sie RustDesk neu.',
    });
  }
  const v = out[out.length - 1];
  if (!/^v?\d+(\.\d+){1,3}([-+.][0-9A-Za-z.-]+)?$/.test(v)) {
    throw new UserError(`RustDesk hat statt einer Version etwas Unerwartetes gemeldet: „${v.slice(0, 80)}“.`, {
      code: 'rustdesk.output', hint: 'Prüfen Sie, ob der Pfad zu RustDesk wirklich auf RustDesk zeigt.',
    });
  }
  return v.replace(/^v/, '');
}

/** `rustdesk --get-id`: the RustDesk ID of this server. */
export async function getRustDeskId(call: RustDeskCall): Promise<string> {
  const out = lines(await callRustDesk(call, ['--get-id'], 'die ID abzufragen'));
  if (out.length === 0) {
    throw new UserError('RustDesk hat keine ID ausgegeben (leere Ausgabe).', {
      code: 'rustdesk.empty',
      hint: 'Der RustDesk-Dienst ist vermutlich noch nicht vollständig gestartet. Warten Sie einen Moment oder starten Sie ihn neu und versuchen Sie es erneut.',
    });
  }
  const id = out[out.length - 1];
  if (!RUSTDESK_ID_PATTERN.test(id)) {
    throw new UserError(`RustDesk hat statt einer ID etwas Unerwartetes ausgegeben: „${id.slice(0, 80)}“.`, {
      code: 'rustdesk.output', hint: 'Starten Sie den RustDesk-Dienst neu und versuchen Sie es erneut.',
    });
  }
  return id;
}

/** Rules for the permanent password (checked before RustDesk is called). */
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 64;

/** Checks a new permanent password; throws a UserError naming the rule it breaks (never the password). */
export function checkPassword(pw: unknown): string {
  if (typeof pw !== 'string' || pw.length === 0) {
    throw new UserError('Bitte geben Sie ein neues Passwort für RustDesk ein.', { code: 'rustdesk.password' });
  }
  if (pw.length < PASSWORD_MIN) {
    throw new UserError(`Das Passwort ist zu kurz: Es muss mindestens ${PASSWORD_MIN} Zeichen lang sein.`, { code: 'rustdesk.password' });
  }
  if (pw.length > PASSWORD_MAX) {
    throw new UserError(`Das Passwort ist zu lang: höchstens ${PASSWORD_MAX} Zeichen.`, { code: 'rustdesk.password' });
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(pw) || pw !== pw.trim()) {
    throw new UserError('Das Passwort darf keine Steuerzeichen und keine Leerzeichen am Anfang oder Ende enthalten.', { code: 'rustdesk.password' });
  }
  return pw;
}

/**
 * `rustdesk --password <pw>`: sets the permanent password. RustDesk answers "Done!" (older versions
 * print nothing); any other text is its reason for refusing, shown without the password.
 */
export async function setRustDeskPassword(call: RustDeskCall, password: string): Promise<void> {
  const pw = checkPassword(password);
  const out = lines(await callRustDesk(call, ['--password', pw], 'das Passwort zu setzen', [pw]));
  if (out.length === 0 || out.some((l) => /^done!?$/i.test(l))) return;
  throw new UserError(`RustDesk hat das Passwort nicht übernommen: ${out[out.length - 1].slice(0, 200)}`, {
    code: 'rustdesk.failed', hint: 'Prüfen Sie, ob der RustDesk-Dienst läuft, und versuchen Sie es erneut.',
  });
}

/** The vendor's own RustDesk server. */
export interface ServerConfig {
  /** ID server (RustDesk option `custom-rendezvous-server`), host or host:port. Required. */
  idServer: string;
  /** Relay server (`relay-server`); empty = RustDesk derives it from the ID server. */
  relayServer: string;
  /** Public key of the server (`key`); empty = none. */
  key: string;
}

/** RustDesk option names, with the German label of the matching setting. */
export const SERVER_OPTIONS: { option: string; field: keyof ServerConfig; label: string }[] = [
  { option: 'custom-rendezvous-server', field: 'idServer', label: 'ID-Server' },
  { option: 'relay-server', field: 'relayServer', label: 'Relay-Server' },
  { option: 'key', field: 'key', label: 'Key' },
];

/**
 * Applies the vendor's server with `rustdesk --option <name> <value>` for the ID server, relay server and
 * key, then reads each option back (`rustdesk --option <name>`) and fails if RustDesk did not take it.
 * `progress` is told after each step.
 */
export async function applyRustDeskServer(call: RustDeskCall, cfg: ServerConfig, progress?: (done: number, total: number, label: string) => void): Promise<void> {
  if (!cfg.idServer.trim()) {
    throw new UserError('Es ist kein ID-Server eingetragen.', {
      code: 'rustdesk.config', hint: 'Tragen Sie in den Einstellungen (Fernwartung) den ID-Server und den Key des Support-Servers ein.',
    });
  }
  const total = SERVER_OPTIONS.length * 2;
  let done = 0;
  for (const o of SERVER_OPTIONS) {
    const value = cfg[o.field].trim();
    const out = lines(await callRustDesk(call, ['--option', o.option, value], `den ${o.label} einzustellen`));
    if (out.length) {
      throw new UserError(`RustDesk hat den ${o.label} nicht übernommen: ${out[out.length - 1].slice(0, 200)}`, {
        code: 'rustdesk.failed', hint: 'Prüfen Sie den eingetragenen Wert und ob der RustDesk-Dienst läuft.',
      });
    }
    progress?.(++done, total, o.label);
  }
  for (const o of SERVER_OPTIONS) {
    const want = cfg[o.field].trim();
    const got = lines(await callRustDesk(call, ['--option', o.option], `den ${o.label} zu prüfen`)).join(' ');
    if (got !== want) {
      throw new UserError(`RustDesk meldet nach dem Einstellen einen anderen ${o.label}: „${got.slice(0, 120)}“ statt „${want}“.`, {
        code: 'rustdesk.verify', hint: 'Der RustDesk-Dienst hat die Einstellung nicht gespeichert. Starten Sie ihn neu und versuchen Sie es erneut.',
      });
    }
    progress?.(++done, total, o.label);
  }
}

/** Whether the RustDesk service runs, and as which processes. */
export interface ServiceState {
  running: boolean;
  /** Process ids of `rustdesk --service` / `rustdesk --server` processes of this program. */
  pids: number[];
}

/**
 * Whether RustDesk's service runs: a process of this RustDesk program (same file, after resolving links)
 * started with `--service` (the system service) or `--server` (what the service starts per session).
 * Read from the process table rather than `systemctl`, so it works with and without systemd.
 */
export async function rustDeskServiceState(bin: string, procRoot = '/proc'): Promise<ServiceState> {
  const want = await realpath(bin).catch(() => bin);
  const pids: number[] = [];
  for (const p of await listProcesses(procRoot)) {
    if (p.pid === process.pid) continue;
    if (!p.argv.some((a) => a === '--service' || a === '--server')) continue;
    for (const cand of programPathsOf(p)) {
      const real = await realpath(cand).catch(() => cand);
      if (real === want) { pids.push(p.pid); break; }
    }
  }
  return { running: pids.length > 0, pids };
}
