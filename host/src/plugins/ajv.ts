import { Ajv, type ErrorObject } from 'ajv';
import localizeModule from 'ajv-i18n';

const localize = (localizeModule as unknown as { de: (errors?: ErrorObject[] | null) => void }).de;

/** A new ajv for validating data (all errors, German messages via ajv-i18n). */
export function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, verbose: true });
  ajv.addFormat('password', true);
  ajv.addFormat('path', true);
  ajv.addFormat('time-list', true);
  ajv.addFormat('uri', (s: string) => { try { new URL(s); return true; } catch { return false; } });
  return ajv;
}

/** One problem with a value: where (JSON pointer) and what (German). */
export interface Problem {
  path: string;
  message: string;
}

/** ajv errors as German problems with the field path. */
export function problems(errors: ErrorObject[] | null | undefined): Problem[] {
  if (!errors?.length) return [];
  const copy = errors.map((e) => ({ ...e }));
  localize(copy);
  return copy.map((e) => {
    let path = e.instancePath || '/';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty?: string }).additionalProperty;
      path = `${e.instancePath}/${extra}`;
      return { path, message: `unbekannter Schlüssel „${extra}“` };
    }
    const custom = (e.parentSchema as Record<string, unknown> | undefined)?.[e.keyword === 'pattern' ? 'x-patternMessage' : 'x-errorMessage'];
    if (typeof custom === 'string') return { path, message: custom };
    if (e.keyword === 'required') {
      const missing = (e.params as { missingProperty?: string }).missingProperty;
      path = `${e.instancePath}/${missing}`;
    }
    return { path, message: e.message ?? e.keyword };
  });
}
