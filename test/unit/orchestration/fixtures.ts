/**
 * Test fixtures of the orchestration tests: an in-memory store with the DynamoDB store's semantics
 * (versions, undefined removes a field), services, and infrastructures seeded the way the use cases
 * write them before starting the launch flow.
 */
import { randomUUID } from 'node:crypto';
import { sealCloudAuth } from '#core/cloud-auth';
import { loadConfig, type Config } from '#core/config';
import { createLogger } from '#core/logger';
import { createSecretBox, generateSecretKey } from '#core/secrets';
import {
  type AuthItem,
  type CloudConnector,
  type InfraRecord,
  type InfrastructureStore,
  type Orchestrator,
  type Services,
} from '#core/types';
import { createConnectorRegistry } from '#connectors/registry';
import { createLocalOrchestrator, type LocalOrchestrator, type LocalOrchestratorOptions } from '#local/local-orchestrator';
import { parseRadl, radlToJsonString, systemRadl } from '#radl/index';
import { MemoryStore } from '../../helpers/memory-store';
import { createAuthServices } from '#adapters/auth-services';

export { MemoryStore };

/** Fast defaults: short waits so that flows finish in milliseconds. */
export const FAST_CONFIG: Record<string, string> = {
  LOG_LEVEL: 'SILENT',
  MAX_SIMULTANEOUS_LAUNCHES: '5',
  MAX_VM_FAILS: '3',
  DELAY_BETWEEN_VM_RETRIES: '0.01',
  VM_INFO_UPDATE_FREQUENCY: '0.02',
  WAIT_RUNNING_VM_TIMEOUT: '2',
  WAIT_SSH_ACCCESS_TIMEOUT: '0.3',
};

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ ...FAST_CONFIG, ...overrides });
}

export interface TestEnv {
  services: Services;
  store: InfrastructureStore;
  orchestrator: LocalOrchestrator;
}

/** Services around a store (default: in memory) with the local orchestrator. */
export function makeEnv(
  opts: {
    config?: Record<string, string>;
    store?: InfrastructureStore;
    connectors?: CloudConnector[];
    orchestrator?: LocalOrchestratorOptions;
    now?: () => number;
  } = {},
): TestEnv {
  const store = opts.store ?? new MemoryStore();
  const holder: { orchestrator?: Orchestrator } = {};
  const config = testConfig(opts.config);
  const logger = createLogger({ level: 'SILENT' });
  const services: Services = {
    config,
    store,
    connectors: createConnectorRegistry({ config, logger }, opts.connectors ?? []),
    get orchestrator() {
      return holder.orchestrator!;
    },
    logger,
    secrets: createSecretBox(generateSecretKey()),
    auth: createAuthServices({ config }),
    now: opts.now ?? Date.now,
  };
  const orchestrator = createLocalOrchestrator(() => services, { waitTimeScale: 1, ...opts.orchestrator });
  holder.orchestrator = orchestrator;
  return { services, store, orchestrator };
}

export const DUMMY_AUTH: AuthItem[] = [{ type: 'Dummy', id: 'dummy' }];

/** A RADL with `n` VMs of system `node`; `extra` is appended (e.g. `contextualize ()`). */
export function nodesRadl(n: number, extra = 'contextualize ()'): string {
  return `network publica (outbound = 'yes')
system node (
  cpu.count >= 1 and memory.size >= 512m and
  net_interface.0.connection = 'publica' and
  disk.0.image.url = 'mock0://linux.for.ev.er/image1'
)
${extra}
deploy node ${n}
`;
}

/**
 * Creates the infrastructure and its VM records (pending, creating) as the create use case does,
 * and returns the ids to pass to the launch flow.
 */
export async function seedInfra(
  services: Services,
  radlText: string,
  opts: { auth?: AuthItem[]; infId?: string } = {},
): Promise<{ infId: string; vmIds: number[] }> {
  const { store } = services;
  const radl = parseRadl(radlText);
  const auth = opts.auth ?? DUMMY_AUTH;
  const now = services.now();
  const infId = opts.infId ?? randomUUID();
  const inf: InfraRecord = {
    id: infId,
    version: 1,
    owners: [{ username: 'user1', passwordHash: 'scrypt$x$y', usedToken: false }],
    ownerKeys: ['k1'],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    radl: radlToJsonString(radl, 0),
    vmCounter: 0,
    addingOps: [],
    privateNetworks: {},
    snapshots: [],
    cloudAuth: sealCloudAuth(services, auth),
  };
  await store.createInfrastructure(inf);
  const vmIds: number[] = [];
  for (const d of radl.deploys) {
    const item = auth.find((a) => a.id === (d.cloudId ?? auth[0].id))!;
    const connector = services.connectors.get(item.type)!;
    const system = radl.getSystemByName(d.systemId)!;
    const concrete = connector.concreteSystem(system, item)[0];
    const ids = await store.reserveVmIds(infId, d.vmNumber);
    for (const vmId of ids) {
      await store.putVm({
        infId,
        vmId,
        version: 1,
        cloudId: item.id!,
        cloudType: item.type,
        systemName: system.name,
        state: 'pending',
        creating: true,
        destroyed: false,
        deleting: false,
        info: radlToJsonString(systemRadl(radl, concrete), 0),
        ctxtState: 'none',
        lastUpdate: 0,
        createdAt: now,
      });
      vmIds.push(vmId);
    }
  }
  return { infId, vmIds };
}

/** Starts a workflow and waits for it; returns describe(). */
export async function runFlow(env: TestEnv, workflow: Parameters<Orchestrator['start']>[0], input: Parameters<Orchestrator['start']>[1], timeoutMs = 20_000) {
  const id = await env.orchestrator.start(workflow, input);
  const status = await env.orchestrator.wait(id, timeoutMs);
  if (status === 'RUNNING') throw new Error(`${workflow} still running after ${timeoutMs} ms`);
  return env.orchestrator.describe(id);
}
