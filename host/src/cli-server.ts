/**
 * CLI commands carried out by the running server (over the local socket, see http/local.ts) when one runs
 * for the data folder: `plugins list|enable|disable` and `action run`. The server's plugins, states,
 * maintenance lock and job history are then the ones the CLI shows and uses — the CLI never disagrees with
 * the server it sits beside.
 */
import { UserError } from 'kassenwart/sdk';
import type { LocalClient, LocalResponse } from './http/local.js';
import type { JobView } from './jobs/runner.js';
import type { PluginView } from './kernel.js';
import { EXIT, PLUGIN_STATE_NAMES, progressBar, reportJob } from './cli-common.js';

/** Turns an error answer of the API back into the UserError the server threw (so exit codes match). */
function check<T>(r: LocalResponse<T>): T {
  if (r.status >= 200 && r.status < 300) return r.body;
  const e = (r.body as { error?: { code?: string; message?: string; hint?: string; details?: Record<string, unknown> | unknown[] } } | undefined)?.error;
  throw new UserError(e?.message ?? `Der Server hat mit HTTP ${r.status} geantwortet.`, {
    code: e?.code ?? 'server', status: r.status, hint: e?.hint, details: e?.details,
  });
}

/** One line per plugin, as `plugins list` prints it. */
export function pluginLines(list: PluginView[]): string {
  return list.map((p) => `${p.id.padEnd(18)} ${(p.version ?? '').padEnd(8)} ${(PLUGIN_STATE_NAMES[p.state] ?? p.state).padEnd(11)} ${p.displayName}${p.reasons.length ? ' — ' + p.reasons.join(' ') : ''}`).join('\n');
}

export async function listPlugins(client: LocalClient): Promise<PluginView[]> {
  return check(await client.api<PluginView[]>('GET', '/api/plugins'));
}

/**
 * Enables a plugin in the running server, which activates it at once when its activation event has already
 * happened. Returns the exit code: 1 when the plugin is switched on but failed to activate.
 */
export async function enableViaServer(client: LocalClient, id: string, json: boolean): Promise<number> {
  const r = check(await client.api<{ enabled: string[]; plugins: PluginView[] }>('POST', `/api/plugins/${encodeURIComponent(id)}/enable`));
  const p = r.plugins.find((x) => x.id === id);
  const broken = r.plugins.filter((x) => (x.id === id || r.enabled.includes(x.id)) && x.state === 'failed');
  if (json) process.stdout.write(JSON.stringify({ enabled: r.enabled, plugin: p, server: true }, null, 2) + '\n');
  if (broken.length) {
    if (!json) {
      for (const b of broken) process.stderr.write(`„${b.displayName}“ ist eingeschaltet, aber ausgefallen: ${b.reasons.join(' ')}\n`);
      process.stderr.write('Den Grund beheben, dann „kassenwart plugins disable ID“ und erneut „enable“ (oder den Server neu starten).\n');
    }
    return EXIT.failed;
  }
  if (!json) {
    const state = p?.state === 'active' ? 'läuft' : p?.state === 'inactive' ? 'bereit, startet bei Bedarf' : p?.state ?? '?';
    process.stdout.write(r.enabled.length ? `Aktiviert: ${r.enabled.join(', ')} (im laufenden Server: ${state})\n` : `${id} war schon aktiviert (im laufenden Server: ${state}).\n`);
  }
  return EXIT.ok;
}

export async function disableViaServer(client: LocalClient, id: string, cascade: boolean, json: boolean): Promise<number> {
  const r = check(await client.api<{ disabled: string[] }>('POST', `/api/plugins/${encodeURIComponent(id)}/disable`, { cascade }));
  process.stdout.write(json ? JSON.stringify({ disabled: r.disabled, server: true }, null, 2) + '\n' : `Deaktiviert: ${r.disabled.join(', ')} (im laufenden Server sofort wirksam)\n`);
  return EXIT.ok;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs an action as a job of the running server: the server's lock and history, progress from its
 * server-sent events, Ctrl-C cancels the job. When the connection breaks (e.g. the server restarts after an
 * update) the outcome is read from the server's history once it answers again.
 */
export async function runActionViaServer(client: LocalClient, id: string, params: Record<string, unknown>, json: boolean,
  fromHistory: (jobId: string) => Promise<JobView | undefined>): Promise<number> {
  const bar = progressBar();
  let jobId: string | undefined;
  let final: JobView | undefined;
  // Ctrl-C cancels the server's job; pressed before the start answer arrived, as soon as it does
  let cancelWanted = false;
  const cancel = () => { void client.api('POST', `/api/jobs/${jobId}/cancel`).catch(() => {}); };
  const onSig = () => { cancelWanted = true; if (jobId) cancel(); };
  process.on('SIGINT', onSig);
  const on = (event: string, data: unknown) => {
    if (event === 'started') { jobId = (data as { job: JobView }).job.id; if (cancelWanted) cancel(); }
    if (event === 'progress' && !json) bar.update((data as { percent?: number }).percent, (data as { message?: string }).message);
    if (event === 'done') final = data as JobView;
  };
  try {
    // the start's answer is the job's event stream (?follow=1): no progress message is lost in between
    let answer: LocalResponse | undefined;
    try {
      answer = await client.stream('POST', `/api/actions/${encodeURIComponent(id)}?follow=1`, { params }, on);
    } catch {
      if (!jobId) throw new UserError('Die Verbindung zum Server ist abgebrochen, bevor der Vorgang gestartet wurde.', { code: 'cli.server-lost' });
    }
    if (answer) {
      // not a stream: an error, or the job finished before it could be followed
      jobId = check(answer as LocalResponse<{ job: JobView }>).job.id;
      if (cancelWanted) cancel();
      await client.stream('GET', `/api/jobs/${jobId}/events`, undefined, on).catch(() => undefined);
    }
    // stream ended without the outcome (e.g. the server restarts after an update): ask the server again, or
    // read the data folder's history (the server stores the outcome before it publishes it), for up to a minute
    for (let i = 0; !final && jobId && i < 60; i++) {
      const r = await client.api<JobView>('GET', `/api/jobs/${jobId}`).catch(() => undefined);
      if (r?.status === 200 && r.body.state !== 'running') { final = r.body; break; }
      const stored = r?.status === 200 ? undefined : await fromHistory(jobId).catch(() => undefined);
      if (stored && stored.state !== 'running') { final = stored; break; }
      await sleep(1000);
    }
  } finally {
    process.off('SIGINT', onSig);
    bar.done();
  }
  if (!final) {
    process.stderr.write('Die Verbindung zum Server ist abgebrochen; der Ausgang des Vorgangs ist unbekannt. Bitte unter „Wartung → Verlauf“ oder mit „kassenwart jobs list“ nachsehen.\n');
    return EXIT.failed;
  }
  return reportJob(final, json);
}
