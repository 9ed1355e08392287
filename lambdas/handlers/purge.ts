/**
 * Scheduled purge (EventBridge rule → this Lambda).
 *
 * Removes the deleted infrastructures whose retention (DELETED_RETENTION_DAYS) is over, plus,
 * when the environment sets PURGE_BEFORE=YYYY-MM-DD, those deleted before that day (IM's
 * delete_old_infs). Logs the counts as one JSON line. The event content is ignored.
 */
import { loadConfig } from '#core/config';
import { createLogger, type LogLevel } from '#core/logger';
import type { Services } from '#core/types';
import { DynamoInfrastructureStore, storeClient } from '#store/dynamodb/index';
import { parsePurgeDate, runPurge, type PurgeRunResult } from '#store/purge';
import { logContext } from '#handlers/log-context';

/** What the purge needs: no orchestrator, connectors or secret key. */
export type PurgeServices = Pick<Services, 'config' | 'store' | 'logger' | 'now'>;

export function createPurgeHandler(services: PurgeServices, env: Record<string, string | undefined> = process.env): () => Promise<PurgeRunResult> {
  return async () => {
    const beforeText = env.PURGE_BEFORE?.trim();
    let before: Date | undefined;
    if (beforeText) {
      before = parsePurgeDate(beforeText);
      if (!before) throw new Error(`PURGE_BEFORE: incorrect date format '${beforeText}' (YYYY-MM-DD).`);
    }
    const result = await runPurge(services.store, { retentionDays: services.config.DELETED_RETENTION_DAYS, before, now: services.now() });
    services.logger.info('purge done', { ...result });
    return result;
  };
}

/** The purge function's own composition root: config, store and logger only. */
function buildPurgeServices(): PurgeServices {
  const config = loadConfig(process.env);
  const store = new DynamoInfrastructureStore({ client: storeClient(config), tableName: config.TABLE_NAME });
  return { config, store, logger: createLogger({ level: config.LOG_LEVEL as LogLevel, base: { component: 'purge' }, context: logContext }), now: Date.now };
}

let purgeHandler: (() => Promise<PurgeRunResult>) | undefined;

/** Lambda entry point. Throws (failing the invocation) when PURGE_BEFORE is not a valid day. */
export async function handler(): Promise<PurgeRunResult> {
  purgeHandler ??= createPurgeHandler(buildPurgeServices());
  return purgeHandler();
}
