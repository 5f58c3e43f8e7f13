/**
 * `kassenwart cloud list|fetch` for the vendor: list one salon's copies, or fetch one (default: the newest)
 * onto this machine — encrypted as it is stored, or decrypted to the backup .gz with an identity file or
 * an identity on standard input (never on the command line). `--prefix` picks another salon's folder in the
 * same bucket. Exit codes as the host's: 0 ok, 1 failed, 2 usage, 3 not found.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError, formatMegabytes, germanArgsError, type CommandIO } from 'kassenwart/sdk';
import { createClient } from './s3.js';
import { listCopies } from './store.js';
import { decrypterFor, fetchCopy } from './restore.js';
import { backupNameOf, COPY_NAME } from './names.js';
import { translateS3Error } from './errors.js';
import type { CloudService } from './service.js';

const USAGE = `kassenwart cloud list [--prefix SALON] [--json]
kassenwart cloud fetch [NAME] [--prefix SALON] [--out DATEI] [--identity-file DATEI | --identity-stdin] [--json]`;

const mb = formatMegabytes;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs the command; returns the exit code. */
export async function cloudCommand(args: string[], io: CommandIO, service: CloudService): Promise<number> {
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') { io.stdout.write(`${USAGE}\n`); return 0; }
  let parsed;
  try {
    parsed = parseArgs({
      args, allowPositionals: true,
      options: { prefix: { type: 'string' }, out: { type: 'string' }, 'identity-file': { type: 'string' }, 'identity-stdin': { type: 'boolean' }, json: { type: 'boolean' } },
    });
  } catch (e) {
    io.stderr.write(`Falscher Aufruf: ${germanArgsError(e)}\n${USAGE}\n`);
    return 2;
  }
  const [sub, nameArg] = parsed.positionals;
  const v = parsed.values;
  if (sub !== 'list' && sub !== 'fetch') {
    io.stderr.write(`Falscher Aufruf: ${sub ? `unbekannter Unterbefehl „${sub}“` : 'Unterbefehl fehlt'}.\n${USAGE}\n`);
    return 2;
  }
  const s = { ...service.settings, ...(v.prefix ? { prefix: v.prefix.replace(/^\/+|\/+$/g, '') } : {}) };
  const problem = service.setupProblem(s);
  if (problem?.kind === 'skipped' && !(s.endpoint && s.bucket && s.accessKeyId && s.secretAccessKey)) {
    io.stderr.write(`${problem.reason}\nBitte zuerst einrichten: kassenwart settings set cloud endpoint … (siehe docs/cloud.md).\n`);
    return 1;
  }
  const client = createClient(s);
  try {
    const copies = await listCopies(client, s).catch((e) => { throw translateS3Error(e, s); });
    if (sub === 'list') {
      if (v.json) io.stdout.write(JSON.stringify(copies) + '\n');
      else if (!copies.length) io.stdout.write(`Keine Kopien unter ${s.bucket}/${s.prefix}/.\n`);
      else io.stdout.write(copies.map((c) => `${c.createdAt}  ${mb(c.size).padStart(9)} MB  ${c.name}`).join('\n') + '\n');
      return 0;
    }
    const name = nameArg ?? copies[0]?.name;
    if (!name) throw new UserError(`Keine Kopien unter ${s.bucket}/${s.prefix}/.`, { code: 'cloud.no-copy', status: 404 });
    if (!COPY_NAME.test(name) || !copies.some((c) => c.name === name)) throw new UserError(`Die Kopie ${name} gibt es unter ${s.bucket}/${s.prefix}/ nicht.`, { code: 'cloud.no-copy', status: 404 });
    let identity: string | undefined;
    if (v['identity-file']) identity = await readFile(v['identity-file'], 'utf8');
    else if (v['identity-stdin']) identity = await readStdin();
    const decrypter = identity !== undefined ? decrypterFor(identity) : undefined;
    const dest = resolve(v.out ?? (decrypter ? backupNameOf(name) : name));
    let last = 0;
    const r = await fetchCopy({
      client, settings: s, name, dest, decrypter,
      progress: (done, total) => {
        if (done - last < 8e6 && done !== total) return;
        last = done;
        io.stderr.write(`\r${mb(done)} von ${mb(total)} MB heruntergeladen …`);
      },
    });
    io.stderr.write('\n');
    if (v.json) io.stdout.write(JSON.stringify({ name, path: r.path, bytes: r.bytes, decrypted: !!decrypter }) + '\n');
    else io.stdout.write(`${decrypter ? 'Entschlüsselt und geprüft' : 'Verschlüsselt heruntergeladen'}: ${r.path} (${mb(r.bytes)} MB)\n`);
    return 0;
  } catch (e) {
    const err = e instanceof UserError || (e as UserError)?.name === 'UserError' ? e as UserError : translateS3Error(e, s);
    io.stderr.write(`${err.message}${err.hint ? '\n' + err.hint : ''}\n`);
    return err.status === 404 ? 3 : 1;
  } finally {
    client.destroy();
  }
}
