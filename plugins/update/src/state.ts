/**
 * The plugin's own persisted state (<plugin data>/state.json, written atomically): the newest index seen
 * (anti-rollback), the last check and the update history, newest first.
 */
import { join } from 'node:path';
import { writeFileAtomic } from 'kassenwart/sdk';
import type { ReleaseEntry, SeenIndex } from './feed.js';
import { readJson, resultPath, journalPath, type SwitchResult, type SwitchJournal } from './releases.js';

/** Notes of one release contained in an installed update. */
export interface ReleaseNotes {
  version: string;
  date: string;
  changes: Record<string, string[]>;
  /** Display names of the keys in `changes`. */
  labels?: Record<string, string>;
}

/** One installed (or attempted) update. */
export interface HistoryEntry {
  /** Which program (absent = Kassenwart, entries of older versions). */
  component?: 'kassenwart' | 'kasse';
  version: string;
  from: string;
  /** When it was installed (switch requested), ISO. */
  installedAt: string;
  /** pending = switch requested, not yet confirmed by the supervisor. */
  status: 'pending' | 'installed' | 'rolled-back';
  /** German reason for a rollback. */
  reason?: string;
  /** Notes of every release between `from` (exclusive) and `version` (inclusive), newest first. */
  notes: ReleaseNotes[];
}

/** The outcome of the last check. */
export interface LastCheck {
  at: string;
  ok: boolean;
  /** The German message the operator saw. */
  message: string;
}

export interface UpdateState {
  lastSeen?: SeenIndex;
  lastCheck?: LastCheck;
  /** When the last check of all components succeeded (the monthly reminder counts from here). */
  lastSuccessAt?: string;
  /** Every release of the newest verified index (for monitoring: how long this installation is outdated). */
  releasesSeen?: Pick<ReleaseEntry, 'version' | 'channel' | 'date'>[];
  history: HistoryEntry[];
}

/** Loads and saves the state; reconciles a pending update with the supervisor's switch result. */
export class StateStore {
  private readonly file: string;
  constructor(private readonly pluginDataDir: string, private readonly installationDir: string, private readonly runningVersion: string) {
    this.file = join(pluginDataDir, 'state.json');
  }

  async load(): Promise<UpdateState> {
    const s = (await readJson<UpdateState>(this.file)) ?? { history: [] };
    s.history ??= [];
    return s;
  }

  async save(s: UpdateState): Promise<void> {
    await writeFileAtomic(this.file, JSON.stringify(s, null, 2) + '\n');
  }

  /** Adds a history entry (newest first). */
  async add(entry: HistoryEntry): Promise<void> {
    const s = await this.load();
    s.history.unshift(entry);
    s.history.sort((a, b) => Date.parse(b.installedAt) - Date.parse(a.installedAt));
    await this.save(s);
  }

  /** Loads the state and settles a pending history entry from switch-result.json. */
  async loadReconciled(): Promise<UpdateState> {
    const s = await this.load();
    const top = s.history.find((h) => (h.component ?? 'kassenwart') === 'kassenwart');
    if (top?.status !== 'pending') return s;
    const result = await readJson<SwitchResult>(resultPath(this.installationDir));
    const journal = await readJson<SwitchJournal>(journalPath(this.installationDir));
    if (result && result.to === top.version && Date.parse(result.at) >= Date.parse(top.installedAt)) {
      top.status = result.ok ? 'installed' : 'rolled-back';
      if (!result.ok) top.reason = result.reason;
    } else if (!journal && this.runningVersion === top.version) {
      top.status = 'installed';
    } else {
      return s;
    }
    await this.save(s);
    return s;
  }
}
