/**
 * The usb plugin's settings validator (plugin.json `contributes.settings.validator`): what the schema cannot say
 * about 01.2, because it depends on this machine: the path lies below the media root (KASSENWART_USB_MEDIA_ROOT,
 * default /media) and does not lead out of it through a symbolic link (checked as far as the path exists).
 */
import { realpath } from 'node:fs/promises';
import { realPathSoFar, isUserError, type SettingsValidator } from 'kassenwart/sdk';
import { checkPathSyntax, environmentFromProcess } from './stick.js';

const validateUsbSettings: SettingsValidator = async (values, { changed }) => {
  if (!changed.includes('path')) return [];
  const env = environmentFromProcess();
  const path = String(values.path ?? '');
  try {
    checkPathSyntax(path, env);
  } catch (e) {
    if (!isUserError(e)) throw e;
    return [{ key: 'path', message: `${e.message}${e.hint ? ' ' + e.hint : ''}` }];
  }
  const root = await realpath(env.mediaRoot).catch(() => env.mediaRoot);
  const real = await realPathSoFar(path);
  if (!real.startsWith(root + '/')) {
    return [{
      key: 'path',
      message: `Der Pfad „${path}“ unter 01.2 zeigt über eine Verknüpfung auf „${real}“ außerhalb von ${env.mediaRoot}. ` +
        `Tragen Sie unter 01.2 den Pfad ein, unter dem der USB-Stick eingehängt ist, z. B. ${env.mediaRoot}/usb0.`,
    }];
  }
  return [];
};

export default validateUsbSettings;
