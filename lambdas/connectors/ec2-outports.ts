/**
 * Security-group ingress rules of the EC2 connector, built from the RADL network `outports` feature
 * (radl.md §3, parsed by the RADL library into {@link OutPort}s).
 *
 * EC2 has no port forwarding: the instance's public address is a 1:1 NAT of its private one, so a mapping
 * `8080-80` opens the remote port 8080 (the port clients connect to), as IM does. A range `from:to` opens
 * the range; ICMP opens every ICMP type and code (EC2 port -1). The source is the entry's CIDR prefix, or
 * anywhere (`0.0.0.0/0`).
 */
import type { IpPermission } from '@aws-sdk/client-ec2';
import type { OutPort } from '#radl/index';

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
