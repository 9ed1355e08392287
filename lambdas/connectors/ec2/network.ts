/**
 * The VM's place in EC2's network: its RADL networks (public or not, security-group names, outports), fixed
 * addresses, and the VPC and subnet (a network's `provider_id = '<vpc-id>.<subnet-id>'`, else the default
 * VPC's default subnet, of `availability_zone` when given).
 */
import { DescribeSubnetsCommand, DescribeVpcsCommand, type EC2Client, type Filter } from '@aws-sdk/client-ec2';
import type { OutPort, Radl, System } from '#radl/index';
import { ImError } from '#core/errors';

/** One RADL network the VM connects to. */
export interface VmNetwork {
  id: string;
  isPublic: boolean;
  /** Its security group's name: the network's `sg_name`, else `im-<infId>-<netId>`. */
  sgName: string;
  outports: OutPort[] | undefined;
}

export interface ResolvedNetwork {
  vpcId: string;
  subnetId: string;
  /** Networks the VM connects to, in interface order (ids unique). */
  networks: VmNetwork[];
  isPublic: boolean;
  /** A fixed public IP (Elastic IP). */
  elasticIp?: string;
  /** A fixed private IP. */
  privateIp?: string;
  availabilityZone?: string;
}

/** The VM's networks, VPC and subnet (RADL provider_id `vpc-….subnet-…`, else the default VPC). */
export async function resolveNetwork(ec2: EC2Client, infId: string, radl: Radl, system: System): Promise<ResolvedNetwork> {
  const networks: VmNetwork[] = [];
  let providerId: string | undefined;
  let elasticIp: string | undefined;
  let privateIp: string | undefined;
  for (let i = 0; i < system.getNumNetInterfaces(); i++) {
    const netId = system.getString(`net_interface.${i}.connection`) as string;
    const net = radl.getNetworkById(netId);
    const isPublic = net?.isPublic() ?? false;
    const ip = system.getString(`net_interface.${i}.ip`);
    if (ip && isPublic) elasticIp ??= ip;
    if (ip && !isPublic) privateIp ??= ip;
    providerId ??= net?.getString('provider_id');
    if (!networks.some((n) => n.id === netId)) {
      networks.push({ id: netId, isPublic, sgName: net?.getString('sg_name') ?? `im-${infId}-${netId}`, outports: net?.getOutPorts() });
    }
  }
  const az = system.getString('availability_zone');
  const base = { networks, isPublic: networks.some((n) => n.isPublic), ...(elasticIp ? { elasticIp } : {}), ...(privateIp ? { privateIp } : {}) };
  if (providerId) {
    const m = /^(vpc-[0-9a-zA-Z]+)\.(subnet-[0-9a-zA-Z]+)$/.exec(providerId.trim());
    if (!m) throw new ImError('BAD_REQUEST', `Incorrect provider_id value: ${providerId}. It must be <vpc-id>.<subnet-id>.`);
    return { ...base, vpcId: m[1], subnetId: m[2] };
  }
  const vpcs = await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'isDefault', Values: ['true'] }] }));
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) {
    throw new ImError('BAD_REQUEST', `No default VPC in EC2 region: set the network provider_id to '<vpc-id>.<subnet-id>'`);
  }
  const filters: Filter[] = [
    { Name: 'vpc-id', Values: [vpcId] },
    { Name: 'default-for-az', Values: ['true'] },
  ];
  if (az) filters.push({ Name: 'availability-zone', Values: [az] });
  const subnets = await ec2.send(new DescribeSubnetsCommand({ Filters: filters }));
  const subnet = [...(subnets.Subnets ?? [])].sort((a, b) => (a.AvailabilityZone ?? '').localeCompare(b.AvailabilityZone ?? ''))[0];
  if (!subnet?.SubnetId) {
    throw new ImError('BAD_REQUEST', `No default subnet in the default VPC ${vpcId}${az ? ` for availability zone ${az}` : ''}`);
  }
  return { ...base, vpcId, subnetId: subnet.SubnetId, ...(az ? { availabilityZone: az } : {}) };
}
