/**
 * The data the page carries (`<script type="application/json" id="kw-boot">`, written by the host): the session
 * and, when signed in, the actions and panels. Each part is used once, for the first render; later loads ask
 * the API.
 */
import type { SessionInfo } from 'kassenwart/sdk/ui';
import type { ActionInfo, PanelInfo } from './state.js';

interface Boot {
  session?: SessionInfo;
  actions?: ActionInfo[];
  panels?: PanelInfo[];
}

let boot: Boot | undefined;

function read(): Boot {
  if (!boot) {
    try {
      boot = JSON.parse(document.getElementById('kw-boot')?.textContent || '{}') as Boot;
    } catch {
      boot = {};
    }
  }
  return boot;
}

/** Takes one part of the boot data (undefined when absent or already taken). */
export function takeBoot<K extends keyof Boot>(key: K): Boot[K] | undefined {
  const b = read();
  const v = b[key];
  delete b[key];
  return v;
}

/** Drops what is left (after sign-in or sign-out the boot data no longer fits). */
export function dropBoot(): void {
  boot = {};
}
