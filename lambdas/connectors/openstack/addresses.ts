/**
 * The server's addresses written into the VM's RADL (openstack.md §4.2, lifecycle.md §4): Nova `addresses`
 * (keyed by network name) and floating IPs are matched to the VM's RADL networks by `provider_id`, `cidr`
 * or connection, by class (public/private, PRIVATE_NET_MASKS); the rest is placed by the generic rule
 * (public → the public interface, creating a `public.<ts>` network when there is none; private → a private one,
 * else a new `private.<mask>` network). IPv6 goes to `net_interface.N.ipv6`.
 */
import ipaddr from 'ipaddr.js';
import { Network, type Radl, type System } from '#radl/index';
import { ipInCidr, isPrivateIp } from '#connectors/openstack/shared';
import { arr, obj, str } from '#connectors/openstack/util';

export interface ServerIp {
  ip: string;
  v6: boolean;
  /** Neutron network name (null: a floating IP). */
  label: string | null;
  isPublic: boolean;
}

function isPublicIp(ip: string, masks: readonly string[]): boolean {
  if (!ip.includes(':')) return !isPrivateIp(ip, masks);
  try {
    const a = ipaddr.IPv6.parse(ip);
    if (a.isIPv4MappedAddress()) return !isPrivateIp(a.toIPv4Address().toString(), masks);
    return a.range() === 'unicast';
  } catch {
    return false;
  }
}

/** Nova `addresses` plus floating addresses Neutron knows but Nova does not list yet. */
export function serverIps(server: Record<string, unknown>, masks: readonly string[], extraFloating: string[] = []): ServerIp[] {
  const out: ServerIp[] = [];
  for (const [label, list] of Object.entries(obj(server.addresses))) {
    for (const a of arr(list).map(obj)) {
      const ip = str(a.addr);
      if (!ip || out.some((x) => x.ip === ip)) continue;
      const floating = str(a['OS-EXT-IPS:type']) === 'floating';
      out.push({ ip, v6: ip.includes(':'), label: floating ? null : label, isPublic: isPublicIp(ip, masks) });
    }
  }
  for (const ip of extraFloating) if (!out.some((x) => x.ip === ip)) out.push({ ip, v6: ip.includes(':'), label: null, isPublic: isPublicIp(ip, masks) });
  return out;
}

interface Iface {
  index: number;
  net: Network;
}

/** Writes the IPs into `system` (and new networks into `radl`, the VM's own RADL). */
export function assignServerIps(radl: Radl, system: System, ips: ServerIp[], masks: readonly string[], now: number = Date.now()): void {
  const ifaces: Iface[] = [];
  for (let i = 0; i < system.getNumNetInterfaces(); i++) {
    const net = radl.getNetworkById(system.getString(`net_interface.${i}.connection`) ?? '');
    if (net) ifaces.push({ index: i, net });
  }
  const taken = new Map<Network, ServerIp[]>();
  const take = (net: Network, ip: ServerIp) => taken.set(net, [...(taken.get(net) ?? []), ip]);
  const hasV4 = (net: Network) => (taken.get(net) ?? []).some((x) => !x.v6);
  const unmapped: ServerIp[] = [];
  const nets = [...new Set(ifaces.map((f) => f.net))];
  for (const ip of ips) {
    let chosen: Network | undefined;
    if (ip.label !== null) {
      chosen = nets.find((n) => n.getString('provider_id') === ip.label && n.isPublic() === ip.isPublic);
      chosen ??= nets.find((n) => {
        const c = n.getString('cidr');
        return !ip.v6 && c !== undefined && !c.includes('*') && ipInCidr(ip.ip, c);
      });
      chosen ??= nets.find((n) => !n.getString('provider_id') && n.isPublic() === ip.isPublic && (ip.v6 || !hasV4(n)));
      if (chosen && !chosen.getString('provider_id') && !chosen.isPublic()) chosen.setValue('provider_id', ip.label);
    } else {
      chosen = nets.find((n) => n.isPublic() === ip.isPublic && (ip.v6 || !hasV4(n)));
    }
    if (chosen) take(chosen, ip);
    else unmapped.push(ip);
  }
  for (const f of ifaces) {
    const mine = taken.get(f.net);
    if (!mine) continue;
    system.delValue(`net_interface.${f.index}.ip`);
    for (const ip of mine) system.setValue(`net_interface.${f.index}.${ip.v6 ? 'ipv6' : 'ip'}`, ip.ip);
  }
  for (const ip of unmapped) placeUnmapped(radl, system, ip, masks, now);
}

function addInterface(radl: Radl, system: System, net: Network): number {
  if (!radl.getNetworkById(net.id)) radl.networks.push(net);
  const i = system.getNumNetInterfaces();
  system.setValue(`net_interface.${i}.connection`, net.id);
  return i;
}

/** lifecycle.md §4 placement of an address no RADL network claimed. */
function placeUnmapped(radl: Radl, system: System, ip: ServerIp, masks: readonly string[], now: number): void {
  const prop = ip.v6 ? 'ipv6' : 'ip';
  const ifaceOf = (pred: (n: Network) => boolean): number | undefined => {
    for (let i = 0; i < system.getNumNetInterfaces(); i++) {
      const n = radl.getNetworkById(system.getString(`net_interface.${i}.connection`) ?? '');
      if (n && pred(n)) return i;
    }
    return undefined;
  };
  if (ip.isPublic) {
    let i = ifaceOf((n) => n.isPublic());
    if (i === undefined) {
      const net = new Network(`public.${Math.floor(now / 10)}`);
      net.setValue('outbound', 'yes');
      i = addInterface(radl, system, net);
    }
    if (!system.getString(`net_interface.${i}.${prop}`) || ip.v6) system.setValue(`net_interface.${i}.${prop}`, ip.ip);
    return;
  }
  const mask = masks.find((m) => !ip.v6 && isPrivateIp(ip.ip, [m]));
  let i = ifaceOf((n) => !n.isPublic() && !!mask && ipInCidr(ip.ip, n.getString('cidr') ?? mask));
  i ??= ifaceOf((n) => !n.isPublic() && !system.getString(`net_interface.${ifaceIndexOf(system, n.id)}.${prop}`));
  if (i === undefined) {
    const base = mask ?? (ip.v6 ? 'fd00::/8' : `${ip.ip.split('.')[0]}.0.0.0/8`);
    const net = new Network(`private.${base.split('/')[0]}`);
    net.setValue('outbound', 'no');
    i = addInterface(radl, system, net);
  }
  if (!system.getString(`net_interface.${i}.${prop}`)) system.setValue(`net_interface.${i}.${prop}`, ip.ip);
}

function ifaceIndexOf(system: System, netId: string): number {
  for (let i = 0; i < system.getNumNetInterfaces(); i++) if (system.getString(`net_interface.${i}.connection`) === netId) return i;
  return -1;
}
