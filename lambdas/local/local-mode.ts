/**
 * Local mode's composition root: one process with the same handlers, use cases and ASL files as in
 * AWS, on DynamoDB Local.
 *
 *  - DynamoDB Local (persistent under IM_DATA_DIR/dynamodb, or in memory), private to this process
 *    (lambdas/local/dynamodb-local.ts), restarted if it dies;
 *  - the table, a persistent SECRET_KEY (IM_DATA_DIR/secret.key, 0600) unless SECRET_KEY is set;
 *  - the store behind a read-through record cache (unlimited unless INF_CACHE_TIME is set);
 *  - the in-process orchestrator on the same ASL files, durable: running executions are journaled in
 *    the store and resumed at the next start (lambdas/local/local-orchestrator.ts); the
 *    contextualization runner runs as a child process;
 *  - REST on REST_ADDRESS:REST_PORT and XML-RPC on XMLRCP_ADDRESS:XMLRCP_PORT (`/` and `/RPC2`),
 *    through the API Gateway event adapter calling the handler factories.
 *
 * Shared by `npm start` (lambdas/local/main.ts), the integration tests and the benchmarks.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyResult } from 'aws-lambda';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CloudConnector, Services } from '#core/types';
import { loadConfig, type Config } from '#core/config';
import { createLogger, type LogLevel } from '#core/logger';
import { createSecretBox, generateSecretKey } from '#core/secrets';
import { createConnectorRegistry } from '#connectors/registry';
import { createAuthServices } from '#adapters/auth-services';
import { logContext } from '#handlers/log-context';
import { DynamoExecutionJournal, DynamoInfrastructureStore, createTable, storeClient } from '#store/dynamodb/index';
import { CachedInfrastructureStore, cacheMaxAgeMs } from '#store/cached-store';
import { THROUGHPUT_JVM_OPTIONS, startDynamoLocal, type DynamoLocalInstance, type Isolation } from '#local/dynamodb-local';
import { createLocalOrchestrator, type LocalOrchestrator, type LocalOrchestratorOptions } from '#local/local-orchestrator';
import { startHttpServer, type HttpServerHandle, type ProxyHandler } from '#local/http-adapter';
import { localRunTask, overrideEnvironment } from '#runner/local-task';
import type { SshProbe } from '#orchestration/ssh-probe';
import { createRestHandler } from '#handlers/rest';
import { createXmlRpcHandler } from '#handlers/xmlrpc';

export interface LocalOptions {
  /** Environment-like option values (IM option names); default process.env. */
  env?: Record<string, string | undefined>;
  /** Keep DynamoDB Local in memory (tests). The secret key is then generated per run. */
  inMemory?: boolean;
  /** JVM options of DynamoDB Local (default THROUGHPUT_JVM_OPTIONS; tests pass STARTUP_JVM_OPTIONS). */
  dynamoJvmOptions?: readonly string[];
  /** Network isolation of DynamoDB Local (default `auto`: a private namespace when possible). */
  dynamoIsolation?: Isolation;
  /** Multiplies the Wait states of the workflows (tests: small). */
  waitTimeScale?: number;
  /** SSH probe for the launch flow (tests: a fake). */
  sshProbe?: SshProbe;
  /** Extra / replacement cloud connectors (tests). */
  connectors?: CloudConnector[];
  /** Called when DynamoDB Local died and could not be restarted (npm start: exit with the message). */
  onFatal?: (message: string) => void;
  /** Observer of every workflow event (bench/cost.ts counts state transitions). */
  onWorkflowEvent?: LocalOrchestratorOptions['onEvent'];
}

export interface LocalInstance {
  /** `http://<address>:<port>` of the REST API. */
  restUrl: string;
  /** The same of the XML-RPC API (it answers on `/` and `/RPC2`). */
  xmlrpcUrl: string;
  services: Services;
  config: Config;
  orchestrator: LocalOrchestrator;
  /** The DynamoDB Local in use (it changes when it is restarted). */
  dynamo(): DynamoLocalInstance;
  /** The DynamoDB client of the store (benchmarks count its round trips with a middleware). */
  dynamoClient: DynamoDBClient;
  /** What the start-up resumed or closed of the executions a crash interrupted. */
  resumed: { resumed: string[]; closed: string[] };
  /** Stops the servers, lets running workflows end (bounded), stops DynamoDB Local. Idempotent. */
  stop(): Promise<void>;
}

/** The paths IM's XML-RPC server answered on. */
export const XMLRPC_PATHS: readonly string[] = ['/', '/RPC2'];

const XMLRPC_NOT_FOUND: APIGatewayProxyResult = { statusCode: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: 'No such page' };

/** SECRET_KEY if set, else IM_DATA_DIR/secret.key (created once, mode 0600), else (in memory) a new key. */
export function localSecretKey(config: Config, dataDir: string | undefined): string {
  if (config.SECRET_KEY) return config.SECRET_KEY;
  if (!dataDir) return generateSecretKey();
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const key = generateSecretKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

const withTimeout = (p: Promise<unknown>, ms: number) => Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

/** Restarts of a dead DynamoDB Local tried before giving up. */
const DB_RESTARTS = 3;

export async function startLocal(opts: LocalOptions = {}): Promise<LocalInstance> {
  const env: Record<string, string | undefined> = { ...(opts.env ?? process.env) };
  const dataDir = opts.inMemory ? undefined : resolve(loadConfig(env).IM_DATA_DIR);
  if (dataDir) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
  }
  // One socket path for the whole run, so that a restarted database is where the clients expect it.
  const socketDir = dataDir ? join(dataDir, 'dynamodb') : mkdtempSync(join(tmpdir(), 'im-db-'));
  const dbOptions = {
    socketDir,
    dataDir: dataDir ? join(dataDir, 'dynamodb') : undefined,
    jvmOptions: opts.dynamoJvmOptions ?? THROUGHPUT_JVM_OPTIONS,
    isolation: opts.dynamoIsolation ?? 'auto',
  };
  let db = await startDynamoLocal(dbOptions);
  let stopping = false;
  const config = loadConfig({ ...env, DYNAMODB_SOCKET: db.socketPath, DYNAMODB_ENDPOINT: undefined });
  const logger = createLogger({ level: config.LOG_LEVEL as LogLevel, base: { component: 'local' }, context: logContext });
  if (!db.isolated) logger.warn('DynamoDB Local runs without a private network namespace: it also answers on its TCP port, on every interface', { port: db.port });

  // Supervision: a database that dies is started again on the same data (the socket path stays the same);
  // then the table is made sure of (an in-memory database comes back empty).
  let afterRestart: () => Promise<void> = async () => undefined;
  const supervise = (instance: DynamoLocalInstance): void => {
    void instance.exited.then(async (code) => {
      if (stopping) return;
      logger.error('DynamoDB Local stopped unexpectedly; restarting it', { exitCode: code });
      for (let attempt = 1; attempt <= DB_RESTARTS && !stopping; attempt++) {
        try {
          db = await startDynamoLocal(dbOptions);
          if (db.socketPath !== instance.socketPath) throw new Error(`the socket moved to ${db.socketPath}`);
          await afterRestart();
          logger.info('DynamoDB Local restarted', { attempt, inMemory: !dataDir });
          supervise(db);
          return;
        } catch (err) {
          logger.error('DynamoDB Local could not be restarted', { attempt, error: err });
        }
      }
      if (!stopping) opts.onFatal?.('DynamoDB Local stopped and could not be restarted; see the log above.');
    });
  };
  supervise(db);

  const stops: (() => Promise<void>)[] = [
    async () => {
      stopping = true;
      await db.stop();
      if (!dataDir) rmSync(socketDir, { recursive: true, force: true });
    },
  ];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const client = storeClient(config);
    stops.push(async () => client.destroy());
    await createTable(client, config.TABLE_NAME);
    afterRestart = () => createTable(client, config.TABLE_NAME);
    const secretKey = localSecretKey(config, dataDir);
    const secrets = createSecretBox(secretKey);
    const dynamoStore = new DynamoInfrastructureStore({ client, tableName: config.TABLE_NAME, deletedRetentionDays: config.DELETED_RETENTION_DAYS, secrets });
    // One process makes every write (the runner's child process aside: see ecsRunTask below), so the
    // cache is coherent and unlimited unless INF_CACHE_TIME says otherwise.
    const maxAgeMs = cacheMaxAgeMs(config.INF_CACHE_TIME, Infinity);
    const cache = maxAgeMs > 0 ? new CachedInfrastructureStore(dynamoStore, { maxAgeMs }) : undefined;
    const store = cache ?? dynamoStore;
    // The runner opens the VM secrets sealed in the store with the same key.
    const runnerEnv = { ...env, DYNAMODB_SOCKET: db.socketPath, TABLE_NAME: config.TABLE_NAME, SECRET_KEY: secretKey };
    // eslint-disable-next-line prefer-const
    let services: Services;
    const orchestrator = createLocalOrchestrator(() => services, {
      ...(opts.waitTimeScale !== undefined ? { waitTimeScale: opts.waitTimeScale } : {}),
      ...(opts.sshProbe ? { sshProbe: opts.sshProbe } : {}),
      ...(opts.onWorkflowEvent ? { onEvent: opts.onWorkflowEvent } : {}),
      journal: new DynamoExecutionJournal(dynamoStore.table),
      // The runner writes VM states, logs and the configured flag from its own process: reads of that
      // infrastructure bypass the cache while it runs, and its cached entries are dropped when it exits.
      ecsRunTask: async (params) => {
        const infId = overrideEnvironment(params).INF_ID;
        const release = infId ? cache?.external(infId) : undefined;
        try {
          return await localRunTask(params, { env: runnerEnv });
        } finally {
          release?.();
        }
      },
    });
    services = {
      config,
      store,
      connectors: createConnectorRegistry({ config, logger }, opts.connectors ?? []),
      orchestrator,
      logger,
      secrets,
      auth: createAuthServices({ config }),
      now: Date.now,
    };
    stops.push(() => withTimeout(orchestrator.idle(), 5000).then(() => undefined));
    const resumed = await orchestrator.resumeInterrupted();
    if (resumed.resumed.length + resumed.closed.length > 0) logger.info('Interrupted executions', { resumed: resumed.resumed.length, closed: resumed.closed.length });

    const rest: HttpServerHandle = await startHttpServer(createRestHandler(services), {
      host: config.REST_ADDRESS,
      port: config.REST_PORT,
      maxBodySize: config.MAX_BODY_SIZE,
    });
    stops.push(() => rest.close());
    const xmlrpcHandler = createXmlRpcHandler(services);
    // Like IM's SimpleXMLRPCServer (rpc_paths `/` and `/RPC2`); in AWS the API Gateway route plays that part.
    const xmlrpcRoutes: ProxyHandler = async (event, context) => (XMLRPC_PATHS.includes(event.path) ? xmlrpcHandler(event, context) : XMLRPC_NOT_FOUND);
    const xmlrpc = await startHttpServer(xmlrpcRoutes, {
      host: config.XMLRCP_ADDRESS,
      port: config.XMLRCP_PORT,
      maxBodySize: config.MAX_BODY_SIZE,
      functionName: 'im-xmlrpc-local',
    });
    stops.push(() => xmlrpc.close());
    let stopped: Promise<void> | undefined;
    return {
      restUrl: rest.url,
      xmlrpcUrl: xmlrpc.url,
      services,
      config,
      orchestrator,
      dynamo: () => db,
      dynamoClient: client,
      resumed,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
