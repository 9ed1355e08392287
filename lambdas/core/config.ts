/**
 * Typed configuration, validated once at cold start.
 *
 * Option names are IM's own (lifecycle.md §9), typos included (WAIT_SSH_ACCCESS_TIMEOUT,
 * XMLRCP_PORT), so that users' existing settings keep working. Values come from the
 * environment (locally) or from the Lambda environment that the CDK app fills from cdk.json
 * context. Every option is documented in docs/CONFIGURATION.md.
 */
// A namespace import, so that esbuild leaves out the parts of zod the config does not use (above all
// its locales): about 350 KB less in every Lambda bundle, and a faster cold start (bench/bundles.ts).
import * as z from 'zod';

const bool = z
  .union([z.boolean(), z.string()])
  .transform((v, ctx) => {
    if (typeof v === 'boolean') return v;
    const s = v.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(s)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
    ctx.addIssue({ code: 'custom', message: `expected a boolean, got '${v}'` });
    return z.NEVER;
  });

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const num = (min: number) => z.coerce.number().min(min);
const list = z
  .union([z.array(z.string()), z.string()])
  .transform((v) => (Array.isArray(v) ? v : v.split(',').map((s) => s.trim()).filter(Boolean)));

/** JSON-valued options (ADMIN_USER, OIDC_ADMIN_GROUPS): parsed as JSON, never split on commas. */
const json = <T extends z.ZodTypeAny>(schema: T) =>
  z.union([z.string(), z.any()]).transform((v, ctx) => {
    let value: unknown = v;
    if (typeof v === 'string') {
      if (v.trim() === '') value = undefined;
      else {
        try {
          value = JSON.parse(v);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: `invalid JSON: ${(e as Error).message}` });
          return z.NEVER;
        }
      }
    }
    const r = schema.safeParse(value);
    if (!r.success) {
      ctx.addIssue({ code: 'custom', message: r.error.issues.map((i) => i.message).join('; ') });
      return z.NEVER;
    }
    return r.data as z.infer<T>;
  });

const adminUser = z.object({ username: z.string(), password: z.string().optional(), token: z.string().optional() });

export const configSchema = z.object({
  // ---- IM options (lifecycle.md §9) ----
  REST_PORT: int(0, 65535).default(8800),
  REST_ADDRESS: z.string().default('127.0.0.1'),
  REST_ROOT_PATH: z.string().default('/'),
  XMLRCP_PORT: int(0, 65535).default(8899),
  XMLRCP_ADDRESS: z.string().default('127.0.0.1'),
  BOOT_MODE: int(0, 2).default(0),
  USER_DB: z.string().default(''),
  ADMIN_USER: json(z.union([adminUser, z.array(adminUser)]).optional()).default([]),
  OIDC_ADMIN_GROUPS: json(z.array(z.object({ issuer: z.string(), group: z.string() })).optional()).default([]),
  MAX_SIMULTANEOUS_LAUNCHES: int(1, 40).default(5),
  MAX_VM_FAILS: int(1, 100).default(3),
  /** VMs one launch Task takes at most (one Lambda invocation launches and records a batch). */
  LAUNCH_BATCH_SIZE: int(1, 100).default(50),
  /** VMs one create / add / dry_run may deploy at most (larger requests answer 400 before any planning). */
  MAX_VMS_PER_REQUEST: int(1, 100_000).default(1000),
  DELAY_BETWEEN_VM_RETRIES: num(0).default(5),
  WAIT_RUNNING_VM_TIMEOUT: num(0).default(1800),
  WAIT_SSH_ACCCESS_TIMEOUT: num(0).default(300),
  WAIT_PUBLIC_IP_TIMEOUT: num(0).default(90),
  VM_INFO_UPDATE_FREQUENCY: num(0).default(10),
  VM_INFO_UPDATE_ERROR_GRACE_PERIOD: num(0).default(120),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARNING', 'WARN', 'ERROR', 'CRITICAL', 'SILENT']).default('INFO'),
  DEFAULT_VM_MEMORY: num(0).default(512),
  DEFAULT_VM_MEMORY_UNIT: z.string().default('M'),
  DEFAULT_VM_CPUS: num(0).default(1),
  DEFAULT_VM_CPU_ARCH: z.string().default('x86_64'),
  DEFAULT_VM_NAME: z.string().default('vnode-#N#'),
  DEFAULT_DOMAIN: z.string().default('localdomain'),
  MAX_CONTEXTUALIZATION_TIME: num(0).default(7200),
  REMOTE_CONF_DIR: z.string().default('/var/tmp/.im'),
  ANSIBLE_INSTALL_TIMEOUT: num(0).default(500),
  VM_NUM_USE_CTXT_DIST: int(0).default(30),
  PLAYBOOK_RETRIES: int(1, 20).default(1),
  MAX_SSH_ERRORS: int(1).default(5),
  VMINFO_JSON: bool.default(false),
  PRIVATE_NET_MASKS: list.default([
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    '169.254.0.0/16',
    '100.64.0.0/10',
    '192.0.0.0/24',
    '198.18.0.0/15',
  ]),
  OIDC_ISSUERS: list.default([]),
  OIDC_AUDIENCE: z.string().optional(),
  OIDC_CLIENT_ID: z.string().optional(),
  OIDC_CLIENT_SECRET: z.string().optional(),
  OIDC_SCOPES: list.default([]),
  OIDC_GROUPS: list.default([]),
  OIDC_GROUPS_CLAIM: z.string().default('groups'),
  /**
   * Least seconds between two fetches of an issuer's keys caused by tokens naming a key it lacks
   * (a key rotation is picked up after at most this long; a flood of unknown key ids costs the
   * issuer one request per period). Not an IM option.
   */
  OIDC_JWKS_COOLDOWN: num(0).default(10),
  FORCE_OIDC_AUTH: bool.default(false),
  VERIFI_SSL: bool.default(false),
  SSH_REVERSE_TUNNELS: bool.default(true),
  ENABLE_CORS: bool.default(false),
  CORS_ORIGIN: z.string().default('*'),
  VAULT_URL: z.string().optional(),
  VAULT_PATH: z.string().optional(),
  VAULT_MOUNT_POINT: z.string().optional(),
  VAULT_ROLE: z.string().optional(),
  VM_TAG_USERNAME: z.string().optional(),
  VM_TAG_INF_ID: z.string().optional(),
  VM_TAG_IM_URL: z.string().optional(),
  VM_TAG_IM: z.string().optional(),
  STATIC_FILES_DIR: z.string().optional(),
  /**
   * Seconds a record (infrastructure, VMs, owner listing) may stay in this process's record cache
   * before it is read again; 0 disables the cache. Unset: unlimited in local mode (one process does
   * every write), 0 in AWS (many Lambda instances). See lambdas/store/cached-store.ts.
   */
  INF_CACHE_TIME: num(0).optional(),
  /** IM's TOSCA template repository: base of relative parent templates (`imports: [{template_file: …}]`). */
  OAIPMH_REPO_BASE_IDENTIFIER_URL: z.string().optional(),

  // ---- TOSCA documents (lambdas/tosca/url-fetcher.ts) ----
  /** Folder laid out as `<dir>/<host>/<path>`: every URL a template needs is read from it first. */
  TOSCA_URL_DIR: z.string().optional(),
  /** Fetch over HTTPS the documents that TOSCA_URL_DIR does not hold. */
  TOSCA_FETCH_REMOTE: bool.default(true),
  /** Hosts the translator may fetch from (`*` = any). */
  TOSCA_URL_ALLOWED_HOSTS: list.default(['raw.githubusercontent.com', 'github.com', 'gitlab.com']),
  /** Seconds one document fetch may take. */
  TOSCA_URL_TIMEOUT: num(0).default(10),
  /** Maximum size of one document, in bytes. */
  TOSCA_URL_MAX_SIZE: int(1024).default(2 * 1024 * 1024),
  /** Seconds a fetched document stays in the in-process cache (0: no cache). */
  TOSCA_URL_CACHE_TIME: num(0).default(300),

  // ---- options of this implementation ----
  /** DynamoDB table name. */
  TABLE_NAME: z.string().default('im-infrastructures'),
  /** DynamoDB endpoint; set locally to DynamoDB Local. Empty in AWS. */
  DYNAMODB_ENDPOINT: z.string().optional(),
  /** AWS region used by the SDK clients of the service itself. */
  AWS_REGION: z.string().default('us-east-1'),
  /** Folder where local mode keeps DynamoDB Local's data. */
  IM_DATA_DIR: z.string().default('.data'),
  /**
   * Local mode only (set by it, not by users): the Unix socket of the private DynamoDB Local, for the
   * runner's child process (lambdas/local/dynamodb-local.ts).
   */
  DYNAMODB_SOCKET: z.string().optional(),
  /** Seconds a store request attempt may take before it counts as failed (then 503 "store unavailable"). */
  STORE_REQUEST_TIMEOUT: num(0.1).default(3),
  /** Seconds to open a connection to the store. */
  STORE_CONNECT_TIMEOUT: num(0.1).default(1),
  /** Attempts per store request (the SDK's retry of throttling, 5xx and timeouts). */
  STORE_MAX_ATTEMPTS: int(1, 10).default(2),
  /** Days a deleted infrastructure is kept before it expires (TTL) and is purged. */
  DELETED_RETENTION_DAYS: num(0).default(30),
  /** Cap on request bodies, in bytes (REST and XML-RPC). */
  MAX_BODY_SIZE: int(1024).default(1024 * 1024),
  /**
   * Key (base64, 32 bytes) used to encrypt the cloud credentials that asynchronous work needs.
   * In AWS it comes from the environment set by the CDK app; locally a key is generated in IM_DATA_DIR.
   */
  SECRET_KEY: z.string().optional(),
  /** ARNs of the state machines (AWS only). Locally the ASL files run in process. */
  STATE_MACHINE_ARN_PREFIX: z.string().optional(),
  /** The version string GET /version reports. */
  IM_VERSION: z.string().default('2.0.0'),
  /** Seconds a synchronous create/add waits for the launches before answering (API Gateway gives up at 29 s). */
  SYNC_WAIT_SECONDS: num(0).default(25),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** IM_DATA_DB is IM's environment override for DATA_DB; we accept and ignore DATA_DB itself (DynamoDB is the store). */
const IGNORED = new Set(['DATA_DB', 'IM_DATA_DB']);

/**
 * Builds the typed config from an environment-like record. Unknown keys are ignored (the
 * environment holds much more than our options). Throws ConfigError listing every bad option.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, unknown> = {};
  for (const key of Object.keys(configSchema.shape)) {
    if (IGNORED.has(key)) continue;
    const v = env[key];
    if (v !== undefined && v !== '') input[key] = v;
  }
  const r = configSchema.safeParse(input);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return r.data;
}

/** ADMIN_USER normalised to a list. */
export function adminUsers(config: Config): { username: string; password?: string; token?: string }[] {
  const a = config.ADMIN_USER;
  if (!a) return [];
  return Array.isArray(a) ? a : [a];
}
