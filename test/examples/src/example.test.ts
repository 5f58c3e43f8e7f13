/**
 * Runs the example plugin's own test (examples/nas-target/test, written by a plugin author against the
 * SDK alone) inside the suite: importing the compiled spec registers its describe() blocks with mocha.
 */
import '../../../examples/nas-target/dist/test/nas-target.test.js';
