import { LitElement, type CSSResultGroup } from 'lit';
import { kwStyles } from './styles.js';

/**
 * Base class for plugin panels: a LitElement with the shell's shared styles ({@link kwStyles}). The shell
 * sets `plugin` (the contributing plugin id) and `panelId` before the element is attached.
 *
 * Use static properties, not decorators (panels are plain ES modules served as they are):
 *
 *   class MyPanel extends KwPanel {
 *     static properties = { path: { state: true } };
 *     static styles = [KwPanel.styles, css`.big { font-size: 2rem; }`];
 *     …
 *   }
 *   customElements.define('myplugin-status', MyPanel);
 */
export class KwPanel extends LitElement {
  static override styles: CSSResultGroup = [kwStyles];
  static override properties = {
    plugin: { type: String },
    panelId: { type: String, attribute: 'panel-id' },
  };

  /** Id of the plugin that contributed this panel (set by the shell). */
  declare plugin: string;
  /** The panel's id within its plugin (set by the shell). */
  declare panelId: string;
}
