/**
 * The signed update feed: the index format, its Ed25519 signature check against pinned keys, the
 * anti-rollback rules and the choice of the release to install.
 *
 * Files of a feed folder (what `kassenwart release build` writes and any static web server serves):
 *   index.json          the index (the exact bytes are signed)
 *   index.json.sig      base64 of the 64-byte Ed25519 signature over index.json
 *   kassenwart-<v>.tar.gz  the packages the index points to (URLs relative to index.json)
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';
import semver from 'semver';
import { UserError } from 'kassenwart/sdk';

const require = createRequire(import.meta.url);
// ajv is CommonJS; load it the same way in every module system.
const Ajv = require('ajv') as typeof import('ajv').default;

/** Update channels. "beta" installations also receive stable releases. */
export type Channel = 'stable' | 'beta';

/** A migration file of a register release, as listed in the index. */
export interface MigrationEntry {
  /** File name under migrations/, "NNN-description.sql". */
  name: string;
  /** Lower-case hex SHA-256 of the file. */
  sha256: string;
}

/** One release in the index. */
export interface ReleaseEntry {
  /** Which program this is: Kassenwart itself (default when absent, older feeds) or the register ("kasse"). */
  component?: 'kassenwart' | 'kasse';
  /** Semver version of the whole package (host + built-in plugins, or the register program). */
  version: string;
  /** Channel it is published on. */
  channel: Channel;
  /** Release date (ISO 8601). */
  date: string;
  /** German change notes per part: key = plugin id, or "kassenwart" for the host itself. */
  changes: Record<string, string[]>;
  /** Package URL, absolute or relative to the index URL. */
  url: string;
  /** Package size in bytes. */
  size: number;
  /** Lower-case hex SHA-256 of the package. */
  sha256: string;
  /** Minimum versions of the other components this release needs: { "kassenwart": "1.1.0" }. */
  requires?: Record<string, string>;
  /** Register releases: every migration of the register up to this release, in order (cumulative). */
  migrations?: MigrationEntry[];
  /** German display names of the keys in `changes` ("backup" → "Datensicherung"). */
  labels?: Record<string, string>;
}

/** The component of an entry (older feeds carry Kassenwart releases only). */
export function componentOf(r: ReleaseEntry): 'kassenwart' | 'kasse' {
  return r.component ?? 'kassenwart';
}

/** The signed index. */
export interface ReleaseIndex {
  format: 1;
  product: 'kassenwart';
  /** Publication counter; every newly signed index has a higher one. */
  sequence: number;
  /** When the index was signed (ISO 8601). */
  issuedAt: string;
  /** After this moment the index is refused (protects against replaying an old, signed index). */
  expires: string;
  releases: ReleaseEntry[];
}

/** JSON schema of the index (ajv, all errors). */
export const indexSchema = {
  type: 'object',
  required: ['format', 'product', 'sequence', 'issuedAt', 'expires', 'releases'],
  additionalProperties: false,
  properties: {
    format: { const: 1 },
    product: { const: 'kassenwart' },
    sequence: { type: 'integer', minimum: 1 },
    issuedAt: { type: 'string', minLength: 10 },
    expires: { type: 'string', minLength: 10 },
    releases: {
      type: 'array',
      items: {
        type: 'object',
        required: ['version', 'channel', 'date', 'changes', 'url', 'size', 'sha256'],
        additionalProperties: false,
        properties: {
          version: { type: 'string', minLength: 5 },
          channel: { enum: ['stable', 'beta'] },
          date: { type: 'string', minLength: 10 },
          changes: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } } },
          url: { type: 'string', minLength: 1 },
          size: { type: 'integer', minimum: 1 },
          sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
          component: { enum: ['kassenwart', 'kasse'] },
          requires: { type: 'object', additionalProperties: { type: 'string', minLength: 5 } },
          migrations: {
            type: 'array',
            items: {
              type: 'object', required: ['name', 'sha256'], additionalProperties: false,
              properties: { name: { type: 'string', pattern: '^\\d+-[A-Za-z0-9._-]+\\.sql$' }, sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
            },
          },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
        },
      },
    },
  },
} as const;

const validateIndex = new Ajv({ allErrors: true }).compile(indexSchema);

/** What is remembered about the newest index seen (persisted, for the anti-rollback rule). */
export interface SeenIndex {
  sequence: number;
  issuedAt: string;
  sha256: string;
}

/**
 * Parses the pinned public keys from the setting: PEM blocks, or base64 of either a DER SubjectPublicKeyInfo
 * or a raw 32-byte Ed25519 key, separated by commas, semicolons or white space.
 */
export function parsePublicKeys(text: string): KeyObject[] {
  const keys: KeyObject[] = [];
  const pemBlocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  let rest = text;
  for (const pem of pemBlocks) {
    rest = rest.replace(pem, ' ');
    keys.push(toEd25519(() => createPublicKey(pem), pem.slice(0, 40)));
  }
  for (const token of rest.split(/[\s,;]+/).filter(Boolean)) {
    keys.push(toEd25519(() => {
      const der = Buffer.from(token, 'base64');
      if (der.length === 32) {
        // Raw key: wrap it in the fixed Ed25519 SubjectPublicKeyInfo prefix.
        return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), der]), format: 'der', type: 'spki' });
      }
      return createPublicKey({ key: der, format: 'der', type: 'spki' });
    }, token.slice(0, 16)));
  }
  return keys;
}

function toEd25519(make: () => KeyObject, shown: string): KeyObject {
  let key: KeyObject;
  try {
    key = make();
  } catch {
    throw new UserError(`Der hinterlegte Schlüssel „${shown}…“ ist kein gültiger öffentlicher Schlüssel.`, {
      code: 'update.key-invalid',
      hint: 'Bitte in den Einstellungen unter „Updates“ den öffentlichen Schlüssel des Herstellers korrekt eintragen (Techniker).',
    });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new UserError(`Der hinterlegte Schlüssel „${shown}…“ ist kein Ed25519-Schlüssel.`, {
      code: 'update.key-invalid',
      hint: 'Es werden nur Ed25519-Schlüssel akzeptiert (kassenwart release keygen).',
    });
  }
  return key;
}

/** SHA-256 as lower-case hex. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Verifies the signature over the exact index bytes against any of the pinned keys, then parses and checks
 * the index: schema, product, expiry, and that it is not older than the last index seen. Throws a UserError
 * with a German reason for each failure.
 */
export function verifyIndex(
  indexBytes: Uint8Array,
  signatureText: string,
  keys: KeyObject[],
  options: { now?: Date; lastSeen?: SeenIndex } = {},
): { index: ReleaseIndex; seen: SeenIndex } {
  if (keys.length === 0) {
    throw new UserError('Es ist kein vertrauenswürdiger Schlüssel für Updates hinterlegt.', {
      code: 'update.no-keys',
      hint: 'Ein Techniker muss unter „Updates“ den öffentlichen Schlüssel des Herstellers eintragen.',
    });
  }
  const signature = Buffer.from(signatureText.trim(), 'base64');
  const good = signature.length === 64 && keys.some((k) => {
    try { return verify(null, indexBytes, k, signature); } catch { return false; }
  });
  if (!good) {
    throw new UserError('Die Signatur des Update-Index ist ungültig: die Update-Daten stammen nicht vom Hersteller oder wurden verändert. Es wurde nichts installiert.', {
      code: 'update.bad-signature',
      hint: 'Bitte den Support verständigen; die hinterlegten Schlüssel und die Update-Adresse prüfen lassen.',
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(indexBytes).toString('utf8'));
  } catch {
    throw new UserError('Der Update-Index ist beschädigt (kein gültiges JSON).', { code: 'update.index-invalid', hint: 'Bitte den Support verständigen.' });
  }
  if (!validateIndex(parsed)) {
    const why = (validateIndex.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new UserError(`Der Update-Index hat ein unbekanntes Format (${why}).`, { code: 'update.index-invalid', hint: 'Bitte den Support verständigen.' });
  }
  const index = parsed as unknown as ReleaseIndex;
  const now = options.now ?? new Date();
  const expires = Date.parse(index.expires);
  if (!Number.isFinite(expires) || expires <= now.getTime()) {
    throw new UserError(`Der Update-Index ist abgelaufen (gültig bis ${formatDate(index.expires)}). Veraltete Update-Daten werden nicht verwendet.`, {
      code: 'update.index-expired',
      hint: 'Bitte später erneut versuchen oder den Support verständigen; ist die Uhrzeit des Servers richtig eingestellt?',
    });
  }
  const sha = sha256Hex(indexBytes);
  const last = options.lastSeen;
  if (last && (index.sequence < last.sequence || (index.sequence === last.sequence && sha !== last.sha256))) {
    throw new UserError(`Der Update-Server liefert einen älteren Update-Index (Nr. ${index.sequence}) als bereits gesehen (Nr. ${last.sequence}). Das wird aus Sicherheitsgründen abgelehnt.`, {
      code: 'update.index-rollback',
      hint: 'Bitte den Support verständigen: möglicherweise wird ein veralteter oder manipulierter Update-Server verwendet.',
    });
  }
  return { index, seen: { sequence: index.sequence, issuedAt: index.issuedAt, sha256: sha } };
}

/** The releases of `component` an installation on `channel` may install: newer than `installed`, newest first. */
export function newerReleases(index: ReleaseIndex, installed: string, channel: Channel, component: 'kassenwart' | 'kasse' = 'kassenwart'): ReleaseEntry[] {
  return index.releases
    .filter((r) => componentOf(r) === component)
    .filter((r) => semver.valid(r.version) && (channel === 'beta' || r.channel === 'stable'))
    .filter((r) => semver.gt(r.version, installed))
    .sort((a, b) => semver.rcompare(a.version, b.version));
}

/** A German date (and time) for messages: 29.11.2026 oder 29.11.2026, 07:00. */
export function formatDate(iso: string, withTime = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return withTime
    ? d.toLocaleString('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' });
}

/** Built-in German names of change-note keys, for feeds that carry no `labels`. */
const KNOWN_LABELS: Record<string, string> = {
  kassenwart: 'Kassenwart', kasse: 'Kassensoftware', backup: 'Datensicherung', usb: 'USB-Stick', update: 'Updates',
  'remote-support': 'Fernwartung', cloud: 'Cloud-Kasse',
};

/**
 * Change notes as German lines labelled with display names, host (or register) first, then the rest
 * alphabetically: "Kassenwart: …", "Datensicherung: …". Unknown keys keep their id.
 */
export function changeLines(changes: Record<string, string[]>, labels: Record<string, string> = {}): string[] {
  const first = (k: string) => k === 'kassenwart' || k === 'kasse';
  const keys = Object.keys(changes).sort((a, b) => (first(a) ? -1 : first(b) ? 1 : a.localeCompare(b)));
  const label = (k: string) => labels[k] ?? KNOWN_LABELS[k] ?? k;
  return keys.flatMap((k) => changes[k].map((line) => {
    // A note written as "backup: …" that landed under Kassenwart (a release built from a tree without that
    // plugin's folder, or an older feed) still names the component by its display name, never by its id.
    const m = /^([a-z][a-z0-9-]*):\s+(.+)$/.exec(line);
    if (m && m[1] !== k && (labels[m[1]] ?? KNOWN_LABELS[m[1]])) return `${label(m[1])}: ${m[2]}`;
    return `${label(k)}: ${line}`;
  }));
}
