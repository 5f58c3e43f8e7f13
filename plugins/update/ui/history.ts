/**
 * Panel `kw-update-history` (right-hand column of the maintenance page, "Rechts auf dem Bildschirm"): when the
 * last update was installed and with which version, per component (Kassensoftware, Kassenwart) the changes of its
 * newest update (older ones folded away), the last check's time and result, and ONE reminder when no check
 * succeeded for a month (the vendor recommends a monthly check). After "Updatecheck" installed something it shows
 * "Update fertig!" with the changes as a list per component, and after a restart it waits for the new version to
 * answer (GET /api/health) and says when it runs.
 */
import { html, css, nothing } from 'lit';
import { KwPanel, api, ApiError, onJobFinished, type Job } from 'kassenwart/sdk/ui';

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
  lastSuccessAt: string | null;
  reminder: boolean;
}

const dateFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat('de-DE', { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
const day = (iso: string) => dateFmt.format(new Date(iso));
const dayTime = (iso: string) => dateTimeFmt.format(new Date(iso));

/** What `update.check` puts into `result.details` (plugins/update/src/updater.ts). */
interface CheckDetails {
  version?: string;
  from?: string;
  restarting?: boolean;
  changes?: Array<{ component: string; version: string; lines: string[] }>;
}

/** The restart after an update: waiting for the new version, running, rolled back, or taking too long. */
type Restart = { version: string; from: string; state: 'waiting' | 'done' | 'rolled-back' | 'slow' };

/** How long the panel waits for the new version before it says so (an update with migrations takes minutes). */
const RESTART_PATIENCE_MS = 10 * 60_000;

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
    finished: { state: true },
    restart: { state: true },
  };
  static override styles = [KwPanel.styles, css`
    :host { display: block; }
    p { margin: 4px 0; }
    ul { margin: 2px 0 6px; padding-left: 1.2em; }
    li { margin: 1px 0; }
    .update { border-top: 1px solid var(--kw-border, #c9d0d8); padding-top: 6px; margin-top: 6px; }
    .update h3, .finished h3 { margin: 0 0 2px; font-size: 0.95rem; }
    .component { margin-top: 10px; }
    .component-name { margin: 0; font-size: 1.05rem; }
    details > summary { cursor: pointer; padding: 6px 0; color: var(--kw-primary, #1c5d99); }
    .finished { margin: 0 0 8px; }
    .finished .title { font-weight: 600; margin: 0 0 4px; }
  `];

  declare view: HistoryView | undefined;
  declare error: string | undefined;
  /** The last update this page saw finish (from `update.check`), shown until the page is left. */
  declare finished: CheckDetails | undefined;
  declare restart: Restart | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private offJobs: (() => void) | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    // The shell announces every finished job (button, schedule, CLI); the slow poll is only a fallback.
    this.offJobs = onJobFinished((job) => { if (job.actionId === 'update.check') this.jobFinished(job); });
    this.timer = setInterval(() => void this.load(), 60_000);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offJobs?.();
    if (this.timer) clearInterval(this.timer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
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

  /** A finished "Updatecheck": reload, show what it installed, and follow the restart it started. */
  jobFinished(job: Job): void {
    void this.load();
    const d = (job.result?.details ?? {}) as CheckDetails;
    if ((job.state !== 'succeeded' && job.state !== 'warning') || !d.changes?.length) return;
    this.finished = d;
    if (d.restarting && d.version) this.watchRestart(d.version, d.from ?? '');
  }

  /** Asks /api/health every 2 s until the new version answers (or the old one again: rolled back). */
  private watchRestart(version: string, from: string): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restart = { version, from, state: 'waiting' };
    const started = Date.now();
    let wasDown = false;
    const tick = async () => {
      let answered: string | undefined;
      try {
        const res = await fetch('/api/health', { cache: 'no-store', signal: AbortSignal.timeout(3000) });
        answered = res.ok ? ((await res.json()) as { version?: string }).version : undefined;
      } catch { /* not up yet */ }
      if (answered === undefined) wasDown = true;
      if (answered === version) {
        this.restart = { version, from, state: 'done' };
        void this.load();
        return;
      }
      if (answered !== undefined && wasDown && answered === from) {
        this.restart = { version, from, state: 'rolled-back' };
        void this.load();
        return;
      }
      if (Date.now() - started > RESTART_PATIENCE_MS && this.restart?.state === 'waiting') this.restart = { version, from, state: 'slow' };
      this.restartTimer = setTimeout(() => void tick(), 2000);
    };
    this.restartTimer = setTimeout(() => void tick(), 1000);
  }

  private renderFinished() {
    const f = this.finished;
    if (!f?.changes) return nothing;
    const r = this.restart;
    const restartText = !r ? nothing
      : r.state === 'waiting' ? html`<p data-testid="restart" role="status">Kassenwart startet neu … Bitte warten, bis Version ${r.version} läuft.</p>`
      : r.state === 'done' ? html`<p data-testid="restart" role="status">Neustart abgeschlossen: Kassenwart ${r.version} läuft.</p>`
      : r.state === 'rolled-back' ? html`<p data-testid="restart" role="alert">Nach dem Neustart läuft wieder Version ${r.from}: Das Update wurde zurückgenommen. Bitte den Techniker anrufen.</p>`
      : html`<p data-testid="restart" role="status">Kassenwart antwortet noch nicht mit Version ${r.version}. Bitte einige Minuten warten und die Seite neu laden; hilft das nicht, bitte den Techniker anrufen.</p>`;
    return html`<div class="message success finished" data-testid="finished">
      <p class="title">Update fertig!</p>
      ${f.changes.map((c) => html`<h3>${c.component} ${c.version}</h3>
        ${c.lines.length ? html`<ul>${c.lines.map((l) => html`<li>${l}</li>`)}</ul>` : html`<p class="muted">Keine Änderungshinweise.</p>`}`)}
      ${restartText}
    </div>`;
  }

  /** The line about the last check, and at most ONE reminder (never "no check yet" and "over a month" together). */
  private renderCheck(v: HistoryView) {
    if (!v.lastCheck) {
      return html`<p data-testid="last-check">Noch kein Updatecheck durchgeführt.</p>
        <div class="message warning" role="status" data-testid="reminder">Wir empfehlen, das Update einmal im Monat durchzuführen: bitte „Updatecheck“ anklicken.</div>`;
    }
    const line = html`<p data-testid="last-check">Letzter Updatecheck: ${dayTime(v.lastCheck.at)} – <span class=${v.lastCheck.ok ? '' : 'field-error'}>${v.lastCheck.message.split('\n')[0]}</span></p>`;
    if (!v.reminder) return line;
    const why = v.lastCheck.ok ? 'Der letzte Updatecheck ist länger als einen Monat her.'
      : v.lastSuccessAt ? 'Der letzte erfolgreiche Updatecheck ist länger als einen Monat her.'
      : 'Es gab noch keinen erfolgreichen Updatecheck.';
    return html`${line}<div class="message warning" role="status" data-testid="reminder">
      ${why} Wir empfehlen, das Update einmal im Monat durchzuführen: bitte „Updatecheck“ anklicken.</div>`;
  }

  override render() {
    if (this.error) return html`<div class="message error" role="alert">${this.error}</div>`;
    const v = this.view;
    if (!v) return html`<p class="muted">Lade …</p>`;
    return html`
      <section aria-label="Updates">
        ${this.renderFinished()}
        <p data-testid="last-update">${v.lastUpdate
          ? html`Letztes Update: <strong>${day(v.lastUpdate.installedAt)}</strong>, ${v.lastUpdate.componentName} <strong>${v.lastUpdate.version}</strong>`
          : html`Noch kein Update eingespielt.`}</p>
        ${this.renderCheck(v)}
        ${this.orderedComponents(v).map((c) => this.renderComponent(c))}
      </section>`;
  }

  /** The component with the newest update first (its changes are what the operator reads), then the rest. */
  private orderedComponents(v: HistoryView): ComponentView[] {
    const newest = (c: ComponentView) => (c.updates[0] ? Date.parse(c.updates[0].installedAt) : 0);
    return [...v.components].sort((a, b) => newest(b) - newest(a));
  }

  private renderUpdate(u: UpdateEntry) {
    return html`
      <div class="update" data-testid="update">
        <h3>${day(u.installedAt)}: Version ${u.version} <span class="muted">(${STATUS[u.status]})</span></h3>
        ${u.reason ? html`<p class="field-error">${u.reason.split('\n').map((l, i) => html`${i ? html`<br>` : nothing}${l}`)}</p>` : nothing}
        ${u.notes.map((n) => html`
          ${u.notes.length > 1 ? html`<p class="muted">Version ${n.version} vom ${day(n.date)}</p>` : nothing}
          ${n.lines.length ? html`<ul>${n.lines.map((l) => html`<li>${l}</li>`)}</ul>` : html`<p class="muted">Keine Änderungshinweise.</p>`}
        `)}
      </div>`;
  }

  private renderComponent(c: ComponentView) {
    // "nicht eingerichtet (es fehlt: …)": the state in one line, the long list folded away.
    const cut = c.skipped ? c.skipped.indexOf(' (') : -1;
    return html`
      <div class="component" data-testid=${`component-${c.id}`}>
        <h3 class="component-name">${c.displayName}</h3>
        ${c.skipped
          ? cut > 0
            ? html`<details data-testid="installed"><summary>${c.skipped.slice(0, cut)}</summary><p class="muted">${c.skipped.slice(cut + 1)}</p></details>`
            : html`<p class="muted" data-testid="installed">${c.displayName}: ${c.skipped}</p>`
          : html`<p class="muted" data-testid="installed">Installierte Version: ${c.installedVersion ?? 'unbekannt'}</p>`}
        ${c.updates.length ? this.renderUpdate(c.updates[0]) : nothing}
        ${c.updates.length > 1 ? html`<details data-testid="older"><summary>Frühere Updates (${c.updates.length - 1})</summary>
          ${c.updates.slice(1).map((u) => this.renderUpdate(u))}</details>` : nothing}
      </div>`;
  }
}

if (!customElements.get('kw-update-history')) customElements.define('kw-update-history', KwUpdateHistory);
