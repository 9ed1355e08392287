/**
 * Entry point of the contextualization runner: the Fargate task's command (bundled as
 * dist/runner/index.mjs) and, locally, the child process the local orchestrator spawns for the
 * `contextualize` workflow's ECS task.
 *
 *   INF_ID=<id> [VM_IDS=1,2] node dist/runner/index.mjs
 *   npx tsx lambdas/runner/main.ts <infId> [vmIds]          (or --inf-id <id> --vm-ids 1,2)
 *
 * Services come from the environment (lambdas/core/config.ts): TABLE_NAME, AWS_REGION, and
 * DYNAMODB_SOCKET (local mode's private DynamoDB Local) or DYNAMODB_ENDPOINT; MAX_CONTEXTUALIZATION_TIME, PLAYBOOK_RETRIES, DEFAULT_VM_NAME,
 * DEFAULT_DOMAIN, WAIT_SSH_ACCCESS_TIMEOUT, LOG_LEVEL. Logs are JSON lines on stdout.
 *
 * Exit code 0 when the run completed, whatever the VMs' results (they are in the store); 1 when the
 * runner itself failed (unknown infrastructure, store unreachable…): the state machine's Catch then
 * marks the VMs unconfigured; 2 for bad arguments.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { RunInput, RunnerServices, RunResult } from '#runner/runner';

export type { RunInput, RunnerServices, RunResult } from '#runner/runner';

/*
 * In an esbuild ESM bundle (dist/runner/index.mjs) the CommonJS dependencies (the AWS SDK) call
 * require(), which ESM has not: give them one before they load. That is why every other module is
 * loaded with a dynamic import below (a static import would run them before this line).
 */
const g = globalThis as { require?: unknown };
if (typeof g.require === 'undefined') g.require = createRequire(import.meta.url);

/** Runs the contextualization of an infrastructure (all its VMs; `vmIds` limits the user configure steps). */
export async function runContextualization(input: RunInput, services: RunnerServices): Promise<RunResult> {
  const { contextualize } = await import('#runner/runner');
  return contextualize(input, services);
}

/** Store, config and logger from the environment. */
export async function servicesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<RunnerServices> {
  const [{ loadConfig }, { createLogger }, { DynamoInfrastructureStore, storeClient }, { createSecretBox }] = await Promise.all([
    import('#core/config'),
    import('#core/logger'),
    import('#store/dynamodb/index'),
    import('#core/secrets'),
  ]);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { component: 'ctxt-runner' } });
  const client = storeClient(config);
  // The VM passwords and keys are sealed in the store with the service key (SECRET_KEY or SECRET_KEY_ARN).
  const key = config.SECRET_KEY ?? (env.SECRET_KEY_ARN ? await (await import('#adapters/secret-key')).secretKey(config, env) : undefined);
  const secrets = key ? createSecretBox(key) : undefined;
  const store = new DynamoInfrastructureStore({ client, tableName: config.TABLE_NAME, deletedRetentionDays: config.DELETED_RETENTION_DAYS, ...(secrets ? { secrets } : {}) });
  return { store, config, logger };
}

export class UsageError extends Error {}

function parseIds(text: string | undefined): number[] | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const t = text.trim();
  const parts = t.startsWith('[') ? (JSON.parse(t) as unknown[]).map(String) : t.split(',');
  const ids = parts.map((p) => p.trim()).filter(Boolean);
  if (ids.some((p) => !/^\d+$/.test(p))) throw new UsageError(`Invalid VM ids: '${text}'`);
  return ids.map(Number);
}

/**
 * The run input from argv (positional `<infId> [vmIds]`, or --inf-id / --vm-ids / --reconfigure) or the
 * environment: INF_ID, VM_IDS (`1,2` or `[1,2]`), RECONFIGURE (`true`), or CTXT_INPUT, the workflow input
 * as JSON (`{"infId":…,"vmIds":[…],"reconfigure":true}`, what the state machine passes to the ECS task).
 */
export function parseArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): RunInput {
  let infId: string | undefined;
  let vmIds: string | undefined;
  let reconfigure = false;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--inf-id') infId = argv[++i];
    else if (a.startsWith('--inf-id=')) infId = a.slice('--inf-id='.length);
    else if (a === '--vm-ids') vmIds = argv[++i];
    else if (a.startsWith('--vm-ids=')) vmIds = a.slice('--vm-ids='.length);
    else if (a === '--reconfigure') reconfigure = true;
    else if (a.startsWith('--')) throw new UsageError(`Unknown option ${a}`);
    else positional.push(a);
  }
  let fromJson: { infId?: unknown; vmIds?: unknown; reconfigure?: unknown } = {};
  if (env.CTXT_INPUT) {
    try {
      fromJson = JSON.parse(env.CTXT_INPUT) as typeof fromJson;
    } catch {
      throw new UsageError('CTXT_INPUT is not valid JSON');
    }
  }
  infId ??= positional[0] ?? env.INF_ID ?? (typeof fromJson.infId === 'string' ? fromJson.infId : undefined);
  vmIds ??= positional[1] ?? env.VM_IDS ?? (Array.isArray(fromJson.vmIds) ? JSON.stringify(fromJson.vmIds) : undefined);
  reconfigure ||= ['1', 'true', 'yes'].includes((env.RECONFIGURE ?? '').toLowerCase()) || fromJson.reconfigure === true;
  if (!infId) throw new UsageError('Usage: main.ts <infId> [vmIds] [--reconfigure] (or INF_ID / VM_IDS / RECONFIGURE or CTXT_INPUT in the environment)');
  const ids = parseIds(vmIds);
  const input: RunInput = { infId };
  if (ids) input.vmIds = ids;
  if (reconfigure) input.reconfigure = true;
  return input;
}

/** The CLI: returns the exit code. */
export async function main(argv = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let input: RunInput;
  try {
    input = parseArgs(argv, env);
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  let services: RunnerServices;
  try {
    services = await servicesFromEnv(env);
  } catch (err) {
    console.error(`Invalid configuration: ${(err as Error).message}`);
    return 2;
  }
  try {
    services.logger.info('Contextualization started', { infId: input.infId, vmIds: input.vmIds, reconfigure: input.reconfigure ?? false });
    const r = await runContextualization(input, services);
    services.logger.info('Contextualization finished', {
      infId: r.infId,
      runId: r.runId,
      disabled: r.disabled,
      timedOut: r.timedOut,
      superseded: r.superseded,
      error: r.error,
      vms: r.vms,
      durationMs: r.durationMs,
    });
    return 0;
  } catch (err) {
    services.logger.error('Contextualization runner failed', { infId: input.infId, error: err });
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // ECS stops a task with SIGTERM (then SIGKILL): take the Ansible process groups and the SSH masters
  // (which live in sessions of their own) down with us.
  for (const [signal, code] of [
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const) {
    process.once(signal, () => {
      void Promise.all([import('#runner/ansible'), import('#runner/ssh-mux')]).then(([{ killAllAnsible }, { closeAllMastersSync }]) => {
        killAllAnsible();
        closeAllMastersSync();
        process.exit(code);
      });
    });
  }
  const code = await main();
  process.exit(code);
}
