/**
 * The admin shell (`<kw-app>`): session check, first-run setup, login, header with navigation
 * (Wartung, Einstellungen, Plugins, Verlauf, Protokoll) and hash routing (`#/wartung`, …).
 */
import { LitElement, html, css } from 'lit';
import {
  api, ApiError, getSession, kwStyles, kwTheme, primeSession, setCsrfToken, UNAUTHORIZED_EVENT, type SessionUser,
} from 'kassenwart/sdk/ui';
import { dropBoot, takeBoot } from './boot.js';
import { currentUser, hasRole, roleLabel, setCurrentUser } from './state.js';
import { resetPanels } from './panels.js';
import { startJobEvents, stopJobEvents } from './job-events.js';
import { PLUGINS_CHANGED_EVENT } from './plugins.js';
import './dialog.js';
import './maintenance.js';
import './settings.js';
import './plugins.js';
import './history.js';

// The theme's custom properties go on :root once; every component (and every panel) reads them.
if (kwTheme.styleSheet) document.adoptedStyleSheets = [...document.adoptedStyleSheets, kwTheme.styleSheet];

interface Route {
  path: string;
  label: string;
  technicianOnly?: boolean;
}

const routes: Route[] = [
  { path: 'wartung', label: 'Wartung' },
  { path: 'einstellungen', label: 'Einstellungen' },
  { path: 'plugins', label: 'Plugins' },
  { path: 'verlauf', label: 'Verlauf' },
  { path: 'protokoll', label: 'Protokoll', technicianOnly: true },
];

function routeFromHash(): string {
  const h = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return routes.some((r) => r.path === h) ? h : 'wartung';
}

type View = 'loading' | 'setup' | 'login' | 'app' | 'offline';

class KwApp extends LitElement {
  static override styles = [
    kwStyles,
    css`
      :host { min-height: 100vh; background: var(--kw-bg, #eef1f4); }
      header { background: var(--kw-header-bg, #20303f); color: var(--kw-header-text, #fff); }
      .bar { display: flex; align-items: center; gap: 12px; padding: 8px 16px; max-width: 1200px; margin: 0 auto; flex-wrap: wrap; }
      .brand { font-weight: 700; font-size: 1.15rem; margin-right: auto; }
      .brand small { font-weight: 400; opacity: 0.8; margin-left: 6px; }
      .user { font-size: 0.95rem; }
      .who { display: flex; gap: 10px; align-items: center; }
      header button { background: transparent; color: inherit; border-color: rgb(255 255 255 / 50%); min-height: 36px; }
      nav ul { list-style: none; margin: 0 auto; padding: 0 8px; display: flex; gap: 2px; max-width: 1200px; overflow-x: auto; }
      nav a { display: block; padding: 10px 16px; color: inherit; text-decoration: none; border-bottom: 4px solid transparent; white-space: nowrap; font-weight: 600; }
      nav a[aria-current='page'] { border-bottom-color: var(--kw-accent, #f2a900); }
      nav a:hover { background: rgb(255 255 255 / 10%); }
      main:not(.auth) { max-width: 1200px; margin: 0 auto; padding: 16px; }
      main:focus { outline: none; }
      .auth { max-width: 26rem; margin: 8vh auto; padding: 0 16px; }
      .auth .card { padding: 20px; }
      .auth form > div { margin-bottom: 12px; }
      .auth input { max-width: none; }
      @media (max-width: 560px) {
        .bar { padding: 6px 10px; }
        nav ul { flex-wrap: wrap; }
        nav a { padding: 8px 10px; }
        main { padding: 10px; }
        .brand small, .role { display: none; }
      }
    `,
  ];
  static override properties = {
    view: { state: true },
    route: { state: true },
    user: { state: true },
    error: { state: true },
    busy: { state: true },
  };
  declare view: View;
  declare route: string;
  declare user: SessionUser | null;
  declare error: string;
  declare busy: boolean;

  constructor() {
    super();
    this.view = 'loading';
    this.route = routeFromHash();
    this.user = null;
    this.error = '';
    this.busy = false;
    window.addEventListener('hashchange', () => this.onHashChange());
    window.addEventListener(UNAUTHORIZED_EVENT, () => {
      if (this.view === 'app') {
        this.signedIn(null);
        this.error = 'Die Sitzung ist abgelaufen. Bitte erneut anmelden.';
      }
    });
    this.addEventListener(PLUGINS_CHANGED_EVENT, () => {
      resetPanels();
    });
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.checkSession();
  }

  private async checkSession() {
    try {
      const booted = takeBoot('session');
      if (booted) primeSession(booted);
      const s = booted ?? await getSession(true);
      if (s.setupRequired) this.view = 'setup';
      else this.signedIn(s.user);
    } catch (e) {
      this.view = 'offline';
      this.error = e instanceof Error ? e.message : String(e);
    }
  }

  private signedIn(user: SessionUser | null, focusPage = false) {
    if (user?.name !== this.user?.name || user?.role !== this.user?.role) {
      resetPanels();
      if (this.user) dropBoot();
    }
    setCurrentUser(user);
    this.user = user;
    this.view = user ? 'app' : 'login';
    this.error = '';
    if (user) {
      document.title = `${routes.find((r) => r.path === this.route)?.label ?? 'Wartung'} – Kassenwart`;
      startJobEvents();
      if (focusPage) void this.focusHeading();
    } else {
      stopJobEvents();
    }
  }

  override updated(changed: Map<string, unknown>) {
    // On the login and setup pages, start in the first field (autofocus does not work inside shadow roots).
    if (changed.has('view') && (this.view === 'login' || this.view === 'setup')) {
      (this.renderRoot.querySelector('input') as HTMLInputElement | null)?.focus();
    }
  }

  /** Moves focus to the current page's <h1>, so keyboard and screen-reader users land on it. */
  private async focusHeading() {
    await this.updateComplete;
    const page = this.renderRoot.querySelector('main > *');
    await (page as LitElement | null)?.updateComplete;
    const h1 = (page?.shadowRoot?.querySelector('h1') ?? this.renderRoot.querySelector('main h1') ?? this.renderRoot.querySelector('main')) as HTMLElement | null;
    h1?.focus();
  }

  private async onHashChange() {
    const next = routeFromHash();
    if (next === this.route) return;
    this.route = next;
    document.title = `${routes.find((r) => r.path === next)?.label ?? 'Wartung'} – Kassenwart`;
    await this.focusHeading();
  }

  private field(form: HTMLFormElement, name: string): string {
    return (form.elements.namedItem(name) as HTMLInputElement).value;
  }

  private async login(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    this.busy = true;
    this.error = '';
    try {
      const r = await api<{ user: SessionUser; csrfToken: string }>('POST', '/api/auth/login', {
        name: this.field(form, 'name').trim(),
        password: this.field(form, 'password'),
      });
      setCsrfToken(r.csrfToken);
      this.signedIn(r.user, true);
    } catch (err) {
      this.error = err instanceof ApiError && err.hint ? `${err.message} ${err.hint}` : (err as Error).message;
      await this.updateComplete;
      (this.renderRoot.querySelector('#password') as HTMLInputElement | null)?.select();
    } finally {
      this.busy = false;
    }
  }

  private async setup(e: Event) {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const password = this.field(form, 'password');
    if (password !== this.field(form, 'password2')) {
      this.error = 'Die beiden Passwörter stimmen nicht überein. Bitte beide Felder gleich ausfüllen.';
      return;
    }
    this.busy = true;
    this.error = '';
    try {
      const r = await api<{ user?: SessionUser; csrfToken?: string }>('POST', '/api/auth/setup', {
        token: this.field(form, 'token').trim(),
        name: this.field(form, 'name').trim(),
        password,
      });
      if (r?.csrfToken) setCsrfToken(r.csrfToken);
      const s = await getSession(true);
      this.signedIn(s.user ?? r?.user ?? null, true);
    } catch (err) {
      this.error = err instanceof ApiError && err.hint ? `${err.message} ${err.hint}` : (err as Error).message;
      // back where the correction is typed (the submit button was disabled meanwhile and lost the focus)
      await this.updateComplete;
      const field = err instanceof ApiError && err.code !== 'setup.token' && /passw/i.test(err.message) ? '#password' : '#token';
      (this.renderRoot.querySelector(field) as HTMLInputElement | null)?.select();
    } finally {
      this.busy = false;
    }
  }

  private async logout() {
    try {
      await api('POST', '/api/auth/logout', {});
    } catch {
      /* signed out either way */
    }
    setCsrfToken(undefined);
    this.signedIn(null);
    await getSession(true).catch(() => undefined);
  }

  private renderSetup() {
    return html`<main class="auth"><div class="card">
      <h1>Ersteinrichtung</h1>
      <p>Kassenwart ist noch nicht eingerichtet. Legen Sie jetzt das Techniker-Konto an.</p>
      <p class="muted">Den Einrichtungscode zeigt der Kassenserver beim Start in seiner Konsole an.
        Alternativ legt <code>kassenwart users add</code> auf dem Kassenserver einen Techniker an.</p>
      <form @submit=${(e: Event) => this.setup(e)}>
        <div><label for="token">Einrichtungscode</label>
          <input id="token" name="token" required autocomplete="one-time-code" spellcheck="false" /></div>
        <div><label for="name">Name des Technikers</label>
          <input id="name" name="name" required autocomplete="username" /></div>
        <div><label for="password">Passwort</label>
          <input id="password" name="password" type="password" required autocomplete="new-password" /></div>
        <div><label for="password2">Passwort wiederholen</label>
          <input id="password2" name="password2" type="password" required autocomplete="new-password" /></div>
        ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
        <button type="submit" class="primary" ?disabled=${this.busy}>Einrichten und anmelden</button>
      </form>
    </div></main>`;
  }

  private renderLogin() {
    return html`<main class="auth"><div class="card">
      <h1>Anmelden</h1>
      <p class="muted">Backoffice · Wartung</p>
      <form @submit=${(e: Event) => this.login(e)}>
        <div><label for="name">Benutzername</label>
          <input id="name" name="name" required autocomplete="username" /></div>
        <div><label for="password">Passwort</label>
          <input id="password" name="password" type="password" required autocomplete="current-password" /></div>
        ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
        <button type="submit" class="primary" ?disabled=${this.busy}>Anmelden</button>
      </form>
    </div></main>`;
  }

  private renderPage() {
    switch (this.route) {
      case 'einstellungen':
        return html`<kw-settings></kw-settings>`;
      case 'plugins':
        return html`<kw-plugins></kw-plugins>`;
      case 'verlauf':
        return html`<kw-history></kw-history>`;
      case 'protokoll':
        return hasRole('technician')
          ? html`<kw-audit></kw-audit>`
          : html`<h1 tabindex="-1">Protokoll</h1><p class="message error" role="alert">Das Protokoll ist nur für Techniker sichtbar.</p>`;
      default:
        return html`<kw-maintenance></kw-maintenance>`;
    }
  }

  override render() {
    switch (this.view) {
      case 'loading':
        return html`<main><p class="muted" role="status">Wird geladen …</p></main>`;
      case 'offline':
        return html`<main class="auth"><div class="card"><h1>Kassenwart</h1>
          <p class="message error" role="alert">${this.error}</p>
          <button type="button" class="primary" @click=${() => this.checkSession()}>Erneut versuchen</button></div></main>`;
      case 'setup':
        return this.renderSetup();
      case 'login':
        return this.renderLogin();
    }
    const user = currentUser();
    const visible = routes.filter((r) => !r.technicianOnly || hasRole('technician'));
    return html`<header>
        <div class="bar">
          <div class="brand">Kassenwart<small>Backoffice</small></div>
          <div class="who"><span class="user">${user?.name} <span class="role">(${roleLabel(user?.role)})</span></span>
            <button type="button" @click=${() => this.logout()}>Abmelden</button></div>
        </div>
        <nav aria-label="Hauptnavigation"><ul>
          ${visible.map((r) => html`<li><a href=${`#/${r.path}`} aria-current=${r.path === this.route ? 'page' : 'false'}>${r.label}</a></li>`)}
        </ul></nav>
      </header>
      <main tabindex="-1">${this.renderPage()}</main>`;
  }
}
customElements.define('kw-app', KwApp);
