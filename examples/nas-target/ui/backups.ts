/**
 * Panel `nas-target-backups` (settings page): the backups in the NAS folder, newest first, from the plugin's
 * own route GET /api/ext/nas-target/backups. If the folder cannot be used, it shows the German reason.
 *
 * Browser code: it imports only `lit` and `kassenwart/sdk/ui` (bare specifiers, mapped by the admin page's
 * import map to the shell's own copies), and uses static properties instead of decorators.
 */
import { html, css } from 'lit';
import { KwPanel, api, ApiError } from 'kassenwart/sdk/ui';

/** One backup as the route returns it (StoredBackup of the backup API). */
interface StoredBackup {
  name: string;
  size?: number;
  modifiedAt?: string;
}

const mb = (bytes: number | undefined) =>
  bytes === undefined ? '–' : `${(bytes / 1024 / 1024).toLocaleString('de-DE', { minimumFractionDigits: 1, maximumFractionDigits: 1 })} MB`;
const when = (iso: string | undefined) => (iso ? new Date(iso).toLocaleString('de-DE') : '–');

class NasTargetBackups extends KwPanel {
  static override properties = { ...KwPanel.properties, backups: { state: true }, error: { state: true } };
  static override styles = [KwPanel.styles, css`td.size { text-align: right; }`];

  /** The backups, or undefined while loading. */
  declare backups: StoredBackup[] | undefined;
  /** Why the list could not be loaded (German, from the server). */
  declare error: string | undefined;

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  private async load(): Promise<void> {
    this.error = undefined;
    try {
      this.backups = await api<StoredBackup[]>('GET', '/api/ext/nas-target/backups');
    } catch (e) {
      this.backups = [];
      this.error = e instanceof ApiError ? e.message : String(e);
    }
  }

  override render() {
    if (this.error) return html`<p data-state="problem">${this.error}</p>`;
    if (!this.backups) return html`<p>Wird geladen …</p>`;
    if (!this.backups.length) return html`<p data-state="empty">Noch keine Sicherung im NAS-Ordner.</p>`;
    return html`
      <table>
        <thead><tr><th>Sicherung</th><th>Größe</th><th>Gespeichert am</th></tr></thead>
        <tbody>
          ${this.backups.map((b) => html`<tr data-name=${b.name}><td>${b.name}</td><td class="size">${mb(b.size)}</td><td>${when(b.modifiedAt)}</td></tr>`)}
        </tbody>
      </table>
      <button @click=${() => this.load()}>Neu laden</button>`;
  }
}

customElements.define('nas-target-backups', NasTargetBackups);
