import { resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SettingsProblem, SettingsValidator } from 'kassenwart/sdk';
import type { Problem } from '../plugins/ajv.js';

/** A lone UTF-16 surrogate: not a character; it cannot be stored as UTF-8 and would come back changed. */
const LONE_SURROGATE = /\p{Cs}/u;

/** The JSON pointer of every string inside `value` (at `path`) that holds a lone surrogate. */
function surrogatesIn(value: unknown, path: string, out: string[]): void {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) out.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => surrogatesIn(v, `${path}/${i}`, out));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (LONE_SURROGATE.test(k)) out.push(path);
      else surrogatesIn(v, `${path}/${k}`, out);
    }
  }
}

/** Problems the host finds in any plugin's values, knowing nothing of their meaning: text that is not text. */
export function genericProblems(patch: Record<string, unknown>): Problem[] {
  const paths: string[] = [];
  for (const [k, v] of Object.entries(patch)) surrogatesIn(v, `/${k}`, paths);
  return paths.map((path) => ({
    path,
    message: 'enthält ein ungültiges Zeichen (ein einzelnes UTF-16-Ersatzzeichen, kein Buchstabe); bitte den Wert neu eintippen statt einfügen',
  }));
}

/**
 * Loads a plugin's settings validator (`contributes.settings.validator`, relative to its folder, never outside
 * it) once, on first use. Throws an Error (German) when the module is missing or has no function as default export.
 */
export function validatorLoader(pluginDir: string, modulePath: string): () => Promise<SettingsValidator> {
  let loading: Promise<SettingsValidator> | undefined;
  return () => {
    loading ??= (async () => {
      const root = resolve(pluginDir);
      const file = resolve(root, modulePath);
      if (!file.startsWith(root + sep)) throw new Error(`Prüfmodul „${modulePath}“ liegt außerhalb des Plugin-Ordners.`);
      const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
      if (typeof mod.default !== 'function') throw new Error(`Prüfmodul „${modulePath}“ exportiert keine Prüffunktion (default).`);
      return mod.default as SettingsValidator;
    })();
    loading.catch(() => { loading = undefined; });
    return loading;
  };
}

/** Runs a validator; its problems about keys outside `changed` are dropped; a failing validator is a problem itself. */
export async function runValidator(load: () => Promise<SettingsValidator>, plugin: string, values: Record<string, unknown>,
  changed: string[]): Promise<Problem[] | Error> {
  let found: SettingsProblem[];
  try {
    const validate = await load();
    found = await validate(Object.freeze({ ...values }), { changed: Object.freeze([...changed]) });
  } catch (e) {
    return new Error(`Die Einstellungen von „${plugin}“ konnten nicht geprüft werden: ${(e as Error)?.message ?? e}`);
  }
  if (!Array.isArray(found)) return [];
  return found
    .filter((p) => p && typeof p.key === 'string' && changed.includes(p.key) && typeof p.message === 'string')
    .map((p) => ({ path: `/${p.key}`, message: p.message }));
}
