/**
 * The backup plugin's contribution to the update plugin's `update.guards` point (kassenwart/plugins/update/api):
 * before a register update a verified backup of the POS database, made exactly as "Datensicherung" makes one
 * and recorded as kind "vor Update"; after a rollback, when the database is not byte-identical to the one the
 * update started from, that backup is put back (verified, as a restore does).
 */
import { resolve } from 'node:path';
import { UserError, type Logger } from 'kassenwart/sdk';
import type { UpdateGuard } from 'kassenwart/plugins/update/api';
import type { BackupService } from './service.js';

/** Kind recorded in the manifest of the safety backup before an update. */
export const BEFORE_UPDATE_KIND = 'vor Update';

export function createUpdateGuard(service: BackupService, logger: Logger): UpdateGuard {
  return {
    id: 'backup.before-update',
    displayName: 'Datensicherung',
    async beforeUpdate(ctx) {
      if (resolve(ctx.databasePath) !== service.posPath) {
        throw new UserError(`Die Kasse benutzt die Datenbank ${ctx.databasePath}, die Datensicherung sichert aber ${service.posPath}. Ohne Sicherung der richtigen Datenbank wird nicht aktualisiert; es wurde nichts verändert.`, {
          code: 'backup.update-db-mismatch', hint: 'Ein Techniker muss den „Pfad der Kassendatenbank“ (Datensicherung) und die Kassendatenbank unter „Updates → Kassensoftware“ angleichen.',
        });
      }
      const { backup } = await service.create({ signal: ctx.signal, progress: ctx.progress, log: logger, trigger: 'user' }, BEFORE_UPDATE_KIND);
      return {
        message: `Datensicherung ${backup.name} (vor Update, geprüft)`,
        data: { name: backup.name, rawSha256: backup.manifest?.rawSha256 ?? null },
      };
    },
    async afterRollback(ctx) {
      if (ctx.actualSha256 === ctx.expectedSha256) return undefined;
      const name = String(ctx.record.data?.name ?? '');
      const r = await service.restore({ signal: new AbortController().signal, progress: () => {}, log: logger, trigger: 'user', params: { name } });
      return `Datensicherung: die Sicherung ${name} (vor Update) wurde zurückgespielt. ${r.message ?? ''}`.trim();
    },
  };
}
