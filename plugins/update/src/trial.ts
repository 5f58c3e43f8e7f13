/**
 * Trial start of a new release before switching: runs `<release>/bin/kassenwart.js serve` on 127.0.0.1 with a
 * throw-away data folder, waits for the URL it prints, and checks GET /api/health reports the new version.
 * A release that cannot even start is refused while the running version is still untouched.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from 'kassenwart/sdk';

/** Polls GET <url>/api/health until it answers ok with `version`, or the time is up. Returns why not. */
export async function waitHealthy(url: string, version: string, timeoutMs: number, signal?: AbortSignal): Promise<string | null> {
  const end = Date.now() + timeoutMs;
  let why = 'keine Antwort';
  while (Date.now() < end && !signal?.aborted) {
    try {
      const res = await fetch(url + '/api/health', { signal: AbortSignal.timeout(5000) });
      const body = (await res.json().catch(() => ({}))) as { ok?: boolean; version?: string };
      if (res.status === 200 && body.ok === true && body.version === version) return null;
      why = res.status !== 200 ? `HTTP ${res.status}` : body.version !== version ? `meldet Version ${body.version ?? '?'} statt ${version}` : 'meldet Fehler';
    } catch (e) {
      why = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return why;
}

/** Starts the release in trial mode and health-checks it; throws a German UserError when it fails. */
export async function trialStart(releaseDir: string, version: string, scratchParent: string, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
  const scratch = await mkdtemp(join(scratchParent, '.tmp-trial-'));
  const child = spawn(process.execPath, [join(releaseDir, 'bin', 'kassenwart.js'), 'serve', '--data', scratch, '--port', '0', '--bind', '127.0.0.1'], {
    cwd: releaseDir,
    env: { ...process.env, KASSENWART_TRIAL: '1', KASSENWART_SUPERVISED: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const timeoutMs = options.timeoutMs ?? 120_000;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('keine Startmeldung')), timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString('utf8');
        const m = /http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) { clearTimeout(timer); resolve(`http://127.0.0.1:${m[1]}`); }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => { out += d.toString('utf8'); });
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`beendet mit Code ${code}`)); });
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    const why = await waitHealthy(url, version, timeoutMs, options.signal);
    if (why) throw new Error(why);
  } catch (e) {
    const last = out.trim().split('\n').filter(Boolean).slice(-1)[0];
    throw new UserError(`Die neue Version ${version} hat den Funktionstest nicht bestanden (${(e as Error).message}${last ? `; letzte Meldung: ${last.slice(0, 200)}` : ''}). Es wurde nichts umgestellt, die laufende Version bleibt aktiv.`, {
      code: 'update.trial-failed',
      hint: 'Bitte den Support verständigen.',
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    await rm(scratch, { recursive: true, force: true });
  }
}
