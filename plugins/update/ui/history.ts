/**
 * Panel `kw-update-history` (right-hand column of the maintenance page): when the last update was installed
 * and with which version, per component (Kassensoftware, Kassenwart) what each update changed (newest first), the last check's time and result, and a
 * reminder when the last check is more than a month old (the vendor recommends a monthly check).
 */
import { html, css, nothing } from 'lit';
import { KwPanel, api, ApiError } from 'kassenwart/sdk/ui';

interface Notes { version: string; date: string; lines: string[] }
interface UpdateEntry {
  component: string; componentName: string; version: string; from: string; installedAt: string;
  status: 'pending' | 'installed' | 'rolled-back'; reason?: string; notes: Notes[];
}
interface ComponentView {
  id: string; displayName: string; installedVersion: string | null; skipped: string | null;
  lastUpdate: { version: string; installedAt: string } | null; updates: UpdateEntry[];
}
interface HistoryView {
  runningVersion: string;
  lastUpdate: { version: string; installedAt: string; componentName: string } | null;
  updates: UpdateEntry[];
  components: ComponentView[];
  lastCheck: { at: string; ok: boolean; message: string } | null;
  reminder: boolean;
}

const dateFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const day = (iso: string) => dateFmt.format(new Date(iso));
const dayTime = (iso: string) => dateTimeFmt.format(new Date(iso));

const STATUS: Record<UpdateEntry['status'], string> = {
  installed: 'eingespielt',
  pending: 'wartet auf Neustart',
  'rolled-back': 'zurückgenommen',
};

export class KwUpdateHistory extends KwPanel {
  static override properties = {
    ...KwPanel.properties,
    view: { state: true },
    error: { state: true },
  };
  static override styles = [KwPanel.styles, css`
    ul { margin: 4px 0 8px; padding-left: 1.2em; }
    li { margin: 2px 0; }
    .update { border-top: 1px solid var(--kw-border, #c9d0d8); padding-top: 8px; margin-top: 8px; }
    .update h4 { margin: 0 0 4px; font-size: 1rem; }
    .component { margin-top: 12px; }
    .component-name { margin: 0; font-size: 1.05rem; }
  `];

  declare view: HistoryView | undefined;
  declare error: string | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly onJobFinished = (e: Event) => {
    if ((e as CustomEvent<{ actionId?: string }>).detail?.actionId === 'update.check') void this.load();
  };

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    // The shell announces finished jobs ("kw-job-finished"); checks started by the schedule or the CLI show up
    // with the periodic refresh.
    window.addEventListener('kw-job-finished', this.onJobFinished);
    this.timer = setInterval(() => void this.load(), 30_000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('kw-job-finished', this.onJobFinished);
    if (this.timer) clearInterval(this.timer);
  }

  /** Reloads the history from the server. */
  async load(): Promise<void> {
    try {
      this.view = await api<HistoryView>('GET', '/api/ext/update/history');
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof ApiError ? e.message : 'Update-Verlauf konnte nicht geladen werden.';
    }
  }

  override render() {
    if (this.error) return html`<div class="message error" role="alert">${this.error}</div>`;
    const v = this.view;
    if (!v) return html`<p class="muted">Lade …</p>`;
    return html`
      <section aria-label="Updates">
        <p data-testid="last-update">${v.lastUpdate
          ? html`Letztes Update: <strong>${day(v.lastUpdate.installedAt)}</strong>, ${v.lastUpdate.componentName} <strong>${v.lastUpdate.version}</strong>`
          : html`Noch kein Update eingespielt.`}</p>
        <p data-testid="last-check">${v.lastCheck
          ? html`Letzter Updatecheck: ${dayTime(v.lastCheck.at)} – <span class=${v.lastCheck.ok ? '' : 'field-error'}>${v.lastCheck.message.split('\n')[0]}</span>`
          : html`Noch kein Updatecheck durchgeführt.`}</p>
        ${v.reminder ? html`<div class="message warning" role="status" data-testid="reminder">
            Der letzte Updatecheck ist länger als einen Monat her. Wir empfehlen, das Update einmal im Monat durchzuführen: bitte „Updatecheck“ anklicken.
          </div>` : nothing}
        ${v.components.map((c) => this.renderComponent(c))}
      </section>`;
  }

  private renderComponent(c: ComponentView) {
    return html`
      <div class="component" data-testid=${`component-${c.id}`}>
        <h4 class="component-name">${c.displayName}</h4>
        <p class="muted" data-testid="installed">${c.skipped
          ? html`${c.displayName}: ${c.skipped}`
          : html`Installierte Version: ${c.installedVersion ?? 'unbekannt'}`}</p>
        ${c.updates.map((u) => html`
          <div class="update" data-testid="update">
            <h4>${day(u.installedAt)}: Version ${u.version} <span class="muted">(${STATUS[u.status]})</span></h4>
            ${u.reason ? html`<p class="field-error">${u.reason.split('\n').map((l, i) => html`${i ? html`<br>` : nothing}${l}`)}</p>` : nothing}
            ${u.notes.map((n) => html`
              ${u.notes.length > 1 ? html`<p class="muted">Version ${n.version} vom ${day(n.date)}</p>` : nothing}
              ${n.lines.length ? html`<ul>${n.lines.map((l) => html`<li>${l}</li>`)}</ul>` : html`<p class="muted">Keine Änderungshinweise.</p>`}
            `)}
          </div>`)}
      </div>`;
  }
}

if (!customElements.get('kw-update-history')) customElements.define('kw-update-history', KwUpdateHistory);
