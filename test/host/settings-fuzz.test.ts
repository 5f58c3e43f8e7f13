/**
 * Part of the standing adversarial suite (issue 11): settings bodies fuzzed from the built-in plugins' own schemas,
 * sent over HTTP to a real host. For every setting: wrong types, values just past each bound, over-long text,
 * control characters, lone surrogates, and random strings from a hostile alphabet (seeded: KW_FUZZ_SEED).
 * The oracle: never a 500; what the schema refuses is refused (400, the field named, German, nothing stored);
 * what is accepted is stored exactly as sent; a lone surrogate is never stored.
 */
import { expect } from 'chai';
import { startTestHost, type TestHost } from 'kassenwart/sdk/testing';
import { createAjv } from '#host/plugins/ajv.js';
import { rawLogin, rawRequest, type RawSession } from './raw-http.js';

const SEED = Number(process.env.KW_FUZZ_SEED ?? 20261201);

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = ['a', 'Z', '0', '9', '/', '.', '..', '../', '\\', '%', '%2F', '%00', '\n', '\r\n', '\t', '\u0000', '\u001f', '\u007f', ' ',
  'ä', 'ß', '€', '😀', '\ud800', '\udfff', '"', "'", '<script>', '{', '}', '$(id)', '`', ';', ':', '-', '_', '=', '+', ',', 'ftp://',
  'https://', '/media/', '/media/usb0', '/etc/', '/proc/self', '07:00', 'D', 'X', '-----BEGIN CERTIFICATE-----', 'AB:', 'ff', '\u202e'];

interface Prop { type?: string; enum?: unknown[]; minimum?: number; maximum?: number; maxLength?: number; minLength?: number; pattern?: string; format?: string; default?: unknown }

/** Values aimed at the edges of one setting's schema. */
function edgeValues(p: Prop, rnd: () => number): unknown[] {
  const out: unknown[] = [42, -1, true, [], {}, [1, 2], { a: 1 }, '', 'x'.repeat(200_000)];
  if (p.type === 'integer' || p.type === 'number') {
    out.push('5', 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2);
    if (p.minimum !== undefined) out.push(p.minimum - 1, p.minimum);
    if (p.maximum !== undefined) out.push(p.maximum + 1, p.maximum);
  }
  if (p.type === 'boolean') out.push('true', 1, 0, 'ja');
  if (p.type === 'string') {
    const base = typeof p.default === 'string' ? p.default : '';
    out.push(base + '\n', '\n' + base, base + '\r\nQUIT', base + '\u0000', base + '\ud800', '\udc00' + base, base + '\ud83d');
    if (p.maxLength !== undefined) out.push('a'.repeat(p.maxLength + 1), 'a'.repeat(p.maxLength));
    if (p.enum) out.push(...p.enum.map((e) => String(e).toLowerCase() + 'q'), ...p.enum.map((e) => ` ${String(e)}`));
    for (let i = 0; i < 10; i++) {
      let s = '';
      const n = Math.floor(rnd() * 12);
      for (let j = 0; j < n; j++) s += HOSTILE[Math.floor(rnd() * HOSTILE.length)];
      out.push(rnd() < 0.3 ? base + s : s);
    }
  }
  return out;
}

const german = (m: string) => /nicht gespeichert/.test(m) && !/\b(must|should|Internal|undefined)\b/.test(m);
const LONE = /\p{Cs}/u;

describe(`adversarial: settings bodies fuzzed from the plugins' schemas (seed ${SEED})`, function () {
  let host: TestHost;
  let tech: RawSession;
  const headers = async () => tech.headers();
  before(async function () {
    const user = { name: 'fuzzer', password: 'Fuzz-Passwort-' + SEED };
    host = await startTestHost({ user });
    tech = await rawLogin(host.url, user.name, user.password);
  });
  after(async function () {
    await host?.stop();
  });

  it('never answers 500, refuses what the schema refuses naming the field, stores exactly what it accepts', async function () {
    const rnd = prng(SEED);
    const ajv = createAjv();
    const all = (await host.api('GET', '/api/settings')).body as { plugin: string; schema: { properties: Record<string, Prop> } }[];
    expect(all.map((s) => s.plugin)).to.include.members(['backup', 'usb', 'update', 'remote-support']);
    const wrong: string[] = [];
    let sent = 0;
    let accepted = 0;
    for (const { plugin, schema } of all) {
      for (const [key, prop] of Object.entries(schema.properties)) {
        const alone = ajv.compile({ type: 'object', properties: { [key]: prop } });
        const secret = prop.format === 'password';
        for (const value of edgeValues(prop, rnd)) {
          const before = (await host.api('GET', `/api/settings/${plugin}`)).body;
          const res = await rawRequest(host.url, 'PUT', `/api/settings/${plugin}`, await headers(), JSON.stringify({ [key]: value }));
          sent++;
          const label = `${plugin}.${key} = ${JSON.stringify(value)?.slice(0, 80)} → ${res.status} ${res.text.slice(0, 160)}`;
          const schemaOk = alone({ [key]: value });
          const mustRefuse = !schemaOk || (typeof value === 'string' && LONE.test(value));
          if (![200, 400].includes(res.status)) { wrong.push(label); continue; }
          if (res.status === 400) {
            const details = (res.json?.error?.details ?? []) as { path: string }[];
            if (!details.some((d) => d.path === `/${key}`) || !german(res.json?.error?.message ?? '')) wrong.push(`unclear refusal: ${label}`);
            const after = (await host.api('GET', `/api/settings/${plugin}`)).body;
            if (JSON.stringify(after.values) !== JSON.stringify(before.values) || JSON.stringify(after.secrets) !== JSON.stringify(before.secrets)) {
              wrong.push(`refused but changed: ${label}`);
            }
            continue;
          }
          accepted++;
          if (mustRefuse) wrong.push(`accepted: ${label}`);
          const after = (await host.api('GET', `/api/settings/${plugin}`)).body;
          if (secret ? after.secrets[key] !== (value !== '') : JSON.stringify(after.values[key]) !== JSON.stringify(value)) {
            wrong.push(`stored differently: ${label} (now ${JSON.stringify(secret ? after.secrets[key] : after.values[key])?.slice(0, 80)})`);
          }
          const reset = await host.api('PUT', `/api/settings/${plugin}`, { [key]: null });
          if (reset.status !== 200) wrong.push(`reset failed: ${plugin}.${key} → ${reset.status}`);
        }
      }
    }
    expect(wrong, `${wrong.length} of ${sent} (seed ${SEED}):\n${wrong.join('\n')}`).to.deep.equal([]);
    expect(sent).to.be.greaterThan(500);
    expect(accepted).to.be.greaterThan(10);
  });

  it('mangled JSON texts of a valid body: never 500, nothing stored unless the result is a valid object', async function () {
    const rnd = prng(SEED + 1);
    const body = JSON.stringify({ mode: 'X', path: '/media/usb0', keep: 5 });
    const before = (await host.api('GET', '/api/settings/usb')).body;
    const wrong: string[] = [];
    for (let i = 0; i < 150; i++) {
      const bytes = Buffer.from(body);
      const kind = i % 3;
      let mangled: Buffer;
      if (kind === 0) mangled = bytes.subarray(0, Math.floor(rnd() * bytes.length));
      else if (kind === 1) { mangled = Buffer.from(bytes); mangled[Math.floor(rnd() * mangled.length)] = Math.floor(rnd() * 256); }
      else {
        const at = Math.floor(rnd() * bytes.length);
        const odd = [[0xc3, 0x28], [0xff], [0xfe, 0xff], [0xef, 0xbb, 0xbf], [0xed, 0xa0, 0x80], [0x00], [0x5c], [0x22]][Math.floor(rnd() * 8)];
        mangled = Buffer.concat([bytes.subarray(0, at), Buffer.from(odd), bytes.subarray(at)]);
      }
      const res = await rawRequest(host.url, 'PUT', '/api/settings/usb', await headers(), mangled);
      if (![200, 400].includes(res.status)) wrong.push(`${JSON.stringify(mangled.toString('latin1'))} → ${res.status} ${res.text.slice(0, 120)}`);
      if (res.status === 400 && !res.json?.error?.message) wrong.push(`no German message: ${res.text.slice(0, 120)}`);
      if (res.status === 200) await host.api('PUT', '/api/settings/usb', { mode: null, path: null, keep: null });
    }
    expect(wrong, wrong.join('\n')).to.deep.equal([]);
    await host.api('PUT', '/api/settings/usb', { mode: before.values.mode, path: before.values.path, keep: before.values.keep });
  });

});
