import type { ValidateFunction } from 'ajv';
import { UserError, type SettingsContribution, type SettingSchema, type SettingsValidator, type Role } from 'kassenwart/sdk';
import { genericProblems, runValidator, validatorLoader } from './validator.js';
import { createAjv, problems, type Problem } from '../plugins/ajv.js';
import type { StateDb } from '../state/db.js';
import type { SecretBox } from '../state/secrets.js';

interface Entry {
  plugin: string;
  schema: SettingsContribution;
  validate: ValidateFunction;
  secretKeys: Set<string>;
  /** The plugin's own check (contributes.settings.validator), loaded on first use. */
  validator?: () => Promise<SettingsValidator>;
}

/** A change event: which plugin, which keys, by whom, old and new values (secrets masked). */
export interface SettingsChange {
  plugin: string;
  keys: string[];
  by: string;
  before: Record<string, unknown>;
  after: Record<string, unknown>;
  /** Made by another process (the CLI) and picked up from the state database; already audited there. */
  external?: boolean;
}

/** The settings of one plugin as the API returns them: secrets never carry a value. */
export interface SettingsPublicView {
  plugin: string;
  schema: SettingsContribution;
  values: Record<string, unknown>;
  secrets: Record<string, boolean>;
}

export function isSecret(schema: SettingSchema): boolean {
  return schema.format === 'password';
}

/**
 * Settings from plugin manifests: schemas registered per plugin, defaults composed, values validated as a
 * whole with ajv (all errors, German, with field paths), stored in the state database (secrets sealed),
 * and change listeners notified. An invalid write stores nothing.
 */
export class SettingsRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly ajv = createAjv();
  private readonly listeners = new Set<(c: SettingsChange) => void>();
  private cache = new Map<string, Record<string, unknown>>();

  constructor(private readonly db: StateDb, private readonly box: SecretBox) {}

  /** Registers a plugin's settings; `pluginDir` is where its validator module (if it names one) is found. */
  register(plugin: string, schema: SettingsContribution, pluginDir?: string): void {
    const validate = this.ajv.compile({ ...schema, additionalProperties: false });
    const secretKeys = new Set(Object.entries(schema.properties).filter(([, p]) => isSecret(p)).map(([k]) => k));
    const validator = schema.validator && pluginDir ? validatorLoader(pluginDir, schema.validator) : undefined;
    this.entries.set(plugin, { plugin, schema, validate, secretKeys, validator });
  }

  has(plugin: string): boolean {
    return this.entries.has(plugin);
  }

  plugins(): string[] {
    return [...this.entries.keys()];
  }

  schema(plugin: string): SettingsContribution | undefined {
    return this.entries.get(plugin)?.schema;
  }

  onDidChange(l: (c: SettingsChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private entry(plugin: string): Entry {
    const e = this.entries.get(plugin);
    if (!e) throw new UserError(`Das Plugin „${plugin}“ hat keine Einstellungen.`, { code: 'settings.unknown', status: 404 });
    return e;
  }

  /** Stored values of a plugin (secrets decrypted), without defaults. */
  private async stored(plugin: string): Promise<Record<string, unknown>> {
    const rows = await this.db.all<{ key: string; value: string; secret: number }>(
      'SELECT key, value, secret FROM settings WHERE plugin = ?', [plugin]);
    const out: Record<string, unknown> = {};
    for (const r of rows) out[r.key] = r.secret ? JSON.parse(this.box.open(r.value)) : JSON.parse(r.value);
    return out;
  }

  private withDefaults(e: Entry, stored: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(e.schema.properties)) {
      if (k in stored) out[k] = stored[k];
      else if (p.default !== undefined) out[k] = structuredClone(p.default);
    }
    return out;
  }

  /** All values with defaults (secrets included, decrypted: for the owning plugin only). */
  async values(plugin: string): Promise<Record<string, unknown>> {
    const e = this.entry(plugin);
    const v = this.withDefaults(e, await this.stored(plugin));
    this.cache.set(plugin, v);
    return v;
  }

  /**
   * Re-reads a plugin's values after another process changed the state database, and tells listeners
   * which keys changed (secrets masked), as for a change made here.
   */
  async reloadExternal(plugin: string): Promise<void> {
    const e = this.entry(plugin);
    const before = this.cache.get(plugin) ?? this.withDefaults(e, {});
    const after = await this.values(plugin);
    const keys = Object.keys(e.schema.properties).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (!keys.length) return;
    const mask = (o: Record<string, unknown>) => Object.fromEntries(keys.map((k) => [k, e.secretKeys.has(k) ? (o[k] ? '(gesetzt)' : '(nicht gesetzt)') : o[k]]));
    this.emit({ plugin, keys, by: 'extern', before: mask(before), after: mask(after), external: true });
  }

  private emit(change: SettingsChange): void {
    for (const l of this.listeners) {
      try { l(change); } catch { /* a listener's failure is the listener's problem */ }
    }
  }

  /** Last known values (synchronous; refreshed by values() and set()). */
  cached(plugin: string): Record<string, unknown> {
    const e = this.entry(plugin);
    return this.cache.get(plugin) ?? this.withDefaults(e, {});
  }

  /** What the API shows: secrets as set / not set only. */
  async publicView(plugin: string): Promise<SettingsPublicView> {
    const e = this.entry(plugin);
    const stored = await this.stored(plugin);
    const values = this.withDefaults(e, stored);
    // A copy: the secrets deleted below must stay in the cache the owning plugin reads them from.
    this.cache.set(plugin, { ...values });
    const secrets: Record<string, boolean> = {};
    for (const k of e.secretKeys) {
      secrets[k] = typeof values[k] === 'string' ? (values[k] as string).length > 0 : values[k] != null;
      delete values[k];
    }
    return { plugin, schema: e.schema, values, secrets };
  }

  /** Role needed to change `key` (x-role, default technician). */
  roleFor(plugin: string, key: string): Role {
    return (this.entry(plugin).schema.properties[key]?.['x-role'] as Role | undefined) ?? 'technician';
  }

  /**
   * Validates a partial change merged with the current values: text that is not text (lone surrogates), the
   * schema (every problem), then, when those pass, the plugin's own validator for the keys being set (a key
   * reset to its default with `null` is not asked about). Returns every problem.
   */
  async check(plugin: string, patch: Record<string, unknown>): Promise<Problem[]> {
    const e = this.entry(plugin);
    const generic = genericProblems(patch);
    if (generic.length) return generic;
    const merged = { ...this.withDefaults(e, await this.stored(plugin)) };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) {
        const d = e.schema.properties[k]?.default;
        if (d === undefined) delete merged[k]; else merged[k] = d;
      } else merged[k] = v;
    }
    if (!e.validate(merged)) return problems(e.validate.errors);
    const changed = Object.keys(patch).filter((k) => patch[k] !== null);
    if (!e.validator || !changed.length) return [];
    const found = await runValidator(e.validator, plugin, merged, changed);
    if (found instanceof Error) {
      throw new UserError(found.message, { code: 'settings.validator', status: 400, hint: 'Nichts wurde gespeichert. Das Plugin neu installieren oder den Support anrufen.' });
    }
    return found;
  }

  /**
   * Applies a partial change (`null` resets a key to its default). Validates the merged result; when invalid,
   * throws a UserError (status 400) with every problem in `details` and stores nothing.
   */
  async set(plugin: string, patch: Record<string, unknown>, by: string): Promise<SettingsChange> {
    const e = this.entry(plugin);
    const unknown = Object.keys(patch).filter((k) => !(k in e.schema.properties));
    const found = await this.check(plugin, Object.fromEntries(Object.entries(patch).filter(([k]) => !unknown.includes(k))));
    const all = [...unknown.map((k) => ({ path: `/${k}`, message: `unbekannte Einstellung „${k}“` })), ...found];
    if (all.length) {
      const err = new UserError(
        `Die Einstellungen wurden nicht gespeichert: ${all.map((p) => `${p.path.slice(1) || plugin}: ${p.message.replace(/\.$/, '')}`).join('; ')}.`,
        { code: 'settings.invalid', status: 400, hint: 'Bitte die markierten Felder korrigieren und erneut speichern.' });
      (err as UserError & { details?: Problem[] }).details = all;
      throw err;
    }
    const before = this.withDefaults(e, await this.stored(plugin));
    const now = new Date().toISOString();
    await this.db.write((tx) => {
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) {
          tx.run('DELETE FROM settings WHERE plugin = ? AND key = ?', [plugin, k]);
          continue;
        }
        const secret = e.secretKeys.has(k);
        const value = secret ? this.box.seal(JSON.stringify(v)) : JSON.stringify(v);
        tx.run(`INSERT INTO settings (plugin, key, value, secret, changed_at, changed_by) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (plugin, key) DO UPDATE SET value = excluded.value, secret = excluded.secret,
                changed_at = excluded.changed_at, changed_by = excluded.changed_by`,
        [plugin, k, value, secret ? 1 : 0, now, by]);
      }
    });
    const after = await this.values(plugin);
    const mask = (o: Record<string, unknown>) => Object.fromEntries(Object.keys(patch).map((k) =>
      [k, e.secretKeys.has(k) ? (o[k] ? '(gesetzt)' : '(nicht gesetzt)') : o[k]]));
    const change: SettingsChange = { plugin, keys: Object.keys(patch), by, before: mask(before), after: mask(after) };
    this.emit(change);
    return change;
  }
}
