/**
 * The remote-support plugin's gauges for the metrics plugin: is RustDesk installed, and is its service
 * running. Only /proc is read (no RustDesk process is started), so it is cheap enough for every scrape.
 */
import { isUserError, type SettingsView } from 'kassenwart/sdk';
import type { MetricFamily, MetricsCollector } from 'kassenwart/plugins/metrics/api';
import { locateRustDesk, rustDeskServiceState } from './rustdesk.js';

export function remoteSupportCollector(settings: SettingsView, procRoot?: string): MetricsCollector {
  return {
    id: 'remote-support.rustdesk',
    async collect() {
      let bin: string;
      try {
        bin = await locateRustDesk(String(settings.get('rustdeskPath') ?? ''));
      } catch (e) {
        if (!isUserError(e)) throw e;
        return [{ name: 'kassenwart_rustdesk_installed', help: '1 when the RustDesk program was found on the POS server.', samples: [{ value: 0 }] }];
      }
      const state = await rustDeskServiceState(bin, procRoot);
      const families: MetricFamily[] = [
        { name: 'kassenwart_rustdesk_installed', help: '1 when the RustDesk program was found on the POS server.', samples: [{ value: 1 }] },
        { name: 'kassenwart_rustdesk_service_running', help: '1 when the RustDesk service (rustdesk --service) runs, so support can connect.', samples: [{ value: state.running ? 1 : 0 }] },
      ];
      return families;
    },
  };
}
