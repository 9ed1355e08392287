/**
 * Security groups: one per RADL network the VM connects to (`im-<infId>-<netId>` or the network's `sg_name`),
 * shared by the infrastructure's VMs, reused when one of that name exists in the VPC, created with SSH,
 * same-group traffic and — on public networks — the `outports` rules, tagged `IM-INFRA-ID`, and deleted with
 * the infrastructure's last VM.
 *
 * Ingress rules come from the RADL network `outports` feature (radl.md §3, parsed by the RADL library into
 * {@link OutPort}s). EC2 has no port forwarding: the instance's public address is a 1:1 NAT of its private
 * one, so a mapping `8080-80` opens the remote port 8080 (the port clients connect to), as IM does. A range
 * `from:to` opens the range; ICMP opens every ICMP type and code (EC2 port -1). The source is the entry's
 * CIDR prefix, or anywhere (`0.0.0.0/0`).
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import type { OutPort } from '#radl/index';
import { ImError } from '#core/errors';
import type { Ec2CloudData, Ec2SecurityGroupData } from '#connectors/ec2/cloud-data';
import { retrying, type Ec2Context } from '#connectors/ec2/context';
import { errorCode } from '#connectors/ec2/errors';
import type { ResolvedNetwork } from '#connectors/ec2/network';
import { INFRA_TAG } from '#connectors/ec2/tags';

/** Where a rule without a CIDR prefix accepts traffic from. */
export const ANYWHERE_V4 = '0.0.0.0/0';

/** The SSH rule that every security group created by the connector carries. */
export function sshPermission(): IpPermission {
  return { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: ANYWHERE_V4, Description: 'SSH (IM)' }] };
}

/** Allows all traffic between members of the same group (the VMs of one RADL network). */
export function selfPermission(groupId: string): IpPermission {
  return { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: groupId, Description: 'same network (IM)' }] };
}

function key(p: IpPermission): string {
  const src = p.IpRanges?.[0]?.CidrIp ?? p.Ipv6Ranges?.[0]?.CidrIpv6 ?? p.UserIdGroupPairs?.[0]?.GroupId ?? '';
  return `${p.IpProtocol}|${p.FromPort}|${p.ToPort}|${src}`;
}

/** One ingress permission per outport entry. */
export function outportToPermission(o: OutPort): IpPermission {
  const cidr = o.remoteCidr || ANYWHERE_V4;
  const isV6 = cidr.includes(':');
  const [from, to] = o.protocol === 'icmp' ? [-1, -1] : o.isRange ? [o.remotePort, o.localPort] : [o.remotePort, o.remotePort];
  const perm: IpPermission = { IpProtocol: o.protocol, FromPort: from, ToPort: to };
  if (isV6) perm.Ipv6Ranges = [{ CidrIpv6: cidr }];
  else perm.IpRanges = [{ CidrIp: cidr }];
  return perm;
}

/**
 * The ingress rules of a network's security group: SSH always, all traffic within the group, and — on public
 * networks — one rule per outport. Duplicates (e.g. an explicit `22` outport) are dropped.
 */
export function ingressPermissions(groupId: string, outports: OutPort[] | undefined, isPublic: boolean): IpPermission[] {
  const perms = [sshPermission(), selfPermission(groupId)];
  if (isPublic && outports) perms.push(...outports.map(outportToPermission));
  const seen = new Set<string>();
  return perms.filter((p) => {
    const k = key(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The group of that name in the VPC (`managed` when it carries the infrastructure's tag). */
async function findSecurityGroup(ec2: EC2Client, name: string, vpcId: string, infId: string): Promise<Ec2SecurityGroupData | undefined> {
  const res = await ec2.send(
    new DescribeSecurityGroupsCommand({
      Filters: [
        { Name: 'group-name', Values: [name] },
        { Name: 'vpc-id', Values: [vpcId] },
      ],
    }),
  );
  const g = res.SecurityGroups?.[0];
  if (!g?.GroupId) return undefined;
  const managed = (g.Tags ?? []).some((t) => t.Key === INFRA_TAG && t.Value === infId);
  return { id: g.GroupId, name, vpcId, managed };
}

/**
 * One security group per network: reused when one of that name exists in the VPC, else created with rules.
 * The ids of the groups this call created are pushed to `createdGroups` (a failed launch removes them).
 */
export async function ensureSecurityGroups(ctx: Ec2Context, ec2: EC2Client, infId: string, net: ResolvedNetwork, createdGroups: string[]): Promise<Ec2SecurityGroupData[]> {
  const out: Ec2SecurityGroupData[] = [];
  for (const n of net.networks) {
    const found = await findSecurityGroup(ec2, n.sgName, net.vpcId, infId);
    if (found) {
      out.push(found);
      continue;
    }
    let groupId: string | undefined;
    try {
      const res = await ec2.send(
        new CreateSecurityGroupCommand({
          GroupName: n.sgName,
          Description: `Security group created by the IM for network ${n.id} of infrastructure ${infId}`.slice(0, 255),
          VpcId: net.vpcId,
          TagSpecifications: [
            {
              ResourceType: 'security-group',
              Tags: [
                { Key: INFRA_TAG, Value: infId },
                { Key: 'Name', Value: n.sgName },
              ],
            },
          ],
        }),
      );
      groupId = res.GroupId;
    } catch (err) {
      // Another VM of the infrastructure created it meanwhile.
      if (errorCode(err) !== 'InvalidGroup.Duplicate') throw err;
      const again = await findSecurityGroup(ec2, n.sgName, net.vpcId, infId);
      if (!again) throw err;
      out.push(again);
      continue;
    }
    if (!groupId) throw new ImError('CLOUD_RETRYABLE', `CreateSecurityGroup ${n.sgName} returned no id`);
    createdGroups.push(groupId);
    out.push({ id: groupId, name: n.sgName, vpcId: net.vpcId, managed: true });
    ctx.logger.info('EC2 security group created', { infId, groupId, name: n.sgName });
    try {
      await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: ingressPermissions(groupId, n.outports, n.isPublic) }));
    } catch (err) {
      if (errorCode(err) !== 'InvalidPermission.Duplicate') throw err;
    }
  }
  return out;
}

/** The infrastructure's groups: the managed ones of the VM's cloudData plus every group tagged with its id. */
export async function infrastructureGroups(ec2: EC2Client, infId: string, data: Ec2CloudData, ids: Set<string>): Promise<void> {
  for (const g of data.securityGroups ?? []) if (g.managed) ids.add(g.id);
  const res = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: `tag:${INFRA_TAG}`, Values: [infId] }] }));
  for (const g of res.SecurityGroups ?? []) if (g.GroupId) ids.add(g.GroupId);
}

/** DeleteSecurityGroup, retried while ENIs of terminated instances still hold it (DependencyViolation). */
export async function deleteSecurityGroup(ctx: Ec2Context, ec2: EC2Client, groupId: string): Promise<void> {
  await retrying(ctx, () => ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId })), ['DependencyViolation'], ctx.sgDeleteAttempts);
}
