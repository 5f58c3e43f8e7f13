import { parseArgs } from 'node:util';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { isUserError } from 'kassenwart/sdk';
import { Kernel } from './kernel.js';
import { serve } from './serve.js';
import { parseProxySetting } from './http/proxy.js';
import { runSupervisor } from './supervisor.js';
import { HOST_VERSION } from './version.js';
import { LocalClient } from './http/local.js';
import { EXIT, JOB_STATE_NAMES, ROLE_NAMES, UsageError, exitFor, germanArgsError, parseRole, progressBar, reportJob } from './cli-common.js';
import { disableViaServer, enableViaServer, listPlugins, pluginLines, runActionViaServer } from './cli-server.js';
import { auditEventName } from './audit-labels.js';

export { EXIT, progressBar };

const HELP = `Kassenwart ${HOST_VERSION} — Wartung des Kassenservers

Aufruf: kassenwart <Befehl> [Optionen]

  start [--data DIR] [--port N] [--bind ADDR] [--plugins DIR]…   Server starten (mit Neustart nach Updates)
        [--proxy ADDR[,ADDR]]                                     Adresse(n) des TLS-Proxys davor (X-Forwarded-*)
  serve  …                                                        wie start, ohne Überwachung
  plugins list [--json]                                           Plugins mit Zustand (des laufenden Servers)
  plugins enable ID | disable ID [--cascade]                      pro Installation ein-/ausschalten
  plugins add-folder DIR | remove-folder DIR                      Ordner mit Plugins von Drittanbietern
  settings get PLUGIN [KEY] [--json]                              Einstellungen lesen (Geheimnisse nie)
  settings set PLUGIN KEY WERT | --json-values '{…}'              Einstellungen ändern (geprüft)
  settings set PLUGIN KEY --value-stdin                           Wert (z. B. Passwort) von der Standardeingabe
  settings set PLUGIN --json-stdin                                JSON-Objekt (auch mit Geheimnissen) von der Standardeingabe
  action run ID [--param k=v]… [--json]                           Aktion ausführen (im laufenden Server), mit Fortschrittsbalken
  jobs list [--limit N] [--json]                                  Verlauf der Vorgänge
  users add NAME --role bediener|techniker [--password-stdin]     Benutzer anlegen (auch operator|technician)
  users passwd NAME [--password-stdin] | remove NAME | list [--json]
  audit [--limit N] [--json]                                      Protokoll
  <plugin-befehl> …                                               Befehle der Plugins (z. B. release)
  help | --help                                                   diese Hilfe (auch nach jedem Befehl)

Gemeinsame Optionen: --data DIR (Vorgabe ./data), --json (maschinenlesbar)
Exit-Codes: 0 ok, 1 fehlgeschlagen, 2 falscher Aufruf, 3 nicht gefunden, 4 läuft bereits, 5 ungültige Eingabe,
            6 mit Warnung beendet (lief, aber nicht alles hat geklappt)
Läuft ein Server für den Datenordner, führen „plugins list|enable|disable“ und „action run“ ihn aus (lokaler
Steuerkanal <Datenordner>/kassenwart.sock); sonst arbeitet der Befehl selbst auf dem Datenordner.
`;

const HOST_COMMANDS = new Set(['start', 'serve', 'plugins', 'settings', 'action', 'jobs', 'users', 'audit']);

/** For plugin commands the host only reads --data (and --json); the plugin parses the rest itself. */
function pluginArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data' && i + 1 < args.length) out.push('--data', args[++i]);
    else if (args[i].startsWith('--data=')) out.push(args[i]);
  }
  return out;
}

async function readSecret(prompt: string, fromStdin: boolean): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) { rl.close(); return line; }
    return '';
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void; output: NodeJS.WriteStream };
  let muted = false;
  out._writeToOutput = (s: string) => { if (!muted || s.includes(prompt)) process.stderr.write(muted ? prompt : s); };
  const answer = await new Promise<string>((resolve) => { rl.question(prompt, resolve); muted = true; });
  rl.close();
  process.stderr.write('\n');
  return answer;
}

async function readAll(): Promise<string> {
  let text = '';
  process.stdin.setEncoding('utf8');
  for await (const chunk of process.stdin) text += chunk;
  return text;
}

function withoutData(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--data') i++;
    else if (!args[i].startsWith('--data=')) out.push(args[i]);
  }
  return out;
}

function parseValue(raw: string): unknown {
  try { return JSON.parse(raw); } catch { return raw; }
}

/** `--param k=v` options as an object (values parsed as JSON where they are JSON). */
function actionParams(raw: string[] | undefined): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  for (const p of raw ?? []) {
    const i = p.indexOf('=');
    if (i < 1) throw new UsageError(`--param erwartet name=wert, nicht „${p}“.`);
    params[p.slice(0, i)] = parseValue(p.slice(i + 1));
  }
  return params;
}

/** Runs the CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { process.stdout.write(HELP); return cmd ? EXIT.ok : EXIT.usage; }
  if (cmd === '--version' || cmd === 'version') { process.stdout.write(HOST_VERSION + '\n'); return EXIT.ok; }
  // "kassenwart users add --help": the help, not an "unknown option" error (plugin commands answer --help themselves).
  if (HOST_COMMANDS.has(cmd)) {
    const end = rest.indexOf('--');
    const opts = end < 0 ? rest : rest.slice(0, end);
    if (opts.includes('--help') || opts.includes('-h')) { process.stdout.write(HELP); return EXIT.ok; }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: HOST_COMMANDS.has(cmd) ? rest : pluginArgs(rest), allowPositionals: true, strict: true,
      options: {
        data: { type: 'string', default: process.env.KASSENWART_DATA ?? './data' },
        port: { type: 'string', default: process.env.KASSENWART_PORT ?? '8080' },
        bind: { type: 'string', default: '127.0.0.1' },
        proxy: { type: 'string' },
        plugins: { type: 'string', multiple: true },
        json: { type: 'boolean', default: false },
        cascade: { type: 'boolean', default: false },
        role: { type: 'string' },
        'password-stdin': { type: 'boolean', default: false },
        'json-values': { type: 'string' },
        'value-stdin': { type: 'boolean', default: false },
        'json-stdin': { type: 'boolean', default: false },
        param: { type: 'string', multiple: true },
        limit: { type: 'string' },
      },
    });
  } catch (e) {
    process.stderr.write(`Falscher Aufruf: ${germanArgsError(e)}\n\n${HELP}`);
    return EXIT.usage;
  }
  const { values: v, positionals: pos } = parsed;
  const json = !!v.json;
  const out = (data: unknown, text: string) => process.stdout.write(json ? JSON.stringify(data, null, 2) + '\n' : text + (text.endsWith('\n') ? '' : '\n'));

  if (cmd === 'start' || cmd === 'serve') {
    const port = Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) { process.stderr.write(`Ungültiger Port „${v.port}“.\n`); return EXIT.usage; }
    const o = { dataDir: v.data!, port, bind: v.bind!, pluginDirs: v.plugins, proxy: v.proxy };
    if (v.proxy !== undefined) {
      try { parseProxySetting(v.proxy); } catch (e) { process.stderr.write(`Falscher Aufruf: ${(e as Error).message}\n`); return EXIT.usage; }
      process.env.KASSENWART_PROXY = v.proxy; // the server that `start` runs inherits it
    }
    if (cmd === 'start') return runSupervisor(o);
    try {
      await serve(o);
      return -1; // keep running
    } catch (e) {
      process.stderr.write(`Kassenwart konnte nicht starten: ${(e as Error).message}${isUserError(e) && e.hint ? '\n' + e.hint : ''}\n`);
      return isUserError(e) && e.status === 409 ? EXIT.busy : EXIT.failed;
    }
  }

  // A person reads what a command prints: the plugins' English info lines ("plugin backup active") are for the
  // server's journal, not for the terminal. Warnings and errors still show; KASSENWART_LOG=info brings them back.
  process.env.KASSENWART_LOG ??= 'warn';

  let k: Kernel | undefined;
  try {
    // When a server runs for this data folder, it carries out what it must know about (see cli-server.ts).
    const [sub0] = pos;
    if ((cmd === 'plugins' && ['list', 'enable', 'disable', undefined].includes(sub0)) || cmd === 'action') {
      const client = await LocalClient.connect(resolve(v.data!));
      if (client) {
        if (cmd === 'action') {
          const [sub, id] = pos;
          if (sub !== 'run' || !id) throw new UsageError('action run ID');
          return await runActionViaServer(client, id, actionParams(v.param), json, async (jobId) => {
            const hk = await Kernel.open({ dataDir: v.data! });
            try { return await hk.jobs.get(jobId); } finally { await hk.close().catch(() => {}); }
          });
        }
        const id = pos[1];
        if (sub0 === 'list' || !sub0) { const list = await listPlugins(client); out(list, pluginLines(list)); return EXIT.ok; }
        if (!id) throw new UsageError(`plugins ${sub0} braucht eine Plugin-ID.`);
        return sub0 === 'enable' ? await enableViaServer(client, id, json) : await disableViaServer(client, id, !!v.cascade, json);
      }
    }
    k = await Kernel.open({ dataDir: v.data! });
    switch (cmd) {
      case 'plugins': {
        const [sub, id] = pos;
        if (sub === 'list' || !sub) {
          const list = k.pluginList();
          out(list, pluginLines(list));
          process.stderr.write('Hinweis: Für diesen Datenordner läuft kein Server. Gezeigt wird die Konfiguration (eingeschaltet, ausgeschaltet, fehlerhaft); ' +
            '„bereit“ heißt hier nur „eingeschaltet“ – ob ein Plugin läuft, zeigt der laufende Server.\n');
          return EXIT.ok;
        }
        if (!id) throw new UsageError(`plugins ${sub} braucht eine Plugin-ID oder einen Ordner.`);
        if (sub === 'enable') {
          const r = await k.enablePlugin(id, 'cli');
          out({ enabled: r, server: false }, r.length
            ? `Aktiviert: ${r.join(', ')} (es läuft kein Server; der Server lädt es beim nächsten Start)`
            : `${id} war schon aktiviert.`);
          return EXIT.ok;
        }
        if (sub === 'disable') { const r = await k.disablePlugin(id, !!v.cascade, 'cli'); out({ disabled: r, server: false }, `Deaktiviert: ${r.join(', ')}`); return EXIT.ok; }
        if (sub === 'add-folder') {
          const dirs = await k.plugins.addFolder(id);
          await k.plugins.load();
          const found = dirs.map((dir) => k!.plugins.list().find((r) => r.dir === dir)).filter((r) => r !== undefined);
          await k.audit.add('cli', 'plugin.add-folder', id, { found: found.map((r) => r.id) });
          const lines = found.map((r) => `  ${r.id}${r.manifest ? ` ${r.manifest.version} „${r.manifest.displayName}“` : ''} (${r.dir})` +
            (r.manifestErrors.length ? `\n    FEHLERHAFT: ${r.manifestErrors.join('\n    FEHLERHAFT: ')}` : ''));
          const broken = found.filter((r) => r.manifestErrors.length);
          out({ found: found.map((r) => ({ id: r.id, dir: r.dir, version: r.manifest?.version, errors: r.manifestErrors })) },
            `Plugin-Ordner hinzugefügt. Gefunden:\n${lines.join('\n')}\n` +
            (broken.length < found.length ? `Mit „kassenwart plugins enable ID“ aktivieren.` : '') +
            (broken.length ? `${broken.length < found.length ? '\n' : ''}${broken.length} Plugin(s) fehlerhaft: erst reparieren, dann aktivieren.` : ''));
          return EXIT.ok; // the folder is added either way; the errors are printed
        }
        if (sub === 'remove-folder') { await k.plugins.removeFolder(id); await k.audit.add('cli', 'plugin.remove-folder', id, {}); out({ ok: true }, 'Plugin-Ordner entfernt.'); return EXIT.ok; }
        throw new UsageError(`Unbekannter Unterbefehl „plugins ${sub}“.`);
      }
      case 'settings': {
        const [sub, plugin, key, value] = pos;
        if (!plugin) throw new UsageError('settings get|set braucht eine Plugin-ID.');
        if (sub === 'get') {
          const view = await k.settingsOf(plugin);
          if (key) {
            if (key in view.secrets) { out({ [key]: view.secrets[key] ? 'gesetzt' : 'nicht gesetzt' }, view.secrets[key] ? 'gesetzt' : 'nicht gesetzt'); return EXIT.ok; }
            if (!(key in view.schema.properties)) throw Object.assign(new UsageError(`Die Einstellung „${key}“ gibt es nicht.`));
            out({ [key]: view.values[key] }, typeof view.values[key] === 'string' ? String(view.values[key]) : JSON.stringify(view.values[key]));
            return EXIT.ok;
          }
          const lines = Object.entries(view.schema.properties).map(([kk, s]) =>
            `${(s['x-code'] ?? '').padEnd(5)} ${kk.padEnd(20)} ${kk in view.secrets ? (view.secrets[kk] ? '(gesetzt)' : '(nicht gesetzt)') : JSON.stringify(view.values[kk])}  ${s.title ?? ''}`);
          out({ values: view.values, secrets: view.secrets }, lines.join('\n'));
          return EXIT.ok;
        }
        if (sub === 'set') {
          let patch: Record<string, unknown>;
          const props = k.settings.schema(plugin)?.properties ?? {};
          const secretHint = (keys: string[]) => new UsageError(
            `Geheimnisse nie auf der Befehlszeile (Shell-Verlauf, Prozessliste): ${keys.map((x) => `„${props[x]?.title ?? x}“ (${x})`).join(', ')}. ` +
            `Stattdessen: echo WERT | kassenwart settings set ${plugin} ${keys[0]} --value-stdin (oder das JSON-Objekt mit --json-stdin über die Standardeingabe).`);
          if (v['json-values'] || v['json-stdin']) {
            const p = parseValue(v['json-stdin'] ? await readAll() : v['json-values']!);
            if (!p || typeof p !== 'object' || Array.isArray(p)) throw new UsageError(`${v['json-stdin'] ? '--json-stdin' : '--json-values'} erwartet ein JSON-Objekt.`);
            patch = p as Record<string, unknown>;
            const secrets = Object.keys(patch).filter((x) => props[x]?.format === 'password' && patch[x] !== null);
            if (!v['json-stdin'] && secrets.length) throw secretHint(secrets);
          } else {
            if (!key) throw new UsageError('settings set PLUGIN KEY WERT');
            const schema = props[key];
            // secrets never on the command line (shell history, process list): only from standard input
            if (value !== undefined && schema?.format === 'password') throw secretHint([key]);
            let raw = value;
            if (raw === undefined && (v['value-stdin'] || schema?.format === 'password')) raw = await readSecret(`${schema?.title ?? key}: `, !!v['value-stdin']);
            if (raw === undefined) throw new UsageError('settings set PLUGIN KEY WERT (oder --value-stdin)');
            patch = { [key]: schema?.type === 'string' || schema?.format === 'password' ? raw : parseValue(raw) };
          }
          await k.setSettings(plugin, patch, 'cli');
          out({ ok: true }, 'Gespeichert.');
          return EXIT.ok;
        }
        throw new UsageError(`Unbekannter Unterbefehl „settings ${sub}“.`);
      }
      case 'action': {
        const [sub, id] = pos;
        if (sub !== 'run' || !id) throw new UsageError('action run ID');
        const params = actionParams(v.param);
        await k.plugins.activateStartup();
        const bar = progressBar();
        const job = await k.jobs.start(id, { user: 'cli', trigger: 'cli', params });
        const live = k.jobs.follow(job.id);
        live?.events.on('progress', (p: { percent?: number; message?: string }) => { if (!json) bar.update(p.percent, p.message); });
        const onSig = () => k!.jobs.cancel(job.id);
        process.once('SIGINT', onSig);
        const final = await k.jobs.wait(job.id);
        process.off('SIGINT', onSig);
        bar.done();
        return reportJob(final, json);
      }
      case 'jobs': {
        const list = await k.jobs.history(Number(v.limit ?? 20) || 20);
        out(list, list.map((j) => `${j.startedAt}  ${(JOB_STATE_NAMES[j.state] ?? j.state).padEnd(14)} ${j.title} (${j.user}) ${j.result?.message ?? j.error?.message ?? ''}`).join('\n'));
        return EXIT.ok;
      }
      case 'users': {
        const [sub, name] = pos;
        if (sub === 'list' || !sub) {
          const list = await k.users.list();
          out(list, list.map((u) => `${u.name.padEnd(20)} ${ROLE_NAMES[u.role] ?? u.role}`).join('\n') || '(keine Benutzer)');
          return EXIT.ok;
        }
        if (!name) throw new UsageError(`users ${sub} braucht einen Namen.`);
        if (sub === 'add') {
          const role = parseRole(v.role);
          if (!role) throw new UsageError(`Die Rolle „${v.role}“ gibt es nicht: --role bediener (operator) oder --role techniker (technician).`);
          const pw = await readSecret('Passwort: ', !!v['password-stdin']);
          if (!v['password-stdin'] && process.stdin.isTTY && (await readSecret('Passwort wiederholen: ', false)) !== pw) {
            throw new UsageError('Die Passwörter stimmen nicht überein.');
          }
          await k.users.add(name, role, pw, 'cli');
          out({ ok: true }, `Benutzer „${name}“ (${ROLE_NAMES[role]}) angelegt.`);
          return EXIT.ok;
        }
        if (sub === 'passwd') {
          const pw = await readSecret('Neues Passwort: ', !!v['password-stdin']);
          await k.users.setPassword(name, pw, 'cli');
          out({ ok: true }, 'Passwort geändert; alle Sitzungen dieses Benutzers sind beendet.');
          return EXIT.ok;
        }
        if (sub === 'remove') { await k.users.remove(name, 'cli'); out({ ok: true }, `Benutzer „${name}“ entfernt.`); return EXIT.ok; }
        throw new UsageError(`Unbekannter Unterbefehl „users ${sub}“.`);
      }
      case 'audit': {
        const list = await k.audit.list(Number(v.limit ?? 50) || 50);
        const names = k.plugins.list().map((r) => r.manifest);
        const event = (e: string) => { const n = auditEventName(e, names); return n ? `${n} (${e})` : e; };
        out(list, list.map((a) => `${a.at}  ${String(a.user).padEnd(12)} ${event(a.event).padEnd(36)} ${a.target ?? ''} ${JSON.stringify(a.details)}`).join('\n'));
        return EXIT.ok;
      }
      default: {
        const owner = k.plugins.commandOwner(cmd);
        if (!owner) throw new UsageError(`Unbekannter Befehl „${cmd}“. „kassenwart --help“ zeigt alle Befehle.`);
        await k.plugins.fire(`onCommand:${cmd}`);
        await k.plugins.activate(owner.id);
        const handler = k.plugins.get(owner.id)?.commands.get(cmd);
        if (!handler) throw new Error(`Das Plugin „${owner.id}“ hat den Befehl „${cmd}“ nicht bereitgestellt.`);
        return await handler(withoutData(rest), { stdout: process.stdout, stderr: process.stderr });
      }
    }
  } catch (e) {
    const code = exitFor(e);
    if (e instanceof UsageError) process.stderr.write(`Falscher Aufruf: ${e.message}\n`);
    else if (isUserError(e)) process.stderr.write(`${e.message}${e.hint ? '\n' + e.hint : ''}\n`);
    else process.stderr.write(`Fehler: ${(e as Error)?.message ?? e}\n`);
    if (json) process.stdout.write(JSON.stringify({ error: { message: (e as Error).message, code: isUserError(e) ? e.code : 'error' } }) + '\n');
    return code;
  } finally {
    await k?.close().catch(() => {});
  }
}
