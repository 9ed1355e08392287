/**
 * The AWS composition root: the {@link Services} every Lambda handler uses, built once per cold
 * start and reused while the container is warm.
 *
 *  - config: getConfig() (environment set by the CDK app);
 *  - store: DynamoInfrastructureStore on TABLE_NAME (DYNAMODB_ENDPOINT when set), behind the record
 *    cache (lambdas/store/cached-store.ts) only when INF_CACHE_TIME > 0 (default 0 here);
 *  - orchestrator: Step Functions, with the state machine ARN of each workflow taken from
 *    STATE_MACHINE_ARNS (JSON `{"launch": "<arn>", …}`), else STATE_MACHINE_ARN_<WORKFLOW>
 *    (e.g. STATE_MACHINE_ARN_LAUNCH), else STATE_MACHINE_ARN_PREFIX + workflow name;
 *  - secrets: the AES-256-GCM box keyed by SECRET_KEY, or when unset by the Secrets Manager secret
 *    SECRET_KEY_ARN (read once with a SigV4-signed GetSecretValue call using the function's role);
 *  - connectors: the built-in registry; logger: JSON lines at LOG_LEVEL;
 *  - auth: OIDC verifier, Vault client, owner-secret checker (#adapters/auth-services), with
 *    OIDC_CLIENT_SECRET from the Secrets Manager secret OIDC_CLIENT_SECRET_ARN when it is unset.
 *
 * Local mode (and tests) install their own services with {@link setServicesProvider}; the handlers
 * are the same.
 */
import { createHash, createHmac } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ConfigError, getConfig, type Config } from '#core/config';
import { createLogger, type LogLevel } from '#core/logger';
import { createSecretBox } from '#core/secrets';
import type { Services, WorkflowName } from '#core/types';
import { DynamoInfrastructureStore } from '#store/dynamodb-store';
import { CachedInfrastructureStore, cacheMaxAgeMs } from '#store/cached-store';
import { createSfnOrchestrator } from '#orchestration/sfn-orchestrator';
import { createConnectorRegistry } from '#connectors/registry';
import { createAuthServices } from '#adapters/auth-services';

export const WORKFLOW_NAMES: WorkflowName[] = ['launch', 'destroy', 'remove', 'stop', 'start', 'contextualize'];

type Env = Record<string, string | undefined>;
type ServicesProvider = () => Services | Promise<Services>;

let provider: ServicesProvider | undefined;
let cached: Promise<Services> | undefined;
/** What `cached` resolved to, once it has. */
let built: Services | undefined;

/** Local mode / tests: every later getServices() returns what `p` gives (undefined = back to AWS). */
export function setServicesProvider(p: ServicesProvider | undefined): void {
  provider = p;
  cached = undefined;
  built = undefined;
}

/** The services of this process (built on first use). */
export function getServices(): Promise<Services> {
  if (provider) return Promise.resolve(provider());
  if (!cached) {
    const build: Promise<Services> = buildAwsServices().then(
      (services) => {
        if (cached === build) built = services; // (not when setServicesProvider() came meanwhile)
        return services;
      },
      (err: unknown) => {
        cached = undefined;
        throw err;
      },
    );
    cached = build;
  }
  return cached;
}

/**
 * getServices() without a promise to wait for when the services are already there: what the
 * provider returns (a promise only if it gives one), else the AWS services once built, else
 * getServices(). Throws what the provider throws. The handlers' per-request path.
 */
export function currentServices(): Services | Promise<Services> {
  if (provider) return provider();
  return built ?? getServices();
}

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

// ---------------------------------------------------------------------------------------------
// SECRET_KEY from Secrets Manager (no SDK client for it in the bundle: one signed JSON call)
// ---------------------------------------------------------------------------------------------

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
const sha256hex = (data: string) => createHash('sha256').update(data).digest('hex');

/** GetSecretValue with SigV4, credentials from the Lambda environment. */
export async function fetchSecretString(arn: string, env: Env = process.env, now = new Date()): Promise<string> {
  const region = env.AWS_REGION ?? arn.split(':')[3];
  const accessKey = env.AWS_ACCESS_KEY_ID;
  const secretKey = env.AWS_SECRET_ACCESS_KEY;
  if (!region || !accessKey || !secretKey) throw new ConfigError('SECRET_KEY_ARN is set but no AWS credentials/region are available');
  const host = `secretsmanager.${region}.amazonaws.com`;
  const body = JSON.stringify({ SecretId: arn });
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    'content-type': 'application/x-amz-json-1.1',
    host,
    'x-amz-date': amzDate,
    'x-amz-target': 'secretsmanager.GetSecretValue',
  };
  if (env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = env.AWS_SESSION_TOKEN;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  const canonical = ['POST', '/', '', ...names.map((n) => `${n}:${headers[n]}`), '', signedHeaders, sha256hex(body)].join('\n');
  const scope = `${day}/${region}/secretsmanager/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256hex(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secretKey}`, day), region), 'secretsmanager'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...sent } = headers;
  const res = await fetch(`https://${host}/`, {
    method: 'POST',
    headers: { ...sent, authorization: `AWS4-HMAC-SHA256 Credential=${accessKey}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` },
    body,
  });
  const text = await res.text();
  if (!res.ok) throw new ConfigError(`GetSecretValue failed (${res.status}): ${text.slice(0, 300)}`);
  const secret = (JSON.parse(text) as { SecretString?: string }).SecretString;
  if (!secret) throw new ConfigError('The SECRET_KEY secret has no SecretString');
  return secret.trim();
}

async function secretKey(config: Config, env: Env): Promise<string> {
  if (config.SECRET_KEY) return config.SECRET_KEY;
  if (env.SECRET_KEY_ARN) return fetchSecretString(env.SECRET_KEY_ARN, env);
  throw new ConfigError('SECRET_KEY (or SECRET_KEY_ARN) must be set');
}

/** OIDC_CLIENT_SECRET, or when unset the secret OIDC_CLIENT_SECRET_ARN (given to the API functions only). */
async function oidcClientSecret(config: Config, env: Env): Promise<{ oidcClientSecret?: string }> {
  if (config.OIDC_CLIENT_SECRET || !env.OIDC_CLIENT_SECRET_ARN) return {};
  return { oidcClientSecret: await fetchSecretString(env.OIDC_CLIENT_SECRET_ARN, env) };
}

async function buildAwsServices(env: Env = process.env): Promise<Services> {
  const config = getConfig();
  const logger = createLogger({ level: config.LOG_LEVEL as LogLevel });
  const dynamo = new DynamoDBClient({ region: config.AWS_REGION, ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}) });
  const dynamoStore = new DynamoInfrastructureStore({ client: dynamo, tableName: config.TABLE_NAME, deletedRetentionDays: config.DELETED_RETENTION_DAYS });
  // Many Lambda instances write the same records: no record cache unless INF_CACHE_TIME asks for one
  // (then a record read may be up to INF_CACHE_TIME seconds old; conditional writes stay safe).
  const maxAgeMs = cacheMaxAgeMs(config.INF_CACHE_TIME, 0);
  const store = maxAgeMs > 0 ? new CachedInfrastructureStore(dynamoStore, { maxAgeMs }) : dynamoStore;
  const orchestrator = createSfnOrchestrator({ client: new SFNClient({ region: config.AWS_REGION }), arns: workflowArns(env, config) });
  const secrets = createSecretBox(await secretKey(config, env));
  const auth = createAuthServices({ config, ...(await oidcClientSecret(config, env)) });
  return { config, store, connectors: createConnectorRegistry({ config, logger }), orchestrator, logger, secrets, auth, now: Date.now };
}
