/**
 * The AWS composition root: the {@link Services} of a Lambda container, built once (on the first
 * invocation) and handed to the handler factories (`createRestHandler(services)`, …).
 *
 *  - config: loadConfig(process.env) (the environment the CDK app sets), validated once;
 *  - store: DynamoInfrastructureStore on TABLE_NAME (bounded request times, ./store/dynamodb/client.ts),
 *    behind the record cache only when INF_CACHE_TIME > 0 (default 0: many Lambda instances write);
 *  - orchestrator: Step Functions, with the state machine ARN of each workflow taken from
 *    STATE_MACHINE_ARNS (JSON `{"launch": "<arn>", …}`), else STATE_MACHINE_ARN_<WORKFLOW>, else
 *    STATE_MACHINE_ARN_PREFIX + workflow name;
 *  - secrets: the AES-256-GCM box keyed by SECRET_KEY, or when unset by the Secrets Manager secret
 *    SECRET_KEY_ARN (GetSecretValue with the function's role);
 *  - connectors: the built-in registry with the config and logger; logger: JSON lines at LOG_LEVEL;
 *  - auth: OIDC verifier, Vault client, owner-secret checker (#adapters/auth-services), with
 *    OIDC_CLIENT_SECRET from the Secrets Manager secret OIDC_CLIENT_SECRET_ARN when it is unset.
 *
 * Local mode has its own composition root (lambdas/local/local-mode.ts) and calls the same factories.
 */
import type { Context } from 'aws-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ConfigError, loadConfig, type Config } from '#core/config';
import { GENERIC_INTERNAL_MESSAGE } from '#core/errors';
import { createLogger, type LogLevel } from '#core/logger';
import { createSecretBox } from '#core/secrets';
import type { Services, WorkflowName } from '#core/types';
import { DynamoInfrastructureStore, storeClient } from '#store/dynamodb/index';
import { CachedInfrastructureStore, cacheMaxAgeMs } from '#store/cached-store';
import { createSfnOrchestrator } from '#orchestration/sfn-orchestrator';
import { createConnectorRegistry } from '#connectors/registry';
import { createAuthServices } from '#adapters/auth-services';
import { secretKey, secretString } from '#adapters/secret-key';

export { secretKey } from '#adapters/secret-key';
import { logContext } from '#handlers/log-context';

export const WORKFLOW_NAMES: WorkflowName[] = ['launch', 'destroy', 'remove', 'stop', 'start', 'contextualize'];

type Env = Record<string, string | undefined>;

/** State machine ARN of each workflow (see the module comment for the precedence). */
export function workflowArns(env: Env, config: Pick<Config, 'STATE_MACHINE_ARN_PREFIX'>): Record<WorkflowName, string> {
  let fromJson: Record<string, unknown> = {};
  if (env.STATE_MACHINE_ARNS) {
    try {
      fromJson = JSON.parse(env.STATE_MACHINE_ARNS) as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`STATE_MACHINE_ARNS: invalid JSON: ${(e as Error).message}`);
    }
  }
  const out = {} as Record<WorkflowName, string>;
  const missing: string[] = [];
  for (const w of WORKFLOW_NAMES) {
    const json = fromJson[w];
    const arn =
      (typeof json === 'string' && json) ||
      env[`STATE_MACHINE_ARN_${w.toUpperCase()}`] ||
      (config.STATE_MACHINE_ARN_PREFIX ? `${config.STATE_MACHINE_ARN_PREFIX}${w}` : undefined);
    if (arn) out[w] = arn;
    else missing.push(w);
  }
  if (missing.length > 0) {
    throw new ConfigError(`No state machine ARN for ${missing.join(', ')}: set STATE_MACHINE_ARNS, STATE_MACHINE_ARN_<WORKFLOW> or STATE_MACHINE_ARN_PREFIX`);
  }
  return out;
}

/** OIDC_CLIENT_SECRET, or when unset the secret OIDC_CLIENT_SECRET_ARN (given to the API functions only). */
async function oidcClientSecret(config: Config, env: Env): Promise<{ oidcClientSecret?: string }> {
  if (config.OIDC_CLIENT_SECRET || !env.OIDC_CLIENT_SECRET_ARN) return {};
  return { oidcClientSecret: await secretString(config, env.OIDC_CLIENT_SECRET_ARN, 'OIDC_CLIENT_SECRET') };
}

/** Builds the services of this container from the environment. */
export async function buildAwsServices(env: Env = process.env): Promise<Services> {
  const config = loadConfig(env);
  const logger = createLogger({ level: config.LOG_LEVEL as LogLevel, context: logContext });
  const secrets = createSecretBox(await secretKey(config, env));
  const dynamoStore = new DynamoInfrastructureStore({ client: storeClient(config), tableName: config.TABLE_NAME, deletedRetentionDays: config.DELETED_RETENTION_DAYS, secrets });
  // Many Lambda instances write the same records: no record cache unless INF_CACHE_TIME asks for one
  // (then a record read may be up to INF_CACHE_TIME seconds old; conditional writes stay safe).
  const maxAgeMs = cacheMaxAgeMs(config.INF_CACHE_TIME, 0);
  const store = maxAgeMs > 0 ? new CachedInfrastructureStore(dynamoStore, { maxAgeMs }) : dynamoStore;
  const orchestrator = createSfnOrchestrator({ client: new SFNClient({ region: config.AWS_REGION }), arns: workflowArns(env, config) });
  const auth = createAuthServices({ config, ...(await oidcClientSecret(config, env)) });
  return { config, store, connectors: createConnectorRegistry({ config, logger }), orchestrator, logger, secrets, auth, now: Date.now };
}

let services: Promise<Services> | undefined;

/** The services of this container: built on first use, again only if that build failed. */
export function awsServices(): Promise<Services> {
  services ??= buildAwsServices().catch((err: unknown) => {
    services = undefined;
    throw err;
  });
  return services;
}

/**
 * A Lambda entry point from a handler factory: the factory runs once, with the container's
 * services, on the first invocation (so that importing a handler module builds nothing: local mode
 * imports the factories). `onInitError` answers when the services cannot be built (default: throw).
 */
export function lambdaEntry<E, R>(
  factory: (services: Services) => (event: E, context: Context) => Promise<R>,
  onInitError?: (err: unknown) => R,
): (event: E, context: Context) => Promise<R> {
  let handler: Promise<(event: E, context: Context) => Promise<R>> | undefined;
  return async (event, context) => {
    handler ??= awsServices().then(factory, (err: unknown) => {
      handler = undefined;
      throw err;
    });
    let h: (event: E, context: Context) => Promise<R>;
    try {
      h = await handler;
    } catch (err) {
      console.error(JSON.stringify({ level: 'ERROR', msg: 'Cannot build the services', error: err instanceof Error ? err.message : String(err) }));
      if (onInitError) return onInitError(err);
      throw err;
    }
    return h(event, context);
  };
}

/** What an API handler answers when its services cannot be built. */
export const INIT_FAILURE = { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: GENERIC_INTERNAL_MESSAGE };
