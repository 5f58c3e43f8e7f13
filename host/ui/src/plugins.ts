/**
 * "Plugins": every plugin of this installation with version, state and failure reasons; technicians can
 * enable or disable it (enabling pulls required plugins in; disabling asks before taking dependants along).
 */
import { LitElement, html, css } from 'lit';
import { api, ApiError, kwStyles } from 'kassenwart/sdk/ui';
import { confirmDialog } from './dialog.js';
import { hasRole, type PluginInfo } from './state.js';

/** Event (bubbling, composed) after a plugin was enabled or disabled. */
export const PLUGINS_CHANGED_EVENT = 'kw-plugins-changed';

const stateLabels: Record<string, string> = {
  active: 'aktiv',
  inactive: 'bereit',
  disabled: 'deaktiviert',
  failed: 'fehlerhaft',
};

class KwPlugins extends LitElement {
  static override styles = [
    kwStyles,
    css`
      .list { display: grid; gap: var(--kw-gap, 12px); grid-template-columns: repeat(auto-fill, minmax(300px, 1fr)); }
      .card { margin: 0; display: flex; flex-direction: column; gap: 6px; }
      .head { display: flex; justify-content: space-between; gap: 8px; align-items: baseline; flex-wrap: wrap; }
      .badge.active { color: var(--kw-success, #1e6b31); }
      .badge.inactive { color: var(--kw-primary, #1c5d99); }
      .badge.disabled { color: var(--kw-muted, #505b66); }
      .badge.failed { color: var(--kw-error, #a11212); font-weight: 700; }
      ul.reasons { margin: 0; padding-left: 1.2em; }
      .spacer { flex: 1; }
    `,
  ];
  static override properties = {
    plugins: { state: true },
    error: { state: true },
    notice: { state: true },
    busy: { state: true },
  };
  declare plugins: PluginInfo[];
  declare error: string;
  declare notice: string;
  declare busy: string;

  constructor() {
    super();
    this.plugins = [];
    this.error = '';
    this.notice = '';
    this.busy = '';
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    try {
      this.plugins = await api<PluginInfo[]>('GET', '/api/plugins');
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  private name(id: string) {
    return this.plugins.find((p) => p.id === id)?.displayName ?? id;
  }

  private async toggle(p: PluginInfo, button: HTMLElement) {
    this.error = '';
    this.notice = '';
    this.busy = p.id;
    try {
      if (p.enabled) {
        try {
          await api('POST', `/api/plugins/${encodeURIComponent(p.id)}/disable`, {});
        } catch (e) {
          if (!(e instanceof ApiError && e.status === 409)) throw e;
          const dependants = (p.dependants ?? []).map((d) => this.name(d));
          const ok = await confirmDialog({
            title: `„${p.displayName}“ deaktivieren`,
            message: dependants.length
              ? `Diese Plugins benötigen „${p.displayName}“ und werden mit deaktiviert:`
              : e.message,
            details: dependants,
            acceptLabel: 'Alle deaktivieren',
          });
          if (!ok) return;
          await api('POST', `/api/plugins/${encodeURIComponent(p.id)}/disable`, { cascade: true });
        }
        this.notice = `„${p.displayName}“ wurde deaktiviert.`;
      } else {
        const r = await api<{ enabled?: string[] }>('POST', `/api/plugins/${encodeURIComponent(p.id)}/enable`, {});
        const others = (r?.enabled ?? []).filter((id) => id !== p.id).map((id) => `„${this.name(id)}“`);
        this.notice = `„${p.displayName}“ wurde aktiviert${others.length ? ` (benötigt, ebenfalls aktiviert: ${others.join(', ')})` : ''}.`;
      }
      this.dispatchEvent(new CustomEvent(PLUGINS_CHANGED_EVENT, { bubbles: true, composed: true }));
    } catch (e) {
      this.error = e instanceof ApiError && e.hint ? `${e.message} ${e.hint}` : e instanceof Error ? e.message : String(e);
    } finally {
      this.busy = '';
      await this.load();
      // The card was re-rendered: put focus back on its button.
      await this.updateComplete;
      ((this.renderRoot.querySelector(`[data-plugin="${p.id}"] button.toggle`) as HTMLElement | null) ?? button).focus();
    }
  }

  override render() {
    const tech = hasRole('technician');
    const deps = (p: PluginInfo) =>
      Array.isArray(p.dependencies) ? p.dependencies : Object.keys(p.dependencies ?? {});
    return html`<h1 tabindex="-1">Plugins</h1>
      ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
      ${this.notice ? html`<p class="message success" role="status">${this.notice}</p>` : ''}
      <div class="list">
        ${this.plugins.map(
          (p) => html`<article class="card" data-plugin=${p.id} aria-labelledby=${`t-${p.id}`}>
            <div class="head">
              <h2 id=${`t-${p.id}`}>${p.displayName}</h2>
              <span class=${`badge ${p.state}`}>${stateLabels[p.state] ?? p.state}</span>
            </div>
            <div class="muted">${p.id} · Version ${p.version}${p.builtin === false ? ' · zusätzlich installiert' : ''}</div>
            ${p.description ? html`<p>${p.description}</p>` : ''}
            ${deps(p).length ? html`<div class="muted">Benötigt: ${deps(p).map((d) => this.name(d)).join(', ')}</div>` : ''}
            ${p.dependants?.length ? html`<div class="muted">Wird benötigt von: ${p.dependants.map((d) => this.name(d)).join(', ')}</div>` : ''}
            ${p.reasons?.length
              ? html`<div class=${`message ${p.state === 'failed' ? 'error' : 'warning'} reasons`}>
                  <strong>${p.state === 'failed' ? 'Fehler:' : 'Hinweis:'}</strong>
                  <ul class="reasons">${p.reasons.map((r) => html`<li>${r}</li>`)}</ul>
                </div>`
              : ''}
            <div class="spacer"></div>
            ${tech
              ? html`<div class="row"><button type="button" class=${p.enabled ? 'toggle' : 'toggle primary'}
                  ?disabled=${this.busy === p.id}
                  aria-label=${`${p.displayName} ${p.enabled ? 'deaktivieren' : 'aktivieren'}`}
                  @click=${(e: Event) => this.toggle(p, e.currentTarget as HTMLElement)}>${p.enabled ? 'Deaktivieren' : 'Aktivieren'}</button></div>`
              : ''}
          </article>`,
        )}
      </div>`;
  }
}
customElements.define('kw-plugins', KwPlugins);
