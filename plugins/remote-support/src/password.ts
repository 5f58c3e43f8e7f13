/**
 * RustDesk's permanent password, as the vendor's help text shows it: "******", an eye to reveal it, a pencil to
 * change it. RustDesk itself cannot print it back, so Kassenwart keeps the value it set in its own secret setting
 * `permanentPassword` (sealed at rest with AES-256-GCM like every `format: "password"` setting, docs/SECURITY.md;
 * write-only in the settings API). Only this plugin reads it, and only for a technician: the reveal route has role
 * technician (checked by the host on every request) and writes an audit entry before it answers.
 */
import type { PluginContext, SettingsView } from 'kassenwart/sdk';
import { UserError, isUserError } from 'kassenwart/sdk';
import { checkPassword, locateRustDesk, setRustDeskPassword } from './rustdesk.js';

/** The secret setting that holds the last password Kassenwart set. */
export const PASSWORD_KEY = 'permanentPassword';

/** Audit event (stored as `remote-support.password.reveal`). */
export const REVEAL_EVENT = 'password.reveal';

export interface PasswordDeps {
  ctx: PluginContext;
  settings: SettingsView;
  rustdesk: () => { rustdeskPath: string; timeoutSeconds: number };
}

/** Whether Kassenwart knows the current permanent password (for "******" vs. "nicht bekannt"). */
export function passwordKnown(settings: SettingsView): boolean {
  const v = settings.get<string>(PASSWORD_KEY);
  return typeof v === 'string' && v !== '';
}

/**
 * The password and everything around it. `changing` is set while this service itself stores a new value, so the
 * settings listener does not hand the same password to RustDesk twice.
 */
export class PasswordService {
  private changing = 0;
  /** The last failure to hand a password set in "Einstellungen" to RustDesk (shown to technicians). */
  lastSyncProblem: { code: string; message: string; hint?: string } | undefined;

  constructor(private readonly d: PasswordDeps) {
    // A technician may also change the secret in "Einstellungen": RustDesk must get it then, too.
    d.ctx.onDispose(d.settings.onDidChange((keys) => {
      if (keys.includes(PASSWORD_KEY) && this.changing === 0) void this.syncFromSettings();
    }));
  }

  /** Sets the password in RustDesk first (nothing stored if RustDesk refuses), then stores it sealed (audited as a setting change). */
  async change(password: unknown, by: string, signal?: AbortSignal): Promise<void> {
    const pw = checkPassword(password);
    const s = this.d.rustdesk();
    const bin = await locateRustDesk(s.rustdeskPath);
    await setRustDeskPassword({ bin, timeoutMs: s.timeoutSeconds * 1000, signal }, pw);
    this.changing++;
    try {
      await this.d.settings.set({ [PASSWORD_KEY]: pw }, by);
    } catch (e) {
      throw new UserError('RustDesk hat das neue Passwort übernommen, Kassenwart konnte es aber nicht speichern: Mit dem Auge wird es nicht angezeigt.', {
        code: 'rustdesk.password-store', hint: 'Bitte das Passwort notieren oder erneut ändern.', cause: e,
      });
    } finally {
      this.changing--;
    }
    this.lastSyncProblem = undefined;
    this.d.ctx.logger.info('RustDesk permanent password changed', { user: by });
  }

  /** The stored password for a technician; audited first. */
  async reveal(by: string): Promise<string> {
    const pw = this.d.settings.get<string>(PASSWORD_KEY);
    if (typeof pw !== 'string' || pw === '') {
      throw new UserError('Kassenwart kennt das dauerhafte Passwort von RustDesk nicht: Es wurde nicht über Kassenwart festgelegt.', {
        code: 'rustdesk.password-unknown', status: 404, hint: 'Mit dem Stift ein neues Passwort festlegen; danach kann es hier angezeigt werden.',
      });
    }
    await this.d.ctx.audit(REVEAL_EVENT, by, {});
    this.d.ctx.logger.info('RustDesk permanent password revealed', { user: by });
    return pw;
  }

  private async syncFromSettings(): Promise<void> {
    const pw = this.d.settings.get<string>(PASSWORD_KEY);
    if (typeof pw !== 'string' || pw === '') return;
    try {
      const s = this.d.rustdesk();
      const bin = await locateRustDesk(s.rustdeskPath);
      await setRustDeskPassword({ bin, timeoutMs: s.timeoutSeconds * 1000 }, pw);
      this.lastSyncProblem = undefined;
    } catch (e) {
      const u = isUserError(e) ? e : undefined;
      this.lastSyncProblem = {
        code: u?.code ?? 'rustdesk.failed',
        message: `Das in den Einstellungen geänderte Passwort wurde nicht an RustDesk übergeben: ${u?.message ?? 'unerwarteter Fehler'}`,
        hint: 'Bitte das Passwort hier mit dem Stift erneut festlegen.',
      };
      this.d.ctx.logger.warn('could not hand the new permanent password to RustDesk', { error: u?.message ?? String(e) });
    }
  }
}
