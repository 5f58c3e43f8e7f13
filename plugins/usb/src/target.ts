/**
 * The USB stick as a backup target ("usb.stick") and the 01.1 policy ("usb.mode"), written only against
 * the backup plugin's published API.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UserError, fsyncDir, type SettingsView } from 'kassenwart/sdk';
import {
  FTP_TARGET_ID,
  type Availability, type BackupFile, type BackupTarget, type BackupTargetPolicy, type SendContext, type SendResult, type StoredBackup,
} from 'kassenwart/plugins/backup/api';
import { checkStick, listSticks, resolveStickPath, suggestPath, type StickInfo, type UsbEnvironment } from './stick.js';
import { applyRetention, listStickBackups, writeBackup, type StickBackup } from './writer.js';
import { readMountTable, findMountAt } from './mounts.js';

/** Id of the USB stick backup target. */
export const USB_TARGET_ID = 'usb.stick';
/** Id of the 01.1 policy. */
export const USB_POLICY_ID = 'usb.mode';

/** Values of setting 01.1. */
export type UsbMode = '' | 'D' | 'X' | 'F';

/** Reason shown for the FTP target when 01.1 = X. */
export const REASON_X_NO_FTP = '01.1 = X: nur USB-Stick, keine Übertragung an den FTP-Server';

/** Why the USB target is skipped for a mode, or undefined when the mode allows USB backups. */
export function usbSkipReason(mode: string): string | undefined {
  if (mode === 'D' || mode === 'X') return undefined;
  if (mode === 'F') return '01.1 = F: keine Sicherung auf USB-Stick erlaubt';
  return '01.1 ist leer: keine Sicherung auf USB-Stick erlaubt';
}

/** The plugin's settings, typed. */
export interface UsbSettings {
  mode: UsbMode;
  path: string;
  keep: number;
}

/** Reads the current settings (defaults applied by the host). */
export function readSettings(settings: Pick<SettingsView, 'get'>): UsbSettings {
  return {
    mode: (settings.get<string>('mode') ?? '') as UsbMode,
    path: settings.get<string>('path') ?? '/media/usb0',
    keep: settings.get<number>('keep') ?? 5,
  };
}

/** The USB stick backup target. */
export function createUsbTarget(settings: Pick<SettingsView, 'get'>, env: UsbEnvironment): BackupTarget {
  return {
    id: USB_TARGET_ID,
    displayName: 'USB-Stick',
    async availability(): Promise<Availability> {
      const s = readSettings(settings);
      const skip = usbSkipReason(s.mode);
      if (skip) return { available: false, kind: 'skipped', reason: skip };
      const check = await checkStick(s.path, env);
      if (!check.ok) return { available: false, kind: 'unavailable', reason: check.reason, ...(check.hint ? { hint: check.hint } : {}) };
      return { available: true };
    },
    async send(file: BackupFile, ctx: SendContext): Promise<SendResult> {
      const s = readSettings(settings);
      const skip = usbSkipReason(s.mode);
      if (skip) throw new UserError(skip, { code: 'usb.mode' });
      const check = await checkStick(s.path, env);
      if (!check.ok) throw new UserError(check.reason, { code: check.code, hint: check.hint });
      const r = await writeBackup({
        dir: check.realPath, file, keep: s.keep, signal: ctx.signal,
        progress: (b, m) => ctx.progress(b, m), log: (m) => ctx.log(m),
      });
      for (const n of r.deletedForRetention) ctx.log(`Ältere Sicherung ${n} vom USB-Stick gelöscht (es bleiben ${s.keep}).`);
      return { location: `${s.path}/${file.name}`, message: `Auf USB-Stick gesichert (${s.path})`, bytes: r.bytes };
    },
    async list(): Promise<StoredBackup[]> {
      const check = await checkStick(readSettings(settings).path, env);
      if (!check.ok) return [];
      return (await listStickBackups(check.realPath)).map((b) => ({ name: b.name, size: b.size, modifiedAt: new Date(b.mtimeMs).toISOString() }));
    },
    async prune(keep: number): Promise<string[]> {
      const check = await checkStick(readSettings(settings).path, env);
      if (!check.ok) throw new UserError(check.reason, { code: check.code, hint: check.hint });
      const newest = (await listStickBackups(check.realPath))[0];
      return newest ? applyRetention(check.realPath, keep, newest.name) : [];
    },
  };
}

/** The 01.1 policy: X skips the FTP target; F or empty skip the USB target. D leaves FTP to its coupling. */
export function createUsbPolicy(settings: Pick<SettingsView, 'get'>): BackupTargetPolicy {
  return {
    id: USB_POLICY_ID,
    async skip(targetIds: string[]): Promise<Record<string, string>> {
      const { mode } = readSettings(settings);
      const out: Record<string, string> = {};
      if (mode === 'X' && targetIds.includes(FTP_TARGET_ID)) out[FTP_TARGET_ID] = REASON_X_NO_FTP;
      const usb = usbSkipReason(mode);
      if (usb && targetIds.includes(USB_TARGET_ID)) out[USB_TARGET_ID] = usb;
      return out;
    },
  };
}

/** What GET /api/ext/usb/sticks returns. */
export interface SticksView {
  mediaRoot: string;
  configuredPath: string;
  mode: UsbMode;
  /** Why no backup goes onto a stick with the current 01.1, if so. */
  modeReason?: string;
  /** State of the configured stick. */
  configured: { ok: boolean; reason?: string; hint?: string; code?: string };
  /** Every mount below the media root. */
  sticks: StickInfo[];
  /** The 01.2 path to use (undefined when no usable stick is plugged in). */
  suggestion?: string;
  /** Complete backups on the configured stick, newest first. */
  backups: StickBackup[];
}

/** Builds the sticks overview for the panel. */
export async function sticksView(settings: Pick<SettingsView, 'get'>, env: UsbEnvironment): Promise<SticksView> {
  const s = readSettings(settings);
  const [check, sticks] = await Promise.all([checkStick(s.path, env), listSticks(env)]);
  const backups = check.ok ? await listStickBackups(check.realPath).catch(() => []) : [];
  return {
    mediaRoot: env.mediaRoot,
    configuredPath: s.path,
    mode: s.mode,
    modeReason: usbSkipReason(s.mode),
    configured: check.ok ? { ok: true } : { ok: false, reason: check.reason, hint: check.hint, code: check.code },
    sticks,
    suggestion: suggestPath(sticks, s.path, check.ok ? check.realPath : undefined),
    backups,
  };
}

const execFileAsync = promisify(execFile);

/** What "Stick sicher entfernen" answers: done, or only an information (no stick, nothing to do). */
export interface EjectResult {
  outcome: 'success' | 'info';
  message: string;
}

/**
 * "Stick sicher entfernen": flushes everything cached for the stick's file system (`sync -f`, i.e.
 * syncfs), then says it may be pulled out. Does not unmount (see docs/usb.md). With no stick mounted there is
 * nothing to do: that is an information (job state "info"), not a failure.
 */
export async function ejectStick(path: string, env: UsbEnvironment, signal?: AbortSignal): Promise<EjectResult> {
  const real = await resolveStickPath(path, env);
  const table = await readMountTable(env.mountsFile).catch(() => []);
  if (!real || !findMountAt(table, real)) {
    return {
      outcome: 'info',
      message: `Kein USB-Stick unter ${path} eingehängt – es muss nichts vorbereitet werden. `
        + 'Steckt doch ein Stick, bitte den Pfad unter 01.2 prüfen.',
    };
  }
  try {
    await execFileAsync('sync', ['-f', real], { signal, timeout: 120_000 });
  } catch (e) {
    if (signal?.aborted) throw e;
    await fsyncDir(real);
    throw new UserError(`Die Daten konnten nicht vollständig auf den USB-Stick unter ${path} geschrieben werden.`, {
      code: 'usb.sync', hint: 'Ziehen Sie den USB-Stick noch nicht ab und versuchen Sie es in einer Minute erneut.',
    });
  }
  return { outcome: 'success', message: `Alle Daten sind auf den USB-Stick unter ${path} geschrieben. Sie können den USB-Stick jetzt abziehen.` };
}
