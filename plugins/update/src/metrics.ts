/**
 * The update plugin's gauges for the metrics plugin: the last Updatecheck (time, success), the last
 * installed update (installed or rolled back), and since when a newer release exists that is not installed.
 */
import semver from 'semver';
import type { PluginContext } from 'kassenwart/sdk';
import { toTimestampSeconds, type MetricFamily, type MetricsCollector } from 'kassenwart/plugins/metrics/api';
import type { Channel } from './feed.js';
import type { StateStore } from './state.js';

export function updateCollector(ctx: PluginContext, store: StateStore): MetricsCollector {
  return {
    id: 'update.status',
    async collect() {
      const s = await store.load();
      const families: MetricFamily[] = [];
      if (s.lastCheck) {
        families.push(
          { name: 'kassenwart_update_last_check_timestamp_seconds', help: 'When the last Updatecheck ran.', samples: [{ value: toTimestampSeconds(s.lastCheck.at) }] },
          { name: 'kassenwart_update_last_check_success', help: '1 when the last Updatecheck succeeded (no update needed, or one installed), 0 when it failed.', samples: [{ value: s.lastCheck.ok ? 1 : 0 }] },
        );
      }
      const last = s.history.find((h) => h.status !== 'pending');
      if (last) {
        families.push({ name: 'kassenwart_update_last_update_success', help: '1 when the last update was installed, 0 when it was rolled back.', samples: [{ value: last.status === 'installed' ? 1 : 0 }] });
      }
      // The oldest release newer than the running version on this channel: since then the installation is outdated.
      const channel = ctx.settings.get<Channel>('channel') ?? 'stable';
      const newer = (s.releasesSeen ?? []).filter((r) => semver.valid(r.version) && (channel === 'beta' || r.channel === 'stable') && semver.gt(r.version, ctx.hostVersion));
      const since = Math.min(...newer.map((r) => toTimestampSeconds(r.date)).filter((t) => Number.isFinite(t)));
      if (Number.isFinite(since)) {
        families.push({ name: 'kassenwart_update_outdated_since_timestamp_seconds', help: 'Release date of the oldest published release newer than the running version (absent when up to date).', samples: [{ value: since }] });
      }
      return families;
    },
  };
}
