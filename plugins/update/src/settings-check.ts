/**
 * The update plugin's settings validator (plugin.json `contributes.settings.validator`): every entry of
 * "Vertrauenswürdige Schlüssel" must be an Ed25519 public key, so a garbage key is refused when it is set, not at
 * the next update check.
 */
import { isUserError, type SettingsValidator } from 'kassenwart/sdk';
import { parsePublicKeys } from './feed.js';

const validateUpdateSettings: SettingsValidator = (values, { changed }) => {
  if (!changed.includes('publicKeys')) return [];
  try {
    parsePublicKeys(String(values.publicKeys ?? ''));
    return [];
  } catch (e) {
    if (!isUserError(e)) throw e;
    return [{
      key: 'publicKeys',
      message: `„Vertrauenswürdige Schlüssel“: ${e.message} Erwartet werden öffentliche Ed25519-Schlüssel des Herstellers als PEM ` +
        '(„-----BEGIN PUBLIC KEY-----“ …) oder in Base64 (44 Zeichen, wie „kassenwart release keygen“ sie ausgibt), mehrere durch Zeilenumbruch oder Komma getrennt.',
    }];
  }
};

export default validateUpdateSettings;
