import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer } from 'tsyringe';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from 'kassenwart/sdk';
import { StateDb } from './state/db.js';
import { SecretBox } from './state/secrets.js';
import { SettingsRegistry } from './settings/registry.js';
import { PluginManager } from './plugins/manager.js';
import { JobRunner, jobSource } from './jobs/runner.js';
import { Scheduler } from './scheduler.js';
import { AuditLog, Users } from './auth/users.js';
import { LoginLimiter } from './auth/rate-limit.js';
import { BUILTIN_PLUGINS_DIR, HOST_VERSION } from './version.js';
import { PluginActivity } from './plugins/activity.js';
import { clearQuarantine } from './plugins/quarantine.js';

/** DI tokens of host services in the root container (host-internal; plugins use sdk TOKENS). */
export const HOST = {
  StateDb: Symbol.for('kassenwart.host.stateDb'),
  Settings: Symbol.for('kassenwart.host.settings'),
  Plugins: Symbol.for('kassenwart.host.plugins'),
  Jobs: Symbol.for('kassenwart.host.jobs'),
  Scheduler: Symbol.for('kassenwart.host.scheduler'),
  Users: Symbol.for('kassenwart.host.users'),
  Audit: Symbol.for('kassenwart.host.audit'),
} as const;

export interface KernelOptions {
  dataDir: string;
  builtinDir?: string;
  /** Extra plugin folders for this run only (not stored). */
  pluginDirs?: string[];
  requestRestart?: (reason: string) => void;
  /** A serving host activates newly enabled plugins at once; the CLI does not. */
  serving?: boolean;
  /** Where plugin code in progress is recorded for the supervisor (the serving host); default: counted only. */
  activity?: PluginActivity;
}

/** A plugin as the API lists it. */
export interface PluginView {
  id: string;
  displayName: string;
  version?: string;
  description?: string;
  dir: string;
  builtin: boolean;
  enabled: boolean;
  state: string;
  reasons: string[];
  dependencies: Record<string, string>;
  dependants: string[];
}

/**
 * The composition root: state database, secrets, settings, plugins, jobs, scheduler, users, audit — wired in
 * one root container. The HTTP server and the CLI both drive a Kernel.
 */
export class Kernel {
  setupToken: string | undefined;
  serving = false;
  /** Audit writes in flight; close() waits for them (a CLI process exits right after its change). */
  readonly pending = new Set<Promise<unknown>>();
  readonly limiter = new LoginLimiter();

  private constructor(
    readonly dataDir: string,
    readonly container: DependencyContainer,
    readonly db: StateDb,
    readonly settings: SettingsRegistry,
    readonly plugins: PluginManager,
    readonly jobs: JobRunner,
    readonly scheduler: Scheduler,
    readonly users: Users,
    readonly audit: AuditLog,
  ) {}

  static async open(o: KernelOptions): Promise<Kernel> {
    const dataDir = resolve(o.dataDir);
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const db = await StateDb.open(join(dataDir, 'state.sqlite'));
    const box = await SecretBox.open(process.env.KASSENWART_SECRET_KEY_FILE ?? join(dataDir, 'secret.key'));
    const container = rootContainer.createChildContainer();
    const activity = o.activity ?? new PluginActivity();
    const settings = new SettingsRegistry(db, box);
    const plugins = new PluginManager({
      container, db, settings, dataDir, builtinDir: o.builtinDir ?? process.env.KASSENWART_BUILTIN_DIR ?? BUILTIN_PLUGINS_DIR, hostVersion: HOST_VERSION,
      activationTimeoutMs: Number(process.env.KASSENWART_ACTIVATION_TIMEOUT_MS ?? 10_000),
      requestRestart: o.requestRestart,
      activity,
    });
    for (const dir of o.pluginDirs ?? []) await plugins.addFolder(dir);
    await plugins.load();
    // Before each job every plugin's settings are re-read: the CLI (another process) may have changed them, and an
    // action reaches other plugins too (backup.send asks the usb and third-party targets).
    const jobs = new JobRunner(db, plugins, dataDir, async () => { for (const id of settings.plugins()) await settings.values(id); }, activity);
    plugins.attachJobs(jobSource(jobs));
    const scheduler = new Scheduler(db, plugins, settings, jobs);
    const users = new Users(db);
    const audit = new AuditLog(db);
    container.register(HOST.StateDb, { useValue: db });
    container.register(HOST.Settings, { useValue: settings });
    container.register(HOST.Plugins, { useValue: plugins });
    container.register(HOST.Jobs, { useValue: jobs });
    container.register(HOST.Scheduler, { useValue: scheduler });
    container.register(HOST.Users, { useValue: users });
    container.register(HOST.Audit, { useValue: audit });
    const k = new Kernel(dataDir, container, db, settings, plugins, jobs, scheduler, users, audit);
    k.serving = !!o.serving;
    for (const id of settings.plugins()) await settings.values(id);
    settings.onDidChange((c) => {
      if (c.external) return; // the process that made it audited it
      const p = k.audit.add(c.by, 'settings.change', c.plugin, { keys: c.keys, before: c.before, after: c.after }).catch(() => {});
      k.pending.add(p);
      void p.finally(() => k.pending.delete(p));
    });
    return k;
  }

  /** Makes a new first-run setup token when no technician exists yet. */
  async prepareSetup(): Promise<string | undefined> {
    if (await this.users.hasTechnician()) return undefined;
    const raw = randomBytes(6).toString('hex').toUpperCase();
    this.setupToken = `${raw.slice(0, 4)}-${raw.slice(4, 8)}-${raw.slice(8)}`;
    return this.setupToken;
  }

  pluginList(): PluginView[] {
    return this.plugins.list().map((r) => ({
      id: r.id, displayName: r.manifest?.displayName ?? r.id, version: r.manifest?.version, description: r.manifest?.description,
      dir: r.dir, builtin: r.builtin, enabled: r.enabled, state: r.state === 'activating' ? 'inactive' : r.state, reasons: r.reasons,
      dependencies: r.manifest?.dependencies ?? {}, dependants: this.plugins.dependants(r.id),
    }));
  }

  async enablePlugin(id: string, by: string): Promise<string[]> {
    const newly = await this.plugins.enable(id);
    for (const x of new Set([id, ...newly])) await clearQuarantine(this.db, x); // enabled again by a person: forgiven
    await this.audit.add(by, 'plugin.enable', id, { alsoEnabled: newly.filter((x) => x !== id) });
    await this.plugins.reconcile(this.serving);
    if (this.serving) await this.scheduler.start().catch(() => {});
    return newly;
  }

  async disablePlugin(id: string, cascade: boolean, by: string): Promise<string[]> {
    const done = await this.plugins.disable(id, cascade);
    await this.audit.add(by, 'plugin.disable', id, { alsoDisabled: done.filter((x) => x !== id) });
    await this.plugins.reconcile(this.serving);
    if (this.serving) await this.scheduler.start().catch(() => {});
    return done;
  }

  async settingsList() {
    const out = [];
    for (const r of this.plugins.list()) {
      if (!this.settings.has(r.id)) continue;
      out.push({ ...(await this.settings.publicView(r.id)), displayName: r.manifest?.displayName ?? r.id });
    }
    return out;
  }

  async settingsOf(plugin: string) {
    const r = this.plugins.get(plugin);
    if (!r || !this.settings.has(plugin)) throw new UserError(`Das Plugin „${plugin}“ hat keine Einstellungen.`, { code: 'settings.unknown', status: 404 });
    return { ...(await this.settings.publicView(plugin)), displayName: r.manifest?.displayName ?? plugin };
  }

  async setSettings(plugin: string, values: Record<string, unknown>, by: string): Promise<void> {
    await this.settings.set(plugin, values, by);
  }

  private seenChanges = 0;

  /**
   * Applies what another process (the CLI) wrote to the state database while this server runs: new plugin
   * folders, enablement, settings (cache and schedules). Cheap when nothing changed.
   */
  syncFromDisk(): Promise<void> {
    // one at a time: the timer and the CLI's requests over the local socket both call it
    const run = this.syncing.then(() => this.doSync());
    this.syncing = run.catch(() => {});
    return run;
  }

  private syncing: Promise<void> = Promise.resolve();

  private async doSync(): Promise<void> {
    await this.db.refresh();
    if (this.db.externalChanges === this.seenChanges) return;
    this.seenChanges = this.db.externalChanges;
    await this.plugins.load();
    await this.plugins.reconcile(this.serving);
    for (const id of this.settings.plugins()) await this.settings.reloadExternal(id);
    if (this.serving) await this.scheduler.start().catch(() => {});
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    this.scheduler.close();
    await this.jobs.cancelAll();
    await this.plugins.shutdown();
    this.db.close();
  }
}
