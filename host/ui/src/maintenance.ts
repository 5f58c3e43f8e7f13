/**
 * "Wartung": one card per maintenance action (button → confirm → progress over server-sent events →
 * result or German error), the plugins' maintenance panels, and the right-hand column of sidebar panels.
 */
import { LitElement, html, css, nothing } from 'lit';
import { api, ApiError, followJob, kwStyles, startAction, type Job } from 'kassenwart/sdk/ui';
import { confirmDialog } from './dialog.js';
import { fetchPanels } from './panels.js';
import { formatDate, hasRole, jobStateLabel, type ActionInfo, type PanelInfo } from './state.js';

/** The warning shown while an exclusive action runs (vendor wording). */
export const EXCLUSIVE_WARNING = 'Bitte während der Datensicherung nicht mit der Kasse arbeiten';

/** Event (bubbling, composed) fired by an action card when its job finished. */
export const JOB_FINISHED_EVENT = 'kw-job-finished';

type Outcome = { kind: 'success' | 'warning' | 'error' | 'notice'; text: string; hint?: string };

/** One action: its button, confirm dialog, progress while running and the outcome. */
export class KwAction extends LitElement {
  static override styles = [
    kwStyles,
    css`
      .card { height: 100%; margin: 0; display: flex; flex-direction: column; gap: 8px; }
      button.start { width: 100%; min-height: 56px; font-size: 1.1rem; }
      .progress-line { display: flex; justify-content: space-between; gap: 8px; font-size: 0.95rem; }
      .message { margin: 0; }
      .message .row { margin-top: 6px; }
      .hint { display: block; margin-top: 4px; font-weight: normal; }
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

  override connectedCallback() {
    super.connectedCallback();
    if (this.action?.running && !this.job) void this.attach(this.action.running);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    this.following?.abort();
    this.following = undefined;
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
    const a = this.action;
    if (job.state === 'succeeded') {
      this.outcome = { kind: 'success', text: job.result?.message || a.success || `${a.title}: erfolgreich abgeschlossen.` };
    } else if (job.state === 'warning') {
      this.outcome = { kind: 'warning', text: job.result?.message || `${a.title}: mit Warnung abgeschlossen.`, hint: job.error?.hint };
    } else if (job.state === 'cancelled') {
      this.outcome = { kind: 'notice', text: `${a.title} wurde abgebrochen.` };
    } else {
      this.outcome = {
        kind: 'error',
        text: job.error?.message || `${a.title} ist fehlgeschlagen.`,
        hint: job.error?.hint,
      };
    }
    this.dispatchEvent(new CustomEvent(JOB_FINISHED_EVENT, { detail: job, bubbles: true, composed: true }));
    void this.updateComplete.then(() => (this.renderRoot.querySelector('.outcome button') as HTMLElement | null)?.focus());
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
    return html`<div class="card" data-action=${a.id}>
      <button class="primary start" ?disabled=${!allowed || this.busy} aria-describedby=${a.description || !allowed ? 'desc' : nothing}
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
            ${a.exclusive ? html`<p class="message warning exclusive"><strong>${EXCLUSIVE_WARNING}</strong></p>` : ''}
            ${allowed ? html`<button type="button" @click=${() => this.cancel()}>Abbrechen</button>` : ''}
          </div>`
        : ''}
      ${o
        ? html`<div class=${`message outcome ${o.kind === 'notice' ? 'warning' : o.kind}`}
            role=${o.kind === 'success' ? 'status' : 'alert'}>
            <strong>${o.text}</strong>${o.hint ? html`<span class="hint">${o.hint}</span>` : ''}
            <div class="row"><button type="button" @click=${() => { this.outcome = null; }}>ok</button></div>
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
export function renderActions(actions: ActionInfo[], lastJobs: Map<string, Job>) {
  return html`<div class="actions">${actions.map(
    (a) => html`<kw-action .action=${a} .lastJob=${lastJobs.get(a.id)}></kw-action>`,
  )}</div>`;
}

/** Newest finished job per action id, from `GET /api/jobs`. */
export async function lastJobsByAction(): Promise<Map<string, Job>> {
  const jobs = await api<Job[]>('GET', '/api/jobs?limit=100');
  const map = new Map<string, Job>();
  for (const j of jobs) if (j.state !== 'running' && !map.has(j.actionId)) map.set(j.actionId, j);
  return map;
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
      .layout { display: grid; grid-template-columns: minmax(0, 1fr); gap: var(--kw-gap, 12px); }
      @media (min-width: 880px) {
        .layout.with-sidebar { grid-template-columns: minmax(0, 1fr) minmax(260px, 320px); }
      }
      aside h2.visually-hidden { position: absolute; left: -10000px; }
    `,
  ];
  static override properties = {
    actions: { state: true },
    panels: { state: true },
    lastJobs: { state: true },
    error: { state: true },
    loaded: { state: true },
  };
  declare actions: ActionInfo[];
  declare panels: PanelInfo[];
  declare lastJobs: Map<string, Job>;
  declare error: string;
  declare loaded: boolean;

  constructor() {
    super();
    this.actions = [];
    this.panels = [];
    this.lastJobs = new Map();
    this.error = '';
    this.loaded = false;
    this.addEventListener(JOB_FINISHED_EVENT, () => void this.loadHistory());
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async loadHistory() {
    this.lastJobs = await lastJobsByAction().catch(() => this.lastJobs);
  }

  private async load() {
    try {
      const [actions, main, side] = await Promise.all([
        api<ActionInfo[]>('GET', '/api/actions'),
        fetchPanels('maintenance'),
        fetchPanels('sidebar'),
      ]);
      this.actions = actions.filter((a) => (a.location ?? 'maintenance') === 'maintenance');
      this.panels = [...main, ...side];
      this.error = '';
      await this.loadHistory();
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.loaded = true;
    }
  }

  override render() {
    const main = this.panels.filter((p) => p.location === 'maintenance');
    const side = this.panels.filter((p) => p.location === 'sidebar');
    return html`<div class=${side.length ? 'layout with-sidebar' : 'layout'}>
      <div class="main">
        <h1 tabindex="-1">Wartung</h1>
        ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
        ${this.loaded && !this.error && !this.actions.length
          ? html`<p class="muted">Keine Wartungsfunktionen verfügbar. Unter „Plugins“ lassen sich weitere aktivieren.</p>`
          : ''}
        ${renderActions(this.actions, this.lastJobs)}
        ${main.map((p) => html`<kw-panel-host .panel=${p}></kw-panel-host>`)}
      </div>
      ${side.length
        ? html`<aside aria-label="Informationen">${side.map((p) => html`<kw-panel-host .panel=${p}></kw-panel-host>`)}</aside>`
        : ''}
    </div>`;
  }
}
customElements.define('kw-maintenance', KwMaintenance);
