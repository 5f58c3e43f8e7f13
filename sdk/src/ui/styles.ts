/**
 * The shell's look, shared with plugin panels: CSS custom properties (`--kw-…`, defined once on `:root`
 * by the shell) and {@link kwStyles}, the element styles every shell component and {@link KwPanel} uses.
 * Every `var()` has a fallback, so a panel also looks right outside the shell (e.g. in a test page).
 */
import { css } from 'lit';

/**
 * The theme: custom properties on `:root`. The shell adopts it into the document; panels only read the
 * variables. Override any of them in a page's CSS to re-theme everything.
 */
export const kwTheme = css`
  :root {
    --kw-font: system-ui, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;
    --kw-font-size: 16px;
    --kw-bg: #eef1f4;
    --kw-surface: #ffffff;
    --kw-text: #1d2329;
    --kw-muted: #505b66;
    --kw-border: #c9d0d8;
    --kw-primary: #1c5d99;
    --kw-primary-text: #ffffff;
    --kw-danger: #c62828;
    --kw-danger-text: #ffffff;
    --kw-success: #1e6b31;
    --kw-success-bg: #e6f4ea;
    --kw-warning: #7a4a00;
    --kw-warning-bg: #fff4d6;
    --kw-error: #a11212;
    --kw-error-bg: #fdecea;
    --kw-focus: #c26a00;
    --kw-accent: #f2a900;
    --kw-info: #1d2329;
    --kw-info-bg: #e3ebf3;
    --kw-radius: 6px;
    --kw-gap: 12px;
    --kw-header-bg: #20303f;
    --kw-header-text: #ffffff;
  }
`;

/** Element styles shared by the shell and by panels (buttons, fields, cards, messages, progress, tables). */
export const kwStyles = css`
  :host {
    display: block;
    font-family: var(--kw-font, system-ui, sans-serif);
    font-size: var(--kw-font-size, 16px);
    color: var(--kw-text, #1d2329);
    line-height: 1.4;
  }
  *, *::before, *::after { box-sizing: border-box; }
  h1, h2, h3 { margin: 0 0 var(--kw-gap, 12px); line-height: 1.2; }
  h1 { font-size: 1.5rem; }
  h2 { font-size: 1.2rem; }
  h3 { font-size: 1.05rem; }
  p { margin: 0 0 8px; }
  .card {
    background: var(--kw-surface, #fff);
    border: 1px solid var(--kw-border, #c9d0d8);
    border-radius: var(--kw-radius, 6px);
    padding: var(--kw-gap, 12px);
    margin-bottom: var(--kw-gap, 12px);
  }
  .muted { color: var(--kw-muted, #505b66); font-size: 0.9rem; }
  button, .button {
    font: inherit;
    min-height: 40px;
    padding: 6px 16px;
    border-radius: var(--kw-radius, 6px);
    border: 1px solid var(--kw-border, #c9d0d8);
    background: var(--kw-surface, #fff);
    color: var(--kw-text, #1d2329);
    cursor: pointer;
  }
  button.primary {
    background: var(--kw-primary, #1c5d99);
    border-color: var(--kw-primary, #1c5d99);
    color: var(--kw-primary-text, #fff);
    font-weight: 600;
  }
  button.danger, button.edit {
    background: var(--kw-danger, #c62828);
    border-color: var(--kw-danger, #c62828);
    color: var(--kw-danger-text, #fff);
  }
  button:disabled { opacity: 0.55; cursor: not-allowed; }
  button:focus-visible, a:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible,
  [tabindex]:focus-visible {
    outline: 3px solid var(--kw-focus, #c26a00);
    outline-offset: 2px;
  }
  label { display: block; font-weight: 600; margin-bottom: 4px; }
  input, select, textarea {
    font: inherit;
    min-height: 40px;
    width: 100%;
    max-width: 28rem;
    padding: 6px 8px;
    border: 1px solid var(--kw-border, #c9d0d8);
    border-radius: var(--kw-radius, 6px);
    background: #fff;
    color: inherit;
  }
  input[type='checkbox'] { width: 22px; min-height: 22px; height: 22px; vertical-align: middle; }
  input[aria-invalid='true'] { border-color: var(--kw-error, #a11212); }
  .row { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
  .message { border-radius: var(--kw-radius, 6px); padding: 8px 12px; margin: 8px 0; }
  .message.success { background: var(--kw-success-bg, #e6f4ea); color: var(--kw-success, #1e6b31); }
  .message.warning { background: var(--kw-warning-bg, #fff4d6); color: var(--kw-warning, #7a4a00); }
  .message.error { background: var(--kw-error-bg, #fdecea); color: var(--kw-error, #a11212); }
  .message.info { background: var(--kw-info-bg, #e3ebf3); color: var(--kw-info, #1d2329); }
  .field-error { color: var(--kw-error, #a11212); font-weight: 600; margin: 4px 0; }
  progress { width: 100%; height: 18px; accent-color: var(--kw-primary, #1c5d99); }
  .badge {
    display: inline-block;
    padding: 1px 8px;
    border-radius: 999px;
    font-size: 0.85rem;
    border: 1px solid currentColor;
  }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--kw-border, #c9d0d8); vertical-align: top; }
  th { font-weight: 600; color: var(--kw-muted, #505b66); }
  .table-wrap { overflow-x: auto; }
`;
