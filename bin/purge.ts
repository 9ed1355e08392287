/**
 * Local-mode purge (IM's scripts/delete_old_infs.py):
 *
 *   npm run purge -- --before YYYY-MM-DD [--retention-days N]
 *
 * Removes the deleted infrastructures deleted before the given day (or before now − N days,
 * whichever is later; N defaults to DELETED_RETENTION_DAYS). It starts DynamoDB Local on
 * `<IM_DATA_DIR>/dynamodb` (IM_DATA_DIR defaults to `.data`), or uses DYNAMODB_ENDPOINT when set
 * (e.g. to reach the DynamoDB Local of a running `npm start`), prints the counts and stops.
 * Exit codes: 0 done, 1 bad arguments or failure.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadConfig } from '#core/config';
import { DataDirInUseError, localDynamoClient, startDynamoLocal, type DynamoLocalInstance } from '#local/dynamodb-local';
import { DynamoInfrastructureStore, storeClient } from '#store/dynamodb/index';
import { parsePurgeDate, runPurge } from '#store/purge';

const USAGE = 'Usage: npm run purge -- --before YYYY-MM-DD [--retention-days N]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let values: { before?: string; 'retention-days'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        before: { type: 'string' },
        'retention-days': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (!values.before) fail('No date specified.');
  const before = parsePurgeDate(values.before);
  if (!before) fail(`Incorrect date format (YYYY-MM-DD): '${values.before}'.`);

  let config;
  try {
    config = loadConfig();
  } catch (err) {
    fail((err as Error).message);
  }
  let retentionDays = config.DELETED_RETENTION_DAYS;
  if (values['retention-days'] !== undefined) {
    retentionDays = Number(values['retention-days']);
    if (values['retention-days'].trim() === '' || !Number.isFinite(retentionDays) || retentionDays < 0) {
      fail(`--retention-days must be a non-negative number, got '${values['retention-days']}'.`);
    }
  }

  let local: DynamoLocalInstance | undefined;
  let client: DynamoDBClient;
  let where: string;
  if (config.DYNAMODB_ENDPOINT) {
    client = storeClient(config);
    where = config.DYNAMODB_ENDPOINT;
  } else {
    const dataDir = resolve(config.IM_DATA_DIR, 'dynamodb');
    try {
      local = await startDynamoLocal({ dataDir });
      client = localDynamoClient(local.socketPath);
    } catch (err) {
      // A running `npm start` owns the database: purge through its socket.
      if (!(err instanceof DataDirInUseError)) throw err;
      client = localDynamoClient(err.socketPath);
    }
    where = dataDir;
  }
  try {
    try {
      await client.send(new DescribeTableCommand({ TableName: config.TABLE_NAME }));
    } catch (err) {
      if ((err as Error).name !== 'ResourceNotFoundException') throw err;
      process.stdout.write(`No table '${config.TABLE_NAME}' in ${where}: nothing to purge.\n`);
      return;
    }
    const store = new DynamoInfrastructureStore({ client, tableName: config.TABLE_NAME });
    const result = await runPurge(store, { retentionDays, before, now: Date.now() });
    process.stdout.write(
      `Purged ${result.infrastructures} deleted infrastructure(s), ${result.items} item(s) (deleted before ${result.deletedBefore}` +
        (result.createdBefore ? `, or deleted and created before ${result.createdBefore}` : '') +
        ').\n',
    );
  } finally {
    client.destroy();
    await local?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`purge failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
