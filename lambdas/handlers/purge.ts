/**
 * Scheduled purge (EventBridge rule → this Lambda).
 *
 * Removes the deleted infrastructures whose retention (DELETED_RETENTION_DAYS) is over, plus,
 * when the environment sets PURGE_BEFORE=YYYY-MM-DD, those deleted before that day (IM's
 * delete_old_infs). Logs the counts as one JSON line. The event content is ignored.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { getConfig } from '#core/config';
import { createLogger, type LogLevel } from '#core/logger';
import { DynamoInfrastructureStore } from '#store/dynamodb-store';
import { parsePurgeDate, runPurge, type PurgeRunResult } from '#store/purge';

let store: DynamoInfrastructureStore | undefined;

/** Built on the first invocation and reused by the warm container. */
function getStore(): DynamoInfrastructureStore {
  if (!store) {
    const config = getConfig();
    const client = new DynamoDBClient({
      region: config.AWS_REGION,
      ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    });
    store = new DynamoInfrastructureStore({ client, tableName: config.TABLE_NAME });
  }
  return store;
}

/** Lambda entry point. Throws (failing the invocation) when PURGE_BEFORE is not a valid day. */
export async function handler(): Promise<PurgeRunResult> {
  const config = getConfig();
  const logger = createLogger({ level: config.LOG_LEVEL as LogLevel, base: { component: 'purge' } });
  const beforeText = process.env.PURGE_BEFORE?.trim();
  let before: Date | undefined;
  if (beforeText) {
    before = parsePurgeDate(beforeText);
    if (!before) throw new Error(`PURGE_BEFORE: incorrect date format '${beforeText}' (YYYY-MM-DD).`);
  }
  const result = await runPurge(getStore(), { retentionDays: config.DELETED_RETENTION_DAYS, before, now: Date.now() });
  logger.info('purge done', { ...result });
  return result;
}
