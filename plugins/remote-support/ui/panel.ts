/**
 * Panel `kw-remote-support` in the right-hand column of the maintenance page: the RustDesk ID of the POS server
 * first (large digits, copy button — what the operator reads to the technician on the phone), RustDesk's state in
 * one line, the "Support anfragen" helper, the check of the operator's own PC (folded), a TeamViewer warning, and
 * for technicians the permanent password as in the vendor's help text ("******", an eye to reveal it, a pencil to
 * change it) and the support server (folded).
 */
import { html, css, nothing, type TemplateResult } from 'lit';
import { api, ApiError, followJob, getSession, KwPanel, kwConfirm, startAction, type Job } from 'kassenwart/sdk/ui';
import { checkClient, clientHintsFromNavigator, RUSTDESK_DOWNLOAD_URL, type ClientCheck, type NavigatorLike } from '../src/client-os.js';
import type { Problem } from '../src/status.js';
import type { PanelStatus as RemoteSupportStatus } from '../src/index.js';

type Msg = { kind: 'success' | 'warning' | 'error'; text: string; hint?: string };

function errorMsg(e: unknown): Msg {
  if (e instanceof ApiError) return { kind: 'error', text: e.message, hint: e.hint };
  return { kind: 'error', text: 'Unerwarteter Fehler. Bitte die Seite neu laden.' };
}

function jobMsg(job: Job, fallback: string): Msg {
  if (job.state === 'succeeded') return { kind: 'success', text: job.result?.message || fallback };
  if (job.state === 'warning') return { kind: 'warning', text: job.result?.message || fallback };
  if (job.state === 'cancelled') return { kind: 'warning', text: 'Abgebrochen.' };
  return { kind: 'error', text: job.error?.message || 'Fehlgeschlagen.', hint: job.error?.hint };
}

/** The remote-support panel (custom element `kw-remote-support`). */
export class KwRemoteSupport extends KwPanel {
  static override properties = {
    ...KwPanel.properties,
    status: { state: true },
    loading: { state: true },
    loadError: { state: true },
    userRole: { state: true },
    client: { state: true },
    showSupport: { state: true },
    copied: { state: true },
    pwMsg: { state: true },
    pwBusy: { state: true },
    serverMsg: { state: true },
    serverBusy: { state: true },
    confirmServer: { state: true },
    editPw: { state: true },
    revealed: { state: true },
  };

  static override styles = [
    KwPanel.styles,
    css`
      .id {
        font-size: 2.2rem; font-weight: 700; letter-spacing: 0.06em; line-height: 1.15;
        font-variant-numeric: tabular-nums; font-family: ui-monospace, 'DejaVu Sans Mono', monospace;
        margin: 4px 0 8px; user-select: all;
      }
      dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0 0 8px; }
      dt { font-weight: 600; }
      dd { margin: 0; }
      ol { padding-left: 1.4rem; margin: 8px 0; }
      ol li { margin-bottom: 6px; }
      .support { border-left: 4px solid var(--kw-primary, #1c5d99); }
      form { display: grid; gap: 8px; margin: 8px 0; }
      .state { margin: 4px 0; }
      .pw { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin: 8px 0 0; }
      .pw .value { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-size: 1.1rem; min-width: 6ch; }
      .icon { min-width: 40px; padding: 0 8px; font-size: 1.1rem; line-height: 1; }
      details > summary { cursor: pointer; padding: 8px 0; font-weight: 600; }
      section.card h3 { margin: 0 0 4px; font-size: 1rem; }
    `,
  ];

  declare status: RemoteSupportStatus | undefined;
  declare loading: boolean;
  declare loadError: Msg | undefined;
  declare userRole: 'operator' | 'technician' | undefined;
  declare client: ClientCheck | undefined;
  declare showSupport: boolean;
  declare copied: string | undefined;
  declare pwMsg: Msg | undefined;
  declare pwBusy: boolean;
  declare serverMsg: Msg | undefined;
  declare serverBusy: boolean;
  declare confirmServer: boolean;
  /** The pencil's form is open. */
  declare editPw: boolean;
  /** The password while a technician looks at it (never kept longer than the panel shows it). */
  declare revealed: string | undefined;

  constructor() {
    super();
    this.loading = false;
    this.showSupport = false;
    this.pwBusy = false;
    this.serverBusy = false;
    this.confirmServer = false;
    this.editPw = false;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    void this.refresh();
    void getSession().then((s) => { this.userRole = s.user?.role; }, () => undefined);
    void clientHintsFromNavigator(navigator as unknown as NavigatorLike).then((h) => { this.client = checkClient(h); });
  }

  /** Reloads the status from the server. */
  async refresh(): Promise<void> {
    this.loading = true;
    this.loadError = undefined;
    try {
      this.status = await api<RemoteSupportStatus>('GET', '/api/ext/remote-support/status');
    } catch (e) {
      this.loadError = errorMsg(e);
    } finally {
      this.loading = false;
    }
  }

  private async copyId(): Promise<void> {
    const id = this.status?.id.value;
    if (!id) return;
    try {
      await navigator.clipboard.writeText(id);
      this.copied = 'Die ID wurde in die Zwischenablage kopiert.';
    } catch {
      // No clipboard API (e.g. plain http on another host): select the digits so Strg+C copies them.
      const el = this.renderRoot.querySelector('.id');
      if (el) {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = window.getSelection();
        sel?.removeAllRanges();
        sel?.addRange(range);
      }
      this.copied = 'Kopieren ist hier nicht möglich: Die ID ist markiert, drücken Sie Strg+C.';
    }
  }

  private async setPassword(ev: Event): Promise<void> {
    ev.preventDefault();
    const form = ev.target as HTMLFormElement;
    const pw = (form.elements.namedItem('password') as HTMLInputElement).value;
    const pw2 = (form.elements.namedItem('password2') as HTMLInputElement).value;
    if (pw !== pw2) {
      this.pwMsg = { kind: 'error', text: 'Die beiden Passwörter stimmen nicht überein.' };
      return;
    }
    this.pwBusy = true;
    this.pwMsg = undefined;
    try {
      const r = await api<{ message: string }>('POST', '/api/ext/remote-support/password', { password: pw });
      form.reset();
      this.editPw = false;
      this.revealed = undefined;
      this.pwMsg = { kind: 'success', text: r.message };
      await this.refresh();
      this.focusIn('button[data-action="pw-edit"]');
    } catch (e) {
      this.pwMsg = errorMsg(e);
    } finally {
      this.pwBusy = false;
    }
  }

  /** The eye: asks the server (technician only, audited) or hides the password again. */
  private async togglePassword(): Promise<void> {
    if (this.revealed !== undefined) { this.revealed = undefined; return; }
    this.pwMsg = undefined;
    try {
      this.revealed = (await api<{ password: string }>('POST', '/api/ext/remote-support/password/reveal')).password;
    } catch (e) {
      this.pwMsg = errorMsg(e);
    }
  }

  private focusIn(selector: string): void {
    void this.updateComplete.then(() => (this.renderRoot.querySelector(selector) as HTMLElement | null)?.focus());
  }

  private async applyServer(): Promise<void> {
    // The same akzeptieren/abbrechen dialog as every action (the shell's, or the SDK's own without a shell).
    this.confirmServer = true;
    const ok = await kwConfirm({
      title: 'Support-Server übernehmen',
      text: 'Sollen ID-Server, Relay-Server und Schlüssel des Supports in RustDesk übernommen werden?',
    });
    this.confirmServer = false;
    if (!ok) return;
    this.serverBusy = true;
    this.serverMsg = undefined;
    try {
      const job = await startAction('remote-support.applyServer');
      this.serverMsg = jobMsg(await followJob(job.id), 'Der Support-Server wurde in RustDesk übernommen.');
    } catch (e) {
      this.serverMsg = errorMsg(e);
    } finally {
      this.serverBusy = false;
    }
  }

  private msg(m: Msg | undefined): TemplateResult | typeof nothing {
    if (!m) return nothing;
    return html`<div class="message ${m.kind}" role=${m.kind === 'error' ? 'alert' : 'status'}>
      ${m.text}${m.hint ? html`<br /><span>${m.hint}</span>` : nothing}</div>`;
  }

  private problem(p: Problem | undefined, kind: Msg['kind'] = 'error'): TemplateResult | typeof nothing {
    return p ? this.msg({ kind, text: p.message, hint: p.hint }) : nothing;
  }

  private renderServer(s: RemoteSupportStatus): TemplateResult {
    const rd = s.rustdesk.found
      ? html`installiert${s.version.value ? html` (Version ${s.version.value})` : nothing}`
      : html`<strong>nicht gefunden</strong>`;
    const svc = s.service.running === true ? 'läuft' : s.service.running === false ? html`<strong>läuft nicht</strong>` : 'unbekannt';
    return html`
      <section class="card" aria-label="RustDesk auf dem Kassenserver">
        <h3>RustDesk-ID des Kassenservers</h3>
        ${s.id.value
          ? html`<div class="id" data-field="id" aria-label="RustDesk-ID ${s.id.value.split('').join(' ')}">${s.id.formatted}</div>
              <div class="row">
                <button type="button" class="primary" @click=${() => this.copyId()}>ID kopieren</button>
                <button type="button" @click=${() => this.refresh()} ?disabled=${this.loading}>Aktualisieren</button>
              </div>
              ${this.copied ? html`<p class="muted" role="status">${this.copied}</p>` : nothing}`
          : html`<div class="message error" role="alert" data-field="id-problem">
              Die ID kann nicht angezeigt werden: ${s.id.problem?.message ?? 'unbekannter Grund'}
              ${s.id.problem?.hint ? html`<br /><span>${s.id.problem.hint}</span>` : nothing}</div>
              ${!s.rustdesk.found && s.rustdesk.problem
                // Missing RustDesk: the ID box already says so; what to do folds away so the ID line and the
                // update state stay on the first 1024×768 screen (issue 17).
                ? html`<details class="todo" data-field="rustdesk-problem"><summary>Was ist zu tun?</summary>
                    <p>${s.rustdesk.problem.message}${s.rustdesk.problem.hint ? html` ${s.rustdesk.problem.hint}` : nothing}</p></details>`
                : nothing}
              <button type="button" @click=${() => this.refresh()} ?disabled=${this.loading}>Erneut prüfen</button>`}
        <p class="state muted">RustDesk: <span data-field="rustdesk">${rd}</span> · Dienst: <span data-field="service">${svc}</span></p>
        ${s.id.value || s.rustdesk.found ? this.problem(s.rustdesk.problem) : nothing}
        ${s.rustdesk.found ? this.problem(s.version.problem) : nothing}
        ${s.rustdesk.found ? this.problem(s.service.problem, 'warning') : nothing}
        ${this.renderPassword(s)}
      </section>`;
  }

  /** "Dauerhaftes Passwort: ******", the eye and the pencil (technicians only; the server checks it too). */
  private renderPassword(s: RemoteSupportStatus): TemplateResult | typeof nothing {
    if (this.userRole !== 'technician') return nothing;
    const known = s.password?.known;
    return html`
      <div class="pw" data-field="password">
        <span>Dauerhaftes Passwort:</span>
        <span class=${known ? 'value' : 'muted'} data-field="password-value">${this.revealed !== undefined ? this.revealed : known ? '******' : 'nicht über Kassenwart festgelegt'}</span>
        ${known ? html`<button type="button" class="icon" data-action="pw-reveal" aria-pressed=${this.revealed !== undefined ? 'true' : 'false'}
            aria-label=${this.revealed !== undefined ? 'Passwort verbergen' : 'Passwort anzeigen'} title=${this.revealed !== undefined ? 'Passwort verbergen' : 'Passwort anzeigen'}
            @click=${() => this.togglePassword()}>👁</button>` : nothing}
        <button type="button" class="icon edit" data-action="pw-edit" aria-expanded=${this.editPw ? 'true' : 'false'}
          aria-label="Passwort ändern" title="Passwort ändern"
          @click=${() => { this.editPw = !this.editPw; this.pwMsg = undefined; if (this.editPw) this.focusIn('#rs-pw'); }}>✎</button>
      </div>
      ${s.password?.problem ? this.problem(s.password.problem, 'warning') : nothing}
      ${this.editPw ? html`
        <form @submit=${(e: Event) => this.setPassword(e)} autocomplete="off"
          @keydown=${(e: KeyboardEvent) => { if (e.key === 'Escape') { this.editPw = false; this.focusIn('button[data-action="pw-edit"]'); } }}>
          <div><label for="rs-pw">Neues dauerhaftes Passwort</label>
            <input id="rs-pw" name="password" type="password" required minlength="8" maxlength="64" autocomplete="new-password" /></div>
          <div><label for="rs-pw2">Passwort wiederholen</label>
            <input id="rs-pw2" name="password2" type="password" required minlength="8" maxlength="64" autocomplete="new-password" /></div>
          <div class="row"><button class="primary" type="submit" ?disabled=${this.pwBusy}>Speichern</button>
            <button type="button" @click=${() => { this.editPw = false; this.focusIn('button[data-action="pw-edit"]'); }}>Abbrechen</button></div>
          <p class="muted">Mindestens 8 Zeichen. Das Passwort wird an RustDesk übergeben und verschlüsselt gespeichert.</p>
        </form>` : nothing}
      ${this.msg(this.pwMsg)}`;
  }

  private renderSupport(s: RemoteSupportStatus): TemplateResult {
    const i = s.installation;
    return html`
      <div class="row"><button class="primary" type="button" aria-expanded=${this.showSupport ? 'true' : 'false'}
        @click=${() => { this.showSupport = !this.showSupport; }}>Support anfragen</button></div>
      ${this.showSupport ? html`
        <section class="card support" aria-label="Support anfragen">
          <h3>Support anfragen</h3>
          <p>Rufen Sie den Support an${i.supportContact ? html` (<strong>${i.supportContact}</strong>)` : nothing} und nennen Sie:</p>
          <dl>
            ${i.customerNumber ? html`<dt>Kundennummer</dt><dd data-field="customerNumber">${i.customerNumber}</dd>` : nothing}
            ${i.name ? html`<dt>Installation</dt><dd data-field="installationName">${i.name}</dd>` : nothing}
            <dt>Kassenserver</dt><dd data-field="hostname">${i.hostname}</dd>
            <dt>RustDesk-ID</dt><dd>${s.id.value ? html`<span class="id">${s.id.formatted}</span>` : html`<strong>nicht verfügbar</strong> – ${s.id.problem?.message ?? ''}`}</dd>
          </dl>
          ${!i.customerNumber && !i.name ? html`<p class="muted">Kundennummer und Name der Installation sind noch nicht eingetragen${this.userRole === 'technician' ? ' (Einstellungen → Fernwartung)' : ' (trägt der Techniker ein)'}.</p>` : nothing}
          <p>Möchte ein Techniker sich verbinden, geben Sie ihm die ID durch und akzeptieren Sie anschließend die angezeigte Sitzungsanfrage des Technikers.</p>
        </section>` : nothing}`;
  }

  private renderClient(): TemplateResult {
    const c = this.client;
    if (!c) return html`<p class="muted">Ihr PC wird geprüft …</p>`;
    const kind: Msg['kind'] = c.supported === true ? 'success' : c.supported === false ? 'error' : 'warning';
    // Folded (the ID comes first); open at once when this PC cannot run RustDesk.
    return html`
      <details aria-label="Ihr PC" ?open=${c.supported === false}>
        <summary>Ihr PC: ${c.label}</summary>
        <div class="message ${kind}" data-field="client-verdict">${c.supported === false ? html`<strong>Nicht unterstützt.</strong> ` : nothing}${c.verdict}</div>
        ${c.download ? html`<p>Herunterladen: <a href=${RUSTDESK_DOWNLOAD_URL} target="_blank" rel="noopener noreferrer">rustdesk.com</a> → „Desktop App“ → ${c.download}</p>` : nothing}
        ${c.steps.length ? html`<details><summary>Installationsschritte</summary><ol>${c.steps.map((st) => html`<li>${st}</li>`)}</ol></details>` : nothing}
      </details>`;
  }

  private renderTechnician(s: RemoteSupportStatus): TemplateResult | typeof nothing {
    if (this.userRole !== 'technician') return nothing;
    return html`
      <details aria-label="Techniker: Support-Server">
        <summary>Techniker: Support-Server</summary>
        <p>ID-Server <strong>${s.server.idServer || '(nicht eingetragen)'}</strong>,
          Relay-Server <strong>${s.server.relayServer || '(automatisch)'}</strong>,
          Schlüssel des Servers ${s.server.keySet ? 'eingetragen' : html`<strong>nicht eingetragen</strong>`}.</p>
        <div class="row"><button type="button" @click=${() => { this.serverMsg = undefined; void this.applyServer(); }}
          ?disabled=${this.serverBusy || this.confirmServer}>Support-Server übernehmen</button></div>
        ${this.msg(this.serverMsg)}
      </details>`;
  }

  override render(): TemplateResult {
    const s = this.status;
    return html`
      ${this.msg(this.loadError)}
      ${!s && !this.loadError ? html`<p class="muted">RustDesk wird abgefragt …</p>` : nothing}
      ${s?.teamviewer.found ? html`<div class="message warning" role="alert" data-field="teamviewer">
          <strong>${s.teamviewer.message}</strong><br />${s.teamviewer.hint}
          <br /><span class="muted">Gefunden: ${s.teamviewer.places.join(', ')}</span></div>` : nothing}
      ${s ? this.renderServer(s) : nothing}
      ${s ? this.renderSupport(s) : nothing}
      ${this.renderClient()}
      ${s ? this.renderTechnician(s) : nothing}
    `;
  }
}

if (!customElements.get('kw-remote-support')) customElements.define('kw-remote-support', KwRemoteSupport);
