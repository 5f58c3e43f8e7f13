/**
 * Plugin panels: each one is a custom element whose module is imported only when a page that shows it is
 * opened. Elements are created once and kept, so a panel keeps its state across page changes.
 */
import { LitElement, html, css, nothing } from 'lit';
import { api, kwStyles } from 'kassenwart/sdk/ui';
import type { PanelInfo } from './state.js';
import { takeBoot } from './boot.js';

const modules = new Map<string, Promise<unknown>>();
const elements = new Map<string, HTMLElement>();

let list: Promise<PanelInfo[]> | undefined;

/**
 * Forget the panel list and loaded elements (after plugins were enabled or disabled, or another user signed in).
 * Loaded modules stay: they cannot be unloaded.
 */
export function resetPanels(): void {
  elements.clear();
  list = undefined;
}

/** The panels at `location`, from one `GET /api/panels` per page load (shared by every page). */
export async function fetchPanels(location: PanelInfo['location']): Promise<PanelInfo[]> {
  if (!list) {
    const booted = takeBoot('panels');
    list = booted ? Promise.resolve(booted) : api<PanelInfo[]>('GET', '/api/panels');
    list.catch(() => { list = undefined; });
  }
  return (await list).filter((p) => p.location === location);
}

async function elementFor(p: PanelInfo): Promise<HTMLElement> {
  const key = `${p.plugin}/${p.id}`;
  const existing = elements.get(key);
  if (existing) return existing;
  let loading = modules.get(p.url);
  if (!loading) {
    loading = import(p.url);
    modules.set(p.url, loading);
    loading.catch(() => modules.delete(p.url));
  }
  await loading;
  if (!customElements.get(p.element)) {
    throw new Error(`Das Modul definiert das Element <${p.element}> nicht.`);
  }
  const el = document.createElement(p.element) as HTMLElement & { plugin?: string; panelId?: string };
  el.plugin = p.plugin;
  el.panelId = p.id;
  el.setAttribute('plugin', p.plugin);
  el.setAttribute('panel-id', p.id);
  elements.set(key, el);
  return el;
}

/** Shows one plugin panel in a card: loads its module lazily, reports a load failure in German. */
class KwPanelHost extends LitElement {
  static override styles = [kwStyles, css`.card { overflow-x: auto; }`];
  static override properties = { panel: { attribute: false }, el: { state: true }, error: { state: true } };
  declare panel: PanelInfo;
  declare el: HTMLElement | null;
  declare error: string;

  constructor() {
    super();
    this.el = null;
    this.error = '';
  }

  override willUpdate(changed: Map<string, unknown>) {
    if (changed.has('panel') && this.panel) {
      this.el = null;
      this.error = '';
      const p = this.panel;
      elementFor(p).then(
        (el) => { if (this.panel === p) this.el = el; },
        (e: unknown) => {
          if (this.panel === p) {
            this.error = `Die Ansicht „${p.title ?? p.id}“ von Plugin „${p.plugin}“ konnte nicht geladen werden: ${
              e instanceof Error ? e.message : String(e)}`;
          }
        },
      );
    }
  }

  override render() {
    const p = this.panel;
    if (!p) return '';
    // A named group, not a region: a panel often has its own region of the same name (no duplicate landmarks).
    return html`<section class="card" role="group" aria-labelledby="t" aria-label=${p.title ? nothing : p.id} data-panel=${`${p.plugin}/${p.id}`}>
      ${p.title ? html`<h2 id="t">${p.title}</h2>` : ''}
      ${this.error
        ? html`<p class="message error" role="alert">${this.error}<br />Bitte das Plugin prüfen oder den Support informieren.</p>`
        : this.el ?? html`<p class="muted">Wird geladen …</p>`}
    </section>`;
  }
}
customElements.define('kw-panel-host', KwPanelHost);
