/**
 * The cloud plugin ("Cloud-Kasse"): encrypted off-site copies of every local backup on S3-compatible storage,
 * as a target of the backup plugin (only through its published API), with a queue that waits while the
 * salon is offline, retention on the store, restore from the cloud and `kassenwart cloud list|fetch`.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inject, injectable, TOKENS, UserError, formatMegabytes, type JobContext, type Plugin, type PluginContext } from 'kassenwart/sdk';
import {
  backupListenersExtensionPoint, backupRestorerExtensionPoint, backupTargetsExtensionPoint,
  type Availability, type BackupFile, type BackupTarget, type SendContext, type SendResult, type StoredBackup,
} from 'kassenwart/plugins/backup/api';
import { CloudService } from './service.js';
import { cloudCommand } from './cli.js';
import { createClient } from './s3.js';
import { decrypterFor, fetchCopy } from './restore.js';
import { backupNameOf, COPY_NAME } from './names.js';

/** Id of the cloud backup target. */
export const CLOUD_TARGET_ID = 'cloud.s3';

const mb = formatMegabytes;

@injectable()
export default class CloudPlugin implements Plugin {
  private readonly service: CloudService;

  constructor(@inject(TOKENS.Context) private readonly ctx: PluginContext) {
    this.service = new CloudService({ dataDir: ctx.dataDir, settings: ctx.settings, other: ctx.otherSettings, logger: ctx.logger });
  }

  activate(): void {
    const { ctx, service } = this;
    ctx.extensionPoint(backupTargetsExtensionPoint).register(this.target());
    ctx.extensionPoint(backupListenersExtensionPoint).register({
      id: 'cloud.queue',
      backupCreated: (file: BackupFile) => {
        if (service.setupProblem()?.kind === 'skipped') return;
        void service.enqueue(file).catch((e) => ctx.logger.warn(`cloud: not queued: ${e instanceof Error ? e.message : String(e)}`));
      },
    });
    ctx.registerRoute('GET', '/status', () => service.status(), { role: 'operator' });
    ctx.registerRoute('GET', '/copies', () => service.copies(), { role: 'technician' });
    ctx.registerRoute('GET', '/orphans', () => service.orphans(false), { role: 'technician' });
    ctx.registerRoute('POST', '/orphans/clean', () => service.orphans(true), { role: 'technician' });
    ctx.registerAction('cloud.restore', (job) => this.restore(job));
    ctx.registerCommand('cloud', (args, io) => cloudCommand(args, io, service));
    const unsubscribe = ctx.settings.onDidChange(() => { void service.settingsChanged(); });
    ctx.onDispose(unsubscribe);
    // Only the server (`kassenwart serve`, which `start` supervises) runs the queue; a CLI process that loads
    // the plugin for one command does not.
    if (process.argv[2] === 'serve') {
      service.startTimer();
      ctx.onDispose(() => service.dispose());
    }
  }

  private target(): BackupTarget {
    const service = this.service;
    return {
      id: CLOUD_TARGET_ID,
      displayName: 'Cloud-Kasse',
      // Copies leave the salon: the metrics plugin reports the newest off-site copy's age from such targets.
      offsite: true,
      async availability(): Promise<Availability> {
        const p = service.setupProblem();
        return p ? { available: false, kind: p.kind, reason: p.reason } : { available: true };
      },
      async send(file: BackupFile, sctx: SendContext): Promise<SendResult> {
        const up = await service.sendNow(file, {
          signal: sctx.signal, log: sctx.log,
          progress: (b, m) => sctx.progress(b, m ?? `Cloud-Kasse: ${mb(b)} von ${mb(file.size)} MB verschlüsselt übertragen …`),
        });
        const s = service.settings;
        return {
          location: `s3://${s.bucket}/${up.key}`, bytes: up.bytes,
          message: `Verschlüsselt in der Cloud-Kasse gesichert (${s.bucket}/${up.key}${up.lockedUntil ? `, gesperrt bis ${up.lockedUntil.slice(0, 10)}` : ''})`,
        };
      },
      async list(signal?: AbortSignal): Promise<StoredBackup[]> {
        return (await service.copies(signal)).map((c) => ({ name: c.name, size: c.size, modifiedAt: c.uploadedAt }));
      },
    };
  }

  /** "Aus der Cloud wiederherstellen" (technician): download, decrypt, hand to the backup plugin's restore. */
  private async restore(job: JobContext): Promise<{ message: string; details?: Record<string, unknown> }> {
    const name = String(job.params?.name ?? '');
    const identity = typeof job.params?.identity === 'string' ? job.params.identity : '';
    if (!COPY_NAME.test(name)) {
      throw new UserError('Bitte eine Kopie aus der Cloud-Kasse auswählen (z. B. kasse-2026-11-29_07-00-00.sqlite.gz.age).', { code: 'cloud.restore-name' });
    }
    const decrypter = decrypterFor(identity);
    const restorer = this.ctx.extensionPoint(backupRestorerExtensionPoint).all()[0]?.value;
    if (!restorer) throw new UserError('Die Wiederherstellung steht nicht zur Verfügung: das Plugin „Datensicherung“ ist nicht aktiv.', { code: 'cloud.no-restorer' });
    const s = this.service.settings;
    const problem = this.service.setupProblem(s);
    if (problem?.kind === 'skipped') throw new UserError(problem.reason, { code: 'cloud.not-configured' });
    const dir = join(this.ctx.dataDir, 'restore');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const dest = join(dir, backupNameOf(name));
    const client = createClient(s);
    try {
      job.progress(0, `${name} wird heruntergeladen …`);
      const got = await fetchCopy({
        client, settings: s, name, dest, decrypter, signal: job.signal,
        progress: (done, total) => job.progress(Math.round((done / Math.max(1, total)) * 40), `${mb(done)} von ${mb(total)} MB heruntergeladen und entschlüsselt …`),
      });
      job.log.info(`Heruntergeladen und entschlüsselt: ${name} (${got.bytes} Byte).`);
      const r = await restorer.restoreFile(dest, { label: backupNameOf(name), expectSha256: got.expectSha256 }, {
        signal: job.signal, trigger: job.trigger, log: job.log,
        progress: (p, m) => job.progress(p === undefined ? undefined : 40 + Math.round(p * 0.6), m),
      });
      return { message: `Aus der Cloud-Kasse: ${r.message ?? 'Sicherung wiederhergestellt.'}`, details: { ...r.details, cloudCopy: name, downloadedBytes: got.bytes } };
    } finally {
      client.destroy();
      await rm(dest, { force: true });
    }
  }
}
