/**
 * "Wartung": one card per maintenance action (button → confirm → progress over server-sent events →
 * result, information or German error), the plugins' panels in the left column, and the right-hand column
 * ("Rechts auf dem Bildschirm") with the panels whose manifest says `column: "side"`.
 */
import { LitElement, html, css, nothing } from 'lit';
import { api, ApiError, followJob, kwStyles, startAction, JOB_FINISHED_EVENT, type Job } from 'kassenwart/sdk/ui';
import { confirmDialog } from './dialog.js';
import { fetchPanels } from './panels.js';
import { JOB_STARTED_EVENT } from './job-events.js';
import { takeBoot } from './boot.js';
import { deepActiveElement, formatDate, hasRole, jobStateLabel, type ActionInfo, type PanelInfo } from './state.js';

export { JOB_FINISHED_EVENT };

type Outcome = { kind: 'success' | 'warning' | 'error' | 'notice' | 'info'; text: string; hint?: string };
/**
 * A result text: the first line bold (the headline, e.g. "Update fertig!"), the rest as it was written, line by
 * line (e.g. the changes of an update), not one bold run-on paragraph.
 */
export function renderMessage(text: string) {
  const [head, ...rest] = text.split('\n');
  const more = rest.join('\n').trim();
  return html`<strong>${head}</strong>${more ? html`<div class="more">${more}</div>` : ''}`;
}

/** One action: its button, confirm dialog, progress while running and the outcome. */
export class KwAction extends LitElement {
  static override styles = [
    kwStyles,
    css`
      .card { height: 100%; margin: 0; display: flex; flex-direction: column; gap: 8px; }
      button.start { width: 100%; min-height: 56px; font-size: 1.1rem; }
      .progress-line { display: flex; justify-content: space-between; align-items: baseline; gap: 8px; font-size: 0.95rem; }
      .percent { white-space: nowrap; flex: none; font-variant-numeric: tabular-nums; font-weight: 600; }
      .progress-message { min-width: 0; text-align: right; overflow-wrap: anywhere; }
      button.start[aria-disabled='true'] { opacity: 0.55; cursor: progress; }
      .message { margin: 0; }
      .message .row { margin-top: 6px; }
      .hint { display: block; margin-top: 4px; font-weight: normal; }
      .more { white-space: pre-line; margin-top: 6px; font-weight: normal; }
    `,
  ];
  static override properties = {
    action: { attribute: false },
    lastJob: { attribute: false },
    job: { state: true },
    outcome: { state: true },
    busy: { state: true },
  };
  declare action: ActionInfo;
  declare lastJob: Job | undefined;
  declare job: Job | null;
  declare outcome: Outcome | null;
  declare busy: boolean;
  private following?: AbortController;

  constructor() {
    super();
    this.job = null;
    this.outcome = null;
    this.busy = false;
  }

  private readonly onStarted = (e: Event) => {
    const job = (e as CustomEvent<Job>).detail;
    if (job?.actionId === this.action?.id && !this.job && !this.busy) this.follow(job);
  };

  private readonly onFinished = (e: Event) => {
    const job = (e as CustomEvent<Job>).detail;
    if (job?.actionId === this.action?.id) this.lastJob = job;
  };

  override connectedCallback() {
    super.connectedCallback();
    window.addEventListener(JOB_STARTED_EVENT, this.onStarted);
    window.addEventListener(JOB_FINISHED_EVENT, this.onFinished);
    if (this.action?.running && !this.job) void this.attach(this.action.running);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    window.removeEventListener(JOB_STARTED_EVENT, this.onStarted);
    window.removeEventListener(JOB_FINISHED_EVENT, this.onFinished);
    this.following?.abort();
    this.following = undefined;
  }

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('action') && this.action?.last && !this.lastJob) this.lastJob = this.action.last;
  }

  /** Follows an already running job (started elsewhere, or before the page was opened). */
  private async attach(jobId: string) {
    try {
      const job = await api<Job>('GET', `/api/jobs/${encodeURIComponent(jobId)}`);
      if (job.state === 'running') this.follow(job);
    } catch {
      /* it may have finished meanwhile; nothing to show */
    }
  }

  private follow(job: Job) {
    this.job = job;
    this.outcome = null;
    this.following?.abort();
    const ctl = new AbortController();
    this.following = ctl;
    followJob(job.id, (p) => {
      if (this.job?.id === job.id) this.job = { ...this.job, percent: p.percent, message: p.message };
    }, { signal: ctl.signal }).then(
      (done) => this.finished(done),
      (e: unknown) => {
        if (ctl.signal.aborted) return;
        this.job = null;
        this.outcome = { kind: 'error', text: e instanceof Error ? e.message : String(e) };
      },
    );
  }

  private finished(job: Job) {
    this.job = null;
    this.following = undefined;
    this.lastJob = job;
    const a = this.action;
    if (job.state === 'succeeded') {
      this.outcome = { kind: 'success', text: job.result?.message || a.success || `${a.title}: erfolgreich abgeschlossen.` };
    } else if (job.state === 'warning') {
      this.outcome = { kind: 'warning', text: job.result?.message || `${a.title}: mit Warnung abgeschlossen.`, hint: job.error?.hint };
    } else if (job.state === 'info') {
      this.outcome = { kind: 'info', text: job.result?.message || `${a.title}: nichts zu tun.` };
    } else if (job.state === 'cancelled') {
      this.outcome = { kind: 'notice', text: `${a.title} wurde abgebrochen.` };
    } else {
      this.outcome = {
        kind: 'error',
        text: job.error?.message || `${a.title} ist fehlgeschlagen.`,
        hint: job.error?.hint,
      };
    }
    // The "ok" button is where the user goes next, if they were here (never steal focus from elsewhere).
    const focused = deepActiveElement();
    const here = !focused || focused === document.body || this.renderRoot.contains(focused);
    if (here) void this.updateComplete.then(() => (this.renderRoot.querySelector('.outcome button') as HTMLElement | null)?.focus());
  }

  /** "ok": the message goes, focus goes back to the action's button. */
  private async dismiss() {
    this.outcome = null;
    await this.updateComplete;
    (this.renderRoot.querySelector('button.start') as HTMLElement | null)?.focus();
  }

  private async start() {
    const a = this.action;
    if (this.busy) return;
    // While we know it runs, ask the server straight away: it answers "läuft bereits" (409).
    if (!this.job) {
      const ok = await confirmDialog({ title: a.title, message: a.confirm || `Soll „${a.title}“ jetzt ausgeführt werden?` });
      if (!ok) return;
    }
    this.busy = true;
    try {
      const job = await startAction(a.id, {});
      this.follow(job);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        this.outcome = { kind: 'notice', text: e.message, hint: e.hint };
      } else {
        this.outcome = {
          kind: 'error',
          text: e instanceof Error ? e.message : String(e),
          hint: e instanceof ApiError ? e.hint : undefined,
        };
      }
    } finally {
      this.busy = false;
    }
  }

  private async cancel() {
    if (!this.job) return;
    const ok = await confirmDialog({
      title: this.action.title,
      message: `Soll „${this.action.title}“ abgebrochen werden?`,
      acceptLabel: 'Vorgang abbrechen',
      cancelLabel: 'weiterlaufen lassen',
    });
    if (!ok || !this.job) return;
    try {
      await api('POST', `/api/jobs/${encodeURIComponent(this.job.id)}/cancel`);
    } catch (e) {
      this.outcome = { kind: 'error', text: e instanceof Error ? e.message : String(e) };
    }
  }

  override render() {
    const a = this.action;
    const allowed = hasRole(a.role);
    const job = this.job;
    const o = this.outcome;
    const pct = typeof job?.percent === 'number' ? Math.max(0, Math.min(100, Math.round(job.percent))) : undefined;
    const running = !!job;
    const outcomeClass = o?.kind === 'notice' ? 'warning' : o?.kind;
    // While starting, the button stays focusable (aria-disabled, clicks ignored): a disabled button would drop
    // the keyboard focus to the page.
    return html`<div class="card" data-action=${a.id}>
      <button class="primary start" ?disabled=${!allowed} aria-disabled=${this.busy ? 'true' : 'false'}
        aria-describedby=${a.description || !allowed ? 'desc' : nothing}
        @click=${() => this.start()}>${a.title}</button>
      ${a.description || !allowed
        ? html`<p id="desc" class="muted">${a.description ?? ''}${allowed ? '' : ' Nur für Techniker.'}</p>`
        : ''}
      ${running
        ? html`<div class="running" role="status" aria-live="polite">
            <progress max="100" value=${pct ?? nothing}
              aria-label=${`Fortschritt: ${a.title}`}></progress>
            <div class="progress-line"><span class="percent">${pct === undefined ? 'läuft …' : `${pct} %`}</span>
              <span class="progress-message">${job.message ?? ''}</span></div>
            ${a.warning ? html`<p class="message warning action-warning"><strong>${a.warning}</strong></p>` : ''}
            ${allowed ? html`<button type="button" @click=${() => this.cancel()}>Abbrechen</button>` : ''}
          </div>`
        : ''}
      ${o
        ? html`<div class=${`message outcome ${outcomeClass}`}
            role=${o.kind === 'success' || o.kind === 'info' ? 'status' : 'alert'}>
            ${renderMessage(o.text)}${o.hint ? html`<span class="hint">${o.hint}</span>` : ''}
            <div class="row"><button type="button" @click=${() => this.dismiss()}>ok</button></div>
          </div>`
        : ''}
      ${this.lastJob && !running
        ? html`<p class="muted last">Zuletzt: ${formatDate(this.lastJob.startedAt)} – ${jobStateLabel(this.lastJob.state)}</p>`
        : ''}
    </div>`;
  }
}
customElements.define('kw-action', KwAction);

/** A grid of action cards (used on "Wartung" and in settings sections). */
export function renderActions(actions: ActionInfo[]) {
  return html`<div class="actions">${actions.map((a) => html`<kw-action .action=${a}></kw-action>`)}</div>`;
}

/** Shared CSS of the action grid. */
export const actionGridStyles = css`
  .actions { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: var(--kw-gap, 12px); margin-bottom: var(--kw-gap, 12px); }
`;

class KwMaintenance extends LitElement {
  static override styles = [
    kwStyles,
    actionGridStyles,
    css`
      .layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: var(--kw-gap, 12px); align-items: start; }
      @media (min-width: 880px) {
        .layout.with-side { grid-template-columns: minmax(0, 1fr) minmax(280px, 340px); }
      }
      aside kw-panel-host { display: block; }
    `,
  ];
  static override properties = {
    actions: { state: true },
    panels: { state: true },
    error: { state: true },
    loaded: { state: true },
  };
  declare actions: ActionInfo[];
  declare panels: PanelInfo[];
  declare error: string;
  declare loaded: boolean;

  constructor() {
    super();
    this.actions = [];
    this.panels = [];
    this.error = '';
    this.loaded = false;
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    try {
      const booted = takeBoot('actions');
      const [actions, panels] = await Promise.all([booted ?? api<ActionInfo[]>('GET', '/api/actions'), fetchPanels('maintenance')]);
      this.actions = actions.filter((a) => (a.location ?? 'maintenance') === 'maintenance');
      this.panels = panels;
      this.error = '';
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.loaded = true;
    }
  }

  override render() {
    const main = this.panels.filter((p) => p.column !== 'side');
    const side = this.panels.filter((p) => p.column === 'side');
    return html`<div class=${side.length ? 'layout with-side' : 'layout'}>
      <div class="main">
        <h1 tabindex="-1">Wartung</h1>
        ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
        ${this.loaded && !this.error && !this.actions.length
          ? html`<p class="muted">Keine Wartungsfunktionen verfügbar. Unter „Plugins“ lassen sich weitere aktivieren.</p>`
          : ''}
        ${renderActions(this.actions)}
        ${main.map((p) => html`<kw-panel-host .panel=${p}></kw-panel-host>`)}
      </div>
      ${side.length
        ? html`<aside aria-label="Auf einen Blick">${side.map((p) => html`<kw-panel-host .panel=${p}></kw-panel-host>`)}</aside>`
        : ''}
    </div>`;
  }
}
customElements.define('kw-maintenance', KwMaintenance);
