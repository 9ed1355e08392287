/**
 * AddResource steps 2-3 (lifecycle.md §2): defaults for the deployed systems, deploy groups
 * (deploys whose systems share a private network land on one cloud), cloud pinning and cloud
 * selection through each connector's `concreteSystem`. Pure planning: no store, no cloud calls.
 */
import { errors } from '#core/errors';
import type { AuthItem, CloudConnector, ConnectorRegistry } from '#core/types';
import type { Config } from '#core/config';
import { Feature, type Deploy, type Radl, type System } from '#radl/index';

/** One VM to create: where, from which system, or why it already failed. */
export interface PlannedVm {
  deploy: Deploy;
  /** The system as requested (with defaults). */
  requested: System;
  /** The concrete system chosen by the connector (undefined when no cloud could take it). */
  concrete?: System;
  cloud: AuthItem;
  /** Set when no VM can be launched for this deploy (recorded as a failed VM). */
  error?: string;
}

export interface DeployPlan {
  vms: PlannedVm[];
  /** Private networks pinned to a cloud id (previous pins plus the new ones). */
  privateNetworks: Record<string, string>;
}

/** cpu.count ≥ DEFAULT_VM_CPUS, memory.size ≥ DEFAULT_VM_MEMORY UNIT, cpu.arch = DEFAULT_VM_CPU_ARCH when absent. */
export function withDefaults(system: System, config: Pick<Config, 'DEFAULT_VM_CPUS' | 'DEFAULT_VM_MEMORY' | 'DEFAULT_VM_MEMORY_UNIT' | 'DEFAULT_VM_CPU_ARCH'>): System {
  const s = system.clone();
  if (!s.hasFeature('cpu.count')) s.addFeature(new Feature('cpu.count', '>=', config.DEFAULT_VM_CPUS));
  if (!s.hasFeature('memory.size')) s.addFeature(new Feature('memory.size', '>=', config.DEFAULT_VM_MEMORY, config.DEFAULT_VM_MEMORY_UNIT));
  if (!s.hasFeature('cpu.arch')) s.setValue('cpu.arch', config.DEFAULT_VM_CPU_ARCH);
  return s;
}

function privateNetworksOf(radl: Radl, system: System): string[] {
  return system.getNetworkIds().filter((id) => {
    const net = radl.getNetworkById(id);
    return net !== undefined && !net.isPublic();
  });
}

/** Groups of deploy indexes: deploys whose systems share a private network are in one group. */
export function deployGroups(radl: Radl, deploys: Deploy[]): number[][] {
  const parent = deploys.map((_, i) => i);
  const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
  const byNet = new Map<string, number>();
  deploys.forEach((d, i) => {
    const sys = radl.getSystemByName(d.systemId);
    if (!sys) return;
    for (const net of privateNetworksOf(radl, sys)) {
      const j = byNet.get(net);
      if (j === undefined) byNet.set(net, i);
      else parent[find(i)] = find(j);
    }
  });
  const groups = new Map<number, number[]>();
  deploys.forEach((_, i) => {
    const root = find(i);
    groups.set(root, [...(groups.get(root) ?? []), i]);
  });
  return [...groups.values()];
}

const noConcrete = (system: string, cloudId: string) =>
  `Error, no concrete system to deploy: ${system} in cloud: ${cloudId}. Check if a correct image is being used`;

interface GroupChoice {
  cloud: AuthItem;
  concretes: (System | undefined)[];
  error?: (deployIdx: number) => string | undefined;
}

function tryCloud(connector: CloudConnector | undefined, cloud: AuthItem, systems: System[]): { ok: boolean; concretes: (System | undefined)[]; firstMissing?: number } {
  if (!connector) return { ok: false, concretes: systems.map(() => undefined), firstMissing: 0 };
  const concretes = systems.map((s) => connector.concreteSystem(s, cloud)[0]);
  const firstMissing = concretes.findIndex((c) => c === undefined);
  return { ok: firstMissing < 0, concretes, firstMissing: firstMissing < 0 ? undefined : firstMissing };
}

/**
 * Plans the new VMs of `deploys` (vm_number > 0) over the cloud items (auth order).
 * Throws 400 for a pin to an unknown cloud id, two different pins in one group, or no cloud at all.
 */
export function planDeploys(opts: {
  radl: Radl;
  deploys: Deploy[];
  clouds: AuthItem[];
  connectors: ConnectorRegistry;
  config: Config;
  privateNetworks: Record<string, string>;
}): DeployPlan {
  const { radl, clouds, connectors, config } = opts;
  const deploys = opts.deploys.filter((d) => d.vmNumber > 0);
  // Checked before anything is planned: a 270-byte `deploy node 1000000` must not cost gigabytes.
  const total = deploys.reduce((n, d) => n + d.vmNumber, 0);
  if (total > config.MAX_VMS_PER_REQUEST) {
    throw errors.badRequest(`The request deploys ${total} VMs; at most ${config.MAX_VMS_PER_REQUEST} may be deployed in one request (MAX_VMS_PER_REQUEST).`);
  }
  const privateNetworks = { ...opts.privateNetworks };
  const vms: PlannedVm[] = [];
  if (deploys.length === 0) return { vms, privateNetworks };
  if (clouds.length === 0) throw errors.badRequest('No cloud provider available');

  const requested = deploys.map((d) => {
    const sys = radl.getSystemByName(d.systemId);
    if (!sys) throw errors.badRequest(`Invalid system id in the deploy: ${d.systemId}`);
    return withDefaults(sys, config);
  });

  const byGroup: { idx: number[]; choice: GroupChoice }[] = [];
  for (const group of deployGroups(radl, deploys)) {
    // Pins: explicit `deploy … <cloudId>` and private networks already living in a cloud.
    const pins = new Set<string>();
    for (const i of group) {
      if (deploys[i].cloudId !== undefined) pins.add(deploys[i].cloudId as string);
      for (const net of privateNetworksOf(radl, requested[i])) if (privateNetworks[net]) pins.add(privateNetworks[net]);
    }
    if (pins.size > 1) {
      throw errors.badRequest(
        `Two deployments that have to be launched in the same cloud provider are asked to be deployed in different cloud providers: ${[...pins].join(', ')}`,
      );
    }
    const systems = group.map((i) => requested[i]);
    let choice: GroupChoice | undefined;
    if (pins.size === 1) {
      const cloudId = [...pins][0];
      const cloud = clouds.find((c) => c.id === cloudId);
      if (!cloud) throw errors.badRequest(`No auth data for cloud with ID: ${cloudId}`);
      const connector = connectors.get(cloud.type);
      const r = tryCloud(connector, cloud, systems);
      choice = {
        cloud,
        concretes: r.concretes,
        error: (k) =>
          r.concretes[k] !== undefined
            ? undefined
            : connector
              ? noConcrete(systems[k].name, cloud.id as string)
              : `Cloud provider type '${cloud.type}' is not supported by this server.`,
      };
    } else {
      let first: { cloud: AuthItem; concretes: (System | undefined)[] } | undefined;
      for (const cloud of clouds) {
        const connector = connectors.get(cloud.type);
        if (!connector) continue;
        const r = tryCloud(connector, cloud, systems);
        first ??= { cloud, concretes: r.concretes };
        if (r.ok) {
          choice = { cloud, concretes: r.concretes };
          break;
        }
      }
      if (!choice) {
        const fallback = first ?? { cloud: clouds[0], concretes: systems.map(() => undefined) };
        const supported = first !== undefined;
        choice = {
          cloud: fallback.cloud,
          concretes: fallback.concretes,
          error: (k) =>
            fallback.concretes[k] !== undefined
              ? undefined
              : supported
                ? noConcrete(systems[k].name, fallback.cloud.id as string)
                : `Cloud provider type '${fallback.cloud.type}' is not supported by this server.`,
        };
      }
    }
    for (const i of group) for (const net of privateNetworksOf(radl, requested[i])) privateNetworks[net] ??= choice.cloud.id as string;
    byGroup.push({ idx: group, choice });
  }

  // VMs in deploy order (ids are handed out in that order).
  const where = new Map<number, { choice: GroupChoice; k: number }>();
  for (const g of byGroup) g.idx.forEach((i, k) => where.set(i, { choice: g.choice, k }));
  deploys.forEach((deploy, i) => {
    const { choice, k } = where.get(i) as { choice: GroupChoice; k: number };
    const error = choice.error?.(k);
    for (let n = 0; n < deploy.vmNumber; n++) {
      vms.push({ deploy, requested: requested[i], concrete: choice.concretes[k]?.clone(), cloud: choice.cloud, error });
    }
  });
  return { vms, privateNetworks };
}
