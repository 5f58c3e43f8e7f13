/**
 * `kwConfirm`: the one "akzeptieren"/"abbrechen" question for panels, the same dialog as every action of the
 * shell. The panel asks with a `kw-confirm-request` event on `window` (cancelable; `detail` carries the options
 * and `resolve`); the shell shows its dialog, calls `preventDefault()` and later `resolve(true | false)`. When
 * nobody takes the request (a panel on a page without the shell, e.g. under test), a small native `<dialog>` of
 * this module asks instead — never the browser's `window.confirm()`.
 */

/** What the question says. */
export interface ConfirmOptions {
  /** Heading, e.g. "Sicherung wiederherstellen". */
  title: string;
  /** The question itself, e.g. "Soll die Kassendatenbank durch die Sicherung … ersetzt werden?". */
  text: string;
  /** Label of the accepting button (default "akzeptieren"). */
  accept?: string;
  /** Label of the cancelling button (default "abbrechen"). */
  cancel?: string;
}

/** `detail` of the `kw-confirm-request` event. */
export interface ConfirmRequestDetail extends ConfirmOptions {
  /** Call exactly once with the answer. */
  resolve: (accepted: boolean) => void;
}

/** Name of the window event a shell listens to. */
export const CONFIRM_REQUEST_EVENT = 'kw-confirm-request';

/** Asks the user; resolves true for "akzeptieren", false for "abbrechen" (also Escape). */
export function kwConfirm(options: ConfirmOptions): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    let settled = false;
    const once = (v: boolean) => { if (!settled) { settled = true; resolve(v); } };
    const ev = new CustomEvent<ConfirmRequestDetail>(CONFIRM_REQUEST_EVENT, {
      cancelable: true, detail: { ...options, resolve: once },
    });
    window.dispatchEvent(ev);
    if (!ev.defaultPrevented) fallbackDialog(options, once);
  });
}

let seq = 0;

/** A minimal accessible modal dialog (native `<dialog>`: focus trapped, Escape cancels, focus returns). */
function fallbackDialog(o: ConfirmOptions, resolve: (v: boolean) => void): void {
  // The focused element inside the panel's shadow root, so focus returns to the very button that asked.
  let opener = document.activeElement as HTMLElement | null;
  while (opener?.shadowRoot?.activeElement) opener = opener.shadowRoot.activeElement as HTMLElement;
  const id = `kw-fallback-confirm-${++seq}`;
  const d = document.createElement('dialog');
  d.setAttribute('aria-labelledby', `${id}-t`);
  d.setAttribute('aria-describedby', `${id}-m`);
  d.style.cssText = 'max-width:32rem;border:1px solid #5a6570;border-radius:6px;padding:16px 20px;font:inherit;color:#1b232b;background:#fff';
  const h = document.createElement('h2');
  h.id = `${id}-t`;
  h.textContent = o.title;
  h.style.cssText = 'margin:0 0 8px;font-size:1.2rem';
  const p = document.createElement('p');
  p.id = `${id}-m`;
  p.textContent = o.text;
  const row = document.createElement('div');
  row.style.cssText = 'display:flex;gap:8px;justify-content:flex-end;margin-top:16px';
  const button = (label: string, value: boolean, primary: boolean) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.style.cssText = `min-height:40px;padding:0 16px;font:inherit;border-radius:4px;border:1px solid #1c5d99;${primary ? 'background:#1c5d99;color:#fff' : 'background:#fff;color:#1c5d99'}`;
    b.addEventListener('click', () => close(value));
    return b;
  };
  const cancel = button(o.cancel ?? 'abbrechen', false, false);
  const accept = button(o.accept ?? 'akzeptieren', true, true);
  row.append(cancel, accept);
  d.append(h, p, row);
  let done = false;
  const close = (v: boolean) => {
    if (done) return;
    done = true;
    d.close();
    d.remove();
    opener?.focus?.();
    resolve(v);
  };
  d.addEventListener('cancel', (e) => { e.preventDefault(); close(false); });
  document.body.append(d);
  d.showModal();
  accept.focus();
}
