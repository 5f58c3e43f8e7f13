/**
 * The "Updatecheck" flow: fetch and verify the signed index, pick the newest allowed release, download it
 * (resumable), verify it, unpack it, dry-run its migrations on a copy of the state database, trial-start it,
 * then ask the supervisor to switch to it. Every failure is a German UserError and leaves the running
 * version (its release folder, `current` link and state database) untouched.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CancelledError, UserError, formatMegabytes, isUserError, throwIfAborted, type ActionResult, type Logger } from 'kassenwart/sdk';
import semver from 'semver';
import { changeLines, componentOf, newerReleases, parsePublicKeys, verifyIndex, type Channel, type ReleaseEntry, type ReleaseIndex } from './feed.js';
import type { AdapterConfig } from './register/adapter.js';
import type { RegisterUpdater } from './register/updater.js';
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
  /** The register component (absent = Kassenwart only, as in the older tests). */
  register?: { config(): AdapterConfig; updater: RegisterUpdater };
}

/** Whether `r.requires` is met by the installed versions (an unknown version counts as met). */
export function requirementsMet(r: ReleaseEntry, installed: Record<string, string | null>): boolean {
  return Object.entries(r.requires ?? {}).every(([c, min]) => !installed[c] || !semver.valid(min) || semver.gte(installed[c]!, min));
}

/** The release notes of `releases` (newest first), with the component's labels. */
function notesOf(releases: ReleaseEntry[]): ReleaseNotes[] {
  return releases.map((r) => ({ version: r.version, date: r.date, changes: r.changes, ...(r.labels ? { labels: r.labels } : {}) }));
}

/** The release of `component` that first shipped the migration `name` (for the progress "Version …"). */
function migrationVersion(index: ReleaseIndex, name: string, fallback: string): string {
  const has = index.releases.filter((r) => componentOf(r) === 'kasse' && r.migrations?.some((m) => m.name === name) && semver.valid(r.version));
  return has.sort((a, b) => semver.compare(a.version, b.version))[0]?.version ?? fallback;
}

/** Progress reporting of a job. */
export interface Progress {
  signal: AbortSignal;
  progress(percent: number | undefined, message?: string): void;
  /** The job log (each migration step is written there too). */
  log?: { info(message: string): void };
}

/** The default index file name when the feed URL names a folder. */
export function indexUrl(feedUrl: string): string {
  return feedUrl.endsWith('/') ? feedUrl + 'index.json' : feedUrl;
}

/** One component's changes for the panel's "Update fertig!" box: display name, version, lines newest release first. */
export interface ChangeBlock { component: string; version: string; lines: string[] }

/** The notes as blocks per component (the panel renders each as a list under the component's display name). */
export function changeBlocks(component: string, version: string, notes: ReleaseNotes[]): ChangeBlock {
  return { component, version, lines: notes.flatMap((n) => changeLines(n.changes, n.labels)) };
}

/** German "Änderungen" block, newest release first. */
export function notesText(notes: ReleaseNotes[], component = ''): string {
  return notes.map((n) => [`${component ? component + ' ' : 'Version '}${n.version} (${new Date(n.date).toLocaleDateString('de-DE')}):`, ...changeLines(n.changes, n.labels).map((l) => `- ${l}`)].join('\n')).join('\n');
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
    // A check that succeeded for all components: the monthly reminder counts from here.
    if (ok) s.lastSuccessAt = s.lastCheck.at;
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
    const ownTop = state.history.find((h) => (h.component ?? 'kassenwart') === 'kassenwart');
    if (ownTop?.status === 'pending') {
      throw new UserError(`Das Update auf Version ${ownTop.version} ist bereits eingespielt und wartet auf den Neustart von Kassenwart.`, {
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

    // The register first: it does not restart Kassenwart; Kassenwart's own update (a restart) comes last.
    const kasse = await this.registerStep(index, url, settings.channel, running, job);
    const lines = kasse.lines;
    const all = newerReleases(index, running, settings.channel);
    const candidates = all.filter((r) => requirementsMet(r, { kasse: kasse.version }));
    if (all.length && !candidates.length) {
      lines.push(`Kassenwart ${all[0].version} benötigt Kassensoftware ${all[0].requires?.kasse} – bitte nach dem Update der Kassensoftware erneut „Updatecheck“ ausführen.`);
    }
    if (candidates.length === 0) {
      this.deps.log.info('no newer release', { running, sequence: index.sequence });
      if (kasse.updated) {
        return {
          message: `Update fertig!\n${lines.join('\n')}\n\nÄnderungen:\n${notesText(kasse.updated.notes, 'Kassensoftware')}`,
          details: { version: running, kasse: kasse.updated, changes: [changeBlocks('Kassensoftware', kasse.updated.version, kasse.updated.notes)], restarting: false },
        };
      }
      return { message: ['Kein Update notwendig!', ...lines].join('\n'), details: { version: running, kasse: { version: kasse.version, skipped: kasse.skipped ?? null } } };
    }
    const target = candidates[0];
    const notes: ReleaseNotes[] = notesOf(candidates);
    throwIfAborted(job.signal);
    if (kasse.updated) {
      // Kassenwart's own steps report 0–100; after a register update they take the second half.
      const outer = job;
      job = { signal: outer.signal, progress: (p, m) => outer.progress(p === undefined ? undefined : 50 + Math.round(p / 2), m) };
    }

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
        s.history.unshift({ component: 'kassenwart', version: target.version, from: running, installedAt: new Date().toISOString(), status: 'pending', notes });
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
    if (kasse.updated) {
      return {
        message: `Update fertig!\n${lines.join('\n')}\nKassenwart: Version ${target.version} ist eingespielt. ${when}\n\nÄnderungen:\n${notesText(kasse.updated.notes, 'Kassensoftware')}\n${notesText(notes, 'Kassenwart')}`,
        details: {
          version: target.version, from: running, notes, kasse: kasse.updated, restarting: !!restarted,
          changes: [changeBlocks('Kassensoftware', kasse.updated.version, kasse.updated.notes), changeBlocks('Kassenwart', target.version, notes)],
        },
      };
    }
    return {
      message: `Update fertig! Version ${target.version} ist eingespielt. ${when}${lines.length ? '\n' + lines.join('\n') : ''}\n\nÄnderungen:\n${notesText(notes)}`,
      details: { version: target.version, from: running, notes, restarting: !!restarted, changes: [changeBlocks('Kassenwart', target.version, notes)] },
    };
  }

  /**
   * The register component: skipped with a German reason when not configured; else the newest register
   * release whose minimum Kassenwart version is met is installed (cumulatively). Throws on a failed update.
   */
  private async registerStep(index: ReleaseIndex, url: string, channel: Channel, kassenwart: string, job: Progress): Promise<{
    version: string | null; lines: string[]; skipped?: string; updated?: { version: string; from: string; notes: ReleaseNotes[] };
  }> {
    const reg = this.deps.register;
    if (!reg) return { version: null, lines: [] };
    const recovered = await reg.updater.recover();
    if (recovered) this.deps.log.warn('an interrupted register update was undone', { message: recovered });
    const cfg = reg.config();
    if (!cfg.ok) return { version: null, lines: [`Kassensoftware: ${cfg.reason} – übersprungen.`], skipped: cfg.reason };
    const installed = await cfg.adapter.installedVersion();
    if (!installed) {
      const why = `keine installierte Version gefunden (${cfg.adapter.installDir}/current fehlt)`;
      return { version: null, lines: [`Kassensoftware: ${why} – übersprungen.`], skipped: why };
    }
    const all = newerReleases(index, installed, channel, 'kasse');
    const fitting = all.filter((r) => requirementsMet(r, { kassenwart }));
    const lines: string[] = [];
    if (all.length && fitting[0] !== all[0]) {
      lines.push(`Kassensoftware ${all[0].version} benötigt Kassenwart ${all[0].requires?.kassenwart}; sie wird nach dem Update von Kassenwart eingespielt (bitte danach erneut „Updatecheck“ ausführen).`);
    }
    if (!fitting.length) return { version: installed, lines };
    const target = fitting[0];
    const notes = notesOf(all.filter((r) => semver.lte(r.version, target.version)));
    const line = await reg.updater.update(cfg.adapter, installed, target, notes, url, {
      signal: job.signal, progress: (p, m) => job.progress(p === undefined ? undefined : Math.round(p / 2), m), log: job.log,
    }, (name) => migrationVersion(index, name, target.version));
    return { version: target.version, lines: [line, ...lines], updated: { version: target.version, from: installed, notes } };
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

/** Decimal MB, as everywhere in the UI (kassenwart/sdk formatMegabytes). */
const mb = formatMegabytes;
