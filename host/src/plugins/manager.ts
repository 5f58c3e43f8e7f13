import { forwardedUntrusted } from '../http/proxy.js';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import Router from '@koa/router';
import semver from 'semver';
import type { DependencyContainer } from 'tsyringe';
import {
  TOKENS, UserError, type ActionContribution, type Logger, type PanelContribution, type Plugin, type PluginClass,
  type PluginContext, type PluginManifest, type ScheduleContribution, type SettingsView, type SettingsReader,
  type ExtensionPointRef, type Role, type HostView, type JobInfo, type PluginInfo, isRawResponse,
} from 'kassenwart/sdk';
import { createLogger } from '../log.js';
import type { StateDb } from '../state/db.js';
import type { SettingsRegistry } from '../settings/registry.js';
import { discoverPluginDirs } from './discovery.js';
import { ExtensionPoints } from './extension-points.js';
import { topoSort } from './graph.js';
import { readManifest } from './manifest.js';
import type { PluginRecord } from './record.js';
import { installResolveHook } from './resolve-hook.js';
import type { PluginActivity } from './activity.js';
import { quarantines } from './quarantine.js';
import { audit } from '../auth/users.js';

export interface PluginManagerOptions {
  container: DependencyContainer;
  db: StateDb;
  settings: SettingsRegistry;
  dataDir: string;
  builtinDir: string;
  hostVersion: string;
  activationTimeoutMs?: number;
  deactivationTimeoutMs?: number;
  requestRestart?: (reason: string) => void;
  /** Records plugin code in progress (crash evidence for the supervisor). */
  activity?: PluginActivity;
}

/** A plugin route as the HTTP layer needs it. */
export interface RouteEntry {
  method: string;
  pattern: string;
  /** "plugin" = the route checks its callers itself (auth: 'plugin'). */
  role: Role | 'plugin';
}

/** Where the host view of plugins reads jobs from (the JobRunner, attached after construction). */
export interface JobSource {
  history(limit: number, actionId?: string): Promise<JobInfo[]>;
  onFinished(listener: (job: JobInfo) => void): () => void;
}

function timeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); }),
  ]);
}

function reasonOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * Discovers plugin folders, validates manifests, decides enablement and dependency health, activates
 * plugins lazily in dependency order, each in its own child container, and isolates failures: a broken
 * plugin is marked failed with its reasons, its dependants disabled, and the host serves on.
 */
export class PluginManager {
  readonly records = new Map<string, PluginRecord>();
  readonly extensionPoints = new ExtensionPoints();
  private order: string[] = [];
  private readonly log: Logger = createLogger('plugins');
  private activationOrder: string[] = [];
  /**
   * Activation events that have happened in this process (as VS Code remembers them): a plugin that becomes
   * usable later (enabled at run time) and waits for one of them is activated at once, not at the next
   * occurrence, which for onStartup or onExtensionPoint:<id> would be the next restart.
   */
  private readonly happened = new Set<string>();

  constructor(private readonly o: PluginManagerOptions) {}

  private jobSource: JobSource | undefined;

  /** Connects the job history and job events that `PluginContext.host` offers plugins. */
  attachJobs(source: JobSource): void {
    this.jobSource = source;
  }

  /** What `PluginContext.host.plugins()` returns. */
  pluginInfos(): PluginInfo[] {
    return this.list().map((r) => ({
      id: r.id, displayName: r.manifest?.displayName ?? r.id, version: r.manifest?.version, builtin: r.builtin,
      state: r.state === 'activating' ? 'inactive' : r.state, reasons: [...r.reasons],
    }));
  }

  private readonly knownDirs = new Set<string>();

  /**
   * Reads every plugin folder not read before and computes states. Runs no plugin code. Called at start, and
   * again when another process (the CLI) added a plugin folder.
   */
  async load(): Promise<void> {
    installResolveHook();
    const dirs: { dir: string; builtin: boolean }[] = [];
    for (const d of await discoverPluginDirs(this.o.builtinDir)) dirs.push({ dir: d, builtin: true });
    const extra = await this.o.db.all<{ path: string }>('SELECT path FROM plugin_folders ORDER BY added_at');
    for (const { path } of extra) for (const d of await discoverPluginDirs(path)) dirs.push({ dir: d, builtin: false });

    const enablement = new Map((await this.o.db.all<{ plugin: string; enabled: number }>(
      'SELECT plugin, enabled FROM plugin_enablement')).map((r) => [r.plugin, r.enabled === 1]));

    for (const { dir, builtin } of dirs) {
      if (this.knownDirs.has(dir)) continue;
      this.knownDirs.add(dir);
      const r = await readManifest(dir, this.o.hostVersion);
      const id = r.manifest?.id ?? r.id ?? `?${dir}`;
      if (this.records.has(id)) {
        const other = this.records.get(id)!;
        this.records.set(`${id}@${dir}`, this.blank(`${id}@${dir}`, dir, builtin, r.manifest, false, 'failed',
          [`Die Plugin-ID „${id}“ ist schon durch ${other.dir} belegt; dieser Ordner wird ignoriert.`]));
        continue;
      }
      const enabled = enablement.get(id) ?? (builtin && (r.manifest?.enabledByDefault ?? true));
      const rec = this.blank(id, dir, builtin, r.manifest, enabled, r.errors.length ? 'failed' : (enabled ? 'inactive' : 'disabled'), r.errors);
      this.records.set(id, rec);
      if (r.errors.length) this.log.warn(`plugin ${dir} failed: ${r.errors.join(' | ')}`);
    }
    await this.applyQuarantines();
    this.resolveDependencies();
    for (const id of this.order) {
      const rec = this.records.get(id)!;
      for (const ep of rec.manifest?.contributes?.extensionPoints ?? []) this.extensionPoints.declare(ep.id, id);
      if (rec.manifest?.contributes?.settings) this.o.settings.register(id, rec.manifest.contributes.settings, rec.dir);
    }
  }

  private blank(id: string, dir: string, builtin: boolean, manifest: PluginManifest | undefined, enabled: boolean,
    state: PluginRecord['state'], reasons: string[]): PluginRecord {
    return { id, dir, builtin, manifest, enabled, state, reasons: [...reasons], manifestErrors: [...reasons], disposers: [], handlers: new Map(), commands: new Map() };
  }

  /**
   * Computes every plugin's state from its manifest problems, enablement, activation failure and dependencies
   * (present, healthy, enabled, version in range); reports cycles; orders plugins so dependencies come first.
   * Problems propagate to dependants with a reason naming the cause.
   */
  private resolveDependencies(): void {
    for (const r of this.records.values()) {
      if (r.id.includes('@')) continue;
      r.reasons = [...r.manifestErrors, ...(r.activationError ? [r.activationError] : []), ...(r.quarantine && !r.enabled ? [r.quarantine] : [])];
      if (r.manifestErrors.length || r.activationError) r.state = 'failed';
      else if (!r.enabled) r.state = 'disabled';
      else if (r.state !== 'active' && r.state !== 'activating') r.state = 'inactive';
    }
    const valid = [...this.records.values()].filter((r) => r.manifest && !r.id.includes('@') && !r.manifestErrors.length);
    const deps = (id: string) => Object.keys(this.records.get(id)?.manifest?.dependencies ?? {});
    const { order, cycles } = topoSort(valid.map((r) => r.id), deps);
    for (const cycle of cycles) {
      for (const id of new Set(cycle)) {
        const r = this.records.get(id)!;
        r.state = 'failed';
        r.reasons.push(`Zyklische Abhängigkeit: ${cycle.join(' → ')}.`);
      }
    }
    this.order = order;
    for (const id of order) {
      const r = this.records.get(id)!;
      if (r.state === 'failed' || !r.enabled) continue;
      for (const [dep, range] of Object.entries(r.manifest!.dependencies ?? {})) {
        const d = this.records.get(dep);
        if (!d || !d.manifest) {
          r.state = 'failed';
          r.reasons.push(`Benötigtes Plugin „${dep}“ ist nicht installiert.`);
        } else if (!semver.satisfies(d.manifest.version, range, { includePrerelease: true })) {
          r.state = 'failed';
          r.reasons.push(`Benötigt „${dep}“ ${range}, installiert ist ${d.manifest.version}.`);
        } else if (d.state === 'failed') {
          r.state = 'disabled';
          r.reasons.push(`Benötigtes Plugin „${dep}“ ist fehlerhaft.`);
        } else if (!d.enabled || d.state === 'disabled') {
          r.state = 'disabled';
          r.reasons.push(`Benötigtes Plugin „${dep}“ ist deaktiviert.`);
        }
      }
    }
  }

  /**
   * Applies enablement changes at run time: re-reads enablement, deactivates plugins that are no longer
   * usable (dependants first), registers and (for onStartup) activates the newly usable ones.
   */
  async reconcile(activate = true): Promise<void> {
    const enablement = new Map((await this.o.db.all<{ plugin: string; enabled: number }>(
      'SELECT plugin, enabled FROM plugin_enablement')).map((r) => [r.plugin, r.enabled === 1]));
    for (const r of this.records.values()) {
      if (!r.manifest || r.id.includes('@')) continue;
      const enabled = enablement.get(r.id) ?? (r.builtin && (r.manifest.enabledByDefault ?? true));
      if (!enabled && r.enabled) r.activationError = undefined; // disabling clears a failure: enabling retries
      r.enabled = enabled;
    }
    await this.applyQuarantines();
    const before = new Map([...this.records.values()].map((r) => [r.id, r.state]));
    this.resolveDependencies();
    for (const id of [...this.activationOrder].reverse()) {
      const r = this.records.get(id)!;
      if (r.state !== 'active' && before.get(id) === 'active') {
        const state = r.state;
        r.state = 'active';
        await this.dispose(r);
        r.state = state;
      }
    }
    for (const id of this.order) {
      const r = this.records.get(id)!;
      if (!this.usable(r)) continue;
      for (const ep of r.manifest!.contributes?.extensionPoints ?? []) this.extensionPoints.declare(ep.id, id);
      if (r.manifest!.contributes?.settings && !this.o.settings.has(id)) this.o.settings.register(id, r.manifest!.contributes.settings, r.dir);
    }
    if (activate) await this.activateHappened();
  }

  /** Activates every usable, inactive plugin that waits for an event that has already happened. */
  private async activateHappened(): Promise<void> {
    for (const r of this.usableRecords()) {
      if (r.state !== 'inactive') continue;
      const ev = r.manifest.activationEvents ?? ['onStartup'];
      if (ev.some((e) => this.happened.has(e))) await this.activate(r.id).catch(() => {});
    }
  }

  /** Reads the quarantine reasons (quarantine.ts); shown while the plugin is disabled. */
  private async applyQuarantines(): Promise<void> {
    const q = await quarantines(this.o.db);
    for (const r of this.records.values()) r.quarantine = q.get(r.id)?.reason;
  }

  /** Plugins in dependency order (usable ones and the rest, for listing). */
  list(): PluginRecord[] {
    const inOrder = this.order.map((id) => this.records.get(id)!);
    const rest = [...this.records.values()].filter((r) => !this.order.includes(r.id));
    return [...inOrder, ...rest];
  }

  get(id: string): PluginRecord | undefined {
    return this.records.get(id);
  }

  /** Usable = enabled and not failed (active or waiting for activation). */
  usable(r: PluginRecord | undefined): r is PluginRecord & { manifest: PluginManifest } {
    return !!r && !!r.manifest && (r.state === 'inactive' || r.state === 'active' || r.state === 'activating');
  }

  private usableRecords(): (PluginRecord & { manifest: PluginManifest })[] {
    return this.order.map((id) => this.records.get(id)).filter((r): r is PluginRecord & { manifest: PluginManifest } => this.usable(r));
  }

  /** Ids of enabled plugins that depend on `id` directly. */
  dependants(id: string): string[] {
    return [...this.records.values()].filter((r) => r.manifest?.dependencies && id in r.manifest.dependencies).map((r) => r.id);
  }

  actions(): (ActionContribution & { plugin: string })[] {
    return this.usableRecords().flatMap((r) => (r.manifest.contributes?.actions ?? []).map((a) => ({ ...a, plugin: r.id })));
  }

  action(id: string): (ActionContribution & { plugin: string }) | undefined {
    return this.actions().find((a) => a.id === id);
  }

  panels(): (PanelContribution & { plugin: string })[] {
    return this.usableRecords().flatMap((r) => (r.manifest.contributes?.panels ?? []).map((p) => ({ ...p, plugin: r.id })));
  }

  schedules(): (ScheduleContribution & { plugin: string })[] {
    return this.usableRecords().flatMap((r) => (r.manifest.contributes?.schedules ?? []).map((s) => ({ ...s, plugin: r.id })));
  }

  commandOwner(command: string): PluginRecord | undefined {
    return this.usableRecords().find((r) => (r.manifest.contributes?.commands ?? []).some((c) => c.id === command));
  }

  /** Activates every usable plugin whose activation events include onStartup (or "*"). */
  async activateStartup(): Promise<void> {
    this.happened.add('onStartup');
    this.happened.add('*');
    for (const r of this.usableRecords()) {
      const ev = r.manifest.activationEvents ?? ['onStartup'];
      if (ev.includes('onStartup') || ev.includes('*')) await this.activate(r.id).catch(() => {});
    }
  }

  /** Activates plugins waiting for `event` (e.g. "onAction:backup.create"). */
  async fire(event: string): Promise<void> {
    this.happened.add(event);
    for (const r of this.usableRecords()) {
      if (r.state === 'inactive' && (r.manifest.activationEvents ?? []).includes(event)) await this.activate(r.id).catch(() => {});
    }
  }

  /**
   * Activates a plugin (dependencies first). Rejects with a UserError carrying the German reason when the
   * plugin or one of its dependencies cannot be activated; the plugin is then marked failed.
   */
  async activate(id: string): Promise<void> {
    const r = this.records.get(id);
    if (!r || !r.manifest) throw new UserError(`Plugin „${id}“ ist nicht installiert.`, { code: 'plugin.unknown', status: 404 });
    if (r.state === 'active') return;
    if (r.state === 'activating' && r.activation) return r.activation;
    if (!this.usable(r)) {
      throw new UserError(`Plugin „${r.manifest.displayName}“ ist nicht verfügbar: ${r.reasons.join(' ') || 'deaktiviert.'}`,
        { code: 'plugin.unavailable', status: 409, hint: 'Unter „Plugins“ den Grund ansehen und das Plugin aktivieren oder reparieren.' });
    }
    r.state = 'activating';
    r.activation = this.doActivate(r as PluginRecord & { manifest: PluginManifest });
    try {
      await r.activation;
    } finally {
      r.activation = undefined;
    }
  }

  private async doActivate(r: PluginRecord & { manifest: PluginManifest }): Promise<void> {
    const m = r.manifest;
    let leave: (() => void) | undefined;
    try {
      for (const dep of Object.keys(m.dependencies ?? {})) {
        try {
          await this.activate(dep);
        } catch (e) {
          throw new Error(`Benötigtes Plugin „${dep}“ konnte nicht aktiviert werden.`);
        }
      }
      // Optional dependencies come first when they can; if not, this plugin runs without them.
      for (const [dep, range] of Object.entries(m.optionalDependencies ?? {})) {
        const d = this.records.get(dep);
        if (!this.usable(d) || !semver.satisfies(d.manifest.version, range, { includePrerelease: true })) continue;
        if (d.state === 'activating') continue; // two plugins optional to each other: no deadlock, the other runs without
        await this.activate(dep).catch(() => this.log.warn(`plugin ${r.id}: optional dependency ${dep} could not be activated`));
      }
      if (m.main) {
        leave = this.o.activity?.load(r.id, r.builtin, 'activate');
        const limit = this.o.activationTimeoutMs ?? 10_000;
        const mod = await timeout(import(pathToFileURL(join(r.dir, m.main)).href), limit,
          `Das Laden von ${m.main} hat länger als ${limit / 1000} s gedauert.`) as { default?: PluginClass; plugin?: PluginClass };
        const Cls = mod.default ?? mod.plugin;
        if (typeof Cls !== 'function') throw new Error(`${m.main} exportiert keine Plugin-Klasse (export default).`);
        const child = this.o.container.createChildContainer();
        r.container = child;
        const ctx = await this.createContext(r);
        child.register(TOKENS.Context, { useValue: ctx });
        child.register(TOKENS.Settings, { useValue: ctx.settings });
        child.register(TOKENS.OtherSettings, { useValue: ctx.otherSettings });
        child.register(TOKENS.Logger, { useValue: ctx.logger });
        child.register(TOKENS.DataDir, { useValue: ctx.dataDir });
        child.register(TOKENS.PluginDir, { useValue: r.dir });
        child.register(TOKENS.Manifest, { useValue: m });
        child.register(TOKENS.HostVersion, { useValue: this.o.hostVersion });
        let instance: Plugin;
        try {
          instance = child.resolve(Cls);
        } catch (e) {
          const msg = reasonOf(e);
          // tsyringe's injectable() reads the parameters inject() recorded: called first (plain JavaScript),
          // it sees none, and resolving fails exactly as without injectable().
          const injected = Object.keys((Reflect as unknown as { getOwnMetadata(k: string, t: object): object | undefined })
            .getOwnMetadata?.('injectionTokens', Cls) ?? {}).length > 0;
          throw new Error(!/TypeInfo not known/.test(msg)
            ? `Plugin-Klasse konnte nicht erzeugt werden: ${msg}`
            : injected
              ? 'injectable() wurde vor inject(…) aufgerufen. In JavaScript zuerst inject(TOKEN)(Klasse, undefined, i) für jeden Parameter, danach injectable()(Klasse).'
              : 'Die Plugin-Klasse ist nicht mit @injectable() markiert (aus kassenwart/sdk importieren).');
        }
        r.instance = instance;
        if (instance.activate) {
          await timeout(Promise.resolve().then(() => instance.activate!()), limit,
            `activate() hat nicht innerhalb von ${limit / 1000} s geantwortet.`);
        }
        for (const a of m.contributes?.actions ?? []) {
          if (!r.handlers.has(a.id)) this.log.warn(`plugin ${r.id} registered no handler for action ${a.id}`);
        }
      }
      leave?.();
      r.state = 'active';
      this.activationOrder.push(r.id);
      this.log.info(`plugin ${r.id} active`);
      // contributors wait for their extension point's owner
      for (const ep of m.contributes?.extensionPoints ?? []) await this.fire(`onExtensionPoint:${ep.id}`);
    } catch (e) {
      leave?.();
      await this.dispose(r);
      r.state = 'failed';
      const reason = e instanceof UserError ? e.message : `Aktivierung fehlgeschlagen: ${reasonOf(e)}`;
      r.activationError = reason;
      r.reasons.push(reason);
      this.markDependants(r.id);
      this.log.error(`plugin ${r.id} failed: ${reason}`);
      throw new UserError(`Plugin „${m.displayName}“ ist ausgefallen: ${reason}`, { code: 'plugin.failed', status: 503 });
    }
  }

  /** After a plugin failed at run time, its dependants are disabled with the reason. */
  private markDependants(id: string): void {
    for (const dep of this.dependants(id)) {
      const d = this.records.get(dep);
      if (d && (d.state === 'inactive')) {
        d.state = 'disabled';
        d.reasons.push(`Benötigtes Plugin „${id}“ ist ausgefallen.`);
        this.markDependants(dep);
      }
    }
  }

  private async createContext(r: PluginRecord & { manifest: PluginManifest }): Promise<PluginContext> {
    const m = r.manifest;
    const dataDir = join(this.o.dataDir, 'plugins', r.id);
    await mkdir(dataDir, { recursive: true });
    const logger = createLogger(r.id);
    const settingsReg = this.o.settings;
    const hasSettings = settingsReg.has(r.id);
    if (hasSettings) await settingsReg.values(r.id);
    const settings: SettingsView = {
      get: <T>(key: string) => (hasSettings ? settingsReg.cached(r.id)[key] : undefined) as T,
      all: () => (hasSettings ? { ...settingsReg.cached(r.id) } : {}),
      set: async (values, by = r.id) => { await settingsReg.set(r.id, values, by); },
      onDidChange: (l) => {
        const off = settingsReg.onDidChange((c) => { if (c.plugin === r.id) l(c.keys); });
        r.disposers.push(off);
        return off;
      },
    };
    const otherSettings: SettingsReader = {
      get: <T>(pluginId: string, key: string) => {
        if (!settingsReg.has(pluginId)) return undefined;
        const schema = settingsReg.schema(pluginId)!.properties[key];
        if (!schema || schema.format === 'password') return undefined;
        return settingsReg.cached(pluginId)[key] as T;
      },
    };
    const declared = new Set((m.contributes?.actions ?? []).map((a) => a.id));
    const commands = new Set((m.contributes?.commands ?? []).map((c) => c.id));
    return {
      manifest: m,
      pluginDir: r.dir,
      dataDir,
      installationDir: this.o.dataDir,
      hostVersion: this.o.hostVersion,
      logger,
      settings,
      otherSettings,
      registerAction: (actionId, handler) => {
        if (!declared.has(actionId)) throw new Error(`Aktion „${actionId}“ ist nicht im Manifest von ${r.id} deklariert.`);
        r.handlers.set(actionId, handler);
      },
      extensionPoint: <T>(ref: ExtensionPointRef<T>) => {
        const owner = this.extensionPoints.ownerOf(ref.id);
        if (!owner) throw new Error(`Erweiterungspunkt „${ref.id}“ gibt es nicht (Plugin deaktiviert?).`);
        if (owner !== r.id && !(owner in (m.dependencies ?? {})) && !(owner in (m.optionalDependencies ?? {}))) {
          throw new Error(`Erweiterungspunkt „${ref.id}“ gehört „${owner}“: dafür „dependencies“: { "${owner}": … } im Manifest angeben.`);
        }
        return this.extensionPoints.viewFor<T>(ref.id, r.id, (d) => r.disposers.push(d));
      },
      registerRoute: (method: 'GET' | 'POST' | 'PUT' | 'DELETE', pattern: string, handler: (req: never) => unknown, options?: { role?: Role; auth?: 'plugin' }) => {
        const own = options?.auth === 'plugin';
        if (own && method !== 'GET') throw new Error(`Route ${pattern}: auth 'plugin' gibt es nur für GET.`);
        // One canonical spelling per route (docs/API.md). Own-auth routes live in a router of their own that the
        // host consults before its session check.
        const strictRouter = () => new Router({ sensitive: true, strict: true });
        const router = own ? (r.publicRouter ??= strictRouter()) : (r.router ??= strictRouter());
        const listed = (r.router ??= strictRouter()) as Router & { kwRoutes?: RouteEntry[] };
        const role: Role = options?.role ?? (method === 'GET' ? 'operator' : 'technician');
        (listed.kwRoutes ??= []).push({ method, pattern, role: own ? 'plugin' : role });
        router.register(pattern, [method], async (ctx) => {
          const state = ctx.state as { kwRouteRole?: Role; authorize?: (role: Role) => { name: string; role: Role }; session?: { user: { name: string; role: Role } } };
          state.kwRouteRole = role;
          const user = own ? state.session?.user : state.authorize ? state.authorize(role) : { name: 'system', role: 'technician' as Role };
          const done = this.o.activity?.run(r.id, r.builtin);
          let body: unknown;
          try {
            body = await (handler as (req: unknown) => unknown)({
              path: ctx.path, params: { ...(ctx.params as Record<string, string>) }, query: ctx.query as Record<string, string>,
              body: (ctx.request as { body?: unknown }).body, user, headers: ctx.headers, remoteAddress: ctx.socket.remoteAddress ?? '',
              forwarded: forwardedUntrusted.has(ctx.req) || ['x-forwarded-for', 'forwarded', 'x-real-ip'].some((h) => ctx.headers[h] !== undefined),
            });
          } finally {
            done?.();
          }
          if (isRawResponse(body)) {
            ctx.status = body.status;
            for (const [k, v] of Object.entries(body.headers)) ctx.set(k, v);
            ctx.type = body.contentType;
            ctx.body = typeof body.body === 'string' ? body.body : Buffer.from(body.body);
            return;
          }
          ctx.body = body === undefined ? { ok: true } : body;
        });
      },
      registerCommand: (id, handler) => {
        if (!commands.has(id)) throw new Error(`Befehl „${id}“ ist nicht im Manifest von ${r.id} deklariert.`);
        r.commands.set(id, handler);
      },
      onDispose: (d) => { r.disposers.push(d); },
      host: this.hostViewFor(r),
      requestRestart: (reason) => {
        if (!this.o.requestRestart) throw new Error('Neustart ist in diesem Modus nicht möglich.');
        this.o.requestRestart(reason);
      },
      audit: (event, by, details = {}) => this.o.db.write((tx) => audit(tx, String(by).slice(0, 80), `${r.id}.${event}`, r.id, details)),
    };
  }

  private hostViewFor(r: PluginRecord): HostView {
    return {
      plugins: () => this.pluginInfos(),
      jobs: async (o) => this.jobSource ? this.jobSource.history(Math.min(500, Math.max(1, o?.limit ?? 50)), o?.actionId) : [],
      onJobFinished: (listener) => {
        if (!this.jobSource) return () => {};
        const off = this.jobSource.onFinished((job) => {
          try { listener(job); } catch (e) { this.log.warn(`plugin ${r.id}: job listener failed: ${reasonOf(e)}`); }
        });
        r.disposers.push(off);
        return off;
      },
    };
  }

  private async dispose(r: PluginRecord): Promise<void> {
    const limit = this.o.deactivationTimeoutMs ?? 10_000;
    if (r.instance?.deactivate && r.state === 'active') {
      await timeout(Promise.resolve().then(() => r.instance!.deactivate!()), limit, 'deactivate() timeout')
        .catch((e) => this.log.warn(`plugin ${r.id} deactivate: ${reasonOf(e)}`));
    }
    for (const d of r.disposers.reverse()) {
      try { await d(); } catch (e) { this.log.warn(`plugin ${r.id} dispose: ${reasonOf(e)}`); }
    }
    r.disposers = [];
    r.handlers.clear();
    r.commands.clear();
    r.router = undefined;
    r.publicRouter = undefined;
    r.instance = undefined;
    r.container?.dispose?.();
    r.container = undefined;
    this.activationOrder = this.activationOrder.filter((x) => x !== r.id);
    // its extension points are gone until it activates again (which fires the event anew)
    for (const ep of r.manifest?.contributes?.extensionPoints ?? []) this.happened.delete(`onExtensionPoint:${ep.id}`);
  }

  /** Deactivates one plugin (after its active dependants). */
  async deactivate(id: string): Promise<void> {
    for (const dep of this.dependants(id)) {
      const d = this.records.get(dep);
      if (d?.state === 'active') await this.deactivate(dep);
    }
    const r = this.records.get(id);
    if (!r || r.state !== 'active') return;
    await this.dispose(r);
    r.state = r.enabled ? 'inactive' : 'disabled';
  }

  /** Deactivates everything in reverse activation order; each with a timeout; failures only logged. */
  async shutdown(): Promise<void> {
    for (const id of [...this.activationOrder].reverse()) {
      const r = this.records.get(id)!;
      await this.dispose(r);
      r.state = 'inactive';
    }
  }

  // ---- enablement per installation ----

  /** Enables `id` and every plugin it needs (transitively). Returns the ids newly enabled. */
  async enable(id: string): Promise<string[]> {
    const r = this.records.get(id);
    if (!r) throw new UserError(`Plugin „${id}“ ist nicht installiert.`, { code: 'plugin.unknown', status: 404, hint: 'Mit „kassenwart plugins list“ die installierten Plugins ansehen.' });
    const need: string[] = [];
    const visit = (x: string, chain: string[]) => {
      const rec = this.records.get(x);
      if (!rec) {
        throw new UserError(`„${id}“ kann nicht aktiviert werden: benötigtes Plugin „${x}“ ist nicht installiert.`,
          { code: 'plugin.missing-dependency', status: 409, hint: 'Das fehlende Plugin installieren (Plugin-Ordner hinzufügen).' });
      }
      // A plugin that cannot run is not switched on: saying "aktiviert" would be untrue.
      if (!rec.manifest || rec.manifestErrors.length) {
        const which = x === id ? '' : `benötigtes Plugin „${x}“ `;
        throw new UserError(`„${id}“ kann nicht aktiviert werden: ${which}${which ? 'ist' : 'Das Plugin ist'} fehlerhaft. ${rec.manifestErrors.join(' ')}`,
          { code: 'plugin.broken', status: 422, hint: `Das Plugin in ${rec.dir} reparieren oder eine passende Version installieren, dann erneut aktivieren.` });
      }
      if (chain.includes(x)) return;
      for (const d of Object.keys(rec.manifest!.dependencies ?? {})) visit(d, [...chain, x]);
      if (!need.includes(x)) need.push(x);
    };
    visit(id, []);
    const newly = need.filter((x) => !this.records.get(x)!.enabled);
    await this.o.db.write((tx) => {
      for (const x of need) {
        tx.run(`INSERT INTO plugin_enablement (plugin, enabled, changed_at) VALUES (?, 1, ?)
                ON CONFLICT (plugin) DO UPDATE SET enabled = 1, changed_at = excluded.changed_at`, [x, new Date().toISOString()]);
      }
    });
    return newly;
  }

  /**
   * Disables `id`. Refuses (409) while enabled plugins depend on it, unless `cascade`, which disables them
   * too. Returns the ids disabled.
   */
  async disable(id: string, cascade = false): Promise<string[]> {
    const r = this.records.get(id);
    if (!r) throw new UserError(`Plugin „${id}“ ist nicht installiert.`, { code: 'plugin.unknown', status: 404 });
    const all: string[] = [];
    const visit = (x: string) => {
      if (all.includes(x)) return;
      all.push(x);
      for (const d of this.dependants(x)) if (this.records.get(d)?.enabled) visit(d);
    };
    visit(id);
    const dependants = all.filter((x) => x !== id);
    if (dependants.length && !cascade) {
      const names = dependants.map((d) => `„${this.records.get(d)?.manifest?.displayName ?? d}“`).join(', ');
      throw new UserError(`„${r.manifest?.displayName ?? id}“ kann nicht deaktiviert werden, solange ${names} aktiviert ${dependants.length > 1 ? 'sind' : 'ist'}.`,
        { code: 'plugin.has-dependants', status: 409, hint: `Zuerst ${names} deaktivieren oder „alle abhängigen mit deaktivieren“ wählen.` });
    }
    await this.o.db.write((tx) => {
      for (const x of all) {
        tx.run(`INSERT INTO plugin_enablement (plugin, enabled, changed_at) VALUES (?, 0, ?)
                ON CONFLICT (plugin) DO UPDATE SET enabled = 0, changed_at = excluded.changed_at`, [x, new Date().toISOString()]);
      }
    });
    return all;
  }

  /** Adds a folder of third-party plugins (or one plugin folder) to this installation. */
  async addFolder(path: string): Promise<string[]> {
    const abs = resolve(path);
    const found = await discoverPluginDirs(abs);
    if (!found.length) {
      throw new UserError(`In „${abs}“ wurde kein Plugin gefunden (keine plugin.json).`,
        { code: 'plugin.folder-empty', status: 400, hint: 'Den Ordner eines Plugins oder einen Ordner mit Plugin-Ordnern angeben.' });
    }
    await this.o.db.write((tx) => {
      tx.run('INSERT OR IGNORE INTO plugin_folders (path, added_at) VALUES (?, ?)', [abs, new Date().toISOString()]);
    });
    return found;
  }

  async removeFolder(path: string): Promise<void> {
    const abs = resolve(path);
    await this.o.db.write((tx) => tx.run('DELETE FROM plugin_folders WHERE path = ?', [abs]));
  }

  /** Plugin routes for the route listing (authorization tests enumerate them). */
  routes(id: string): RouteEntry[] {
    return ((this.records.get(id)?.router as (Router & { kwRoutes?: RouteEntry[] }) | undefined)?.kwRoutes) ?? [];
  }
}
