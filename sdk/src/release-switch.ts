/**
 * The release switch protocol between whoever prepares an update (the update plugin) and the host's
 * supervisor (`kassenwart start`), as files under `<data>/releases/`:
 *
 *   releases/<version>/          an unpacked release
 *   releases/current             symlink to the active release folder (absent = the installed package)
 *   releases/switch.json         the journal (SwitchJournal)
 *   releases/switch-result.json  the outcome of the last switch (SwitchResult)
 */

/** The switch journal. The preparer writes state "requested"; the supervisor moves it to "switching". */
export interface SwitchJournal {
  state: 'requested' | 'switching';
  /** Version to switch to; its folder is releases/<to>. */
  to: string;
  /** Version running now. */
  from: string;
  /** Folder name under releases/ the `current` link pointed to before, or null = the installed package. */
  fromRelease: string | null;
  requestedAt: string;
  /** Set by the supervisor in "switching": the backup of state.sqlite taken before migrating. */
  stateBackup?: string;
}

/** The outcome of the last switch, written by the supervisor. */
export interface SwitchResult {
  to: string;
  from: string;
  ok: boolean;
  /** German reason when not ok. */
  reason?: string;
  at: string;
}
