import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** Root of the kassenwart package (the folder with package.json, host/, plugins/, sdk/). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The host version, from package.json: plugins' `engines.kassenwart` ranges are checked against it. */
export const HOST_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

/** Folder of the built-in plugins. */
export const BUILTIN_PLUGINS_DIR = join(PACKAGE_ROOT, 'plugins');
