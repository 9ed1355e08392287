/**
 * EstimateResources (REST `dry_run`): what a create would ask of each cloud, without creating
 * anything: `{<cloudId>: {cloudType, cloudEndpoint, compute: [one per VM], storage: [data disks]}}`.
 */
import type { AuthItem, Services } from '#core/types';
import { authenticate } from '#core/auth';
import { cloudItems } from '#core/cloud-auth';
import type { Radl, System } from '#radl/index';
import { parseCheckedRadl, type RadlInput } from '#core/usecases/common';
import { createRadl, loadInput } from '#core/usecases/tosca';
import { planDeploys } from '#core/usecases/deploy-plan';

export interface ComputeEstimate {
  cpuCores: number;
  memoryInMegabytes: number;
  diskSizeInGigabytes?: number;
  publicIP?: number;
  GPU?: number;
}
export interface StorageEstimate {
  sizeInGigabytes: number;
  type?: string;
}
export interface CloudEstimate {
  cloudType: string;
  cloudEndpoint: string;
  compute: ComputeEstimate[];
  storage: StorageEstimate[];
}

/** `<proto>://<host>:<port><path>` of an auth item's `host` (`server:port` accepted), or ''. */
export function cloudEndpoint(host: string | undefined): string {
  if (!host) return '';
  try {
    const url = new URL(host.includes('://') ? host : `http://${host}`);
    const proto = url.protocol.replace(':', '');
    const port = url.port || (proto === 'https' ? '443' : '80');
    const path = url.pathname === '/' && !host.endsWith('/') ? '' : url.pathname;
    return `${proto}://${url.hostname}:${port}${path}`;
  } catch {
    return host;
  }
}

function compute(radl: Radl, s: System): ComputeEstimate {
  const c: ComputeEstimate = {
    cpuCores: s.getNumber('cpu.count') ?? 0,
    memoryInMegabytes: Math.ceil(s.getNumber('memory.size', 'M') ?? 0),
  };
  // The flavor's root disk (disk.0.free_size) plus a boot volume (disk.0.size), when non-zero.
  const disk = (s.getNumber('disk.0.free_size', 'G') ?? 0) + (s.getNumber('disk.0.size', 'G') ?? 0);
  if (disk > 0) c.diskSizeInGigabytes = Math.ceil(disk);
  if (s.getNetworkIds().some((id) => radl.getNetworkById(id)?.isPublic())) c.publicIP = 1;
  const gpu = s.getNumber('gpu.count');
  if (gpu !== undefined) c.GPU = gpu;
  return c;
}

function storage(s: System): StorageEstimate[] {
  const out: StorageEstimate[] = [];
  for (let i = 1; i < Math.max(s.getNumDisks(), 1); i++) {
    const size = s.getNumber(`disk.${i}.size`, 'G');
    if (size === undefined) continue;
    const d: StorageEstimate = { sizeInGigabytes: Math.ceil(size) };
    const type = s.getString(`disk.${i}.type`);
    if (type) d.type = type;
    out.push(d);
  }
  return out;
}

export async function estimateResources(services: Services, auth: AuthItem[], input: RadlInput): Promise<Record<string, CloudEstimate>> {
  const caller = await authenticate(services, auth);
  const radl = input.format === 'tosca' ? createRadl(services, await loadInput(services, input.text, caller)) : parseCheckedRadl(input);
  const res: Record<string, CloudEstimate> = {};
  if (!radl.deploys.some((d) => d.vmNumber > 0)) return res;
  const plan = planDeploys({
    radl,
    deploys: radl.deploys,
    clouds: cloudItems(caller.items),
    connectors: services.connectors,
    config: services.config,
    privateNetworks: {},
  });
  // Connectors that choose at launch (OpenStack flavors) say what they would choose; once per cloud and system.
  const estimated = new Map<string, Promise<System>>();
  for (const vm of plan.vms) {
    const id = vm.cloud.id as string;
    res[id] ??= { cloudType: vm.cloud.type, cloudEndpoint: cloudEndpoint(vm.cloud.host), compute: [], storage: [] };
    let sys = vm.concrete ?? vm.requested;
    const connector = services.connectors.get(vm.cloud.type);
    if (vm.concrete && connector?.estimateSystem) {
      const key = `${id}\u0000${vm.requested.name}`;
      if (!estimated.has(key)) estimated.set(key, connector.estimateSystem(vm.concrete, vm.cloud));
      sys = await (estimated.get(key) as Promise<System>);
    }
    res[id].compute.push(compute(radl, sys));
    res[id].storage.push(...storage(sys));
  }
  return res;
}
