import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../version.js';

let done = false;

/**
 * Lets plugins outside this package (third-party folders) import `kassenwart/sdk`, `kassenwart/plugins/…/api`
 * and get THIS host's copy: one tsyringe registry, one set of classes. Installed once at start.
 */
export function installResolveHook(): void {
  if (done) return;
  done = true;
  const code = `
    const root = ${JSON.stringify(pathToFileURL(join(PACKAGE_ROOT, 'package.json')).href)};
    export async function resolve(specifier, context, next) {
      // always the host's own copy first, even when a plugin folder brings its own node_modules/kassenwart
      if (specifier === 'kassenwart' || specifier.startsWith('kassenwart/')) {
        try { return await next(specifier, { ...context, parentURL: root }); }
        catch { return next(specifier, context); }
      }
      return next(specifier, context);
    }`;
  register('data:text/javascript,' + encodeURIComponent(code));
}
