/**
 * The usb plugin's settings validator (plugin.json `contributes.settings.validator`): what the schema cannot say
 * about 01.2, because it depends on this machine: the path lies below the media root (KASSENWART_USB_MEDIA_ROOT,
 * default /media) and, when it exists, does not lead out of it through a symbolic link.
 */
import { isUserError, type SettingsValidator } from 'kassenwart/sdk';
import { environmentFromProcess, resolveStickPath } from './stick.js';

const validateUsbSettings: SettingsValidator = async (values, { changed }) => {
  if (!changed.includes('path')) return [];
  try {
    await resolveStickPath(String(values.path ?? ''), environmentFromProcess());
    return [];
  } catch (e) {
    if (!isUserError(e)) throw e;
    return [{ key: 'path', message: `${e.message}${e.hint ? ' ' + e.hint : ''}` }];
  }
};

export default validateUsbSettings;
