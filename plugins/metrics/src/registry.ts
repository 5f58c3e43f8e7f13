/**
 * The metrics this installation exposes: the plugin's own (installation and component info, plugin states,
 * job counts and durations, remote-write health) plus every contributed collector's families, as one
 * prom-client registry per scrape or push.
 */
import client from 'prom-client';
import type { HostView, JobInfo, Logger } from 'kassenwart/sdk';
import type { MetricFamily, MetricsCollector } from './api.js';

const NAME = /^kassenwart_[a-z0-9_]+$/;
const LABEL = /^[a-z_][a-z0-9_]*$/;
const MAX_SAMPLES = 50;
const MAX_LABELS = 5;
const MAX_VALUE = 120;
export const COLLECT_TIMEOUT_MS = 5_000;

/** Job durations: a backup takes seconds to minutes, an update minutes; a few buckets keep the fleet small. */
export const JOB_BUCKETS = [1, 10, 60, 300, 1800, 7200];
const PLUGIN_STATES = ['active', 'inactive', 'disabled', 'failed'] as const;

/** Why a family is refused (undefined when it is fine). Exported for the unit tests. */
export function familyProblem(f: MetricFamily, reserved: Set<string>): string | undefined {
  if (!NAME.test(f.name)) return `name ${JSON.stringify(f.name)} does not match ${NAME}`;
  if (reserved.has(f.name)) return `name ${f.name} is used twice`;
  if (f.type === 'counter' && !f.name.endsWith('_total')) return `counter ${f.name} must end in _total`;
  if (f.type !== 'counter' && f.name.endsWith('_total')) return `gauge ${f.name} must not end in _total`;
  if (!Array.isArray(f.samples) || f.samples.length > MAX_SAMPLES) return `${f.name}: more than ${MAX_SAMPLES} samples`;
  const names = new Set<string>();
  for (const s of f.samples) {
    if (typeof s.value !== 'number' || Number.isNaN(s.value)) return `${f.name}: value is not a number`;
    const labels = Object.entries(s.labels ?? {});
    if (labels.length > MAX_LABELS) return `${f.name}: more than ${MAX_LABELS} labels`;
    for (const [k, v] of labels) {
      if (!LABEL.test(k) || k.startsWith('__') || k === 'instance' || k === 'job' || k === 'salon') return `${f.name}: label name ${JSON.stringify(k)} not allowed`;
      if (typeof v !== 'string' || v.length > MAX_VALUE) return `${f.name}: label ${k} value too long`;
    }
    const key = JSON.stringify(labels.sort());
    if (names.has(key)) return `${f.name}: duplicate label set ${key}`;
    names.add(key);
  }
  return undefined;
}

export interface Identity {
  installationId: string;
  salon: string;
  hostVersion: string;
}

/** Keeps the long-lived metrics (job histogram and counters) and assembles everything else on demand. */
export class MetricsRegistry {
  /** Metrics that live across scrapes (counters, histograms). */
  readonly persistent = new client.Registry();
  private readonly jobDuration = new client.Histogram({
    name: 'kassenwart_job_duration_seconds', help: 'Duration of finished jobs (actions such as backup.create), by action.',
    labelNames: ['action'], buckets: JOB_BUCKETS, registers: [this.persistent],
  });
  private readonly jobs = new client.Counter({
    name: 'kassenwart_jobs_total', help: 'Finished jobs by action and outcome (succeeded, warning, failed, cancelled).',
    labelNames: ['action', 'outcome'], registers: [this.persistent],
  });
  private readonly collectorErrors = new client.Counter({
    name: 'kassenwart_metrics_collector_errors_total', help: 'Collector runs that failed, timed out or returned invalid families.',
    labelNames: ['collector'], registers: [this.persistent],
  });
  private readonly warned = new Set<string>();

  constructor(
    private readonly host: HostView,
    private readonly collectors: () => MetricsCollector[],
    private readonly identity: () => Identity,
    private readonly log: Logger,
    /** Extra families of the plugin itself (remote-write health). */
    private readonly own: () => MetricFamily[] = () => [],
  ) {}

  /** Records a finished job. */
  observeJob(job: JobInfo): void {
    if (job.state === 'running') return;
    this.jobs.inc({ action: job.actionId, outcome: job.state });
    if (typeof job.durationMs === 'number') this.jobDuration.observe({ action: job.actionId }, job.durationMs / 1000);
  }

  private problem(collector: string, why: string): void {
    this.collectorErrors.inc({ collector });
    const key = `${collector}:${why}`;
    if (!this.warned.has(key)) {
      this.warned.add(key);
      this.log.warn(`metrics collector ${collector}: ${why}`);
    }
  }

  /** The families the plugin itself derives from the host view. */
  private builtIn(): MetricFamily[] {
    const id = this.identity();
    const plugins = this.host.plugins();
    return [
      { name: 'kassenwart_installation_info', help: 'This installation: its id (the remote-write instance label) and salon name.',
        samples: [{ labels: { installation: id.installationId, salon_name: id.salon }, value: 1 }] },
      { name: 'kassenwart_component_info', help: 'Installed version of each component (kassenwart = the host, else a plugin id).',
        samples: [{ labels: { component: 'kassenwart', version: id.hostVersion }, value: 1 },
          ...plugins.filter((p) => p.version).map((p) => ({ labels: { component: p.id, version: p.version! }, value: 1 }))] },
      { name: 'kassenwart_plugin_state', help: 'State of each plugin: 1 for the current state (active, inactive = waiting for lazy activation, disabled, failed), else 0.',
        samples: plugins.flatMap((p) => PLUGIN_STATES.map((s) => ({ labels: { plugin: p.id, state: s }, value: p.state === s ? 1 : 0 }))) },
    ];
  }

  private async runCollector(c: MetricsCollector): Promise<MetricFamily[]> {
    const ctrl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        Promise.resolve().then(() => c.collect(ctrl.signal)),
        new Promise<never>((_, reject) => { timer = setTimeout(() => { ctrl.abort(); reject(new Error(`timed out after ${COLLECT_TIMEOUT_MS / 1000} s`)); }, COLLECT_TIMEOUT_MS); }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Everything, as one registry (a fresh one: contributed values are read anew each time). */
  async snapshot(): Promise<client.Registry> {
    const fresh = new client.Registry();
    const reserved = new Set<string>(['kassenwart_job_duration_seconds', 'kassenwart_jobs_total', 'kassenwart_metrics_collector_errors_total']);
    const add = (collector: string, f: MetricFamily) => {
      const why = familyProblem(f, reserved);
      if (why) { this.problem(collector, why); return; }
      reserved.add(f.name);
      if (!f.samples.length) return;
      const labelNames = [...new Set(f.samples.flatMap((s) => Object.keys(s.labels ?? {})))];
      if (f.type === 'counter') {
        const m = new client.Counter({ name: f.name, help: f.help, labelNames, registers: [fresh] });
        for (const s of f.samples) m.inc(s.labels ?? {}, s.value);
      } else {
        const m = new client.Gauge({ name: f.name, help: f.help, labelNames, registers: [fresh] });
        for (const s of f.samples) m.set(s.labels ?? {}, s.value);
      }
    };
    for (const f of [...this.builtIn(), ...this.own()]) add('metrics', f);
    const list = this.collectors();
    const results = await Promise.allSettled(list.map(async (c) => ({ c, families: await this.runCollector(c) })));
    results.forEach((r, i) => {
      if (r.status === 'rejected') { this.problem(list[i].id, r.reason instanceof Error ? r.reason.message : String(r.reason)); return; }
      if (!Array.isArray(r.value.families)) { this.problem(r.value.c.id, 'collect() did not return an array'); return; }
      for (const f of r.value.families) add(r.value.c.id, f);
    });
    return client.Registry.merge([this.persistent, fresh]);
  }
}
