/**
 * The plugin manifest (`plugin.json`) contract: the TypeScript type and the JSON schema that the host
 * validates every manifest against (with ajv) before any plugin code runs. Unknown keys are errors.
 */

/** A role a user has. Technicians can do everything operators can. */
export type Role = 'operator' | 'technician';

/** One maintenance action a plugin contributes. Shown as a button on the "Wartung" page. */
export interface ActionContribution {
  /** Globally unique id, prefixed with the plugin id (`backup.create`). */
  id: string;
  /** Button text (German), e.g. "Datensicherung". */
  title: string;
  /** Optional longer description shown under the button. */
  description?: string;
  /** Question shown in the confirm dialog, e.g. "Soll die aktuelle Datenbank gesichert werden?". */
  confirm?: string;
  /** Text shown when the job succeeded and the handler returned no text of its own. */
  success?: string;
  /** Exclusive actions share the one maintenance lock: never two at the same time. */
  exclusive?: boolean;
  /** The role needed to start it (default "operator"). */
  role?: Role;
  /** Where the button goes in the UI (default "maintenance"). */
  location?: 'maintenance' | 'settings' | 'hidden';
  /**
   * German warning shown under the progress bar while this action runs (and only while it runs), e.g.
   * "Bitte während der Datensicherung nicht mit der Kasse arbeiten". No warning when absent.
   */
  warning?: string;
  /**
   * For `location: "settings"`: the settings section (an `x-section` name such as "Fernwartung") the button
   * is shown in. Default: the section of the plugin's first setting, else the plugin's display name.
   */
  section?: string;
}

/** A Lit web component a plugin contributes to the admin UI. */
export interface PanelContribution {
  /** Id unique within the plugin. */
  id: string;
  /** Custom element tag name; must contain a dash and should start with the plugin id or `kw-`. */
  element: string;
  /** ES module, relative to the plugin folder, that defines the element. */
  module: string;
  /**
   * Where it is placed: the maintenance page or a settings section. "sidebar" is the older spelling of
   * `location: "maintenance", column: "side"`.
   */
  location: 'maintenance' | 'sidebar' | 'settings';
  /**
   * On the maintenance page: "main" (default, the left column with the actions) or "side", the right-hand
   * column ("Rechts auf dem Bildschirm") for what an operator must read without scrolling (update state,
   * RustDesk ID). On narrow screens the side column follows the actions.
   */
  column?: 'main' | 'side';
  /**
   * For `location: "settings"`: the settings section (an `x-section` name such as "POS Hardware → lokales
   * Backup") the panel is shown in. Default: the section of the plugin's first setting, else its display name.
   */
  section?: string;
  /** Optional heading shown above the panel (German). */
  title?: string;
  /** Role needed to see it (default "operator"). */
  role?: Role;
}

/** A cron-like schedule that starts one of the plugin's actions. */
export interface ScheduleContribution {
  /** Id unique across plugins, prefixed with the plugin id. */
  id: string;
  /** The action to start (must be one of this plugin's actions). */
  action: string;
  /** Default cron expression(s), local time, e.g. "0 7 * * *". */
  cron: string | string[];
  /**
   * Optional key of one of this plugin's settings whose value overrides `cron`: a cron expression,
   * or a comma-separated list of times "07:00,21:00". An empty value falls back to `cron`.
   */
  cronSetting?: string;
  /** Catch up a run that was missed while the server was off (default true). */
  catchUp?: boolean;
  /** Human-readable description (German). */
  description?: string;
}

/** An extension point a plugin owns; other plugins contribute implementations to it. */
export interface ExtensionPointContribution {
  /** Id, prefixed with the owning plugin id (`backup.targets`). */
  id: string;
  /** What contributors implement. */
  description?: string;
}

/** A CLI sub-command a plugin contributes (`kassenwart <id> …`). */
export interface CommandContribution {
  /** First CLI word, e.g. "release". Must not clash with host commands. */
  id: string;
  /** One-line help text. */
  description: string;
}

/**
 * The settings a plugin contributes: a JSON schema of type object. Each property may carry
 * `x-code` (display code such as "01.1"), `x-section` (group such as "POS Hardware → lokales Backup"),
 * `x-role` (role needed to change it; default technician), `x-order` (sort key); `format: "password"`
 * marks a write-only secret.
 */
export interface SettingsContribution {
  type: 'object';
  properties: Record<string, SettingSchema>;
  required?: string[];
  title?: string;
  description?: string;
  /**
   * Optional ES module, relative to the plugin folder, whose default export is a `SettingsValidator`: checks the
   * schema cannot express, run at every change before anything is stored (e.g. "dist/src/settings-check.js").
   */
  validator?: string;
}

/** JSON schema of one setting (the subset the UI knows how to edit, plus anything ajv accepts). */
export interface SettingSchema {
  type?: 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  'x-code'?: string;
  'x-section'?: string;
  'x-role'?: Role;
  'x-order'?: number;
  'x-enumLabels'?: Record<string, string>;
  [key: string]: unknown;
}

/** What a plugin adds to the host. */
export interface Contributions {
  settings?: SettingsContribution;
  actions?: ActionContribution[];
  panels?: PanelContribution[];
  schedules?: ScheduleContribution[];
  extensionPoints?: ExtensionPointContribution[];
  commands?: CommandContribution[];
  /**
   * German names of the audit events the plugin writes with `ctx.audit(event, …)`, keyed by `event` without the
   * plugin prefix: `{ "password.reveal": "RustDesk-Passwort angezeigt" }`. Protokoll and `kassenwart audit` show
   * them; an event without a name shows its code.
   */
  auditEvents?: Record<string, string>;
}

/** The parsed, validated `plugin.json`. */
export interface PluginManifest {
  /** Lower-case id, letters, digits and dashes (`backup`, `remote-support`). */
  id: string;
  /** Name shown in the UI (German). */
  displayName: string;
  /** Semver version of the plugin. */
  version: string;
  /** One sentence what it does (German). */
  description?: string;
  /** Who publishes it. */
  publisher?: string;
  /** Semver range of host versions the plugin works with. */
  engines: { kassenwart: string };
  /** ES module, relative to the plugin folder, whose default export is the plugin class. */
  main?: string;
  /** Other plugins this one needs, by id, with semver ranges. */
  dependencies?: Record<string, string>;
  /**
   * Plugins this one works with when they are there, by id, with semver ranges (e.g. `{ "metrics": "^1.0.0" }`
   * to contribute gauges). Activated before this one when usable; missing, disabled, failed or out of range is
   * no problem (a contribution to its extension point then goes nowhere). Never enabled with this one.
   */
  optionalDependencies?: Record<string, string>;
  /**
   * When to activate: "onStartup", "onAction:<id>", "onPanel:<id>", "onSchedule:<id>",
   * "onExtensionPoint:<id>", "onCommand:<id>", "onRoute" (its /api/ext routes). Default ["onStartup"].
   */
  activationEvents?: string[];
  /** Built-in plugins are enabled on a new installation. */
  enabledByDefault?: boolean;
  contributes?: Contributions;
}

const roleSchema = { type: 'string', enum: ['operator', 'technician'] } as const;
const idPattern = '^[a-z][a-z0-9-]*$';
const qualifiedIdPattern = '^[a-z][a-z0-9-]*(\\.[a-zA-Z0-9-]+)+$';

/**
 * The manifest JSON schema (draft-07). Every object sets additionalProperties: false, so a misspelt key
 * is an error. Settings properties are open (they are JSON schemas), except that they are checked to be objects.
 */
export const manifestSchema = {
  $id: 'https://kassenwart.local/schemas/plugin.json',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'displayName', 'version', 'engines'],
  properties: {
    $schema: { type: 'string' },
    id: { type: 'string', pattern: idPattern, minLength: 2, maxLength: 40 },
    displayName: { type: 'string', minLength: 1, maxLength: 80 },
    version: { type: 'string', minLength: 5 },
    description: { type: 'string' },
    publisher: { type: 'string' },
    engines: {
      type: 'object', additionalProperties: false, required: ['kassenwart'],
      properties: { kassenwart: { type: 'string', minLength: 1 } },
    },
    main: { type: 'string', minLength: 1 },
    dependencies: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: { type: 'string', minLength: 1 },
    },
    optionalDependencies: {
      type: 'object',
      propertyNames: { pattern: idPattern },
      additionalProperties: { type: 'string', minLength: 1 },
    },
    activationEvents: {
      type: 'array', uniqueItems: true,
      items: {
        type: 'string',
        pattern: '^(\\*|onStartup|onRoute|(onAction|onPanel|onSchedule|onExtensionPoint|onCommand):[A-Za-z0-9._-]+)$',
      },
    },
    enabledByDefault: { type: 'boolean' },
    contributes: {
      type: 'object', additionalProperties: false,
      properties: {
        settings: {
          type: 'object', additionalProperties: false, required: ['type', 'properties'],
          properties: {
            type: { const: 'object' },
            title: { type: 'string' },
            description: { type: 'string' },
            required: { type: 'array', items: { type: 'string' } },
            validator: { type: 'string', pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$)).+\\.m?js$' },
            properties: {
              type: 'object',
              propertyNames: { pattern: '^[a-zA-Z][a-zA-Z0-9_]*$' },
              additionalProperties: {
                type: 'object',
                properties: {
                  'x-code': { type: 'string' },
                  'x-section': { type: 'string' },
                  'x-role': roleSchema,
                  'x-order': { type: 'number' },
                  title: { type: 'string' },
                  description: { type: 'string' },
                },
              },
            },
          },
        },
        actions: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['id', 'title'],
            properties: {
              id: { type: 'string', pattern: qualifiedIdPattern },
              title: { type: 'string', minLength: 1 },
              description: { type: 'string' },
              confirm: { type: 'string' },
              success: { type: 'string' },
              exclusive: { type: 'boolean' },
              role: roleSchema,
              location: { type: 'string', enum: ['maintenance', 'settings', 'hidden'] },
              warning: { type: 'string', minLength: 1 },
              section: { type: 'string', minLength: 1 },
            },
          },
        },
        panels: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['id', 'element', 'module', 'location'],
            properties: {
              id: { type: 'string', pattern: '^[a-zA-Z0-9._-]+$' },
              element: { type: 'string', pattern: '^[a-z][a-z0-9]*-[a-z0-9-]+$' },
              module: { type: 'string', pattern: '\\.js$' },
              location: { type: 'string', enum: ['maintenance', 'sidebar', 'settings'] },
              column: { type: 'string', enum: ['main', 'side'] },
              section: { type: 'string', minLength: 1 },
              title: { type: 'string' },
              role: roleSchema,
            },
          },
        },
        schedules: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['id', 'action', 'cron'],
            properties: {
              id: { type: 'string', pattern: qualifiedIdPattern },
              action: { type: 'string', pattern: qualifiedIdPattern },
              cron: {
                anyOf: [
                  { type: 'string', minLength: 1 },
                  { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
                ],
              },
              cronSetting: { type: 'string' },
              catchUp: { type: 'boolean' },
              description: { type: 'string' },
            },
          },
        },
        extensionPoints: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['id'],
            properties: {
              id: { type: 'string', pattern: qualifiedIdPattern },
              description: { type: 'string' },
            },
          },
        },
        commands: {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['id', 'description'],
            properties: {
              id: { type: 'string', pattern: idPattern },
              description: { type: 'string' },
            },
          },
        },
        auditEvents: {
          type: 'object',
          propertyNames: { pattern: '^[a-z][a-z0-9-]*(\\.[a-z][a-z0-9-]*)*$' },
          additionalProperties: { type: 'string', minLength: 1, maxLength: 120 },
        },
      },
    },
  },
} as const;
