/**
 * The confirm dialog ("akzeptieren"/"abbrechen"): a native <dialog> opened with showModal(), so focus is
 * trapped and Escape cancels; focus goes back to whatever had it before (usually the button that asked).
 */
import { LitElement, html, css } from 'lit';
import { kwStyles } from 'kassenwart/sdk/ui';
import { deepActiveElement } from './state.js';

/** What the dialog shows. */
export interface ConfirmOptions {
  /** Heading (e.g. the action title). */
  title: string;
  /** The question. */
  message: string;
  /** Extra lines under the question (e.g. the plugins that would be disabled too). */
  details?: string[];
  acceptLabel?: string;
  cancelLabel?: string;
}

class KwConfirm extends LitElement {
  static override styles = [
    kwStyles,
    css`
      dialog {
        border: 1px solid var(--kw-border, #c9d0d8);
        border-radius: var(--kw-radius, 6px);
        padding: 20px;
        width: min(30rem, calc(100vw - 32px));
        color: var(--kw-text, #1d2329);
        font-family: var(--kw-font, system-ui, sans-serif);
      }
      dialog::backdrop { background: rgb(0 0 0 / 45%); }
      .buttons { display: flex; gap: 12px; justify-content: flex-end; flex-wrap: wrap; margin-top: 16px; }
      ul { margin: 8px 0; }
    `,
  ];
  static override properties = { options: { state: true } };
  declare options: ConfirmOptions | null;
  private resolve?: (ok: boolean) => void;
  private returnFocus: HTMLElement | null = null;

  constructor() {
    super();
    this.options = null;
  }

  /** Opens the dialog; resolves true for "akzeptieren", false for "abbrechen" or Escape. */
  async ask(options: ConfirmOptions): Promise<boolean> {
    this.resolve?.(false);
    this.returnFocus = deepActiveElement();
    this.options = options;
    await this.updateComplete;
    const dialog = this.renderRoot.querySelector('dialog')!;
    if (!dialog.open) dialog.showModal();
    (this.renderRoot.querySelector('button.primary') as HTMLButtonElement | null)?.focus();
    return new Promise<boolean>((resolve) => {
      this.resolve = resolve;
    });
  }

  private close(ok: boolean) {
    const dialog = this.renderRoot.querySelector('dialog');
    if (dialog?.open) dialog.close();
    const resolve = this.resolve;
    this.resolve = undefined;
    this.returnFocus?.focus();
    this.returnFocus = null;
    resolve?.(ok);
  }

  override render() {
    const o = this.options;
    return html`<dialog aria-labelledby="kw-confirm-title" aria-describedby="kw-confirm-message"
      @cancel=${(e: Event) => { e.preventDefault(); this.close(false); }}>
      <h2 id="kw-confirm-title">${o?.title ?? ''}</h2>
      <p id="kw-confirm-message">${o?.message ?? ''}</p>
      ${o?.details?.length ? html`<ul>${o.details.map((d) => html`<li>${d}</li>`)}</ul>` : ''}
      <div class="buttons">
        <button type="button" @click=${() => this.close(false)}>${o?.cancelLabel ?? 'abbrechen'}</button>
        <button type="button" class="primary" @click=${() => this.close(true)}>${o?.acceptLabel ?? 'akzeptieren'}</button>
      </div>
    </dialog>`;
  }
}
customElements.define('kw-confirm', KwConfirm);

let instance: KwConfirm | undefined;

/** What a panel sends (`kwConfirm()` in kassenwart/sdk/ui) to ask through the shell's dialog. */
export interface ConfirmRequest {
  title: string;
  text: string;
  accept?: string;
  cancel?: string;
  resolve: (ok: boolean) => void;
}

/** The event on `window` a panel dispatches (cancelable); the shell calls `preventDefault()` to say it answers. */
export const CONFIRM_REQUEST_EVENT = 'kw-confirm-request';

window.addEventListener(CONFIRM_REQUEST_EVENT, (e) => {
  const d = (e as CustomEvent<ConfirmRequest>).detail;
  if (!d || typeof d.resolve !== 'function') return;
  e.preventDefault();
  void confirmDialog({
    title: String(d.title ?? ''), message: String(d.text ?? ''), acceptLabel: d.accept, cancelLabel: d.cancel,
  }).then((ok) => d.resolve(ok), () => d.resolve(false));
});

/** Asks a yes/no question in the shared modal dialog. */
export function confirmDialog(options: ConfirmOptions): Promise<boolean> {
  if (!instance) {
    instance = document.createElement('kw-confirm') as KwConfirm;
    document.body.append(instance);
  }
  return instance.ask(options);
}
