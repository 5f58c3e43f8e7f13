/**
 * Panel `kw-usb-sticks` (settings page, section "POS Hardware → lokales Backup"): lists the sticks plugged
 * into the POS server with format, size, free space and whether it is the TSE stick, says whether the
 * configured 01.2 path can take backups, and offers to take over the suggested path.
 */
import { html, css, nothing } from 'lit';
import { KwPanel, api, ApiError, onJobFinished, formatBytes } from 'kassenwart/sdk/ui';
import type { StickInfo as ServerStickInfo } from '../src/stick.js';

/** A stick as the route /api/ext/usb/sticks reports it (the server-side type; erased in the browser). */
type StickInfo = Pick<ServerStickInfo, 'path' | 'format' | 'formatConfirmed' | 'readOnly' | 'tse' | 'sizeBytes' | 'freeBytes' | 'usable' | 'reason'>;

interface SticksView {
  mediaRoot: string;
  configuredPath: string;
  mode: string;
  modeReason?: string;
  configured: { ok: boolean; reason?: string; hint?: string };
  sticks: StickInfo[];
  suggestion?: string;
  backups: { name: string; size: number; mtimeMs: number }[];
}

/** Decimal units (1 MB = 10^6 bytes), as printed on sticks and everywhere else in the UI (docs/ui.md). */
const bytes = (n: number | undefined): string => (n === undefined ? '–' : formatBytes(n));

/** The sticks panel. */
export class KwUsbSticks extends KwPanel {
  static override properties = {
    ...KwPanel.properties,
    view: { state: true },
    error: { state: true },
    busy: { state: true },
    notice: { state: true },
  };

  static override styles = [KwPanel.styles, css`
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--kw-border, #c9d0d8); }
    @media (min-width: 560px) { th, td.nowrap { white-space: nowrap; } }
    .reason { display: block; font-size: 0.85rem; color: var(--kw-muted, #505b66); }
  `];

  declare view: SticksView | undefined;
  declare error: string | undefined;
  declare busy: boolean;
  declare notice: string | undefined;

  private offJobs: (() => void) | undefined;

  constructor() {
    super();
    this.busy = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
    // "Stick sicher entfernen" and every transfer change what is plugged in or stored on it: reload at once.
    this.offJobs = onJobFinished((job) => {
      if (job.actionId.startsWith('usb.') || job.actionId.startsWith('backup.')) void this.load();
    });
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offJobs?.();
  }

  /** Fetches the overview again. */
  async load(): Promise<void> {
    this.busy = true;
    try {
      this.view = await api<SticksView>('GET', '/api/ext/usb/sticks');
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof ApiError ? [e.message, e.hint].filter(Boolean).join(' ') : 'Die USB-Sticks konnten nicht abgefragt werden.';
    } finally {
      this.busy = false;
    }
  }

  private async usePath(path: string): Promise<void> {
    this.busy = true;
    try {
      await api('PUT', '/api/settings/usb', { path });
      this.notice = `01.2 ist jetzt ${path}.`;
      await this.load();
    } catch (e) {
      this.error = e instanceof ApiError ? [e.message, e.hint].filter(Boolean).join(' ') : 'Der Pfad konnte nicht gespeichert werden.';
    } finally {
      this.busy = false;
    }
  }

  override render() {
    const v = this.view;
    return html`
      ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : nothing}
      ${this.notice ? html`<p class="message success">${this.notice}</p>` : nothing}
      ${v ? this.renderView(v) : html`<p class="muted">USB-Sticks werden gesucht …</p>`}
      <div class="row"><button ?disabled=${this.busy} @click=${() => this.load()}>Aktualisieren</button></div>
    `;
  }

  private renderView(v: SticksView) {
    const state = v.configured.ok
      ? html`<p class="message success" data-state="ok">Der USB-Stick unter ${v.configuredPath} (01.2) ist bereit für die Datensicherung.</p>`
      : html`<p class="message warning" data-state="problem">${v.configured.reason} ${v.configured.hint ?? ''}</p>`;
    return html`
      ${v.modeReason ? html`<p class="message warning" data-state="mode">${v.modeReason}</p>` : nothing}
      ${state}
      ${v.suggestion && v.suggestion !== v.configuredPath
        ? html`<div class="row">
            <span>Vorschlag für 01.2: <strong class="suggestion">${v.suggestion}</strong></span>
            <button class="primary" ?disabled=${this.busy} @click=${() => this.usePath(v.suggestion!)}>Als 01.2 übernehmen</button>
          </div>`
        : nothing}
      ${v.sticks.length === 0
        ? html`<p class="muted">Unter ${v.mediaRoot} ist kein USB-Stick eingehängt.</p>`
        : html`<div class="table-wrap"><table>
            <thead><tr><th>Pfad</th><th>Format</th><th>Größe</th><th>frei</th><th>TSE-Stick</th><th>Für Sicherung</th></tr></thead>
            <tbody>${v.sticks.map((s) => html`<tr data-path=${s.path}>
              <td class="nowrap">${s.path}</td>
              <td>${s.format}${s.readOnly ? ' (schreibgeschützt)' : ''}</td>
              <td class="nowrap">${bytes(s.sizeBytes)}</td>
              <td class="nowrap">${bytes(s.freeBytes)}</td>
              <td>${s.tse ? 'ja' : 'nein'}</td>
              <td>${s.usable ? 'geeignet' : html`nicht geeignet${s.reason ? html`<span class="reason">${s.reason}</span>` : nothing}`}</td>
            </tr>`)}</tbody>
          </table></div>`}
      ${v.backups.length
        ? html`<p class="muted">Sicherungen auf dem Stick: ${v.backups.length}, neueste: ${v.backups[0].name} (${bytes(v.backups[0].size)})</p>`
        : nothing}
    `;
  }
}

if (!customElements.get('kw-usb-sticks')) customElements.define('kw-usb-sticks', KwUsbSticks);
