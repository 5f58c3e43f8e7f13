/**
 * The remote-support plugin ("Fernwartung"): RustDesk status and ID on the POS server, the technician's
 * actions to set RustDesk's permanent password and the vendor's own server, a TeamViewer warning, and the
 * JSON route behind the panel `kw-remote-support`.
 */
import { inject, injectable, TOKENS, UserError } from 'kassenwart/sdk';
import type { JobContext, Plugin, PluginContext, SettingsView } from 'kassenwart/sdk';
import { applyRustDeskServer, locateRustDesk, setRustDeskPassword } from './rustdesk.js';
import { collectStatus, type RemoteSupportStatus, type StatusSettings } from './status.js';

export { checkClient, clientHintsFromNavigator } from './client-os.js';
export type { ClientCheck, ClientHints } from './client-os.js';
export type { RemoteSupportStatus } from './status.js';

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
  constructor(
    @inject(TOKENS.Context) private readonly ctx: PluginContext,
    @inject(TOKENS.Settings) private readonly settings: SettingsView,
  ) {}

  activate(): void {
    const ctx = this.ctx;

    // One status check at a time: requests that arrive while one runs share its answer, so a reloading
    // browser cannot start a pile of RustDesk processes.
    let inFlight: Promise<RemoteSupportStatus> | undefined;
    ctx.registerRoute('GET', '/status', () => {
      inFlight ??= collectStatus(readSettings(this.settings), {}, (e) => {
        ctx.logger.error('unexpected error while reading the RustDesk status', { error: e instanceof Error ? e.message : String(e) });
      }).finally(() => { inFlight = undefined; });
      return inFlight;
    }, { role: 'operator' });

    ctx.registerAction(ACTIONS.setPassword, async (job: JobContext) => {
      const s = readSettings(this.settings);
      const password = job.params?.password;
      // Checked here (before anything runs) so that a missing value is a clear German message.
      if (typeof password !== 'string' || password === '') {
        throw new UserError('Bitte geben Sie ein neues Passwort für RustDesk ein.', {
          code: 'rustdesk.password', hint: 'Das Passwort wird im Bereich „Fernwartung“ eingegeben.',
        });
      }
      const bin = await locateRustDesk(s.rustdeskPath);
      job.progress(undefined, 'Passwort wird an RustDesk übergeben …');
      await setRustDeskPassword({ bin, timeoutMs: s.timeoutSeconds * 1000, signal: job.signal }, password);
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
}
