/**
 * Builds infrastructure and VM records for runner tests directly in a store (no REST, no launch): each
 * VM is an existing host (as DeployedNode would record it) with its IP and credentials in its RADL.
 */
import { randomUUID } from 'node:crypto';
import { loadConfig, type Config } from '#core/config';
import { createLogger } from '#core/logger';
import type { InfraRecord, InfrastructureStore, VmRecord } from '#core/types';
import { parseRadl, radlToJsonString, systemRadl } from '#radl/index';
import type { SshHost } from './ssh-hosts.ts';

export interface FixtureVm {
  system: string;
  host: SshHost;
  /** Extra system features for this VM only (RADL text, joined with `and`). */
  extra?: string;
  /** Put the VM on the private network only (no public IP): it is reached through the master. */
  privateOnly?: boolean;
  /** Use the key instead of the password. */
  useKey?: boolean;
}

/**
 * The RADL of the infrastructure: networks `pub` (outbound) and `priv`, one system per distinct system name
 * (features of its first VM), plus `rest` (configures, contextualize…).
 */
export function fixtureRadl(vms: FixtureVm[], rest: string): string {
  const systems = new Map<string, FixtureVm>();
  for (const vm of vms) if (!systems.has(vm.system)) systems.set(vm.system, vm);
  const text = [
    "network pub (outbound = 'yes')",
    "network priv (outbound = 'no')",
    ...[...systems.values()].map((vm) => `system ${vm.system} (\n${systemFeatures(vm).join(' and\n')}\n)`),
    rest,
  ].join('\n');
  return text;
}

function systemFeatures(vm: FixtureVm): string[] {
  const f = [
    vm.privateOnly ? "net_interface.0.connection = 'priv'" : "net_interface.0.connection = 'pub'",
    `net_interface.0.ip = '${vm.host.ip}'`,
    "disk.0.os.name = 'linux'",
    `disk.0.os.credentials.username = '${vm.host.user}'`,
  ];
  if (vm.useKey) f.push(`disk.0.os.credentials.private_key = '${vm.host.privateKey ?? ''}'`);
  else f.push(`disk.0.os.credentials.password = '${vm.host.password}'`);
  if (vm.extra) f.push(vm.extra);
  return f;
}

/** Creates the infrastructure and one running VM per entry (ids 0..n-1). Returns the infrastructure id. */
export async function seedInfrastructure(store: InfrastructureStore, vms: FixtureVm[], rest: string): Promise<string> {
  const id = randomUUID();
  const now = Date.now();
  const radl = parseRadl(fixtureRadl(vms, rest));
  const inf: InfraRecord = {
    id,
    version: 1,
    owners: [],
    ownerKeys: [],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    radl: radlToJsonString(radl, 0),
    vmCounter: vms.length,
    addingOps: [],
    privateNetworks: {},
    snapshots: [],
  };
  await store.createInfrastructure(inf);
  for (const [vmId, vm] of vms.entries()) {
    // Each VM gets its own copy of its system with its own IP / credentials.
    const own = parseRadl(fixtureRadl([vm], ''));
    const sys = own.getSystemByName(vm.system);
    if (!sys) throw new Error('no system');
    sys.setValue('provider.type', 'DeployedNode');
    sys.setValue('state', 'running');
    const record: VmRecord = {
      infId: id,
      vmId,
      version: 1,
      cloudId: 'dn',
      cloudType: 'DeployedNode',
      providerId: vm.host.ip,
      systemName: vm.system,
      state: 'running',
      creating: false,
      destroyed: false,
      deleting: false,
      info: radlToJsonString(systemRadl(own, sys), 0),
      ctxtState: 'pending',
      lastUpdate: now,
      createdAt: now,
    };
    await store.putVm(record);
  }
  return id;
}

/** Replaces the RADL of an infrastructure (configures / contextualize changes between runs). */
export async function setInfraRadl(store: InfrastructureStore, infId: string, vms: FixtureVm[], rest: string): Promise<void> {
  const cur = await store.getInfrastructure(infId);
  if (!cur) throw new Error('no infrastructure');
  await store.updateInfrastructure(infId, cur.version, { radl: radlToJsonString(parseRadl(fixtureRadl(vms, rest)), 0) });
}

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig({ LOG_LEVEL: 'WARNING', PLAYBOOK_RETRIES: '1', ...overrides });
}

export const quietLogger = () => createLogger({ level: 'ERROR' });
