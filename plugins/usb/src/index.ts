/**
 * The usb plugin: a USB stick backup target for the backup plugin, the 01.1 policy, the sticks overview
 * route for its panel, and the "Stick sicher entfernen" action.
 */
import { inject, injectable, TOKENS, type Plugin, type PluginContext } from 'kassenwart/sdk';
import { backupPoliciesExtensionPoint, backupTargetsExtensionPoint } from 'kassenwart/plugins/backup/api';
import { environmentFromProcess } from './stick.js';
import { createUsbPolicy, createUsbTarget, ejectStick, readSettings, sticksView } from './target.js';

export { createUsbTarget, createUsbPolicy, usbSkipReason, USB_TARGET_ID, USB_POLICY_ID, REASON_X_NO_FTP } from './target.js';

/** The plugin class the host constructs. */
@injectable()
export default class UsbPlugin implements Plugin {
  constructor(@inject(TOKENS.Context) private readonly ctx: PluginContext) {}

  /** Registers the target, the policy, the /sticks route and the eject action. */
  activate(): void {
    const { ctx } = this;
    const env = environmentFromProcess();
    ctx.extensionPoint(backupTargetsExtensionPoint).register(createUsbTarget(ctx.settings, env));
    ctx.extensionPoint(backupPoliciesExtensionPoint).register(createUsbPolicy(ctx.settings));
    ctx.registerRoute('GET', '/sticks', () => sticksView(ctx.settings, env));
    ctx.registerAction('usb.eject', async (job) => {
      job.progress(undefined, 'Schreibe alle Daten auf den USB-Stick …');
      return ejectStick(readSettings(ctx.settings).path, env, job.signal);
    });
  }
}
