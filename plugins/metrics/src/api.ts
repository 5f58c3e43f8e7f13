/**
 * The metrics plugin's published API (`kassenwart/plugins/metrics/api`). Plugins that want their state
 * watched contribute a MetricsCollector; they never import prom-client or the metrics plugin's internals.
 *
 * In the contributor's plugin.json:
 *   "optionalDependencies": { "metrics": "^1.0.0" }            (so the plugin also runs without metrics)
 *   "activationEvents": [..., "onExtensionPoint:metrics.collectors"]   (only for lazily activated plugins)
 * and in activate():
 *   contributeMetrics(ctx, { id: 'backup.status', collect: async () => [...] });
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: prefix `kassenwart_`, base units in the name
 * (`_seconds`, `_bytes`, `_timestamp_seconds`), `_total` for counters, and few label values (target ids,
 * never file names). The metrics plugin refuses other names and counts it in
 * kassenwart_metrics_collector_errors_total{collector="…"}.
 */
import { createExtensionPoint, type PluginContext } from 'kassenwart/sdk';

/** One series of a family: its labels and current value. */
export interface MetricSample {
  /** Label names `[a-z_][a-z0-9_]*`, at most 5; values at most 120 characters. */
  labels?: Record<string, string>;
  value: number;
}

/** A metric family as a collector reports it. */
export interface MetricFamily {
  /** `kassenwart_[a-z0-9_]+`, e.g. "kassenwart_backup_last_success_timestamp_seconds". */
  name: string;
  /** One English sentence (the HELP line). */
  help: string;
  /** "gauge" (default) or "counter" (name must end in `_total`). */
  type?: 'gauge' | 'counter';
  /** At most 50 samples. A family with no samples is left out. */
  samples: MetricSample[];
}

/** What a plugin contributes to `metrics.collectors`. */
export interface MetricsCollector {
  /** Unique id, prefixed with the contributing plugin id ("backup.status"). */
  id: string;
  /**
   * The current values. Called for every scrape and every push; keep it cheap (read state files, no network).
   * Times out after 5 s (`signal` is then aborted): that collector's families are left out of this round.
   */
  collect(signal: AbortSignal): Promise<MetricFamily[]> | MetricFamily[];
}

/** The extension point collectors contribute to. */
export const metricsCollectorsExtensionPoint = createExtensionPoint<MetricsCollector>({ id: 'metrics.collectors' });

/** Id of the plugin that owns the extension point. */
export const METRICS_PLUGIN_ID = 'metrics';

/**
 * Registers a collector when the metrics plugin is installed; does nothing (one log line) when it is not, so
 * a plugin listing metrics in `optionalDependencies` runs the same without it.
 */
export function contributeMetrics(ctx: PluginContext, collector: MetricsCollector): void {
  let point;
  try {
    point = ctx.extensionPoint(metricsCollectorsExtensionPoint);
  } catch (e) {
    ctx.logger.debug(`metrics not available, collector ${collector.id} not registered: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  point.register(collector);
}

/** Seconds since the epoch of an ISO 8601 time (or of a Date), the unit of `_timestamp_seconds`. */
export function toTimestampSeconds(at: string | Date): number {
  return (typeof at === 'string' ? Date.parse(at) : at.getTime()) / 1000;
}
