// StrykerJS settings shared by every module run of `npm run mutation` (scripts/mutation.mjs adds, per module,
// which compiled files to mutate and which compiled specs cover them). See docs/test-audit.md, "Mutation testing".
//
// Stryker mutates the compiled JavaScript in */dist (the tests import it, so no TypeScript build per mutant),
// in a sandbox copy of the repository: the working tree is never changed. Mutants are switched at run time
// inside the mocha process (mutant switching), so only tests that run product code in the test process can
// kill them; code that only runs in a child process (the host started by startTestHost) is not measured.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'mocha',
  // perTest: during the dry run Stryker records which test reaches which mutant, and runs only those per mutant
  coverageAnalysis: 'perTest',
  mochaOptions: { 'no-config': true, 'no-package': true, 'no-opts': true, extension: ['js'] },
  // The tests are already built (npm run mutation builds first); the sandbox needs the dist folders, not the TS.
  // (TypeScript sources and docs are not needed either: only compiled files run.)
  ignorePatterns: ['data', 'bench', 'docs', 'test-output', 'reports', '.stryker-tmp', '**/*.tsbuildinfo', '**/*.ts'],
  tempDirName: '.stryker-tmp',
  // Stryker rewrites tsconfig.json in the sandbox with the TypeScript compiler API, which TypeScript 7 (the
  // native compiler) no longer has; nothing is compiled in the sandbox, so point it at a file that is not there.
  tsconfigFile: 'no-tsconfig-in-the-sandbox.json',
  cleanTempDir: 'always',
  concurrency: 1,
  timeoutMS: 60_000,
  timeoutFactor: 3,
  // one child process per run, recycled now and then (servers the specs start are stopped by their own hooks)
  maxTestRunnerReuse: 200,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  thresholds: { high: 90, low: 80 },
  warnings: { slow: false },
};
