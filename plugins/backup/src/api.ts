/**
 * The backup plugin's published API. Other plugins (usb, third-party targets) import only this module
 * (`kassenwart/plugins/backup/api`), never the plugin's internals.
 *
 * A target registers during its own activation:
 *
 *   ctx.extensionPoint(backupTargetsExtensionPoint).register(myTarget);
 *
 * and declares `"dependencies": { "backup": "^1.0.0" }` and `"activationEvents": ["onExtensionPoint:backup.targets"]`.
 */
import { createExtensionPoint } from 'kassenwart/sdk';
import type { ActionResult, JobContext, SettingSchema } from 'kassenwart/sdk';

/** A finished, verified local backup that a target is asked to store. */
export interface BackupFile {
  /** Absolute path of the local .gz file. */
  path: string;
  /** File name, FAT-safe (no ':'), e.g. "kasse-2026-11-29_07-00-00.sqlite.gz". */
  name: string;
  /** Size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the .gz file. */
  sha256: string;
  /** When the snapshot was taken (ISO 8601). */
  createdAt: string;
}

/** Why a target will not (or cannot) take a backup now. */
export interface Availability {
  /** True when send() may be called. */
  available: boolean;
  /**
   * German reason when not available, e.g. "Kein USB-Stick unter /media/usb0 eingehängt." or
   * "01.1 = F: keine Sicherung auf USB-Stick erlaubt".
   */
  reason?: string;
  /**
   * German advice on what to do, kept apart from `reason` (e.g. "Bitte einen Stick einstecken."). "Backup an
   * FTP" shows it after the reason and keeps it in the target's result (`TargetResult.hint`).
   */
  hint?: string;
  /**
   * "skipped": the installation's settings say this target is not wanted now (not an error);
   * "unavailable": it is wanted but cannot be used (an error the operator must fix).
   */
  kind?: 'skipped' | 'unavailable';
}

/** What a target is given while sending. */
export interface SendContext {
  /** Aborted when the job is cancelled; stop and clean up temporary files. */
  signal: AbortSignal;
  /** Bytes written so far of `file.size`. */
  progress(bytesDone: number, message?: string): void;
  /** Log a line into the job log (German or English; never secrets). */
  log(message: string): void;
}

/** The outcome of one send. */
export interface SendResult {
  /** Where it went, shown to the operator, e.g. "ftp://backup.example/salon-17/kasse-….sqlite.gz". */
  location: string;
  /** German summary, e.g. "Auf USB-Stick gesichert (/media/usb0)". */
  message?: string;
  /** Bytes stored remotely, as checked after the upload. */
  bytes?: number;
}

/**
 * One target's outcome in "Backup an FTP" (`backup.send`): the job's `result.details.results` when the job
 * succeeded or ended with a warning, and `error.details.results` when it failed (every tried target failed).
 */
export interface TargetResult {
  /** The target's id ("backup.ftp", "usb.stick", "nas-target.folder"). */
  target: string;
  /** Its German name. */
  displayName: string;
  /** sent; skipped (by a policy or because the target said "not now"); failed. */
  status: 'sent' | 'skipped' | 'failed';
  /** German summary or reason (for a thrown UserError: its message and hint). */
  message: string;
  /** The hint of an unavailable target (`Availability.hint`), when it gave one. */
  hint?: string;
  /** Where it went (`SendResult.location`), when sent. */
  location?: string;
  /** Bytes stored at the target (`SendResult.bytes`), when sent and reported. */
  bytes?: number;
}

/** `details` of a "Backup an FTP" job (its result, or its error when it failed). */
export type SendDetails = {
  /** File name of the backup that was sent. */
  backup: string;
  /** Its size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the .gz file. */
  sha256: string;
  /** True when the send made a new backup first (the POS database had changed since the newest). */
  freshBackup: boolean;
  /** One entry per contributed target, in order. */
  results: TargetResult[];
};

/** A backup already stored at the target. */
export interface StoredBackup {
  name: string;
  size?: number;
  modifiedAt?: string;
}

/** What a backup target implements. Throw a UserError with a German message for every expected failure. */
export interface BackupTarget {
  /** Unique id, prefixed with the contributing plugin id ("usb.stick", "backup.ftp"). */
  id: string;
  /** German name shown to the operator ("USB-Stick", "FTP-Server"). */
  displayName: string;
  /**
   * True when copies leave the salon (FTP server, cloud storage); a USB stick in the POS server is not
   * off-site. Monitoring alerts when no off-site copy is fresh on an installation that uses such a target.
   */
  offsite?: boolean;
  /** Optional JSON schema of the target's own settings (informational; real settings live in the manifest). */
  settingsSchema?: Record<string, SettingSchema>;
  /** Whether a send should happen now, and if not, why (never throws for expected states). */
  availability(signal?: AbortSignal): Promise<Availability>;
  /** Store the file. Must never leave a partial file under the final name. */
  send(file: BackupFile, ctx: SendContext): Promise<SendResult>;
  /** List the backups stored at the target, newest first (optional). */
  list?(signal?: AbortSignal): Promise<StoredBackup[]>;
  /** Delete old backups, keeping the newest `keep` (optional; targets may prune inside send). */
  prune?(keep: number, signal?: AbortSignal): Promise<string[]>;
}

/** The extension point backup targets contribute to. */
export const backupTargetsExtensionPoint = createExtensionPoint<BackupTarget>({ id: 'backup.targets' });

/** Id of the plugin that owns the extension point. */
export const BACKUP_PLUGIN_ID = 'backup';

/**
 * A policy may skip targets before a send, with a reason shown to the operator. The usb plugin uses it for
 * setting 01.1: "X" = USB stick only, so the FTP target is skipped ("01.1 = X: nur USB-Stick …").
 * Every policy sees every target id; a target skipped by any policy is not sent to.
 */
export interface BackupTargetPolicy {
  /** Unique id, prefixed with the contributing plugin id. */
  id: string;
  /** Map of target id → why it is skipped. Targets not in the map are left alone. */
  skip(targetIds: string[]): Promise<Record<string, string>>;
}

/** The extension point for target policies. */
export const backupPoliciesExtensionPoint = createExtensionPoint<BackupTargetPolicy>({ id: 'backup.policies' });

/** Id of the FTP target the backup plugin contributes itself. */
export const FTP_TARGET_ID = 'backup.ftp';

/**
 * Told about every new verified local backup ("Datensicherung", the 07:00/21:00 schedule, the safety backup of a
 * restore), e.g. so the cloud plugin can queue an off-site copy. Called after the file is in place; a listener
 * must return quickly (queue long work) and its failures are only logged.
 */
export interface BackupListener {
  /** Unique id, prefixed with the contributing plugin id. */
  id: string;
  /** `kind`: "manual", "schedule", "catch-up", "send", "safety", … (what made the backup). */
  backupCreated(file: BackupFile, kind: string): void;
}

/** The extension point for backup listeners. */
export const backupListenersExtensionPoint = createExtensionPoint<BackupListener>({ id: 'backup.listeners' });

/** What a restore from a file is told and expected to know (a subset of the running job). */
export type RestoreJob = Pick<JobContext, 'signal' | 'progress' | 'log' | 'trigger'>;

/**
 * Restore hand-off, offered by the backup plugin itself (its one contribution to "backup.restorer"): restores
 * a backup .gz that is not in the local backup folder, e.g. one downloaded from off-site storage. Exactly like
 * "Sicherung wiederherstellen": verify (integrity_check, row counts, `expectSha256` when given), safety backup
 * of the current database, atomic replace. Call it from inside an exclusive action.
 */
export interface BackupRestorer {
  restoreFile(path: string, options: { label: string; expectSha256?: string }, job: RestoreJob): Promise<ActionResult>;
}

/** The extension point the backup plugin offers its restorer through (read it with `.all()[0]`). */
export const backupRestorerExtensionPoint = createExtensionPoint<BackupRestorer>({ id: 'backup.restorer' });
