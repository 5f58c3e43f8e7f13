/**
 * Panel `kw-cloud-status` (maintenance page): whether the Cloud-Kasse is set up, its last successful copy
 * with the age (red when older than the interval allows), copies waiting in the queue and when the next try
 * is, the last failure, and the running upload in bytes. Technicians can list the copies in the bucket and
 * restore one: the identity is pasted into a password field, sent once with the restore job and never stored.
 * Data: GET /api/ext/cloud/status and /copies (the plugin's own routes).
 */
import { html, css, nothing } from 'lit';
import { KwPanel, api, startAction, followJob, getSession, ApiError, kwConfirm, onJobFinished, announceJobFinished, formatBytes } from 'kassenwart/sdk/ui';

interface CopyRow { name: string; size: number; createdAt: string; uploadedAt?: string }
interface StatusView {
  configured: boolean;
  problem: string | null;
  bucket: string | null;
  prefix: string;
  intervalHours: number;
  lastSuccess: { at: string; name: string; key: string; bytes: number; lockedUntil?: string } | null;
  ageMs: number | null;
  overdue: boolean;
  lastFailure: { at: string; message: string } | null;
  pending: { name: string; size: number; createdAt: string }[];
  nextAttemptAt: string | null;
  current: { name: string; bytesDone: number; total: number } | null;
}

const dtf = new Intl.DateTimeFormat('de-DE', { dateStyle: 'medium', timeStyle: 'short' });
/** Decimal units (1 MB = 10^6 bytes), the same text as the backup panel and the job results (docs/ui.md). */
const mb = formatBytes;
const when = (iso: string | null | undefined) => (iso ? dtf.format(new Date(iso)) : '–');
function age(ms: number): string {
  const min = Math.floor(ms / 60000);
  if (min < 1) return 'gerade eben';
  if (min < 60) return `vor ${min} Min.`;
  const h = Math.floor(min / 60);
  return h < 48 ? `vor ${h} Std.` : `vor ${Math.floor(h / 24)} Tagen`;
}

/** The Cloud-Kasse status panel. */
export class KwCloudStatus extends KwPanel {
  static override properties = {
    ...KwPanel.properties,
    view: { state: true }, error: { state: true }, technician: { state: true }, copies: { state: true },
    chosen: { state: true }, busy: { state: true }, progress: { state: true }, notice: { state: true },
  };

  static override styles = [KwPanel.styles, css`
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--kw-border, #c9d0d8); }
    td.num { text-align: right; white-space: nowrap; }
    td.file { font-size: 0.85rem; overflow-wrap: anywhere; }
    @media (min-width: 560px) { th, td.nowrap, td.file { white-space: nowrap; } }
    .table-wrap { overflow-x: auto; }
    .overdue { color: var(--kw-error, #a11212); font-weight: 600; }
    .ok { color: var(--kw-success, #1e6b31); font-weight: 600; }
    textarea { width: 100%; font-family: monospace; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  `];

  declare view: StatusView | undefined;
  declare error: string | undefined;
  declare technician: boolean;
  declare copies: CopyRow[] | undefined;
  declare chosen: string | undefined;
  declare busy: boolean;
  declare progress: string | undefined;
  declare notice: { kind: 'success' | 'error'; text: string } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private connected = false;
  private offJobs: (() => void) | undefined;

  constructor() {
    super();
    this.technician = false;
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void getSession().then((s) => { this.technician = s.user?.role === 'technician'; }, () => undefined);
    void this.load();
    // A finished job (a transfer, a restore) refreshes at once. The poll shows a running upload's bytes every 5 s;
    // otherwise it is a slow fallback (a minute), so an idle page makes no request every few seconds.
    this.connected = true;
    this.offJobs = onJobFinished(() => void this.load());
    this.schedule();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.connected = false;
    if (this.timer) clearTimeout(this.timer);
    this.offJobs?.();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.connected) return;
    this.timer = setTimeout(() => { void this.load().finally(() => this.schedule()); }, this.view?.current ? 5_000 : 60_000);
  }

  async load(): Promise<void> {
    try {
      this.view = await api<StatusView>('GET', '/api/ext/cloud/status');
      if (this.view.current) this.schedule();
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof ApiError ? e.message : 'Der Status der Cloud-Kasse konnte nicht geladen werden.';
    }
  }

  private async loadCopies(): Promise<void> {
    this.notice = undefined;
    try {
      this.copies = await api<CopyRow[]>('GET', '/api/ext/cloud/copies');
    } catch (e) {
      this.notice = { kind: 'error', text: e instanceof ApiError ? [e.message, e.hint].filter(Boolean).join(' ') : String(e) };
    }
  }

  private async restore(): Promise<void> {
    const field = this.renderRoot.querySelector<HTMLTextAreaElement>('textarea[name=identity]');
    const identity = field?.value ?? '';
    if (!this.chosen) return;
    const ok = await kwConfirm({
      title: 'Aus der Cloud wiederherstellen',
      text: `Soll die Kassendatenbank durch die Kopie ${this.chosen} aus der Cloud ersetzt werden? Die Kasse muss dabei geschlossen sein. Vorher wird der aktuelle Stand gesichert.`,
    });
    if (!ok) return;
    this.busy = true;
    this.notice = undefined;
    try {
      const job = await startAction('cloud.restore', { name: this.chosen, identity });
      if (field) field.value = '';
      const done = await followJob(job.id, (p) => { this.progress = p.message ?? undefined; });
      // The backup panel lists the safety backup the restore made: tell it (and every other panel) at once.
      announceJobFinished(done);
      if (done.state === 'succeeded' || done.state === 'warning') this.notice = { kind: 'success', text: done.result?.message ?? 'Sicherung aus der Cloud wiederhergestellt' };
      else this.notice = { kind: 'error', text: [done.error?.message, done.error?.hint].filter(Boolean).join(' ') || 'Wiederherstellung fehlgeschlagen.' };
    } catch (e) {
      this.notice = { kind: 'error', text: e instanceof ApiError ? [e.message, e.hint].filter(Boolean).join(' ') : String(e) };
    } finally {
      this.busy = false;
      this.progress = undefined;
    }
  }

  override render() {
    if (this.error) return html`<div class="message error" role="alert">${this.error}</div>`;
    const v = this.view;
    if (!v) return html`<p class="muted">Status wird geladen …</p>`;
    if (!v.configured && !v.lastSuccess) {
      return html`<p class="status not-configured" data-state="not-configured"><strong>nicht eingerichtet</strong> – ${v.problem ?? ''}
        ${this.technician ? 'Die Einstellungen stehen unter „Einstellungen“ im Abschnitt „Cloud-Kasse“.' : 'Bitte den Techniker, die Cloud-Kasse einzurichten.'}</p>`;
    }
    const state = v.overdue ? 'overdue' : 'ok';
    return html`
      ${v.problem ? html`<div class="message error" role="alert">${v.problem}</div>` : nothing}
      <p class="status ${state}" data-state=${state}>Letzte Kopie in der Cloud:
        ${v.lastSuccess ? html`${when(v.lastSuccess.at)} (${age(v.ageMs ?? 0)}), ${v.lastSuccess.name}, ${mb(v.lastSuccess.bytes)}${v.lastSuccess.lockedUntil ? html`, gesperrt bis ${when(v.lastSuccess.lockedUntil)}` : nothing}` : 'noch keine'}
        ${v.overdue ? html` – <span>überfällig (mehr als ${v.intervalHours} Std.)</span>` : nothing}</p>
      ${v.current ? html`<p class="current">Wird übertragen: ${v.current.name} – ${mb(v.current.bytesDone)} von ${mb(v.current.total)}</p>
        <progress max=${v.current.total} value=${v.current.bytesDone}></progress>` : nothing}
      ${v.pending.length ? html`<p class="pending">${v.pending.length} Kopie(n) warten auf die Übertragung (neueste zuerst)${v.nextAttemptAt ? html`, nächster Versuch ${when(v.nextAttemptAt)}` : nothing}.</p>` : nothing}
      ${v.lastFailure ? html`<p class="failure">Letzter Fehler (${when(v.lastFailure.at)}): ${v.lastFailure.message}</p>` : nothing}
      <p class="muted">Ziel: ${v.bucket}/${v.prefix}/</p>
      ${this.technician ? this.renderRestore() : nothing}
    `;
  }

  private renderRestore() {
    return html`
      ${this.notice ? html`<div class="message ${this.notice.kind}" role="status">${this.notice.text}</div>` : nothing}
      <button ?disabled=${this.busy} @click=${() => this.loadCopies()}>Kopien in der Cloud anzeigen</button>
      ${this.copies ? html`
        <div class="table-wrap"><table aria-label="Kopien in der Cloud">
          <thead><tr><th><span class="visually-hidden">Auswahl</span></th><th>Sicherung vom</th><th class="num">Größe</th><th>Datei</th></tr></thead>
          <tbody>${this.copies.map((c) => html`<tr>
            <td><input type="radio" name="copy" aria-label=${c.name} .checked=${this.chosen === c.name} @change=${() => { this.chosen = c.name; }}></td>
            <td class="nowrap">${when(c.createdAt)}</td><td class="num">${mb(c.size)}</td><td class="file">${c.name}</td></tr>`)}</tbody>
        </table></div>
        ${this.copies.length ? html`
          <label>Geheimer age-Schlüssel (AGE-SECRET-KEY-1…), wird nicht gespeichert:
            <textarea name="identity" rows="2" autocomplete="off" spellcheck="false"></textarea></label>
          <button ?disabled=${this.busy || !this.chosen} @click=${() => this.restore()}>${this.busy ? 'Wird wiederhergestellt …' : 'Aus der Cloud wiederherstellen'}</button>
          ${this.progress ? html`<p class="progress">${this.progress}</p>` : nothing}` : html`<p class="muted">Keine Kopien im Speicher.</p>`}` : nothing}
    `;
  }
}

customElements.define('kw-cloud-status', KwCloudStatus);
