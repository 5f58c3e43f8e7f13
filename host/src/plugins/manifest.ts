import { readFile, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import semver from 'semver';
import { parse as parseJsonc, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { manifestSchema, type PluginManifest } from 'kassenwart/sdk';
import { createAjv, problems } from './ajv.js';

const ajv = createAjv();
const validateSchema = ajv.compile(manifestSchema as object);
const settingsAjv = createAjv();

/** A plugin folder after reading its manifest: either a manifest, or the reasons it is unusable. */
export interface ManifestResult {
  dir: string;
  manifest?: PluginManifest;
  /** The plugin id when it is readable although the manifest has errors (so the plugin is listed by it). */
  id?: string;
  /** German reasons; empty when the manifest is usable. */
  errors: string[];
}

function inside(root: string, rel: string): boolean {
  const abs = resolve(root, rel);
  return abs === root || abs.startsWith(root + sep);
}

async function exists(p: string): Promise<boolean> {
  try { await stat(p); return true; } catch { return false; }
}

/** The id pattern of the manifest schema. */
const ID = /^[a-z][a-z0-9-]{1,39}$/;

/** What jsonc-parser's error codes mean, in German. */
const SYNTAX: Record<string, string> = {
  InvalidSymbol: 'unerwartetes Zeichen',
  InvalidNumberFormat: 'ungültige Zahl',
  PropertyNameExpected: 'hier wird ein Schlüssel in doppelten Anführungszeichen erwartet (steht ein Komma zu viel davor?)',
  ValueExpected: 'hier wird ein Wert erwartet',
  ColonExpected: 'hier wird ein Doppelpunkt erwartet',
  CommaExpected: 'hier fehlt ein Komma',
  CloseBraceExpected: 'hier fehlt eine schließende geschweifte Klammer „}“',
  CloseBracketExpected: 'hier fehlt eine schließende eckige Klammer „]“',
  EndOfFileExpected: 'nach dem Ende des Objekts folgt noch Text',
  InvalidCommentToken: 'Kommentare sind in plugin.json nicht erlaubt',
  UnexpectedEndOfComment: 'Kommentar ohne Ende',
  UnexpectedEndOfString: 'Zeichenkette ohne schließendes Anführungszeichen',
  UnexpectedEndOfNumber: 'unvollständige Zahl',
  InvalidUnicode: 'ungültige Unicode-Escape-Sequenz',
  InvalidEscapeCharacter: 'ungültige Escape-Sequenz',
  InvalidCharacter: 'ungültiges Zeichen (z. B. ein Zeilenumbruch oder Steuerzeichen in einer Zeichenkette)',
};

/** A German message for a JSON syntax error, with line and column (1-based) of its first problem. */
function syntaxError(raw: string): string {
  const errors: ParseError[] = [];
  parseJsonc(raw, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (!raw.trim()) return 'plugin.json ist leer: erwartet wird ein JSON-Objekt.';
  if (!first) return 'plugin.json ist kein gültiges JSON.';
  const before = raw.slice(0, first.offset);
  const line = before.split('\n').length;
  const column = first.offset - before.lastIndexOf('\n');
  const code = printParseErrorCode(first.error);
  const atEnd = first.offset >= raw.trimEnd().length;
  const token = raw.substr(first.offset, Math.min(first.length, 20));
  const what = atEnd && code !== 'EndOfFileExpected'
    ? 'die Datei endet, bevor das JSON-Objekt vollständig ist (fehlt ein Wert oder eine schließende Klammer „}“?)'
    : `${SYNTAX[code] ?? code}${code === 'InvalidSymbol' && token ? ` „${token}“` : ''}`;
  return `plugin.json ist kein gültiges JSON: Zeile ${line}, Spalte ${column}: ${what}.`;
}

/**
 * Reads and checks `plugin.json` in `dir` without running any plugin code. Pure checks, all problems
 * collected (not just the first): JSON syntax, schema (unknown keys are errors), semantic rules.
 */
export async function readManifest(dir: string, hostVersion: string): Promise<ManifestResult> {
  const file = join(dir, 'plugin.json');
  let raw: string;
  try {
    raw = await readFile(file, 'utf8');
  } catch (e) {
    return { dir, errors: [`plugin.json kann nicht gelesen werden (${(e as NodeJS.ErrnoException).code ?? 'Fehler'}).`] };
  }
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return { dir, errors: [syntaxError(raw)] };
  }
  if (!validateSchema(data)) {
    const id = (data as { id?: unknown } | null)?.id;
    return {
      dir, id: typeof id === 'string' && ID.test(id) ? id : undefined,
      errors: problems(validateSchema.errors).map((p) => `plugin.json ${p.path}: ${p.message}`),
    };
  }
  const m = data as PluginManifest;
  return { dir, manifest: m, errors: await semanticErrors(dir, m, hostVersion) };
}

/** Rules the JSON schema cannot express. Each rule is one German sentence. */
async function semanticErrors(dir: string, m: PluginManifest, hostVersion: string): Promise<string[]> {
  const errors: string[] = [];
  if (!semver.valid(m.version)) errors.push(`Version „${m.version}“ ist keine gültige Semver-Version (z. B. 1.0.0).`);
  // engines.kassenwart is a semver range the host version must satisfy (prereleases count, as for VS Code).
  if (!semver.validRange(m.engines.kassenwart)) {
    errors.push(`engines.kassenwart „${m.engines.kassenwart}“ ist kein gültiger Versionsbereich.`);
  } else if (!semver.satisfies(hostVersion, m.engines.kassenwart, { includePrerelease: true })) {
    errors.push(`Benötigt Kassenwart ${m.engines.kassenwart}, installiert ist ${hostVersion}.`);
  }
  for (const [dep, range] of Object.entries(m.dependencies ?? {})) {
    if (dep === m.id) errors.push('Ein Plugin kann nicht von sich selbst abhängen.');
    if (!semver.validRange(range)) errors.push(`Abhängigkeit „${dep}“: „${range}“ ist kein gültiger Versionsbereich.`);
  }
  for (const [dep, range] of Object.entries(m.optionalDependencies ?? {})) {
    if (dep === m.id) errors.push('Ein Plugin kann nicht optional von sich selbst abhängen.');
    if (dep in (m.dependencies ?? {})) errors.push(`„${dep}“ steht in dependencies und optionalDependencies; bitte nur einmal angeben.`);
    if (!semver.validRange(range)) errors.push(`Optionale Abhängigkeit „${dep}“: „${range}“ ist kein gültiger Versionsbereich.`);
  }
  const c = m.contributes ?? {};
  const mainNeeded = (c.actions?.length ?? 0) > 0 || (c.commands?.length ?? 0) > 0;
  if (m.main !== undefined) {
    if (!inside(dir, m.main)) errors.push(`main „${m.main}“ liegt außerhalb des Plugin-Ordners.`);
    else if (!(await exists(join(dir, m.main)))) errors.push(`main „${m.main}“ fehlt (Plugin nicht gebaut? „npm run build“ ausführen).`);
  } else if (mainNeeded) {
    errors.push('Aktionen oder Befehle brauchen ein „main“-Modul, es ist keines angegeben.');
  }
  const own = (id: string, what: string) => {
    if (!id.startsWith(m.id + '.')) errors.push(`${what} „${id}“ muss mit „${m.id}.“ beginnen.`);
  };
  const actionIds = new Set<string>();
  for (const a of c.actions ?? []) {
    own(a.id, 'Aktion');
    if (actionIds.has(a.id)) errors.push(`Aktion „${a.id}“ ist doppelt.`);
    actionIds.add(a.id);
  }
  for (const s of c.schedules ?? []) {
    own(s.id, 'Zeitplan');
    if (!actionIds.has(s.action)) errors.push(`Zeitplan „${s.id}“ startet die unbekannte Aktion „${s.action}“.`);
    if (s.cronSetting && !c.settings?.properties?.[s.cronSetting]) {
      errors.push(`Zeitplan „${s.id}“: Einstellung „${s.cronSetting}“ gibt es nicht.`);
    }
  }
  for (const e of c.extensionPoints ?? []) own(e.id, 'Erweiterungspunkt');
  const panelIds = new Set<string>();
  for (const p of c.panels ?? []) {
    if (panelIds.has(p.id)) errors.push(`Panel „${p.id}“ ist doppelt.`);
    panelIds.add(p.id);
    if (!inside(dir, p.module)) errors.push(`Panel „${p.id}“: Modul „${p.module}“ liegt außerhalb des Plugin-Ordners.`);
    else if (!(await exists(join(dir, p.module)))) errors.push(`Panel „${p.id}“: Modul „${p.module}“ fehlt.`);
  }
  for (const ev of m.activationEvents ?? []) {
    const [kind, arg] = ev.split(':');
    if (kind === 'onAction' && !actionIds.has(arg)) errors.push(`Aktivierungsereignis „${ev}“: Aktion gibt es nicht.`);
    if (kind === 'onPanel' && !panelIds.has(arg)) errors.push(`Aktivierungsereignis „${ev}“: Panel gibt es nicht.`);
    if (kind === 'onSchedule' && !(c.schedules ?? []).some((s) => s.id === arg)) {
      errors.push(`Aktivierungsereignis „${ev}“: Zeitplan gibt es nicht.`);
    }
    if (kind === 'onCommand' && !(c.commands ?? []).some((s) => s.id === arg)) {
      errors.push(`Aktivierungsereignis „${ev}“: Befehl gibt es nicht.`);
    }
  }
  if (c.settings) {
    try {
      settingsAjv.compile({ ...c.settings, additionalProperties: false });
    } catch (e) {
      errors.push(`Einstellungs-Schema ist ungültig: ${(e as Error).message}`);
    }
    for (const [key, prop] of Object.entries(c.settings.properties)) {
      if (prop.default !== undefined) {
        const v = settingsAjv.compile({ ...prop });
        if (!v(prop.default)) errors.push(`Einstellung „${key}“: Vorgabewert passt nicht zum Schema.`);
      }
    }
  }
  return errors;
}
