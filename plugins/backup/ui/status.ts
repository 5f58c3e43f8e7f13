/**
 * Panel `kw-backup-status` (maintenance page): last successful backup per target with its age (red when
 * older than the schedule allows), next scheduled runs, recent failures with reasons, and the local backups
 * with size and verification state. Technicians can restore a backup from here.
 * Data: GET /api/ext/backup/status (the plugin's own route).
 */
import { html, css, nothing } from 'lit';
import { KwPanel, api, startAction, followJob, ApiError, kwConfirm, onJobFinished, announceJobFinished, formatBytes } from 'kassenwart/sdk/ui';

interface Entry { at: string; message: string; backup?: string; location?: string }
interface TargetStatus {
  id: string; displayName: string; lastSuccess: Entry | null; lastFailure: Entry | null;
  lastSkipped: Entry | null; ageMs: number | null; maxAgeMs: number; overdue: boolean;
}
interface BackupRow { name: string; size: number; createdAt: string; verified: boolean; verifiedAt: string | null; kind: string | null; pauseMs: number | null }
interface StatusView {
  now: string;
  viewer: { name: string; role: string } | null;
  posDatabase: { path: string; demo: boolean };
  backupDir: string;
  schedule: { backupTimes: string[]; nextBackup: string | null; coupled: boolean; nextTransfer: string | null };
  targets: TargetStatus[];
  failures: Array<Entry & { action: string; target?: string }>;
  backups: BackupRow[];
}

const dtf = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short' });

/** Decimal units (1 MB = 10^6 bytes), the same text as the job results (docs/ui.md). */
const size = formatBytes;

function age(ms: number): string {
  const min = Math.floor(ms / 60000);
  if (min < 1) return 'gerade eben';
  if (min < 60) return `vor ${min} Min.`;
  const h = Math.floor(min / 60);
  if (h < 48) return `vor ${h} Std.`;
  return `vor ${Math.floor(h / 24)} Tagen`;
}

const when = (iso: string | null | undefined) => (iso ? dtf.format(new Date(iso)) : '–');

/**
 * A failure text as an operator should read it: the targets' hints ("Bitte „FTP-Server“ und „FTP-Port“ prüfen.",
 * "Bitte die FTP-Einstellungen prüfen …") name settings only a technician may change, so for an operator such a
 * sentence becomes whom to call. What happened stays as it is.
 */
export function forOperator(text: string): string {
  let replaced = false;
  const out = text.split(/(?<=[.!?])\s+/).flatMap((sentence) => {
    if (/^(Bitte|Läuft)\b/.test(sentence) && /Einstellung|„[^“]+“/.test(sentence)) {
      if (replaced) return [];
      replaced = true;
      return ['Bitte den Techniker anrufen: Das lässt sich nur in seinen Einstellungen beheben.'];
    }
    return [sentence];
  });
  // "die Einstellung „FTP-Passwort“ fehlt." without any hint: say whom to call, too.
  if (!replaced && /Einstellung/.test(text)) out.push('Bitte den Techniker anrufen: Das lässt sich nur in seinen Einstellungen beheben.');
  return out.join(' ');
}
const KIND: Record<string, string> = { manual: 'manuell', schedule: 'geplant', 'catch-up': 'nachgeholt', safety: 'vor Wiederherstellung', send: 'für Übertragung', api: 'API', cli: 'Kommandozeile' };

/** The backup status panel. */
export class KwBackupStatus extends KwPanel {
  static override properties = {
    ...KwPanel.properties,
    view: { state: true },
    error: { state: true },
    technician: { state: true },
    notice: { state: true },
    busy: { state: true },
  };

  static override styles = [KwPanel.styles, css`
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--kw-border, #c9d0d8); vertical-align: top; }
    td.num { text-align: right; white-space: nowrap; }
    /* A backup: its time on top, the file name below in smaller type (kept in one piece on a POS screen). */
    .when { font-weight: 600; }
    .file { display: block; font-size: 0.85rem; color: var(--kw-muted, #505b66); overflow-wrap: anywhere; }
    /* From a POS screen up, headers, dates and file names stay on one line; on a phone they may wrap. */
    @media (min-width: 560px) {
      th, td.nowrap, .when, .file { white-space: nowrap; }
    }
    .overdue { color: var(--kw-error, #a11212); font-weight: 600; }
    .ok { color: var(--kw-success, #1e6b31); }
    ul.failures { margin: 0; padding-left: 1.2em; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  `];

  declare view: StatusView | undefined;
  declare error: string | undefined;
  declare technician: boolean;
  declare notice: { kind: 'success' | 'warning' | 'error'; text: string } | undefined;
  declare busy: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private offJobs: (() => void) | undefined;

  constructor() {
    super();
    this.technician = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    // Any finished job may have changed what this panel shows (a new backup, a transfer, a restore, a stick
    // ejected): the shell announces every one, and the panel reloads at once. The slow poll is only a fallback
    // (a job that ended while the page had no connection).
    this.offJobs = onJobFinished(() => void this.load());
    this.timer = setInterval(() => void this.load(), 60_000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    if (this.timer) clearInterval(this.timer);
    this.offJobs?.();
  }

  /** Reloads the status from the server. */
  async load(): Promise<void> {
    try {
      this.view = await api<StatusView>('GET', '/api/ext/backup/status');
      this.technician = this.view.viewer?.role === 'technician';
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof ApiError ? e.message : 'Der Status der Datensicherung konnte nicht geladen werden.';
    }
  }

  private async restore(name: string): Promise<void> {
    const ok = await kwConfirm({
      title: 'Sicherung wiederherstellen',
      text: `Soll die Kassendatenbank durch die Sicherung ${name} ersetzt werden? Die Kasse muss dabei geschlossen sein. Vorher wird der aktuelle Stand gesichert.`,
    });
    if (!ok) return;
    this.busy = name;
    this.notice = undefined;
    try {
      const job = await startAction('backup.restore', { name });
      const done = await followJob(job.id);
      // Other panels (e.g. the Cloud-Kasse's queue) learn of it at once; the shell only announces its own buttons' jobs.
      announceJobFinished(done);
      if (done.state === 'succeeded' || done.state === 'warning') this.notice = { kind: done.state === 'warning' ? 'warning' : 'success', text: done.result?.message ?? 'Sicherung wiederhergestellt' };
      else this.notice = { kind: 'error', text: [done.error?.message, done.error?.hint].filter(Boolean).join(' ') || 'Wiederherstellung fehlgeschlagen.' };
    } catch (e) {
      this.notice = { kind: 'error', text: e instanceof Error ? e.message : String(e) };
    } finally {
      this.busy = undefined;
      await this.load();
    }
  }

  /** Technicians read the technical hint; operators whom to call (see {@link forOperator}). */
  private forReader(text: string): string {
    return this.technician ? text : forOperator(text);
  }

  override render() {
    if (this.error) return html`<div class="message error" role="alert">${this.error}</div>`;
    const v = this.view;
    if (!v) return html`<p class="muted">Status wird geladen …</p>`;
    return html`
      ${this.notice ? html`<div class="message ${this.notice.kind}" role="status">${this.notice.text}</div>` : nothing}
      <div class="table-wrap"><table class="targets" aria-label="Letzte Sicherung je Ziel">
        <thead><tr><th>Ziel</th><th>Letzte erfolgreiche Sicherung</th><th>Letzter Fehler</th></tr></thead>
        <tbody>${v.targets.map((t) => html`<tr data-target=${t.id}>
          <td>${t.displayName}</td>
          <td class=${t.overdue ? 'overdue' : t.lastSuccess ? 'ok' : 'muted'}>${t.lastSuccess
            ? html`${when(t.lastSuccess.at)} (${age(t.ageMs ?? 0)})${t.overdue ? html` – <span>überfällig</span>` : nothing}`
            : html`noch keine`}</td>
          <td>${t.lastFailure ? html`${when(t.lastFailure.at)}: ${this.forReader(t.lastFailure.message)}`
            : t.lastSkipped && !t.lastSuccess ? html`<span class="muted">übersprungen: ${t.lastSkipped.message}</span>` : '–'}</td>
        </tr>`)}</tbody>
      </table></div>
      <p class="muted">
        Nächste lokale Datensicherung: <strong class="next-backup">${when(v.schedule.nextBackup)}</strong>
        (täglich ${v.schedule.backupTimes.join(' und ')} Uhr).
        ${v.schedule.coupled ? html`Nächste Übertragung an den FTP-Server: <strong>${when(v.schedule.nextTransfer)}</strong>.` : html`Nicht mit einem FTP-Server gekoppelt.`}
        ${v.posDatabase.demo ? html`<br>Es wird die Demo-Datenbank gesichert.` : nothing}
      </p>
      ${v.failures.length ? html`<h3>Letzte Fehler</h3><ul class="failures">${v.failures.slice(0, 5).map((f) =>
        html`<li>${when(f.at)} – ${this.forReader(f.message)}</li>`)}</ul>` : nothing}
      <h3>Lokale Sicherungen</h3>
      ${v.backups.length ? html`<div class="table-wrap"><table class="backups" aria-label="Lokale Sicherungen">
        <thead><tr><th>Sicherung</th><th class="num">Größe</th><th>Prüfung</th>${this.technician ? html`<th><span class="visually-hidden">Aktion</span></th>` : nothing}</tr></thead>
        <tbody>${v.backups.map((b) => html`<tr data-name=${b.name}>
          <td><span class="when">${when(b.createdAt)}</span>${b.kind && KIND[b.kind] ? html` <span class="muted">(${KIND[b.kind]})</span>` : nothing}
            <span class="file" data-field="file">${b.name}</span></td>
          <td class="num">${size(b.size)}</td>
          <td class="nowrap ${b.verified ? 'ok' : 'overdue'}">${b.verified ? 'geprüft' : 'nicht geprüft'}</td>
          ${this.technician ? html`<td><button ?disabled=${!!this.busy || !b.verified} @click=${() => this.restore(b.name)}>${this.busy === b.name ? 'Wird wiederhergestellt …' : 'Wiederherstellen'}</button></td>` : nothing}
        </tr>`)}</tbody></table></div>` : html`<p>Noch keine lokale Sicherung vorhanden.</p>`}
    `;
  }
}

if (!customElements.get('kw-backup-status')) customElements.define('kw-backup-status', KwBackupStatus);
