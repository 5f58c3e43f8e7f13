/**
 * The metrics plugin ("Überwachung"): /metrics in the Prometheus text format (off by default; bearer token
 * or loopback only), remote-write pushes to the vendor, and the `metrics.collectors` extension point other
 * plugins contribute their gauges to. It knows nothing about backups or updates: those plugins report
 * their own state through collectors; plugin states and job durations come from the host's read-only view.
 */
import { inject, injectable, rawResponse, TOKENS, type Plugin, type PluginContext } from 'kassenwart/sdk';
import { metricsCollectorsExtensionPoint } from './api.js';
import { decideAccess } from './access.js';
import { generatedInstallationId } from './identity.js';
import { MetricsRegistry, type Identity } from './registry.js';
import { RemoteWriter, type RemoteWriteConfig } from './remote-write.js';
import { seriesOf } from './remote-write-encode.js';

@injectable()
export default class MetricsPlugin implements Plugin {
  private generatedId = '';
  private writer: RemoteWriter | undefined;

  constructor(@inject(TOKENS.Context) private readonly ctx: PluginContext) {}

  /** instance label and salon name, from the settings (or the generated id / remote-support's installation name). */
  identity(): Identity {
    const s = this.ctx.settings;
    const id = String(s.get('installationId') ?? '').trim() || this.generatedId;
    const salon = String(s.get('salonName') ?? '').trim()
      || String(this.ctx.otherSettings.get<string>('remote-support', 'installationName') ?? '').trim();
    return { installationId: id, salon, hostVersion: this.ctx.hostVersion };
  }

  private remoteWriteConfig(): RemoteWriteConfig | undefined {
    const s = this.ctx.settings;
    const url = String(s.get('remoteWriteUrl') ?? '').trim();
    if (!url) return undefined;
    return {
      url,
      auth: (s.get<'bearer' | 'basic' | 'none'>('remoteWriteAuth') ?? 'bearer'),
      user: String(s.get('remoteWriteUser') ?? ''),
      secret: String(s.get('remoteWriteSecret') ?? ''),
      caCert: String(s.get('remoteWriteCaCert') ?? ''),
      intervalSeconds: Number(s.get('remoteWriteIntervalSeconds') ?? 300),
    };
  }

  async activate(): Promise<void> {
    const ctx = this.ctx;
    this.generatedId = await generatedInstallationId(ctx.dataDir);
    const point = ctx.extensionPoint(metricsCollectorsExtensionPoint);
    const writer = new RemoteWriter(() => this.remoteWriteConfig(), async () => {
      const id = this.identity();
      const external: Record<string, string> = { job: 'kassenwart', instance: id.installationId };
      if (id.salon) external.salon = id.salon;
      return seriesOf(await registry.snapshot(), external, Date.now());
    }, ctx.logger);
    this.writer = writer;
    const registry = new MetricsRegistry(ctx.host, () => point.all().map((c) => c.value), () => this.identity(), ctx.logger, () => writer.families());

    ctx.host.onJobFinished((job) => {
      registry.observeJob(job);
      writer.afterJob();
    });

    ctx.registerRoute('GET', '/metrics', async (req) => {
      const decision = decideAccess(req, ctx.settings.get<boolean>('enabled') === true, String(ctx.settings.get('token') ?? ''));
      if (!decision.ok) {
        return rawResponse(decision.message + '\n', {
          status: decision.status, headers: decision.status === 401 ? { 'www-authenticate': 'Bearer realm="kassenwart"' } : {},
        });
      }
      const reg = await registry.snapshot();
      return rawResponse(await reg.metrics(), { contentType: reg.contentType });
    }, { auth: 'plugin' });

    ctx.registerRoute('GET', '/status', () => {
      const rw = this.remoteWriteConfig();
      const st = writer.state;
      return {
        enabled: ctx.settings.get<boolean>('enabled') === true,
        tokenSet: !!String(ctx.settings.get('token') ?? ''),
        ...this.identity(),
        collectors: point.all().map((c) => ({ id: c.value.id, plugin: c.pluginId })),
        remoteWrite: rw ? {
          url: rw.url, queued: st.queued, droppedBatches: st.droppedBatches, sentBatches: st.sentBatches, sentBytes: st.sentBytes,
          lastSuccessAt: st.lastSuccessAt ? new Date(st.lastSuccessAt).toISOString() : null,
          lastFailureAt: st.lastFailureAt ? new Date(st.lastFailureAt).toISOString() : null, lastError: st.lastError ?? null,
        } : null,
      };
    }, { role: 'technician' });

    ctx.settings.onDidChange((keys) => {
      if (keys.some((k) => k.startsWith('remoteWrite'))) void writer.pushNow();
    });
    writer.start();
    ctx.onDispose(() => writer.stop());
  }
}
