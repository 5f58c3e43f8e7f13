/**
 * The update plugin's published API (`kassenwart/plugins/update/api`). Other plugins import only this module,
 * never the plugin's internals.
 *
 * The `update.guards` extension point: before a component update touches anything (the register is still
 * running), the update plugin calls every guard's `beforeUpdate`; any guard that throws stops the update before
 * anything changed. After a rollback it calls `afterRollback` with the record the guard returned. The backup
 * plugin contributes the safety backup ("vor Update"): a verified backup before, and putting it back after a
 * rollback when the database is not the one the update started from.
 *
 *   ctx.extensionPoint(updateGuardsExtensionPoint).register(myGuard);
 *
 * A contributor declares `"dependencies": { "update": "^1.0.0" }` in its manifest.
 */
import { createExtensionPoint } from 'kassenwart/sdk';

/** Ids of the components a feed can carry. */
export type ComponentId = 'kassenwart' | 'kasse';

/** German names of the components, as the operator sees them. */
export const COMPONENT_NAMES: Record<ComponentId, string> = {
  kasse: 'Kassensoftware',
  kassenwart: 'Kassenwart',
};

/** What a guard is told about the update that is about to start. */
export interface UpdateGuardContext {
  /** The component being updated ("kasse"). */
  component: ComponentId;
  /** Its German name ("Kassensoftware"). */
  componentName: string;
  /** Installed version and the version being installed. */
  fromVersion: string;
  toVersion: string;
  /** The POS database the update migrates (absolute path). */
  databasePath: string;
  /** Aborted when the update job is cancelled. */
  signal: AbortSignal;
  /** Progress of the guard's own work, 0–100, with a German message. */
  progress(percent: number | undefined, message?: string): void;
  /** A line for the job log. */
  log(message: string): void;
}

/** What a guard hands back; given to it again after a rollback. */
export interface UpdateGuardRecord {
  /** German one-line summary for the job result, e.g. "Sicherung kasse-….sqlite.gz (vor Update, geprüft)". */
  message: string;
  /** Anything the guard needs to undo its part (JSON-serialisable: it is kept in the update journal). */
  data?: Record<string, unknown>;
}

/** What a guard is told after a rollback. */
export interface UpdateRollbackContext {
  component: ComponentId;
  fromVersion: string;
  toVersion: string;
  databasePath: string;
  /** SHA-256 of the database file when the update started (register stopped), and now. */
  expectedSha256: string;
  actualSha256: string | null;
  /** The record this guard returned from beforeUpdate. */
  record: UpdateGuardRecord;
  log(message: string): void;
}

/** A contribution to `update.guards`. */
export interface UpdateGuard {
  /** Unique id, prefixed with the contributing plugin id ("backup.before-update"). */
  id: string;
  /** German name ("Datensicherung"). */
  displayName: string;
  /** Runs before anything changes. Throw a UserError (German) to stop the update. */
  beforeUpdate(ctx: UpdateGuardContext): Promise<UpdateGuardRecord>;
  /**
   * Runs after a rollback. When the database is not byte-identical to the expected one, a guard that can
   * (the safety backup) puts it back. Returns a German line for the result, or undefined when nothing was done.
   */
  afterRollback?(ctx: UpdateRollbackContext): Promise<string | undefined>;
}

/** The extension point guards contribute to. */
export const updateGuardsExtensionPoint = createExtensionPoint<UpdateGuard>({ id: 'update.guards' });

/** Id of the plugin that owns the extension point. */
export const UPDATE_PLUGIN_ID = 'update';
