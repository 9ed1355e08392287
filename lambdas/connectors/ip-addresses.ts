/**
 * Provider-neutral IP helpers (lifecycle.md §4): which reported addresses are private (PRIVATE_NET_MASKS),
 * whether an address is in a RADL network `cidr`, and where the addresses a provider reports go in the VM's
 * system. Used by every connector that learns its VMs' addresses from the cloud (EC2, OpenStack).
 */
import ipaddr from 'ipaddr.js';
import type { Network, Radl, System } from '#radl/index';

/** True when the address falls in one of the masks (PRIVATE_NET_MASKS). */
export function isPrivateIp(ip: string, masks: readonly string[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return false;
  }
  for (const m of masks) {
    try {
      const [range, bits] = ipaddr.parseCIDR(m);
      if (range.kind() === addr.kind() && addr.match(range, bits)) return true;
    } catch {
      // ignore malformed masks
    }
  }
  return false;
}

/** Whether an IPv4 address is inside a network `cidr`, which may use `*` octets (`10.*.*.0/24`). */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  if (!base || !bitsText || !ipaddr.IPv4.isValid(ip)) return false;
  const ipOctets = ip.split('.');
  const octets = base.split('.');
  if (octets.length !== 4) return false;
  const concrete = octets.map((o, i) => (o === '*' ? ipOctets[i] : o)).join('.');
  try {
    const [range, bits] = ipaddr.parseCIDR(`${concrete}/${bitsText}`);
    const addr = ipaddr.parse(ip);
    return range.kind() === addr.kind() && addr.match(range, bits);
  } catch {
    return false;
  }
}

/**
 * Writes the addresses a provider reports into the system (lifecycle.md §4): IPv6 → `net_interface.N.ipv6`;
 * public IPv4 → the interfaces connected to a public network; private IPv4 → the private-network interface
 * whose `cidr` contains it, else the first private-network interface. Interfaces keep their old value when no
 * address of their kind is reported (e.g. a stopped VM loses its public IP). Returns the system (mutated).
 */
export function assignIps(system: System, radl: Radl, ips: string[], masks: readonly string[]): System {
  const ifaces: { index: number; net?: Network }[] = [];
  for (let i = 0; i < system.getNumNetInterfaces(); i++) {
    const id = system.getString(`net_interface.${i}.connection`);
    ifaces.push({ index: i, net: id ? radl.getNetworkById(id) : undefined });
  }
  const v6 = ips.filter((ip) => ip.includes(':'));
  const v4 = ips.filter((ip) => !ip.includes(':'));
  const pub = v4.filter((ip) => !isPrivateIp(ip, masks));
  const priv = v4.filter((ip) => isPrivateIp(ip, masks));
  const publicIfaces = ifaces.filter((f) => f.net?.isPublic());
  const privateIfaces = ifaces.filter((f) => f.net && !f.net.isPublic());
  const used = new Set<number>();
  const put = (i: number, ip: string) => {
    system.setValue(`net_interface.${i}.ip`, ip);
    used.add(i);
  };
  // A public address already recorded (e.g. a fixed Elastic IP) stays on its interface.
  for (const ip of pub) {
    const same = publicIfaces.find((f) => system.getString(`net_interface.${f.index}.ip`) === ip && !used.has(f.index));
    const free = same ?? publicIfaces.find((f) => !used.has(f.index));
    if (free) put(free.index, ip);
  }
  for (const ip of priv) {
    const candidates = privateIfaces.filter((f) => !used.has(f.index));
    const byCidr = candidates.find((f) => {
      const cidr = f.net?.getString('cidr');
      return cidr !== undefined && ipInCidr(ip, cidr);
    });
    const chosen = byCidr ?? candidates.find((f) => !f.net?.getString('cidr') || system.getString(`net_interface.${f.index}.ip`) === ip) ?? candidates[0];
    if (chosen) put(chosen.index, ip);
  }
  if (v6.length && ifaces.length) system.setValue(`net_interface.${(publicIfaces[0] ?? ifaces[0]).index}.ipv6`, v6[0]);
  return system;
}
