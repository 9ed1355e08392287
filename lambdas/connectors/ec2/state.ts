/**
 * Where a VM's instance is and what state it is in: provider id / cloudData → region and instance id,
 * DescribeInstances, the EC2 → IM state map (lifecycle.md §8), state polling, and updateVmInfo.
 */
import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle, VmState, VmUpdate } from '#core/types';
import { assignIps } from '#connectors/ip-addresses';
import { associateElasticIp } from '#connectors/ec2/addresses';
import { readCloudData, type Ec2CloudData } from '#connectors/ec2/cloud-data';
import type { Ec2Context } from '#connectors/ec2/context';
import { authSecrets, isNotFound, mapEc2Error } from '#connectors/ec2/errors';
import { instanceTypeInfo } from '#connectors/ec2/instance-types';
import { DEFAULT_REGION, parseProviderId, systemImage } from '#connectors/ec2/refs';
import { setTypeFeatures } from '#connectors/ec2/requirements';
import { recordVolumes } from '#connectors/ec2/volumes';

/** An instance DescribeInstances does not know yet is `pending` (not `off`) this long after its launch. */
const RECENT_LAUNCH_SECONDS = 300;

const STATE_MAP: Record<string, VmState> = {
  pending: 'pending',
  running: 'running',
  stopping: 'running',
  stopped: 'stopped',
  'shutting-down': 'off',
  terminated: 'off',
};

/** EC2 instance state name → IM VM state (lifecycle.md §8); unknown names → `unknown`. */
export function mapEc2State(name: string | undefined): VmState {
  return (name && STATE_MAP[name]) || 'unknown';
}

/** Every address of the instance (primary, per-interface private, public, IPv6). */
export function instanceIps(inst: Instance): string[] {
  const ips: string[] = [];
  const add = (ip: string | undefined) => {
    if (ip && !ips.includes(ip)) ips.push(ip);
  };
  add(inst.PublicIpAddress);
  add(inst.PrivateIpAddress);
  for (const n of inst.NetworkInterfaces ?? []) {
    add(n.Association?.PublicIp);
    for (const p of n.PrivateIpAddresses ?? []) {
      add(p.Association?.PublicIp);
      add(p.PrivateIpAddress);
    }
    for (const a of n.Ipv6Addresses ?? []) add(a.Ipv6Address);
  }
  return ips;
}

/** Where the VM lives: region and instance id from the provider id, else from its cloudData. */
export interface VmLocation {
  region: string;
  instanceId?: string;
  data: Ec2CloudData;
}

export function locate(vm: VmHandle, auth: AuthItem): VmLocation {
  const pid = parseProviderId(vm.providerId);
  const fallback = pid?.region ?? systemImage(vm.system)?.region ?? auth.region ?? DEFAULT_REGION;
  const data = readCloudData(vm.cloudData, fallback);
  const region = pid?.region ?? data.region;
  const instanceId = pid?.instanceId ?? data.instanceId;
  return { region, data, ...(instanceId ? { instanceId } : {}) };
}

/** {@link locate}, BAD_REQUEST when the VM has no instance. */
export function requireInstance(vm: VmHandle, auth: AuthItem): Required<VmLocation> {
  const loc = locate(vm, auth);
  if (!loc.instanceId) throw new ImError('BAD_REQUEST', `VM ${vm.vmId} has no EC2 instance (provider id '${vm.providerId}')`);
  return loc as Required<VmLocation>;
}

/** The instance, or undefined when EC2 does not know it. */
export async function describeInstance(ec2: EC2Client, instanceId: string): Promise<Instance | undefined> {
  try {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
    return out.Reservations?.flatMap((r) => r.Instances ?? []).find((i) => i.InstanceId === instanceId);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Polls DescribeInstances until the state is one of `wanted` (a vanished instance counts as terminated). */
export async function waitForState(ctx: Ec2Context, ec2: EC2Client, instanceId: string, wanted: string[], context: string): Promise<void> {
  for (let i = 0; i < ctx.maxPolls; i++) {
    const inst = await describeInstance(ec2, instanceId);
    const s = inst?.State?.Name ?? 'terminated';
    if (wanted.includes(s)) return;
    await ctx.sleep(ctx.pollIntervalMs);
  }
  throw new ImError(
    'CLOUD_RETRYABLE',
    `${context}: instance ${instanceId} did not reach state ${wanted.join('/')} after ${Math.round((ctx.maxPolls * ctx.pollIntervalMs) / 1000)} s`,
  );
}

/** updateVmInfo: DescribeInstances of the VM's instance → its state, type, IPs and volumes. */
export async function refreshVm(ctx: Ec2Context, vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
  const { region, instanceId } = requireInstance(vm, auth);
  const ec2 = ctx.client(region, auth);
  try {
    return await toUpdate(ctx, ec2, vm, auth, await describeInstance(ec2, instanceId));
  } catch (err) {
    throw mapEc2Error(err, `Error getting the state of VM ${vm.vmId} from EC2`, authSecrets(auth));
  }
}

/** Instance ids per DescribeInstances call of {@link refreshVms} (EC2 takes up to 1000 filter values). */
const DESCRIBE_BATCH = 200;

/**
 * updateVmsInfo: the VMs of one account read with one DescribeInstances per region (per 200 VMs, pages
 * followed), filtered by instance id so that an unknown id is just absent. Results in the order of `vms`.
 */
export async function refreshVms(ctx: Ec2Context, vms: VmHandle[], auth: AuthItem): Promise<(VmUpdate | Error)[]> {
  const out: (VmUpdate | Error)[] = new Array(vms.length);
  const byRegion = new Map<string, { vm: VmHandle; index: number; instanceId: string }[]>();
  vms.forEach((vm, index) => {
    try {
      const { region, instanceId } = requireInstance(vm, auth);
      byRegion.set(region, [...(byRegion.get(region) ?? []), { vm, index, instanceId }]);
    } catch (err) {
      out[index] = err as Error;
    }
  });
  await Promise.all(
    [...byRegion].map(async ([region, group]) => {
      const ec2 = ctx.client(region, auth);
      for (let i = 0; i < group.length; i += DESCRIBE_BATCH) {
        const part = group.slice(i, i + DESCRIBE_BATCH);
        try {
          const found = await describeInstances(ec2, part.map((g) => g.instanceId));
          for (const g of part) {
            out[g.index] = await toUpdate(ctx, ec2, g.vm, auth, found.get(g.instanceId)).catch((err: unknown) =>
              mapEc2Error(err, `Error getting the state of VM ${g.vm.vmId} from EC2`, authSecrets(auth)),
            );
          }
        } catch (err) {
          for (const g of part) out[g.index] = mapEc2Error(err, `Error getting the state of VM ${g.vm.vmId} from EC2`, authSecrets(auth));
        }
      }
    }),
  );
  return out;
}

/** DescribeInstances filtered by instance id, every page: id → instance. */
async function describeInstances(ec2: EC2Client, instanceIds: string[]): Promise<Map<string, Instance>> {
  const found = new Map<string, Instance>();
  let token: string | undefined;
  do {
    const page = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: instanceIds }], ...(token ? { NextToken: token } : {}) }));
    for (const inst of page.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) if (inst.InstanceId) found.set(inst.InstanceId, inst);
    token = page.NextToken;
  } while (token);
  return found;
}

/** The VM update an instance (or its absence) gives. */
async function toUpdate(ctx: Ec2Context, ec2: EC2Client, vm: VmHandle, auth: AuthItem, inst: Instance | undefined): Promise<VmUpdate> {
  const { data } = requireInstance(vm, auth);
  const system = vm.system.clone();
  if (!inst) {
    // DescribeInstances is eventually consistent: a just-launched instance may not be visible yet.
    const launched = system.getNumber('launch_time');
    const recent = launched !== undefined && Date.now() / 1000 - launched < RECENT_LAUNCH_SECONDS;
    return { state: recent ? 'pending' : 'off', system, cloudData: { ...data } };
  }
  const state = mapEc2State(inst.State?.Name);
  for (const eip of data.elasticIps ?? []) {
    if (eip.pending && inst.State?.Name === 'running') await associateElasticIp(ec2, eip, inst, false);
  }
  recordVolumes(inst, data);
  if (inst.InstanceType) {
    const info = instanceTypeInfo(inst.InstanceType);
    if (info) setTypeFeatures(system, info);
    else system.setValue('instance_type', inst.InstanceType);
  }
  if (inst.LaunchTime) system.setValue('launch_time', Math.floor(new Date(inst.LaunchTime).getTime() / 1000));
  if (inst.Placement?.AvailabilityZone) system.setValue('availability_zone', inst.Placement.AvailabilityZone);
  system.setValue('provider.type', 'EC2');
  assignIps(system, vm.radl, instanceIps(inst), ctx.config.PRIVATE_NET_MASKS);
  return { state, system, cloudData: { ...data } };
}
