/**
 * The "Updatecheck" flow: fetch and verify the signed index, pick the newest allowed release, download it
 * (resumable), verify it, unpack it, dry-run its migrations on a copy of the state database, trial-start it,
 * then ask the supervisor to switch to it. Every failure is a German UserError and leaves the running
 * version (its release folder, `current` link and state database) untouched.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CancelledError, UserError, isUserError, throwIfAborted, type ActionResult, type Logger } from 'kassenwart/sdk';
import { changeLines, newerReleases, parsePublicKeys, verifyIndex, type Channel, type ReleaseEntry } from './feed.js';
import { downloadResumable, fetchBytes, fsError } from './download.js';
import { applyMigrations } from './migrations.js';
import { currentRelease, journalPath, pruneReleases, readJson, releasesDir, requestSwitch, unpackRelease } from './releases.js';
import { StateStore, type ReleaseNotes } from './state.js';
import { trialStart } from './trial.js';

/** The settings the updater needs. */
export interface UpdateSettings {
  feedUrl: string;
  channel: Channel;
  publicKeys: string;
}

/** What the updater needs from its surroundings (the plugin context, or a test). */
export interface UpdaterDeps {
  /** Installation data folder (holds state.sqlite and releases/). */
  installationDir: string;
  /** The plugin's own data folder (state.json). */
  pluginDataDir: string;
  /** Version running now. */
  runningVersion: string;
  settings(): UpdateSettings;
  log: Logger;
  /** Whether a supervisor runs this host (then `restart` switches now; else at the next start). */
  supervised: boolean;
  /** Asks for the restart that carries out the switch; false when that was not possible. */
  restart(reason: string): boolean;
  /** Skip the trial start (only for tests of the steps before it). */
  skipTrial?: boolean;
}

/** Progress reporting of a job. */
export interface Progress {
  signal: AbortSignal;
  progress(percent: number | undefined, message?: string): void;
}

/** The default index file name when the feed URL names a folder. */
export function indexUrl(feedUrl: string): string {
  return feedUrl.endsWith('/') ? feedUrl + 'index.json' : feedUrl;
}

/** German "Änderungen" block, newest release first. */
export function notesText(notes: ReleaseNotes[]): string {
  return notes.map((n) => [`Version ${n.version} (${new Date(n.date).toLocaleDateString('de-DE')}):`, ...changeLines(n.changes).map((l) => `- ${l}`)].join('\n')).join('\n');
}

export class Updater {
  readonly store: StateStore;
  constructor(private readonly deps: UpdaterDeps) {
    this.store = new StateStore(deps.pluginDataDir, deps.installationDir, deps.runningVersion);
  }

  /** Runs a check (and the update, if there is one); records the outcome as the last check. */
  async check(job: Progress): Promise<ActionResult> {
    try {
      const result = await this.run(job);
      await this.recordCheck(true, result.message ?? '');
      return result;
    } catch (e) {
      if (!(e instanceof CancelledError)) {
        await this.recordCheck(false, isUserError(e) ? e.message : `Unerwarteter Fehler: ${(e as Error).message}`).catch(() => {});
      }
      throw e;
    }
  }

  private async recordCheck(ok: boolean, message: string): Promise<void> {
    const s = await this.store.load();
    s.lastCheck = { at: new Date().toISOString(), ok, message };
    await this.store.save(s);
  }

  private async run(job: Progress): Promise<ActionResult> {
    const settings = this.deps.settings();
    if (!settings.feedUrl) {
      throw new UserError('Es ist kein Update-Server eingerichtet.', {
        code: 'update.no-feed', hint: 'Ein Techniker muss unter „Updates“ die Adresse des Update-Servers eintragen.',
      });
    }
    const keys = parsePublicKeys(settings.publicKeys ?? '');
    const state = await this.store.loadReconciled();
    if (state.history[0]?.status === 'pending') {
      throw new UserError(`Das Update auf Version ${state.history[0].version} ist bereits eingespielt und wartet auf den Neustart von Kassenwart.`, {
        code: 'update.pending', hint: 'Bitte Kassenwart bzw. den Kassenserver neu starten und danach erneut prüfen.',
      });
    }

    job.progress(1, 'Update-Index wird geladen …');
    const url = indexUrl(settings.feedUrl);
    const indexBytes = await fetchBytes(url, job.signal);
    const sigText = Buffer.from(await fetchBytes(url + '.sig', job.signal)).toString('utf8');
    const { index, seen } = verifyIndex(indexBytes, sigText, keys, { lastSeen: state.lastSeen });
    state.lastSeen = seen;
    state.releasesSeen = index.releases.map(({ version, channel, date }) => ({ version, channel, date }));
    await this.store.save(state);

    const running = await this.installedVersion();
    const candidates = newerReleases(index, running, settings.channel);
    if (candidates.length === 0) {
      this.deps.log.info('no newer release', { running, sequence: index.sequence });
      return { message: 'Kein Update notwendig!', details: { version: running } };
    }
    const target = candidates[0];
    const notes: ReleaseNotes[] = candidates.map((r) => ({ version: r.version, date: r.date, changes: r.changes }));
    throwIfAborted(job.signal);

    const dir = releasesDir(this.deps.installationDir);
    const pkg = join(dir, 'downloads', `kassenwart-${target.version}.tar.gz`);
    job.progress(5, `Update ${target.version} wird heruntergeladen …`);
    let lastPct = -1;
    await downloadResumable({
      url: new URL(target.url, url).toString(), dest: pkg, size: target.size, sha256: target.sha256, signal: job.signal,
      onProgress: (done, total) => {
        const pct = 5 + Math.floor((done / total) * 75);
        if (pct !== lastPct) { lastPct = pct; job.progress(pct, `Update ${target.version} wird heruntergeladen (${mb(done)} von ${mb(total)} MB) …`); }
      },
    });

    const releaseDir = await this.prepare(job, target, pkg);
    job.progress(97, 'Umstellung auf die neue Version wird vorbereitet …');
    const fromRelease = await currentRelease(this.deps.installationDir);
    try {
      await pruneReleases(this.deps.installationDir, [target.version, ...(fromRelease ? [fromRelease] : [])]);
      await rm(pkg, { force: true });
      // Journal first, then history: if the history cannot be written, the journal is taken back.
      await requestSwitch(this.deps.installationDir, {
        state: 'requested', to: target.version, from: running, fromRelease, requestedAt: new Date().toISOString(),
      });
      try {
        const s = await this.store.load();
        s.history.unshift({ version: target.version, from: running, installedAt: new Date().toISOString(), status: 'pending', notes });
        await this.store.save(s);
      } catch (e) {
        await rm(journalPath(this.deps.installationDir), { force: true });
        throw e;
      }
    } catch (e) {
      await rm(releaseDir, { recursive: true, force: true });
      throw fsError(e, 'Umstellung vorbereiten');
    }
    const restarted = this.deps.supervised && this.deps.restart(`Update auf Version ${target.version}`);
    const when = restarted ? 'Kassenwart startet jetzt neu.' : 'Sie wird beim nächsten Start von Kassenwart aktiv.';
    job.progress(100, 'Update fertig!');
    return {
      message: `Update fertig! Version ${target.version} ist eingespielt. ${when}\n\nÄnderungen:\n${notesText(notes)}`,
      details: { version: target.version, from: running, notes },
    };
  }

  /**
   * The installed version: that of the active release (`releases/current`) when there is one, else the running
   * package's. They differ when this process is the installed package's CLI while a newer release is active.
   */
  async installedVersion(): Promise<string> {
    const active = await currentRelease(this.deps.installationDir);
    if (active) {
      const pkg = await readJson<{ version?: string }>(join(releasesDir(this.deps.installationDir), active, 'package.json'));
      if (pkg?.version) return pkg.version;
    }
    return this.deps.runningVersion;
  }

  /** Unpack, migration dry run, trial start. Removes the release folder again on failure. */
  private async prepare(job: Progress, target: ReleaseEntry, pkg: string): Promise<string> {
    job.progress(81, 'Update wird entpackt …');
    const releaseDir = await unpackRelease(this.deps.installationDir, pkg, target.version);
    try {
      throwIfAborted(job.signal);
      job.progress(88, 'Datenbank-Anpassungen werden an einer Kopie geprüft …');
      let db: Uint8Array | undefined;
      try {
        db = new Uint8Array(await readFile(join(this.deps.installationDir, 'state.sqlite')));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      const { applied } = await applyMigrations(db, releaseDir, target.version);
      this.deps.log.info('migrations dry run ok', { applied });
      throwIfAborted(job.signal);
      if (!this.deps.skipTrial) {
        job.progress(92, `Version ${target.version} wird probeweise gestartet …`);
        await trialStart(releaseDir, target.version, releasesDir(this.deps.installationDir), { signal: job.signal });
      }
      return releaseDir;
    } catch (e) {
      await rm(releaseDir, { recursive: true, force: true });
      throw e;
    }
  }
}

function mb(n: number): string {
  return (n / 1024 / 1024).toLocaleString('de-DE', { maximumFractionDigits: 1, minimumFractionDigits: 1 });
}
