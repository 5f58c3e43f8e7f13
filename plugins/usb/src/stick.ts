/**
 * Finding and checking the backup stick: the configured path (setting 01.2) must lie below the media root,
 * something must be mounted exactly there, it must be FAT32, writable, and not the Swissbit TSE stick.
 */
import { readdir, realpath, statfs } from 'node:fs/promises';
import { isAbsolute, normalize } from 'node:path';
import { UserError } from 'kassenwart/sdk';
import { readMountTable, findMountAt, isReadOnly, type MountEntry } from './mounts.js';
import { detectFilesystem, readFilesystemHeader, fstypeDisplayName } from './filesystem.js';

/** Where the plugin looks for mounts; both can be changed by environment variables (tests). */
export interface UsbEnvironment {
  /** Mount table file (env KASSENWART_USB_MOUNTS, default /proc/self/mounts). */
  mountsFile: string;
  /** Folder below which sticks are mounted (env KASSENWART_USB_MEDIA_ROOT, default /media). */
  mediaRoot: string;
}

/** The environment from the process (see UsbEnvironment). */
export function environmentFromProcess(env: NodeJS.ProcessEnv = process.env): UsbEnvironment {
  return {
    mountsFile: env.KASSENWART_USB_MOUNTS || '/proc/self/mounts',
    mediaRoot: normalize(env.KASSENWART_USB_MEDIA_ROOT || '/media').replace(/(.)\/$/, '$1'),
  };
}

/** File names at the root of a Swissbit TSE stick. */
export const TSE_MARKERS = ['TSE_INFO.DAT', 'TSE_COMM.DAT'];

/** What is known about one mounted stick. */
export interface StickInfo {
  /** Mount point. */
  path: string;
  /** Device from the mount table. */
  device: string;
  /** Kernel file system type from the mount table. */
  fstype: string;
  /** Format shown to the user: "FAT32", "FAT16", "exFAT", "NTFS", "ext4", … */
  format: string;
  /** True when the boot sector was read and says FAT32; false when it could not be read. */
  formatConfirmed: boolean;
  readOnly: boolean;
  /** True when TSE_INFO.DAT or TSE_COMM.DAT is at its root. */
  tse: boolean;
  /** Total size in bytes (statfs), if known. */
  sizeBytes?: number;
  /** Space free for us in bytes (statfs bavail), if known. */
  freeBytes?: number;
  /** True when backups may be written onto it. */
  usable: boolean;
  /** German reason when not usable. */
  reason?: string;
  /** German hint what to do when not usable. */
  hint?: string;
  /** Machine-readable reason code. */
  code?: string;
}

const HINT_FAT32 = 'Sie benötigen einen USB-Stick im FAT32-Format. USB-Sticks mit anderen Formaten werden nicht als möglicher Sicherungsort erkannt.';
const HINT_PLUG = 'Stecken Sie einen USB-Stick im FAT32-Format in einen freien USB-Port Ihres Kassenservers (nicht in den PC) und prüfen Sie den Pfad unter 01.2.';

/**
 * Checks the form of a 01.2 path without touching the disk: absolute, normalised (no "..", ".", "//",
 * no trailing slash) and strictly below the media root. Throws a UserError otherwise.
 */
export function checkPathSyntax(path: string, env: UsbEnvironment): void {
  const hint = `Tragen Sie unter 01.2 den Pfad des USB-Sticks ein, z. B. ${env.mediaRoot}/usb0.`;
  if (typeof path !== 'string' || !isAbsolute(path) || /[\u0000-\u001f]/.test(path)) {
    throw new UserError(`Der Pfad „${String(path)}“ unter 01.2 ist kein absoluter Pfad.`, { code: 'usb.path.invalid', hint });
  }
  if (normalize(path) !== path || path.split('/').includes('..') || (path.endsWith('/') && path !== '/')) {
    throw new UserError(`Der Pfad „${path}“ unter 01.2 ist nicht zulässig (kein „..“, „.“, „//“ oder „/“ am Ende).`, { code: 'usb.path.invalid', hint });
  }
  if (!path.startsWith(env.mediaRoot + '/')) {
    throw new UserError(`Der Pfad „${path}“ unter 01.2 liegt nicht unterhalb von ${env.mediaRoot}.`, { code: 'usb.path.outside', hint });
  }
}

/**
 * Resolves symbolic links in a 01.2 path and checks the result is still below the (resolved) media root.
 * Returns the real path, or undefined when the folder does not exist. Throws a UserError on an escape.
 */
export async function resolveStickPath(path: string, env: UsbEnvironment): Promise<string | undefined> {
  checkPathSyntax(path, env);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  let root: string;
  try {
    root = await realpath(env.mediaRoot);
  } catch {
    root = env.mediaRoot;
  }
  if (!real.startsWith(root + '/')) {
    throw new UserError(`Der Pfad „${path}“ unter 01.2 zeigt über eine Verknüpfung auf „${real}“ außerhalb von ${env.mediaRoot}.`, {
      code: 'usb.path.symlink',
      hint: `Tragen Sie unter 01.2 den Pfad ein, unter dem der USB-Stick eingehängt ist, z. B. ${env.mediaRoot}/usb0.`,
    });
  }
  return real;
}

/** True when a TSE marker file is at the root of `dir` (names compared case-insensitively, as FAT does). */
export async function hasTseMarker(dir: string): Promise<boolean> {
  const names = await readdir(dir);
  return names.some((n) => TSE_MARKERS.includes(n.toUpperCase()));
}

/** Inspects one mount: format (from the boot sector where readable), TSE marker, read-only, space. */
export async function inspectMount(entry: MountEntry): Promise<StickInfo> {
  const path = entry.mountPoint;
  const header = await readFilesystemHeader(entry.device);
  const detected = header ? detectFilesystem(header) : undefined;
  let format: string;
  let formatConfirmed = false;
  if (detected) {
    format = detected;
    formatConfirmed = true;
  } else if (entry.fstype === 'vfat') {
    format = 'FAT32';
  } else {
    format = fstypeDisplayName(entry.fstype);
  }
  const info: StickInfo = {
    path, device: entry.device, fstype: entry.fstype, format, formatConfirmed,
    readOnly: isReadOnly(entry), tse: false, usable: true,
  };
  try {
    const s = await statfs(path);
    info.sizeBytes = Number(s.blocks) * Number(s.bsize);
    info.freeBytes = Number(s.bavail) * Number(s.bsize);
  } catch { /* left unknown */ }
  let readable = true;
  try {
    info.tse = await hasTseMarker(path);
  } catch {
    readable = false;
  }
  const fail = (code: string, reason: string, hint: string) => {
    if (info.usable) Object.assign(info, { usable: false, code, reason, hint });
  };
  if (info.tse) {
    fail('usb.tse', `Unter ${path} steckt der TSE-Stick (Swissbit). Auf den TSE-Stick wird keine Datensicherung geschrieben.`,
      'Stecken Sie einen zweiten USB-Stick im FAT32-Format ein und tragen Sie dessen Pfad unter 01.2 ein (mit TSE-Stick meist /media/usb2).');
  }
  if (!readable) {
    fail('usb.unreadable', `Der USB-Stick unter ${path} kann nicht gelesen werden.`, 'Ziehen Sie den USB-Stick ab, stecken Sie ihn wieder ein und versuchen Sie es erneut.');
  }
  const isFat32 = entry.fstype === 'vfat' && format === 'FAT32';
  if (!isFat32) {
    fail('usb.format', `Der USB-Stick unter ${path} hat das Format ${format}, nicht FAT32.`, HINT_FAT32);
  }
  if (info.readOnly) {
    fail('usb.readonly', `Der USB-Stick unter ${path} ist schreibgeschützt eingehängt.`,
      'Prüfen Sie den Schreibschutz-Schalter am USB-Stick, ziehen Sie ihn ab und stecken Sie ihn wieder ein.');
  }
  return info;
}

/** The result of checking the configured stick. */
export type StickCheck =
  | { ok: true; stick: StickInfo; realPath: string }
  | { ok: false; code: string; reason: string; hint?: string; stick?: StickInfo };

/**
 * Checks the stick at the configured 01.2 path: path rules, something mounted exactly there, FAT32,
 * not the TSE stick, writable. Never throws for these expected states; returns the German reason.
 */
export async function checkStick(path: string, env: UsbEnvironment): Promise<StickCheck> {
  let real: string | undefined;
  try {
    real = await resolveStickPath(path, env);
  } catch (e) {
    if (e instanceof UserError) return { ok: false, code: e.code, reason: e.message, hint: e.hint };
    throw e;
  }
  const notMounted = { ok: false as const, code: 'usb.not-mounted', reason: `Kein USB-Stick unter ${path} eingehängt.`, hint: HINT_PLUG };
  if (!real) return notMounted;
  let table: MountEntry[];
  try {
    table = await readMountTable(env.mountsFile);
  } catch {
    return { ok: false, code: 'usb.mounts', reason: `Die Liste der eingehängten Laufwerke (${env.mountsFile}) kann nicht gelesen werden.`, hint: 'Wenden Sie sich an den Support.' };
  }
  const entry = findMountAt(table, real);
  if (!entry) return notMounted;
  const stick = await inspectMount({ ...entry, mountPoint: real });
  if (!stick.usable) return { ok: false, code: stick.code!, reason: stick.reason!, hint: stick.hint, stick };
  return { ok: true, stick, realPath: real };
}

/** Every mount below the media root, inspected, sorted by path. */
export async function listSticks(env: UsbEnvironment): Promise<StickInfo[]> {
  let table: MountEntry[];
  try {
    table = await readMountTable(env.mountsFile);
  } catch {
    return [];
  }
  let root = env.mediaRoot;
  try { root = await realpath(root); } catch { /* keep as configured */ }
  const top = new Map<string, MountEntry>();
  for (const e of table) if (e.mountPoint.startsWith(root + '/')) top.set(e.mountPoint, e);
  const sticks = await Promise.all([...top.values()].map((e) => inspectMount(e)));
  return sticks.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The 01.2 path to suggest: the configured path when it is usable, else the first usable stick, else
 * undefined. Mount points are given below the configured media root spelling.
 */
export function suggestPath(sticks: StickInfo[], configured: string, configuredReal?: string): string | undefined {
  const usable = sticks.filter((s) => s.usable);
  if (configuredReal && usable.some((s) => s.path === configuredReal)) return configured;
  return usable[0]?.path;
}
