/**
 * Check of the operator's own PC for RustDesk, from what the browser tells about its system.
 * Pure and browser-safe (no Node imports): the panel runs it in the browser, the tests run it in Node.
 *
 * Minimum (vendor help text): Windows 8 Intel 64 or newer, macOS 10.14 or newer; Linux is supported too.
 *
 * Sources, best first:
 * - `navigator.userAgentData` (Chromium browsers): `platform`, and from `getHighEntropyValues` the
 *   `platformVersion`, `architecture` and `bitness`. Windows 11 reports platformVersion ≥ 13 while its user
 *   agent still says "Windows NT 10.0"; Windows 7/8/8.1 report "0.1"/"0.2"/"0.3"; macOS reports its real version.
 * - the user-agent string. macOS is frozen at "10_15_7" (Chrome, Safari) or "10.15" (Firefox) there, so a
 *   newer Mac is only known to be "10.15 or newer" — which is enough for the minimum of 10.14.
 * - `maxTouchPoints`: an iPad with iPadOS 13+ sends a Mac user agent; it has touch points, a Mac has none.
 */

/** What the browser tells (all optional except the user agent). */
export interface ClientHints {
  /** navigator.userAgent */
  userAgent: string;
  /** navigator.userAgentData, with the high-entropy values merged in where available. */
  userAgentData?: {
    platform?: string;
    mobile?: boolean;
    platformVersion?: string;
    architecture?: string;
    bitness?: string;
  };
  /** navigator.maxTouchPoints */
  maxTouchPoints?: number;
}

/** Operating system families the check knows. */
export type ClientOs = 'windows' | 'macos' | 'linux' | 'chromeos' | 'android' | 'ios' | 'unknown';

/** The verdict for the operator's PC. All text German. */
export interface ClientCheck {
  os: ClientOs;
  /** What was recognised, e.g. "Windows 11 (64 Bit)", "macOS 10.15 oder neuer". */
  label: string;
  /** true = meets the minimum, false = "nicht unterstützt", null = could not be told. */
  supported: boolean | null;
  /** One German sentence with the verdict and its reason. */
  verdict: string;
  /** What to download (German), when RustDesk can be installed. */
  download?: string;
  /** Installation steps (German, vendor wording). Empty when not supported. */
  steps: string[];
}

/** Where RustDesk is downloaded (the official site; its "Desktop App" button leads to the files). */
export const RUSTDESK_DOWNLOAD_URL = 'https://rustdesk.com/';
/** The release list with every file, as a second way. */
export const RUSTDESK_RELEASES_URL = 'https://github.com/rustdesk/rustdesk/releases/latest';

const MIN_TEXT = 'Mindestanforderungen: Windows 8 Intel 64 oder aktueller, macOS 10.14 oder aktueller; Linux wird ebenfalls unterstützt.';

const COMMON_START = [
  'RustDesk können Sie direkt über die offizielle Seite herunterladen (rustdesk.com). Klicken Sie dort auf den Button „Desktop App“.',
];
const COMMON_END = [
  'Möchte ein Techniker sich mit Ihrem PC verbinden, müssen Sie ihm die ID durchgeben und anschließend die angezeigte Sitzungsanfrage des Technikers akzeptieren.',
];

function windowsSteps(): string[] {
  return [
    ...COMMON_START,
    'In der folgenden Ansicht das richtige Betriebssystem auswählen und anklicken: Windows (64 Bit). Es wird automatisch eine passende Datei auf Ihren PC heruntergeladen.',
    'Öffnen Sie die heruntergeladene Datei (diese landet je nach Einstellung meist in Ihrem Download-Ordner) und folgen Sie den Installationshinweisen des Programms.',
    'Um die Suche nach dem Programm auf Ihrem Windows-PC zu vereinfachen, setzen Sie bei „Startmenü Verknüpfungen erstellen“ und „Desktop Symbol erstellen“ am Besten ein Häkchen.',
    'Klicken Sie im folgenden Fenster auf „Akzeptieren und Installieren“. Somit wird das Fernwartungsprogramm dauerhaft in Ihrem System und auf dem Desktop angelegt.',
    ...COMMON_END,
  ];
}

function macSteps(inputMonitoring: boolean | null, arch: 'arm' | 'x86' | null): string[] {
  const which = arch === 'arm' ? 'macOS (für Apple-Chip, Datei „…-aarch64.dmg“)'
    : arch === 'x86' ? 'macOS (für Intel-Prozessor, Datei „…-x86_64.dmg“)'
      : 'macOS (Apple-Chip: Datei „…-aarch64.dmg“, Intel-Prozessor: „…-x86_64.dmg“; siehe Apple-Menü → „Über diesen Mac“)';
  const rights = inputMonitoring === false ? '„Bedienungshilfen“ und „Bildschirmaufnahme“'
    : inputMonitoring === true ? '„Bedienungshilfen“, „Bildschirmaufnahme“ und „Eingabeüberwachung“'
      : '„Bedienungshilfen“ und „Bildschirmaufnahme“ (ab macOS 10.15 auch „Eingabeüberwachung“)';
  return [
    ...COMMON_START,
    `In der folgenden Ansicht das richtige Betriebssystem auswählen und anklicken: ${which}. Es wird automatisch eine passende Datei heruntergeladen.`,
    'Sobald Sie die heruntergeladene Datei öffnen, wird die Installation eingeleitet. Es öffnet sich anschließend ein Fenster mit RustDesk und Applications.',
    'Klicken Sie mit der linken Maustaste auf „RustDesk“, halten Sie die Maustaste gedrückt und ziehen Sie das Symbol in den Applications-Ordner (Programme).',
    'Öffnen Sie „RustDesk“ nun mit einem Doppelklick.',
    'Bei der ersten Inbetriebnahme müssen zusätzlich die Zugriffsrechte erteilt werden, damit der Techniker etwas sehen oder eingeben kann: Öffnen Sie die Systemeinstellungen und klicken Sie auf „(Datenschutz &) Sicherheit“. Falls unten links ein Schloss angezeigt wird, klicken Sie es an und geben Sie Benutzername und Passwort Ihres Apple-Geräts ein.',
    `Unter dem Punkt Datenschutz setzen Sie bei ${rights} je ein Häkchen für RustDesk. Ist RustDesk hier nicht gelistet, kann es über den „+“-Button manuell zur Liste hinzugefügt werden. Anschließend das Schloss wieder schließen.`,
    'Möchte ein Techniker sich mit Ihnen verbinden, müssen Sie ihm die ID durchgeben, welche in RustDesk angezeigt wird, und anschließend die angezeigte Sitzungsanfrage des Technikers akzeptieren.',
  ];
}

function linuxSteps(): string[] {
  return [
    ...COMMON_START,
    'In der folgenden Ansicht Linux auswählen: für Debian, Ubuntu und Linux Mint die Datei „rustdesk-<Version>-x86_64.deb“, für Fedora, CentOS und Rocky Linux die „.rpm“-Datei (alternativ AppImage oder Flatpak).',
    'Installieren Sie die heruntergeladene Datei mit der Paketverwaltung, z. B. unter Debian/Ubuntu im Terminal: sudo apt install -fy ./rustdesk-<Version>-x86_64.deb',
    'Starten Sie RustDesk anschließend über das Anwendungsmenü.',
    ...COMMON_END,
  ];
}

function parseVersion(v: string | undefined): number[] | undefined {
  if (!v) return undefined;
  const m = /^(\d+)(?:[._](\d+))?(?:[._](\d+))?/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function cmp(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d) return d;
  }
  return 0;
}

function notSupported(os: ClientOs, label: string, why: string): ClientCheck {
  return {
    os, label, supported: false,
    verdict: `${label} wird für RustDesk nicht unterstützt: ${why} ${MIN_TEXT}`,
    steps: [],
  };
}

function supported(os: ClientOs, label: string, download: string, steps: string[], extra = ''): ClientCheck {
  return {
    os, label, supported: true,
    verdict: `${label} erfüllt die Mindestanforderungen für RustDesk.${extra ? ' ' + extra : ''}`,
    download, steps,
  };
}

const WINDOWS_NAMES: Record<string, string> = {
  '5.0': 'Windows 2000', '5.1': 'Windows XP', '5.2': 'Windows XP (64 Bit)', '6.0': 'Windows Vista', '6.1': 'Windows 7',
  '6.2': 'Windows 8', '6.3': 'Windows 8.1', '10.0': 'Windows 10',
};

function checkWindows(h: ClientHints): ClientCheck {
  const ua = h.userAgent;
  const uad = h.userAgentData;
  const nt = /Windows NT (\d+\.\d+)/.exec(ua)?.[1];
  const uaSays64 = /\b(Win64|x64|WOW64|x86_64|amd64)\b/i.test(ua);
  const uaSaysArm = /\bARM(64)?\b/i.test(ua);
  const arch = uad?.architecture?.toLowerCase();
  const bitness = uad?.bitness;
  const is64 = bitness === '64' || uaSays64 || (arch === 'arm' && bitness !== '32');
  const isArm = arch === 'arm' || uaSaysArm;

  // Windows version: client hints first (they can tell 11 from 10 and are not frozen).
  let name: string | undefined;
  let atLeast8: boolean | undefined;
  const pv = parseVersion(uad?.platformVersion);
  if (pv && uad?.platformVersion) {
    if (pv[0] >= 13) { name = 'Windows 11'; atLeast8 = true; }
    else if (pv[0] >= 1) { name = 'Windows 10'; atLeast8 = true; }
    else if (pv[1] === 3) { name = 'Windows 8.1'; atLeast8 = true; }
    else if (pv[1] === 2) { name = 'Windows 8'; atLeast8 = true; }
    else if (pv[1] === 1) { name = 'Windows 7'; atLeast8 = false; }
  }
  if (!name && nt) {
    name = WINDOWS_NAMES[nt] ?? `Windows (NT ${nt})`;
    if (nt === '10.0') name = 'Windows 10 oder 11';
    const v = parseVersion(nt)!;
    atLeast8 = cmp(v, [6, 2]) >= 0;
  }
  if (!name) name = 'Windows';
  const label = `${name}${is64 ? ' (64 Bit)' : atLeast8 === undefined ? '' : ' (32 Bit)'}`;
  if (atLeast8 === false) {
    return notSupported('windows', label, 'RustDesk benötigt mindestens Windows 8 (Intel 64 Bit). Bitte nutzen Sie einen aktuelleren PC oder aktualisieren Sie Windows.');
  }
  if (isArm) {
    return notSupported('windows', `${name} auf ARM-Prozessor`, 'Vorausgesetzt wird ein PC mit Intel-/AMD-Prozessor (64 Bit).');
  }
  if (!is64) {
    return notSupported('windows', label, 'RustDesk benötigt ein 64-Bit-Windows (Intel 64). Ein 32-Bit-Windows wird nicht unterstützt.');
  }
  if (atLeast8 === undefined) {
    return {
      os: 'windows', label, supported: null,
      verdict: `Die Windows-Version dieses PCs ließ sich nicht erkennen. ${MIN_TEXT}`,
      download: 'Windows (64 Bit): „rustdesk-<Version>-x86_64.exe“', steps: windowsSteps(),
    };
  }
  return supported('windows', label, 'Windows (64 Bit): „rustdesk-<Version>-x86_64.exe“', windowsSteps());
}

function checkMac(h: ClientHints): ClientCheck {
  const uad = h.userAgentData;
  const arch = uad?.architecture?.toLowerCase() === 'arm' ? 'arm' : uad?.architecture?.toLowerCase() === 'x86' ? 'x86' : null;
  const fromHints = uad?.platformVersion ? parseVersion(uad.platformVersion) : undefined;
  const uaVer = parseVersion(/Mac OS X (\d+[._]\d+(?:[._]\d+)?)/.exec(h.userAgent)?.[1]);
  let v: number[] | undefined;
  let frozen = false;
  if (fromHints && fromHints[0] > 0) v = fromHints;
  else if (uaVer) {
    v = uaVer;
    frozen = cmp(uaVer, [10, 15]) >= 0 && uaVer[0] === 10; // UA stays at 10.15(.7) on every newer macOS
  }
  if (!v) {
    return {
      os: 'macos', label: 'macOS', supported: null,
      verdict: `Die macOS-Version dieses Geräts ließ sich nicht erkennen. ${MIN_TEXT}`,
      download: 'macOS: „rustdesk-<Version>-aarch64.dmg“ (Apple-Chip) bzw. „…-x86_64.dmg“ (Intel)', steps: macSteps(null, arch),
    };
  }
  const shown = v[0] >= 11 ? `macOS ${v[0]}` : `macOS ${v[0]}.${v[1]}`;
  if (cmp(v, [10, 14]) < 0) {
    return notSupported('macos', shown, 'RustDesk benötigt mindestens macOS 10.14. Bitte aktualisieren Sie macOS oder nutzen Sie ein neueres Gerät.');
  }
  const label = frozen ? 'macOS 10.15 oder neuer' : shown;
  const inputMonitoring = frozen ? null : cmp(v, [10, 15]) >= 0;
  const download = arch === 'arm' ? 'macOS (Apple-Chip): „rustdesk-<Version>-aarch64.dmg“'
    : arch === 'x86' ? 'macOS (Intel): „rustdesk-<Version>-x86_64.dmg“'
      : 'macOS: „rustdesk-<Version>-aarch64.dmg“ (Apple-Chip) bzw. „…-x86_64.dmg“ (Intel)';
  return supported('macos', label, download, macSteps(frozen ? true : inputMonitoring, arch));
}

/**
 * Classifies the operator's PC. Pass what the browser offers; see {@link clientHintsFromNavigator} for the
 * browser side.
 */
export function checkClient(h: ClientHints): ClientCheck {
  const ua = h.userAgent ?? '';
  const platform = h.userAgentData?.platform?.toLowerCase() ?? '';

  if (/iPhone|iPod/.test(ua) || platform === 'ios') {
    return notSupported('ios', 'iPhone (iOS)', 'Ein iPhone kann über RustDesk nicht ferngesteuert werden. Bitte öffnen Sie diese Seite an Ihrem PC.');
  }
  if (/iPad/.test(ua) || (/Macintosh/.test(ua) && (h.maxTouchPoints ?? 0) > 1)) {
    return notSupported('ios', 'iPad (iPadOS)', 'Ein iPad kann über RustDesk nicht ferngesteuert werden. Bitte öffnen Sie diese Seite an Ihrem PC.');
  }
  if (/Android/.test(ua) || platform === 'android') {
    return notSupported('android', /Mobile/.test(ua) || h.userAgentData?.mobile ? 'Android-Smartphone' : 'Android-Tablet',
      'Die Fernwartung durch den Support ist nur an einem PC mit Windows, macOS oder Linux vorgesehen. Bitte öffnen Sie diese Seite an Ihrem PC.');
  }
  if (/CrOS/.test(ua) || platform === 'chrome os' || platform === 'chromeos') {
    return notSupported('chromeos', 'ChromeOS (Chromebook)', 'Für ChromeOS gibt es kein RustDesk-Programm, das ferngesteuert werden kann.');
  }
  if (platform === 'windows' || /Windows/.test(ua)) {
    if (/Windows Phone/.test(ua)) return notSupported('unknown', 'Windows Phone', 'Windows Phone wird nicht unterstützt.');
    return checkWindows(h);
  }
  if (platform === 'macos' || /Macintosh|Mac OS X/.test(ua)) return checkMac(h);
  if (platform === 'linux' || /Linux|X11/.test(ua)) {
    const arch = h.userAgentData?.architecture?.toLowerCase();
    const isArm = arch === 'arm' || /aarch64|armv\d/i.test(ua);
    return supported('linux', isArm ? 'Linux (ARM)' : 'Linux', isArm ? 'Linux: das Paket für aarch64 (ARM)' : 'Linux: „rustdesk-<Version>-x86_64.deb“ (Debian/Ubuntu) bzw. „.rpm“', linuxSteps());
  }
  return {
    os: 'unknown', label: 'unbekanntes System', supported: null,
    verdict: `Das Betriebssystem dieses Geräts ließ sich nicht erkennen. ${MIN_TEXT}`,
    steps: [],
  };
}

/** The browser's `navigator`, as far as the check needs it. */
export interface NavigatorLike {
  userAgent: string;
  maxTouchPoints?: number;
  userAgentData?: {
    platform?: string;
    mobile?: boolean;
    getHighEntropyValues?(hints: string[]): Promise<Record<string, unknown>>;
  };
}

/** Collects the hints in a browser (asks for the high-entropy values where offered; never fails). */
export async function clientHintsFromNavigator(nav: NavigatorLike): Promise<ClientHints> {
  const h: ClientHints = { userAgent: nav.userAgent, maxTouchPoints: nav.maxTouchPoints };
  const uad = nav.userAgentData;
  if (uad) {
    h.userAgentData = { platform: uad.platform, mobile: uad.mobile };
    try {
      const v = await uad.getHighEntropyValues?.(['platformVersion', 'architecture', 'bitness']);
      if (v) {
        if (typeof v.platformVersion === 'string') h.userAgentData.platformVersion = v.platformVersion;
        if (typeof v.architecture === 'string') h.userAgentData.architecture = v.architecture;
        if (typeof v.bitness === 'string') h.userAgentData.bitness = v.bitness;
      }
    } catch {
      /* the browser refused the high-entropy values: the user agent alone decides */
    }
  }
  return h;
}
