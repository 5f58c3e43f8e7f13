// Compatibility shim for @stryker-mutator/mocha-runner 9.x with mocha 12 (loaded by scripts/mutation.mjs in
// Stryker's main process and, through testRunnerNodeArgs, in every test-runner worker).
//
// Mocha 12 renamed its CLI helpers to .cjs (lib/cli/run-helpers.cjs, options.cjs, collect-files.cjs); the
// runner requires them without an extension, which Node's CommonJS resolution does not map to .cjs. This
// retries exactly those three requests with ".cjs" — nothing else is touched. Remove it once a runner
// release that supports mocha 12 on Node 20 exists (Stryker 10 needs Node 22).
'use strict';
const Module = require('node:module');
const original = Module._resolveFilename;
const MOCHA_CLI = /[\\/]mocha[\\/]lib[\\/]cli[\\/](run-helpers|options|collect-files)$/;
Module._resolveFilename = function resolveMochaCli(request, ...rest) {
  try {
    return original.call(this, request, ...rest);
  } catch (e) {
    if (MOCHA_CLI.test(request)) return original.call(this, request + '.cjs', ...rest);
    throw e;
  }
};
