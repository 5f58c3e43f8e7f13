import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { tempDir, removeDir } from '#support/tmp.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes a plugin folder (plugin.json + index.js) for a test. The code is plain ESM JavaScript that imports
 * `kassenwart/sdk` like a third-party plugin outside this package would, and uses tsyringe's decorators as
 * functions: `injectable()(Cls)` and `inject(TOKEN)(Cls, undefined, index)`.
 */
export async function writePlugin(root: string, folder: string, manifest: Record<string, unknown> | string, code?: string): Promise<string> {
  const dir = join(root, folder);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'plugin.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
  if (code !== undefined) await writeFile(join(dir, 'index.js'), code);
  return dir;
}

/** A valid manifest with overrides. */
export function manifest(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, displayName: `Test ${id}`, version: '1.0.0', engines: { kassenwart: '^1.0.0' }, main: 'index.js', ...extra };
}

/**
 * Plugin code: a class with the context injected; `body` is the activate() body (has `ctx`, `fs`, `path`).
 * Every activation and deactivation is appended to <installation>/lifecycle.log, so tests can check order.
 */
export function pluginCode(body = '', deactivate = ''): string {
  return `
import { injectable, inject, TOKENS, UserError } from 'kassenwart/sdk';
import fs from 'node:fs';
import path from 'node:path';
class P {
  constructor(ctx, settings) { this.ctx = ctx; this.settings = settings; }
  async activate() {
    const ctx = this.ctx;
    fs.appendFileSync(path.join(ctx.installationDir, 'lifecycle.log'), 'activate ' + ctx.manifest.id + '\\n');
    ${body}
  }
  async deactivate() {
    const ctx = this.ctx;
    ${deactivate}
    fs.appendFileSync(path.join(ctx.installationDir, 'lifecycle.log'), 'deactivate ' + ctx.manifest.id + '\\n');
  }
}
inject(TOKENS.Context)(P, undefined, 0);
inject(TOKENS.Settings)(P, undefined, 1);
injectable()(P);
export default P;
`;
}

/** A real host (no built-in plugins) with fixture plugins written by `write` into a fresh folder. */
export interface FixtureHost {
  host: TestHost;
  /** The folder the fixture plugins were written to. */
  root: string;
  /** Stops the host and removes every folder it used. */
  dispose(): Promise<void>;
}

export async function startFixtureHost(
  write: (root: string) => Promise<void>,
  options: { enable: string[]; env?: Record<string, string> },
): Promise<FixtureHost> {
  const root = await tempDir();
  const builtin = await tempDir();
  await write(root);
  const host = await startTestHost({
    pluginDirs: [root], enable: options.enable, keepData: true,
    env: { KASSENWART_BUILTIN_DIR: builtin, ...options.env },
  });
  return {
    host, root,
    async dispose() {
      await host.stop();
      await removeDir(host.dataDir);
      await removeDir(root);
      await removeDir(builtin);
    },
  };
}
