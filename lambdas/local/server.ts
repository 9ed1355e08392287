/**
 * Local mode: DynamoDB Local (persistent under IM_DATA_DIR/dynamodb, or in memory), the table,
 * local Services (the in-process orchestrator running the same ASL files, a persistent
 * SECRET_KEY in IM_DATA_DIR/secret.key unless SECRET_KEY is set), and the REST API on
 * REST_ADDRESS:REST_PORT through the API Gateway event adapter calling the Lambda handler. The
 * store is the DynamoDB store behind this process's record cache (lambdas/store/cached-store.ts:
 * unlimited unless INF_CACHE_TIME is set; writes by other processes — `npm run purge`, another
 * server on the same data — are not seen until the entries age out).
 *
 * Shared by `npm start` (lambdas/local/main.ts) and the integration tests. Other front ends (the
 * XML-RPC server on XMLRCP_ADDRESS:XMLRCP_PORT) plug in through {@link LocalOptions.frontEnds}:
 *
 *   startLocal({ frontEnds: [async ({ config }) => {
 *     const h = await startHttpServer(xmlrpcHandler, { host: config.XMLRCP_ADDRESS, port: config.XMLRCP_PORT, maxBodySize: config.MAX_BODY_SIZE });
 *     return { name: 'XML-RPC API', url: h.url, stop: () => h.close() };
 *   }] })
 *
 * Front ends start after the services exist (getServices() of #handlers/bootstrap returns them)
 * and stop before them; main.ts prints `IM <name> listening on <url>` for each.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { CloudConnector, Services } from '#core/types';
import { loadConfig, setConfig, type Config } from '#core/config';
import { createLogger, type LogLevel } from '#core/logger';
import { createSecretBox, generateSecretKey } from '#core/secrets';
import { createConnectorRegistry } from '#connectors/registry';
import { createAuthServices } from '#adapters/auth-services';
import { DynamoInfrastructureStore, createTable } from '#store/dynamodb-store';
import { CachedInfrastructureStore, cacheMaxAgeMs, type CachePeers } from '#store/cached-store';
import { THROUGHPUT_JVM_OPTIONS, createLocalDynamoClient, startDynamoLocal, type DynamoLocalInstance } from '#local/dynamodb-local';
import { createLocalOrchestrator, type LocalOrchestrator } from '#local/local-orchestrator';
import { localRunTask, overrideEnvironment } from '#runner/local-task';
import type { SshProbe } from '#orchestration/ssh-probe';
import { setServicesProvider } from '#handlers/bootstrap';
import { handler as restHandler } from '#handlers/rest';
import { startHttpServer, type HttpServerHandle } from '#local/http-adapter';

/** What a front end (e.g. the XML-RPC server) gets when local mode starts it. */
export interface FrontEndContext {
  services: Services;
  config: Config;
}

/** A started front end: its URL (reported by startLocal) and how to stop it. */
export interface FrontEnd {
  name: string;
  url?: string;
  stop(): Promise<void>;
}

export interface LocalOptions {
  /** Environment-like option values (IM option names); default process.env. */
  env?: Record<string, string | undefined>;
  /** Overrides of REST_PORT / REST_ADDRESS / IM_DATA_DIR (e.g. from --port / --data-dir). */
  restPort?: number;
  restAddress?: string;
  dataDir?: string;
  /** Keep DynamoDB Local in memory (tests). The secret key is then generated per run. */
  inMemory?: boolean;
  /** Fixed DynamoDB Local port (default: a free one). */
  dynamoPort?: number;
  /**
   * A DynamoDB Local started by someone else (local mode's primary process, lambdas/local/cluster.ts):
   * used as it is, neither started nor stopped here.
   */
  dynamoEndpoint?: string;
  /** Other processes caching the same table (local mode's worker processes). */
  cachePeers?: CachePeers;
  /**
   * JVM options of DynamoDB Local: default THROUGHPUT_JVM_OPTIONS (a long-running server); tests
   * pass STARTUP_JVM_OPTIONS (start ~0.2 s sooner, short sessions). See lambdas/local/dynamodb-local.ts.
   */
  dynamoJvmOptions?: readonly string[];
  /** Multiplies the Wait states of the workflows (tests: small). */
  waitTimeScale?: number;
  /** SSH probe for the launch flow (tests: a fake). */
  sshProbe?: SshProbe;
  /** Extra / replacement cloud connectors (tests). */
  connectors?: CloudConnector[];
  /** More servers to start once the services exist (the XML-RPC server plugs in here). */
  frontEnds?: ((ctx: FrontEndContext) => Promise<FrontEnd>)[];
}

export interface LocalInstance {
  /** `http://<address>:<port>` of the REST API. */
  restUrl: string;
  /** URL of every started front end by name (`rest` included). */
  urls: Record<string, string>;
  services: Services;
  config: Config;
  orchestrator: LocalOrchestrator;
  /** The DynamoDB Local in use (`pid` undefined when {@link LocalOptions.dynamoEndpoint} was given). */
  dynamo: Pick<DynamoLocalInstance, 'endpoint' | 'port'> & { pid?: number };
  /** The DynamoDB client of the store (benchmarks count its round trips with a middleware). */
  dynamoClient: DynamoDBClient;
  /** Stops the servers, lets running workflows end (bounded), stops DynamoDB Local. Idempotent. */
  stop(): Promise<void>;
}

/** SECRET_KEY if set, else IM_DATA_DIR/secret.key (created once, mode 0600), else (in memory) a new key. */
export function localSecretKey(config: Config, dataDir: string | undefined): string {
  if (config.SECRET_KEY) return config.SECRET_KEY;
  if (!dataDir) return generateSecretKey();
  const file = join(dataDir, 'secret.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = generateSecretKey();
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return key;
}

function buildConfig(opts: LocalOptions): Config {
  const env: Record<string, string | undefined> = { ...(opts.env ?? process.env) };
  if (opts.restPort !== undefined) env.REST_PORT = String(opts.restPort);
  if (opts.restAddress !== undefined) env.REST_ADDRESS = opts.restAddress;
  if (opts.dataDir !== undefined) env.IM_DATA_DIR = opts.dataDir;
  return loadConfig(env);
}

const withTimeout = (p: Promise<unknown>, ms: number) =>
  Promise.race([p.catch(() => undefined), new Promise((r) => setTimeout(r, ms).unref())]);

export async function startLocal(opts: LocalOptions = {}): Promise<LocalInstance> {
  const config = buildConfig(opts);
  setConfig(config);
  const dataDir = opts.inMemory ? undefined : resolve(config.IM_DATA_DIR);
  const dynamo: Pick<DynamoLocalInstance, 'endpoint' | 'port' | 'stop'> & { pid?: number } = opts.dynamoEndpoint
    ? { endpoint: opts.dynamoEndpoint, port: Number(new URL(opts.dynamoEndpoint).port), stop: async () => undefined }
    : await startDynamoLocal({
        dataDir: dataDir ? join(dataDir, 'dynamodb') : undefined,
        port: opts.dynamoPort,
        jvmOptions: opts.dynamoJvmOptions ?? THROUGHPUT_JVM_OPTIONS,
      });
  const stops: (() => Promise<void>)[] = [() => dynamo.stop()];
  const stopAll = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const client = createLocalDynamoClient(dynamo.endpoint);
    stops.push(async () => client.destroy());
    await createTable(client, config.TABLE_NAME);
    const logger = createLogger({ level: config.LOG_LEVEL as LogLevel, base: { component: 'local' } });
    // eslint-disable-next-line prefer-const
    let services: Services;
    // REST, XML-RPC and every workflow Task of this process share these services, and the other
    // worker processes (if any) apply each write of this one before it resolves (cachePeers), so the
    // record cache is coherent and unlimited unless INF_CACHE_TIME says otherwise. The exception,
    // the runner's child process, runs under `store.external(infId)` (below).
    const store = new CachedInfrastructureStore(
      new DynamoInfrastructureStore({ client, tableName: config.TABLE_NAME, deletedRetentionDays: config.DELETED_RETENTION_DAYS }),
      { maxAgeMs: cacheMaxAgeMs(config.INF_CACHE_TIME, Infinity), ...(opts.cachePeers ? { peers: opts.cachePeers } : {}) },
    );
    // The contextualization runner's Fargate task runs here as a child process with the same options,
    // pointed at this DynamoDB Local.
    const runnerEnv = { ...(opts.env ?? process.env), DYNAMODB_ENDPOINT: dynamo.endpoint, TABLE_NAME: config.TABLE_NAME };
    const orchestrator = createLocalOrchestrator(() => services, {
      ...(opts.waitTimeScale !== undefined ? { waitTimeScale: opts.waitTimeScale } : {}),
      ...(opts.sshProbe ? { sshProbe: opts.sshProbe } : {}),
      // The runner writes VM states, logs and the configured flag straight to DynamoDB from another
      // process: reads of that infrastructure bypass the record cache while it runs, and its cached
      // entries are dropped when it exits.
      ecsRunTask: async (params) => {
        const infId = overrideEnvironment(params).INF_ID;
        const release = infId ? store.external(infId) : undefined;
        // The other workers stop caching it too before the runner writes.
        await store.peersSettled();
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
      secrets: createSecretBox(localSecretKey(config, dataDir)),
      auth: createAuthServices({ config }),
      now: Date.now,
    };
    setServicesProvider(() => services);
    stops.push(async () => {
      await withTimeout(orchestrator.idle(), 5000);
      setServicesProvider(undefined);
    });

    const rest: HttpServerHandle = await startHttpServer(restHandler, {
      host: config.REST_ADDRESS,
      port: config.REST_PORT,
      maxBodySize: config.MAX_BODY_SIZE,
    });
    stops.push(() => rest.close());
    const urls: Record<string, string> = { rest: rest.url };
    for (const start of opts.frontEnds ?? []) {
      const fe = await start({ services, config });
      stops.push(() => fe.stop());
      if (fe.url) urls[fe.name] = fe.url;
    }
    let stopping: Promise<void> | undefined;
    return {
      restUrl: rest.url,
      urls,
      services,
      config,
      orchestrator,
      dynamo: { endpoint: dynamo.endpoint, port: dynamo.port, ...(dynamo.pid !== undefined ? { pid: dynamo.pid } : {}) },
      dynamoClient: client,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
