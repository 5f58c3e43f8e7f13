/** "Verlauf" (job history) and "Protokoll" (audit log, technicians only). */
import { LitElement, html, css } from 'lit';
import { api, kwStyles, JOB_FINISHED_EVENT, type Job, type SettingsEntry } from 'kassenwart/sdk/ui';
import { auditDetails, auditEventLabel, formatDate, formatDuration, jobStateLabel, triggerLabel } from './state.js';

const tableStyles = css`
  .state-succeeded { color: var(--kw-success, #1e6b31); font-weight: 600; }
  .state-warning { color: var(--kw-warning, #7a4a00); font-weight: 600; }
  .state-failed { color: var(--kw-error, #a11212); font-weight: 600; }
  .state-running { color: var(--kw-primary, #1c5d99); font-weight: 600; }
  .state-info, .state-cancelled { color: var(--kw-text, #1d2329); font-weight: 600; }
  td.nowrap { white-space: nowrap; }
  td.details { overflow-wrap: anywhere; font-size: 0.9rem; }
  .result-text { white-space: pre-line; }
  pre { white-space: pre-wrap; margin: 4px 0; font-size: 0.85rem; }
  button.link { min-height: 32px; padding: 2px 10px; }
  @media (max-width: 640px) {
    thead { display: none; }
    tr { display: block; border-bottom: 1px solid var(--kw-border, #c9d0d8); padding: 6px 0; }
    td { display: block; border: 0; padding: 2px 0; }
    td[data-label]::before { content: attr(data-label) ': '; color: var(--kw-muted, #505b66); }
    td.title { font-weight: 700; }
  }
`;

class KwHistory extends LitElement {
  static override styles = [kwStyles, tableStyles];
  static override properties = { jobs: { state: true }, error: { state: true }, logs: { state: true } };
  declare jobs: Job[];
  declare error: string;
  declare logs: Map<string, Job['log'] | 'loading' | string>;

  constructor() {
    super();
    this.jobs = [];
    this.error = '';
    this.logs = new Map();
  }

  private readonly onFinished = () => void this.load();

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
    window.addEventListener(JOB_FINISHED_EVENT, this.onFinished);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    window.removeEventListener(JOB_FINISHED_EVENT, this.onFinished);
  }

  private async load() {
    try {
      this.jobs = await api<Job[]>('GET', '/api/jobs?limit=50');
      this.error = '';
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  private async toggleLog(id: string) {
    const logs = new Map(this.logs);
    if (logs.has(id)) logs.delete(id);
    else {
      logs.set(id, 'loading');
      this.logs = logs;
      try {
        const job = await api<Job>('GET', `/api/jobs/${encodeURIComponent(id)}`);
        this.logs = new Map(this.logs).set(id, job.log ?? []);
      } catch (e) {
        this.logs = new Map(this.logs).set(id, e instanceof Error ? e.message : String(e));
      }
      return;
    }
    this.logs = logs;
  }

  override render() {
    return html`<h1 tabindex="-1">Verlauf</h1>
      <div class="row"><button type="button" @click=${() => this.load()}>Aktualisieren</button></div>
      ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
      ${!this.error && !this.jobs.length ? html`<p class="muted">Noch keine Vorgänge.</p>` : ''}
      ${this.jobs.length
        ? html`<div class="card table-wrap"><table>
            <caption class="muted" style="text-align:left">Neueste zuerst</caption>
            <thead><tr><th>Start</th><th>Vorgang</th><th>Ergebnis</th><th>Dauer</th><th>Von</th><th>Einzelheiten</th></tr></thead>
            <tbody>${this.jobs.map((j) => {
              const log = this.logs.get(j.id);
              const text = j.state === 'failed' || j.state === 'cancelled' ? j.error?.message : j.result?.message ?? j.message;
              return html`<tr data-job=${j.id}>
                <td class="nowrap">${formatDate(j.startedAt)}</td>
                <td class="title">${j.title ?? j.actionId}</td>
                <td><span class=${`state-${j.state}`}>${jobStateLabel(j.state)}</span>${text ? html`<div class="result-text">${text}</div>` : ''}
                  ${j.error?.hint ? html`<div class="muted">${j.error.hint}</div>` : ''}
                  ${log === 'loading' ? html`<div class="muted">Wird geladen …</div>`
                    : typeof log === 'string' ? html`<div class="message error">${log}</div>`
                    : log ? html`<pre>${log.length ? log.map((l) => `${formatDate(l.at)}  ${l.message}`).join('\n') : 'Keine Einträge.'}</pre>` : ''}
                </td>
                <td class="nowrap" data-label="Dauer">${formatDuration(j.durationMs)}</td>
                <td data-label="Von">${j.user ?? ''}${j.trigger ? html` <span class="muted">(${triggerLabel(j.trigger)})</span>` : ''}</td>
                <td><button type="button" class="link" aria-expanded=${log ? 'true' : 'false'}
                  aria-label=${`Einzelheiten von ${j.title ?? j.actionId} ${log ? 'ausblenden' : 'anzeigen'}`}
                  @click=${() => this.toggleLog(j.id)}>${log ? 'ausblenden' : 'anzeigen'}</button></td>
              </tr>`;
            })}</tbody></table></div>`
        : ''}`;
  }
}
customElements.define('kw-history', KwHistory);

interface AuditEntry {
  at: string;
  user?: string;
  event: string;
  target?: string;
  details?: unknown;
}

class KwAudit extends LitElement {
  static override styles = [kwStyles, tableStyles];
  static override properties = { entries: { state: true }, error: { state: true } };
  declare entries: AuditEntry[];
  declare error: string;
  private titles = new Map<string, string>();

  constructor() {
    super();
    this.entries = [];
    this.error = '';
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    try {
      const [entries, settings] = await Promise.all([
        api<AuditEntry[]>('GET', '/api/audit?limit=200'),
        api<SettingsEntry[]>('GET', '/api/settings').catch(() => [] as SettingsEntry[]),
      ]);
      // setting keys ("ftpTls") are shown by their titles ("Verschlüsselung"), plugin ids by their names
      this.titles = new Map();
      for (const e of settings) {
        this.titles.set(e.plugin, e.displayName);
        for (const [k, v] of Object.entries(e.schema?.properties ?? {})) {
          const t = (v as { title?: string; 'x-code'?: string }).title;
          if (t) this.titles.set(`${e.plugin}/${k}`, [(v as { 'x-code'?: string })['x-code'], t].filter(Boolean).join(' '));
        }
      }
      this.entries = entries;
      this.error = '';
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  override render() {
    const details = (e: AuditEntry) => {
      if (e.event === 'settings.change' && e.target && e.details && typeof e.details === 'object') {
        const d = e.details as { keys?: string[]; before?: Record<string, unknown>; after?: Record<string, unknown> };
        const shown = (v: unknown) => (v === undefined || v === null ? 'Standard' : v === '' ? '(leer)' : typeof v === 'string' ? v : JSON.stringify(v));
        const change = (k: string) => {
          const title = this.titles.get(`${e.target}/${k}`) ?? k;
          const has = d.before && typeof d.before === 'object' && d.after && typeof d.after === 'object' && (k in d.before || k in d.after);
          return has ? `${title}: ${shown(d.before![k])} → ${shown(d.after![k])}` : title;
        };
        return (d.keys ?? []).map(change).join(' · ');
      }
      return auditDetails(e.details);
    };
    const target = (e: AuditEntry) => (e.target ? this.titles.get(e.target) ?? e.target : '');
    return html`<h1 tabindex="-1">Protokoll</h1>
      <p class="muted">Wer hat wann was getan: Anmeldungen, geänderte Einstellungen, Wartungsfunktionen, Plugins.</p>
      <div class="row"><button type="button" @click=${() => this.load()}>Aktualisieren</button></div>
      ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
      ${!this.error && !this.entries.length ? html`<p class="muted">Noch keine Einträge.</p>` : ''}
      ${this.entries.length
        ? html`<div class="card table-wrap"><table>
            <thead><tr><th>Zeit</th><th>Benutzer</th><th>Ereignis</th><th>Ziel</th><th>Details</th></tr></thead>
            <tbody>${this.entries.map((e) => html`<tr>
              <td class="nowrap">${formatDate(e.at)}</td><td>${e.user ?? ''}</td><td>${auditEventLabel(e)}</td>
              <td>${target(e)}</td><td class="details">${details(e)}</td></tr>`)}</tbody>
          </table></div>`
        : ''}`;
  }
}
customElements.define('kw-audit', KwAudit);
