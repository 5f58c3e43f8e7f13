/**
 * The FTP backup target ("FTP-Server") of the backup plugin. First version: settings and availability only;
 * send() follows.
 */
import { UserError, type PluginContext } from 'kassenwart/sdk';
import { FTP_TARGET_ID, type BackupTarget } from '../api.js';

/** Creates the FTP target; it reads the backup plugin's ftp* settings on every call. */
export function createFtpTarget(ctx: PluginContext): BackupTarget {
  return {
    id: FTP_TARGET_ID,
    displayName: 'FTP-Server',
    async availability() {
      if (ctx.settings.get<boolean>('ftpEnabled') !== true) {
        return { available: false, kind: 'skipped', reason: 'Nicht mit einem FTP-Server gekoppelt (Einstellung „FTP-Server gekoppelt“ ist aus).' };
      }
      return { available: true };
    },
    async send() {
      throw new UserError('Die Übertragung an den FTP-Server ist noch nicht verfügbar.', { code: 'ftp.notImplemented' });
    },
  };
}
