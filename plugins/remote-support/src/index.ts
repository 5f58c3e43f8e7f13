/**
 * The remote-support plugin ("Fernwartung"): RustDesk status and ID on the POS server, the technician's
 * actions to set RustDesk's permanent password and the vendor's own server, a TeamViewer warning, and the
 * JSON route behind the panel `kw-remote-support`.
 */
import { inject, injectable, TOKENS, UserError } from 'kassenwart/sdk';
import type { CommandIO, JobContext, Plugin, PluginContext, SettingsView } from 'kassenwart/sdk';
import { applyRustDeskServer, getRustDeskId, locateRustDesk, setRustDeskPassword } from './rustdesk.js';
import { collectStatus, type RemoteSupportStatus, type StatusSettings } from './status.js';
import { contributeMetrics } from 'kassenwart/plugins/metrics/api';
import { remoteSupportCollector } from './metrics.js';
import { PasswordService, passwordKnown } from './password.js';
import { forOperator } from './operator-hints.js';

export { checkClient, clientHintsFromNavigator } from './client-os.js';
export type { ClientCheck, ClientHints } from './client-os.js';
export type { RemoteSupportStatus } from './status.js';

/** What the panel gets: the status, plus whether Kassenwart knows RustDesk's permanent password. */
export type PanelStatus = RemoteSupportStatus & {
  password: { known: boolean; problem?: { code: string; message: string; hint?: string } };
};

/** Action ids (declared in plugin.json). */
export const ACTIONS = {
  setPassword: 'remote-support.setPassword',
  applyServer: 'remote-support.applyServer',
} as const;

/** Reads the plugin's settings with their defaults. */
export function readSettings(settings: SettingsView): StatusSettings {
  const str = (k: string) => String(settings.get<string>(k) ?? '');
  const timeout = Number(settings.get<number>('timeoutSeconds') ?? 15);
  return {
    rustdeskPath: str('rustdeskPath'),
    timeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : 15,
    idServer: str('idServer'),
    relayServer: str('relayServer'),
    key: str('key'),
    installationName: str('installationName'),
    customerNumber: str('customerNumber'),
    supportContact: str('supportContact'),
  };
}

@injectable()
export default class RemoteSupportPlugin implements Plugin {
  private passwords: PasswordService | undefined;

  constructor(
    @inject(TOKENS.Context) private readonly ctx: PluginContext,
    @inject(TOKENS.Settings) private readonly settings: SettingsView,
  ) {}

  activate(): void {
    const ctx = this.ctx;
    const passwords = new PasswordService({ ctx, settings: this.settings, rustdesk: () => readSettings(this.settings) });
    this.passwords = passwords;

    // One status check at a time: requests that arrive while one runs share its answer, so a reloading
    // browser cannot start a pile of RustDesk processes.
    let inFlight: Promise<RemoteSupportStatus> | undefined;
    ctx.registerRoute('GET', '/status', async (req): Promise<PanelStatus> => {
      inFlight ??= collectStatus(readSettings(this.settings), {}, (e) => {
        ctx.logger.error('unexpected error while reading the RustDesk status', { error: e instanceof Error ? e.message : String(e) });
      }).finally(() => { inFlight = undefined; });
      const st = await inFlight;
      // Hints for the reader: an operator cannot edit Einstellungen, so they are told whom to call instead.
      if (req.user.role !== 'technician') return { ...forOperator(st), password: { known: passwordKnown(this.settings) } };
      return { ...st, password: { known: passwordKnown(this.settings), ...(passwords.lastSyncProblem ? { problem: passwords.lastSyncProblem } : {}) } };
    }, { role: 'operator' });

    // The eye: technicians only (the host checks the role on every request), audited before the answer.
    ctx.registerRoute('POST', '/password/reveal', async (req) => ({ password: await passwords.reveal(req.user.name) }), { role: 'technician' });
    // The pencil: RustDesk first, then sealed in the secret setting (audited as a setting change).
    ctx.registerRoute('POST', '/password', async (req) => {
      await passwords.change((req.body as { password?: unknown } | undefined)?.password, req.user.name);
      return { message: 'Das dauerhafte Passwort für RustDesk wurde geändert.' };
    }, { role: 'technician' });

    ctx.registerCommand('rustdesk', (args, io) => this.command(args, io));
    contributeMetrics(ctx, remoteSupportCollector(this.settings));

    ctx.registerAction(ACTIONS.setPassword, async (job: JobContext) => {
      const password = job.params?.password;
      // Checked here (before anything runs) so that a missing value is a clear German message.
      if (typeof password !== 'string' || password === '') {
        throw new UserError('Bitte geben Sie ein neues Passwort für RustDesk ein.', {
          code: 'rustdesk.password', hint: 'Das Passwort wird im Bereich „Fernwartung“ eingegeben.',
        });
      }
      job.progress(undefined, 'Passwort wird an RustDesk übergeben …');
      await passwords.change(password, job.user, job.signal);
      // Never log or return the password itself.
      job.log.info('Das dauerhafte Passwort von RustDesk wurde geändert.');
      ctx.logger.info('RustDesk permanent password changed', { user: job.user });
      return { message: 'Das dauerhafte Passwort für RustDesk wurde gesetzt.' };
    });

    ctx.registerAction(ACTIONS.applyServer, async (job: JobContext) => {
      const s = readSettings(this.settings);
      const bin = await locateRustDesk(s.rustdeskPath);
      await applyRustDeskServer(
        { bin, timeoutMs: s.timeoutSeconds * 1000, signal: job.signal },
        { idServer: s.idServer, relayServer: s.relayServer, key: s.key },
        (done, total, label) => job.progress(Math.round((done / total) * 100), `${label} ${done <= total / 2 ? 'eingestellt' : 'geprüft'}`),
      );
      job.log.info(`ID-Server „${s.idServer}“, Relay-Server „${s.relayServer || '(automatisch)'}“ und Key ${s.key ? 'gesetzt' : '(leer)'} in RustDesk übernommen.`);
      return {
        message: 'Der Support-Server wurde in RustDesk übernommen.',
        details: { idServer: s.idServer, relayServer: s.relayServer, keySet: s.key !== '' },
      };
    });
  }

  /**
   * `kassenwart rustdesk status [--json] | id | password --password-stdin | apply-server` for technicians
   * working on the command line. The password is read from standard input only, so it never appears in the
   * shell history or in a process list of Kassenwart itself.
   */
  private async command(args: string[], io: CommandIO): Promise<number> {
    const [sub, ...rest] = args;
    const json = rest.includes('--json');
    const s = readSettings(this.settings);
    const print = (text: string) => { io.stdout.write(text + '\n'); };
    switch (sub) {
      case 'status': {
        const st = await collectStatus(s);
        if (json) { print(JSON.stringify(st, null, 2)); return st.id.value ? 0 : 1; }
        const line = (label: string, value: string) => print(`${label.padEnd(14)} ${value}`);
        line('RustDesk', st.rustdesk.found ? `${st.rustdesk.path}${st.version.value ? ` (Version ${st.version.value})` : ''}` : 'nicht gefunden');
        line('Dienst', st.service.running === true ? 'läuft' : st.service.running === false ? 'läuft nicht' : 'unbekannt');
        line('ID', st.id.formatted ?? '–');
        line('ID-Server', st.server.idServer || '(nicht eingetragen)');
        const problems = st.rustdesk.found ? [st.version.problem, st.service.problem, st.id.problem] : [st.rustdesk.problem];
        for (const p of problems) if (p) io.stderr.write(`${p.message}${p.hint ? `\n  ${p.hint}` : ''}\n`);
        if (st.teamviewer.found) io.stderr.write(`${st.teamviewer.message}\n  ${st.teamviewer.hint}\n`);
        return st.id.value ? 0 : 1;
      }
      case 'id': {
        const bin = await locateRustDesk(s.rustdeskPath);
        print(await getRustDeskId({ bin, timeoutMs: s.timeoutSeconds * 1000 }));
        return 0;
      }
      case 'password': {
        if (!rest.includes('--password-stdin')) {
          io.stderr.write('Falscher Aufruf: Das Passwort wird nur über die Standardeingabe angenommen: echo … | kassenwart rustdesk password --password-stdin\n');
          return 2;
        }
        const password = (await readStdin()).split(/\r?\n/)[0] ?? '';
        await this.passwords!.change(password, 'cli');
        print('Das dauerhafte Passwort für RustDesk wurde gesetzt.');
        return 0;
      }
      case 'apply-server': {
        const bin = await locateRustDesk(s.rustdeskPath);
        await applyRustDeskServer({ bin, timeoutMs: s.timeoutSeconds * 1000 }, { idServer: s.idServer, relayServer: s.relayServer, key: s.key });
        print('Der Support-Server wurde in RustDesk übernommen.');
        return 0;
      }
      default:
        // "--help" / "help" / nothing: the usage on stdout (exit 0); anything else is a wrong call (exit 2).
        if (sub === undefined || sub === '--help' || sub === '-h' || sub === 'help') {
          print('Aufruf: kassenwart rustdesk status [--json] | id | password --password-stdin | apply-server');
          return 0;
        }
        io.stderr.write(`Falscher Aufruf: unbekannter Unterbefehl „${sub}“.\nAufruf: kassenwart rustdesk status [--json] | id | password --password-stdin | apply-server\n`);
        return 2;
    }
  }
}

/** Reads all of standard input (at most 4 KiB are kept). */
async function readStdin(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    if (text.length < 4096) text += String(chunk);
  }
  return text.slice(0, 4096);
}
