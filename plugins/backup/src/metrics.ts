/**
 * The backup plugin's gauges for the metrics plugin (kassenwart/plugins/metrics/api): per target the last
 * success and failure, size and duration; whether the last verification passed; the newest off-site copy.
 * Read from the status file, the backup folder and the job history; nothing is measured twice. Labels are
 * target ids only (never file names).
 */
import type { Contribution, JobInfo, PluginContext } from 'kassenwart/sdk';
import { toTimestampSeconds, type MetricFamily, type MetricsCollector } from 'kassenwart/plugins/metrics/api';
import type { BackupTarget } from './api.js';
import { LOCAL_TARGET_ID, type BackupService } from './service.js';

type Entry = { id: string; lastSuccess: { at: string; backup?: string } | null; lastFailure: { at: string } | null };

/** Error codes of a backup whose verification failed (verify.ts, service.ts). */
const VERIFY_FAILED = new Set(['backup.verify', 'backup.source-corrupt']);

/**
 * Off-site targets count as configured when their availability does not say "skipped" (for FTP: settings
 * only). A target that does not answer within 2 s, or throws, counts as configured: better a false alarm
 * than a silent gap, and the other backup gauges are not held up.
 */
async function configured(t: BackupTarget, signal: AbortSignal): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const av = await Promise.race([t.availability(signal), new Promise<undefined>((r) => { timer = setTimeout(() => r(undefined), 2_000); })]);
    return !av || av.available || av.kind !== 'skipped';
  } catch {
    return true;
  } finally {
    clearTimeout(timer);
  }
}

export function backupCollector(ctx: PluginContext, service: BackupService, targets: () => Contribution<BackupTarget>[]): MetricsCollector {
  return {
    id: 'backup.status',
    async collect(signal) {
      const status = await service.status() as { targets: Entry[]; backups: { name: string; size: number; verified: boolean }[] };
      const creates = await ctx.host.jobs({ actionId: 'backup.create', limit: 20 });
      const sends = await ctx.host.jobs({ actionId: 'backup.send', limit: 20 });
      const sizeOf = (name?: string) => status.backups.find((b) => b.name === name)?.size;
      const success: MetricFamily['samples'] = [];
      const failure: MetricFamily['samples'] = [];
      const size: MetricFamily['samples'] = [];
      const duration: MetricFamily['samples'] = [];
      const finishedOk = (j: JobInfo) => j.state === 'succeeded' || j.state === 'warning';
      for (const t of status.targets) {
        const labels = { target: t.id };
        if (t.lastSuccess) success.push({ labels, value: toTimestampSeconds(t.lastSuccess.at) });
        if (t.lastFailure) failure.push({ labels, value: toTimestampSeconds(t.lastFailure.at) });
        const bytes = t.id === LOCAL_TARGET_ID ? status.backups.find((b) => b.verified)?.size : sizeOf(t.lastSuccess?.backup);
        if (bytes !== undefined) size.push({ labels, value: bytes });
        const job = t.id === LOCAL_TARGET_ID
          ? creates.find(finishedOk)
          : sends.find((j) => finishedOk(j) && ((j.details?.results as { target: string; status: string }[] | undefined) ?? []).some((r) => r.target === t.id && r.status === 'sent'));
        if (job?.durationMs !== undefined) duration.push({ labels, value: job.durationMs / 1000 });
      }
      // The newest backup.create that tells about verification: a success (its backup was verified) or a verification failure.
      const verdict = creates.find((j) => finishedOk(j) || (j.state === 'failed' && VERIFY_FAILED.has(j.errorCode ?? '')));
      const offsite = targets().map((c) => c.value).filter((t) => t.offsite);
      const inUse = (await Promise.all(offsite.map(async (t) => ((await configured(t, signal)) ? t : undefined)))).filter((t): t is BackupTarget => !!t);
      const newestOffsite = Math.max(...status.targets.filter((t) => inUse.some((u) => u.id === t.id) && t.lastSuccess).map((t) => toTimestampSeconds(t.lastSuccess!.at)));
      const families: MetricFamily[] = [
        { name: 'kassenwart_backup_last_success_timestamp_seconds', help: 'When the last backup to this target succeeded (target "local" = the verified local backup).', samples: success },
        { name: 'kassenwart_backup_last_failure_timestamp_seconds', help: 'When the last backup to this target failed.', samples: failure },
        { name: 'kassenwart_backup_last_size_bytes', help: 'Size of the last successful backup of this target (compressed .gz).', samples: size },
        { name: 'kassenwart_backup_last_duration_seconds', help: 'Duration of the job that made the last successful backup of this target (backup.create for local, backup.send for the others).', samples: duration },
        { name: 'kassenwart_backup_offsite_configured', help: '1 when an off-site target (FTP server, cloud) is in use on this installation.', samples: [{ value: inUse.length ? 1 : 0 }] },
      ];
      if (verdict) {
        families.push({ name: 'kassenwart_backup_last_verification_success', help: '1 when the verification of the last local backup passed, 0 when it failed.', samples: [{ labels: { target: LOCAL_TARGET_ID }, value: finishedOk(verdict) ? 1 : 0 }] });
      }
      if (Number.isFinite(newestOffsite)) {
        families.push({ name: 'kassenwart_backup_offsite_last_success_timestamp_seconds', help: 'When the newest off-site copy was made (any off-site target in use).', samples: [{ value: newestOffsite }] });
      }
      return families;
    },
  };
}
