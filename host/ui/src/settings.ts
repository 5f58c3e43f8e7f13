/**
 * "Einstellungen": settings forms generated from each plugin's JSON schema, grouped by `x-section`
 * (or the plugin's name), sorted by `x-order` / `x-code`. Each row shows code, title, description and the
 * current value with a red edit button; the editor fits the type. The server validates: its messages
 * appear beside the field and nothing is stored on error.
 */
import { LitElement, html, css, nothing } from 'lit';
import { api, ApiError, kwStyles, type SettingsEntry } from 'kassenwart/sdk/ui';
import { fetchPanels } from './panels.js';
import { takeBoot } from './boot.js';
import { actionGridStyles, renderActions } from './maintenance.js';
import { hasRole, type ActionInfo, type PanelInfo, type Role } from './state.js';
import type { SettingSchema } from 'kassenwart/sdk';

/** One setting's JSON schema, as the manifest contract defines it. */
type Schema = SettingSchema;

type Kind = 'enum' | 'secret' | 'boolean' | 'number' | 'integer' | 'string' | 'json';

function kindOf(s: Schema): Kind {
  if (s.format === 'password') return 'secret';
  if (Array.isArray(s.enum)) return 'enum';
  const t = Array.isArray(s.type) ? s.type.find((x) => x !== 'null') : s.type;
  if (t === 'boolean' || t === 'number' || t === 'integer' || t === 'string') return t;
  if (t === undefined && typeof s.default === 'string') return 'string';
  return 'json';
}

function enumLabel(s: Schema, v: unknown): string {
  const label = s['x-enumLabels']?.[String(v)];
  // Only the German label: a value like "explicit" or "stable" is an identifier, not text for a person
  // (labels that start with their value, like "X: nur USB-Stick", carry it anyway).
  if (label) return label;
  return v === '' || v === null || v === undefined ? '(leer)' : String(v);
}

/** The current value as text. */
function display(s: Schema, kind: Kind, value: unknown, secretSet: boolean): string {
  if (kind === 'secret') return secretSet ? 'gesetzt' : 'nicht gesetzt';
  if (value === undefined || value === null) return 'nicht gesetzt';
  if (kind === 'enum') return enumLabel(s, value);
  if (kind === 'boolean') return value ? 'ja' : 'nein';
  if (value === '') return '(leer)';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** One setting: display row plus inline editor. */
class KwSetting extends LitElement {
  static override styles = [
    kwStyles,
    css`
      .setting { display: grid; grid-template-columns: 4.5rem minmax(0, 1fr) auto; gap: 8px 12px; padding: 10px 0;
        border-top: 1px solid var(--kw-border, #c9d0d8); align-items: start; }
      :host(:first-of-type) .setting { border-top: 0; }
      .code { font-weight: 700; font-variant-numeric: tabular-nums; padding-top: 2px; }
      .title { font-weight: 600; }
      .value { margin-top: 6px; display: inline-block; padding: 2px 8px; background: var(--kw-bg, #eef1f4);
        border-radius: var(--kw-radius, 6px); font-weight: 600; max-width: 100%; overflow-wrap: break-word; }
      .value.mono { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; font-weight: 400; overflow-wrap: anywhere; }
      .value.secret { font-style: italic; font-weight: 400; }
      form { margin-top: 8px; }
      .row { margin-top: 8px; }
      .saved { color: var(--kw-success, #1e6b31); font-weight: 600; }
      .checkbox label { display: inline; margin-left: 6px; }
      .setting { grid-template-areas: 'code body edit'; }
      .code { grid-area: code; }
      .body { grid-area: body; min-width: 0; }
      .edit-cell { grid-area: edit; }
      @media (max-width: 560px) {
        .setting { grid-template-columns: minmax(0, 1fr) auto; grid-template-areas: 'code edit' 'body body'; }
        .code { align-self: center; padding: 0; }
      }
    `,
  ];
  static override properties = {
    plugin: { type: String },
    key: { type: String },
    schema: { attribute: false },
    value: { attribute: false },
    secretSet: { type: Boolean },
    editing: { state: true },
    error: { state: true },
    saving: { state: true },
    saved: { state: true },
  };
  declare plugin: string;
  declare key: string;
  declare schema: Schema;
  declare value: unknown;
  declare secretSet: boolean;
  declare editing: boolean;
  declare error: string[];
  declare saving: boolean;
  declare saved: boolean;

  constructor() {
    super();
    this.editing = false;
    this.error = [];
    this.saving = false;
    this.saved = false;
  }

  private get fieldId() {
    return `f-${this.key}`;
  }

  private async open() {
    this.editing = true;
    this.error = [];
    this.saved = false;
    await this.updateComplete;
    (this.renderRoot.querySelector('[data-field]') as HTMLElement | null)?.focus();
  }

  private async close() {
    this.editing = false;
    this.error = [];
    await this.updateComplete;
    (this.renderRoot.querySelector('button.edit') as HTMLElement | null)?.focus();
  }

  /** Reads the editor's value, or returns an error text. */
  private readDraft(kind: Kind): { value: unknown } | { problem: string } {
    const field = this.renderRoot.querySelector('[data-field]') as HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement;
    const raw = field.value;
    switch (kind) {
      case 'enum':
        return { value: this.schema.enum![Number(raw)] };
      case 'boolean':
        return { value: (field as HTMLInputElement).checked };
      case 'number':
      case 'integer':
        if (raw.trim() === '') return { value: null };
        if (!Number.isFinite(Number(raw))) return { problem: 'Bitte eine Zahl eingeben.' };
        return { value: Number(raw) };
      case 'secret':
        if (raw === '') return { problem: 'Bitte einen Wert eingeben, oder „Abbrechen“ wählen.' };
        return { value: raw };
      case 'json':
        try {
          return { value: JSON.parse(raw) };
        } catch {
          return { problem: 'Der Wert ist kein gültiges JSON.' };
        }
      default:
        return { value: raw };
    }
  }

  private async save(value: unknown) {
    this.saving = true;
    this.error = [];
    try {
      await api('PUT', `/api/settings/${encodeURIComponent(this.plugin)}`, { [this.key]: value });
      this.saved = true;
      this.dispatchEvent(new CustomEvent('kw-setting-saved', { detail: { plugin: this.plugin, key: this.key }, bubbles: true, composed: true }));
      await this.close();
    } catch (e) {
      if (e instanceof ApiError) {
        const mine = e.details.filter((d) => d.path === `/${this.key}` || d.path?.startsWith(`/${this.key}/`));
        const lines = mine.length ? mine.map((d) => d.message) : [e.message, ...e.details.map((d) => d.message)];
        if (e.hint) lines.push(e.hint);
        this.error = lines;
      } else {
        this.error = [e instanceof Error ? e.message : String(e)];
      }
      await this.updateComplete;
      (this.renderRoot.querySelector('[data-field]') as HTMLElement | null)?.focus();
    } finally {
      this.saving = false;
    }
  }

  private onSubmit(e: Event, kind: Kind) {
    e.preventDefault();
    const r = this.readDraft(kind);
    if ('problem' in r) this.error = [r.problem];
    else void this.save(r.value);
  }

  private renderField(kind: Kind, label: string) {
    const s = this.schema;
    const id = this.fieldId;
    const invalid = this.error.length ? 'true' : 'false';
    const described = this.error.length ? `${id}-error` : nothing;
    switch (kind) {
      case 'enum': {
        const current = s.enum!.findIndex((v) => v === this.value);
        return html`<label for=${id}>${label}</label>
          <select id=${id} data-field aria-invalid=${invalid} aria-describedby=${described}>
            ${s.enum!.map((v, i) => html`<option value=${String(i)} ?selected=${i === current}>${enumLabel(s, v)}</option>`)}
          </select>`;
      }
      case 'boolean':
        return html`<div class="checkbox"><input type="checkbox" id=${id} data-field ?checked=${!!this.value}
          aria-invalid=${invalid} aria-describedby=${described} /><label for=${id}>${label}</label></div>`;
      case 'number':
      case 'integer':
        return html`<label for=${id}>${label}</label>
          <input type="number" id=${id} data-field .value=${this.value === undefined || this.value === null ? '' : String(this.value)}
            step=${kind === 'integer' ? '1' : 'any'} min=${s.minimum ?? nothing} max=${s.maximum ?? nothing}
            inputmode=${kind === 'integer' ? 'numeric' : 'decimal'} aria-invalid=${invalid} aria-describedby=${described} />`;
      case 'secret':
        return html`<label for=${id}>${label} (neuer Wert)</label>
          <input type="password" id=${id} data-field autocomplete="new-password" .value=${''}
            aria-invalid=${invalid} aria-describedby=${described} />`;
      case 'json':
        return html`<label for=${id}>${label} (JSON)</label>
          <textarea id=${id} data-field rows="4" .value=${JSON.stringify(this.value ?? s.default ?? null, null, 2)}
            aria-invalid=${invalid} aria-describedby=${described}></textarea>`;
      default:
        return html`<label for=${id}>${label}</label>
          <input type="text" id=${id} data-field .value=${this.value === undefined || this.value === null ? '' : String(this.value)}
            pattern=${s.pattern ?? nothing} minlength=${s.minLength ?? nothing} maxlength=${s.maxLength ?? nothing}
            placeholder=${typeof s.default === 'string' && s.default ? s.default : nothing}
            spellcheck="false" autocomplete="off" aria-invalid=${invalid} aria-describedby=${described} />`;
    }
  }

  override render() {
    const s = this.schema;
    const kind = kindOf(s);
    const code = s['x-code'] ?? '';
    const title = s.title ?? this.key;
    const label = code ? `${code} ${title}` : title;
    const canEdit = hasRole(s['x-role'] ?? 'technician');
    const hasDefault = s.default !== undefined && kind !== 'secret';
    return html`<div class="setting" data-key=${this.key} data-code=${code}>
      <div class="code">${code}</div>
      <div class="body">
        <div class="title">${title}</div>
        ${s.description ? html`<div class="muted">${s.description}</div>` : ''}
        ${this.editing
          ? html`<form novalidate @submit=${(e: Event) => this.onSubmit(e, kind)}
              @keydown=${(e: KeyboardEvent) => { if (e.key === 'Escape') { e.preventDefault(); void this.close(); } }}>
              ${this.renderField(kind, label)}
              ${this.error.length
                ? html`<div class="field-error" id=${`${this.fieldId}-error`} role="alert">${this.error.map((l) => html`<div>${l}</div>`)}</div>`
                : ''}
              <div class="row">
                <button type="submit" class="primary" ?disabled=${this.saving}>Speichern</button>
                <button type="button" @click=${() => this.close()}>Abbrechen</button>
                ${hasDefault
                  ? html`<button type="button" ?disabled=${this.saving} @click=${() => this.save(null)}>Standardwert</button>`
                  : ''}
                ${kind === 'secret' && this.secretSet
                  ? html`<button type="button" ?disabled=${this.saving} @click=${() => this.save(null)}>Entfernen</button>`
                  : ''}
              </div>
            </form>`
          : html`<div class=${`value ${kind === 'secret' ? 'secret' : kind === 'string' || kind === 'json' ? 'mono' : ''}`}
              >${display(s, kind, this.value, this.secretSet)}</div>
              ${this.saved ? html` <span class="saved" role="status">Gespeichert.</span>` : ''}`}
      </div>
      <div class="edit-cell">
        ${canEdit && !this.editing
          ? html`<button type="button" class="edit" aria-label=${`${label} bearbeiten`} @click=${() => this.open()}>Bearbeiten</button>`
          : ''}
      </div>
    </div>`;
  }
}
customElements.define('kw-setting', KwSetting);

interface Row {
  plugin: string;
  key: string;
  schema: Schema;
}

/** Compares display codes numerically part by part: "01.2" < "01.10" < "02.1". */
function compareCodes(a: string, b: string): number {
  return a.localeCompare(b, 'de', { numeric: true });
}

function sortKey(r: Row): [number, string] {
  return [r.schema['x-order'] ?? Number.MAX_SAFE_INTEGER, `${r.schema['x-code'] ?? '~'}\u0000${r.key}`];
}

class KwSettings extends LitElement {
  static override styles = [
    kwStyles,
    actionGridStyles,
    css`
      section.card > h2 { border-bottom: 2px solid var(--kw-primary, #1c5d99); padding-bottom: 6px; }
      section.card > h2:focus { outline: none; }
      .jump { display: flex; flex-wrap: wrap; gap: 6px; margin-bottom: var(--kw-gap, 12px); }
      .jump button { min-height: 34px; padding: 4px 10px; font-size: 0.9rem; }
    `,
  ];
  static override properties = {
    entries: { state: true },
    actions: { state: true },
    panels: { state: true },
    error: { state: true },
    loaded: { state: true },
  };
  declare entries: SettingsEntry[];
  declare actions: ActionInfo[];
  declare panels: PanelInfo[];
  declare error: string;
  declare loaded: boolean;

  constructor() {
    super();
    this.entries = [];
    this.actions = [];
    this.panels = [];
    this.error = '';
    this.loaded = false;
    this.addEventListener('kw-setting-saved', (e) => void this.reload((e as CustomEvent).detail.plugin));
  }

  override connectedCallback() {
    super.connectedCallback();
    void this.load();
  }

  private async load() {
    try {
      const [entries, actions, panels] = await Promise.all([
        api<SettingsEntry[]>('GET', '/api/settings'),
        takeBoot('actions') ?? api<ActionInfo[]>('GET', '/api/actions'),
        fetchPanels('settings'),
      ]);
      this.entries = entries;
      this.actions = actions.filter((a) => a.location === 'settings');
      this.panels = panels;
      this.error = '';
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    } finally {
      this.loaded = true;
    }
  }

  /** Scrolls to a section heading and moves focus there. */
  private jump(id: string) {
    const h = this.renderRoot.querySelector(`#${CSS.escape(id)}`) as HTMLElement | null;
    h?.scrollIntoView({ block: 'start' });
    h?.focus({ preventScroll: true });
  }

  /** Reads one plugin's values again after a save (the server is the truth). */
  private async reload(plugin: string) {
    try {
      const fresh = await api<SettingsEntry>('GET', `/api/settings/${encodeURIComponent(plugin)}`);
      this.entries = this.entries.map((e) => (e.plugin === plugin ? fresh : e));
    } catch {
      await this.load();
    }
  }

  override render() {
    const groups = new Map<string, Row[]>();
    for (const e of this.entries) {
      for (const [key, schema] of Object.entries(e.schema?.properties ?? {})) {
        const s = schema as Schema;
        const section = s['x-section'] ?? e.schema.title ?? e.displayName;
        if (!groups.has(section)) groups.set(section, []);
        groups.get(section)!.push({ plugin: e.plugin, key, schema: s });
      }
    }
    for (const rows of groups.values()) {
      rows.sort((a, b) => {
        const [oa, ka] = sortKey(a);
        const [ob, kb] = sortKey(b);
        return oa - ob || ka.localeCompare(kb, 'de', { numeric: true });
      });
    }
    const byPlugin = new Map(this.entries.map((e) => [e.plugin, e]));
    // One section per subject: a plugin's settings actions and panels join the section their manifest names
    // (`section`), else the section of the plugin's first setting, else a section named after the plugin.
    const homeOf = (plugin: string): string => {
      for (const [name, rows] of groups) if (rows.some((r) => r.plugin === plugin)) return name;
      return byPlugin.get(plugin)?.displayName ?? plugin;
    };
    const extras = new Map<string, { actions: ActionInfo[]; panels: PanelInfo[] }>();
    const extra = (section: string) => {
      if (!extras.has(section)) extras.set(section, { actions: [], panels: [] });
      return extras.get(section)!;
    };
    for (const a of this.actions) extra(a.section ?? homeOf(a.plugin)).actions.push(a);
    for (const p of this.panels) extra(p.section ?? homeOf(p.plugin)).panels.push(p);
    for (const name of extras.keys()) if (!groups.has(name)) groups.set(name, []);
    // Sections with display codes first, in code order (01.1 "POS Hardware → lokales Backup" on top, as in
    // the vendor's back-office); the others after them in plugin order.
    const minCode = (rows: Row[]) =>
      rows.map((r) => r.schema['x-code']).filter((c): c is string => !!c).sort(compareCodes)[0];
    const sections = [...groups].sort(([, a], [, b]) => {
      const ca = minCode(a);
      const cb = minCode(b);
      if (ca && cb) return compareCodes(ca, cb);
      return ca ? -1 : cb ? 1 : 0;
    });
    return html`<h1 tabindex="-1">Einstellungen</h1>
      ${this.error ? html`<p class="message error" role="alert">${this.error}</p>` : ''}
      ${this.loaded && !this.error && groups.size === 0
        ? html`<p class="muted">Keines der aktiven Plugins hat Einstellungen.</p>`
        : ''}
      ${sections.length > 2
        ? html`<nav class="jump" aria-label="Abschnitte">${sections.map(([section], i) => html`<button type="button"
            @click=${() => this.jump(`s-${i}`)}>${section}</button>`)}</nav>`
        : ''}
      ${sections.map(([section, rows], i) => {
        const x = extras.get(section);
        return html`<section class="card" aria-labelledby=${`s-${i}`}>
          <h2 id=${`s-${i}`} tabindex="-1">${section}</h2>
          ${rows.map((r) => {
            const e = byPlugin.get(r.plugin)!;
            return html`<kw-setting plugin=${r.plugin} key=${r.key} .schema=${r.schema} .value=${e.values?.[r.key]}
              ?secretSet=${!!e.secrets?.[r.key]}></kw-setting>`;
          })}
          ${x?.actions.length ? renderActions(x.actions) : ''}
          ${x?.panels.map((p) => html`<kw-panel-host .panel=${p}></kw-panel-host>`) ?? ''}
        </section>`;
      })}`;
  }
}
customElements.define('kw-settings', KwSettings);
