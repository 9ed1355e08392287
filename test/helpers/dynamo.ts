/**
 * DynamoDB Local for tests: ONE in-memory instance per test file (free port), one table per call.
 *
 * Usage (vitest):
 *
 *   import { startTestDynamo, type TestDynamo } from '../../helpers/dynamo';
 *
 *   let db: TestDynamo;
 *   beforeAll(async () => { db = await startTestDynamo(); });   // ~2-3 s (Java start-up)
 *   afterAll(async () => { await db?.stop(); });
 *
 *   it('…', async () => {
 *     const store = db.store;                              // DynamoInfrastructureStore on db.tableName
 *     // or: new DynamoInfrastructureStore({ client: db.client, tableName: db.tableName, now })
 *     // a fresh empty table: await db.newTable()
 *   });
 *
 * Calling startTestDynamo() again in the same file reuses the running instance and only creates
 * a new table; the instance stops when the last handle is stopped (and in any case when the test
 * process exits: no Java process is left behind). The vitest config gives hooks 120 s.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localDynamoClient, startDynamoLocal, type DynamoLocalInstance } from '#local/dynamodb-local';
import { createTable, DynamoInfrastructureStore } from '#store/dynamodb/index';

export interface TestDynamo {
  /** Client for DynamoDB Local (dummy credentials, us-east-1). */
  client: DynamoDBClient;
  /** A table made by createTable, unique to this handle. */
  tableName: string;
  /** The instance's Unix socket, for code that builds its own client (DYNAMODB_SOCKET). */
  socketPath: string;
  /** The running instance (tests pause its Java process). */
  local: DynamoLocalInstance;
  /** A store on `tableName`. */
  store: DynamoInfrastructureStore;
  /** Creates another empty table on the same instance and returns its name. */
  newTable(): Promise<string>;
  /** Releases this handle; stops DynamoDB Local when no handle is left. */
  stop(): Promise<void>;
}

let shared: { instance: Promise<DynamoLocalInstance>; users: number } | undefined;

/** Starts (or reuses) this file's in-memory DynamoDB Local and creates a uniquely named table. */
export async function startTestDynamo(): Promise<TestDynamo> {
  if (!shared) {
    const instance = startDynamoLocal({});
    shared = { instance, users: 0 };
    instance.catch(() => {
      shared = undefined;
    });
  }
  const current = shared;
  current.users++;
  let local: DynamoLocalInstance;
  try {
    local = await current.instance;
  } catch (err) {
    current.users--;
    throw err;
  }
  const client = localDynamoClient(local.socketPath);
  const newTable = async () => {
    const name = `im-test-${randomUUID().slice(0, 8)}`;
    await createTable(client, name);
    return name;
  };
  const tableName = await newTable();
  let stopped = false;
  return {
    client,
    tableName,
    socketPath: local.socketPath,
    local,
    store: new DynamoInfrastructureStore({ client, tableName }),
    newTable,
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      current.users--;
      if (current.users === 0) {
        if (shared === current) shared = undefined;
        await local.stop();
      }
    },
  };
}
