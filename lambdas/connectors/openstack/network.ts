/**
 * Neutron networks as IM sees them (openstack.md §3.3.1, §3.3.2, §3.3.4, launch step 4): the site's networks
 * classified public/private (PRIVATE_NET_MASKS), floating-IP pools, the networks a server gets, and the RADL
 * adjustments of site probing.
 */
import ipaddr from 'ipaddr.js';
import { ImError } from '#core/errors';
import type { Radl, System } from '#radl/index';
import type { OstSession } from '#connectors/openstack/session';
import { isPrivateIp } from '#connectors/openstack/shared';
import { arr, objs, str, type Obj } from '#connectors/openstack/util';

export interface NeutronNet {
  id: string;
  name: string;
  subnetIds: string[];
  external: boolean;
  /** Public by IM's rule (§3.3.1). */
  isPublic: boolean;
  /** A floating-IP pool (external network). */
  isPool: boolean;
  /** Network address of its last IPv4 subnet. */
  cidr?: string;
  tags: string[];
  description: string;
  createdAt?: string;
}

export interface SiteNetworks {
  /** Default networks first, then the others (API order within each). */
  nets: NeutronNet[];
  pools: { id: string; name: string }[];
  subnets: Obj[];
  /** Every IPv4 subnet CIDR of the site. */
  usedCidrs: string[];
}

const isDefault = (n: Obj): boolean =>
  (str(n.name) ?? '').includes('default') ||
  n.is_default === true ||
  arr(n.tags).includes('default') ||
  (str(n.description) ?? '').includes('default');

/** Classifies the site's networks (3 calls: pools, networks, subnets). */
export async function probeSite(s: OstSession, masks: readonly string[]): Promise<SiteNetworks> {
  const [poolsRes, netsRes, subnetsRes] = await Promise.all([
    s.request('network', 'GET', '/v2.0/networks', { query: { 'router:external': 'True', fields: ['id', 'name'] } }),
    s.request('network', 'GET', '/v2.0/networks'),
    s.request('network', 'GET', '/v2.0/subnets'),
  ]);
  const allNets = objs(netsRes.json.networks);
  // A server that ignores the `router:external` filter still answers: keep the external networks only.
  const pools = objs(poolsRes.json.networks)
    .filter((p) => {
      const full = allNets.find((n) => str(n.id) === str(p.id));
      return str(p.id) !== undefined && (!full || full['router:external'] === true);
    })
    .map((p) => ({ id: str(p.id) as string, name: str(p.name) ?? '' }));
  const poolNames = new Set(pools.map((p) => p.name));
  const subnets = objs(subnetsRes.json.subnets);
  const byId = new Map(subnets.map((sn) => [str(sn.id), sn]));
  const usedCidrs: string[] = [];
  for (const sn of subnets) {
    const c = str(sn.cidr);
    if (c && (sn.ip_version === 4 || (sn.ip_version === undefined && c.includes('.')))) usedCidrs.push(c);
  }
  const classify = (n: Obj): NeutronNet => {
    const subnetIds = arr(n.subnets).filter((x): x is string => typeof x === 'string');
    let cidr: string | undefined;
    for (const id of subnetIds) {
      const sn = byId.get(id);
      const c = sn ? str(sn.cidr) : undefined;
      if (c && c.includes('.')) cidr = c;
    }
    const name = str(n.name) ?? '';
    const external = n['router:external'] === true;
    const isPublic = cidr ? !isPrivateIp(cidr.split('/')[0], masks) : external || poolNames.has(name);
    return {
      id: str(n.id) ?? '',
      name,
      subnetIds,
      external,
      isPublic,
      isPool: poolNames.has(name),
      ...(cidr ? { cidr } : {}),
      tags: arr(n.tags).filter((t): t is string => typeof t === 'string'),
      description: str(n.description) ?? '',
      ...(str(n.created_at) ? { createdAt: str(n.created_at) } : {}),
    };
  };
  const defaults = allNets.filter(isDefault).map(classify);
  const others = allNets.filter((n) => !isDefault(n)).map(classify);
  return { nets: [...defaults, ...others], pools, subnets, usedCidrs };
}

/** Site private networks: those that are not pools. */
export const sitePrivate = (site: SiteNetworks) => site.nets.filter((n) => !n.isPublic && !n.isPool);

/**
 * Launch step 4: no private Neutron network → the system's private RADL networks get `create = 'yes'`; no pool
 * and no network tagged `enable_two_nics` → a system with a public interface loses its private interfaces.
 * Changes `radl` (a clone of the infrastructure RADL) and `system` in place.
 */
export function adaptToSite(radl: Radl, system: System, site: SiteNetworks): void {
  const nets = system.getNetworkIds();
  if (sitePrivate(site).length === 0) {
    for (const id of nets) {
      const n = radl.getNetworkById(id);
      if (n && !n.isPublic()) n.setValue('create', 'yes');
    }
  }
  const twoNics = site.nets.some((n) => n.tags.includes('enable_two_nics'));
  if (site.pools.length === 0 && !twoNics && nets.some((id) => radl.getNetworkById(id)?.isPublic())) {
    const keep = nets.map((id, i) => ({ id, i })).filter(({ id }) => radl.getNetworkById(id)?.isPublic());
    if (keep.length === nets.length) return;
    const saved = keep.map(({ i }) => system.features().filter((f) => f.prop.startsWith(`net_interface.${i}.`)).map((f) => f.clone()));
    for (const p of system.props()) if (p.startsWith('net_interface.')) system.delValue(p);
    saved.forEach((feats, j) => {
      for (const f of feats) {
        f.prop = f.prop.replace(/^net_interface\.\d+\./, `net_interface.${j}.`);
        system.addFeature(f, 'other');
      }
    });
  }
}

/** A chosen server network. */
export interface ServerNetwork {
  radlNet: string;
  neutron: NeutronNet;
  /** Attached as a NIC (pools are not, unless the system has a single interface). */
  attach: boolean;
}

/**
 * §3.3.4: public interfaces first, then private ones; `provider_id` names the Neutron network, else the first
 * unused one of the same class. The chosen names are written as RADL `provider_id` on `radl`.
 */
export function chooseServerNetworks(radl: Radl, system: System, site: SiteNetworks): ServerNetwork[] {
  const ids = system.getNetworkIds();
  const order = ids.map((id, i) => ({ id, i, pub: radl.getNetworkById(id)?.isPublic() ?? false }));
  order.sort((a, b) => Number(b.pub) - Number(a.pub) || a.i - b.i);
  const used = new Set<string>();
  const out: ServerNetwork[] = [];
  for (const { id, pub } of order) {
    const net = radl.getNetworkById(id);
    if (!net) continue;
    const pid = net.getString('provider_id');
    let chosen: NeutronNet | undefined;
    if (pid) {
      chosen = site.nets.find((n) => n.name === pid);
      if (!chosen) throw new ImError('CLOUD_RETRYABLE', `Network with provider_id ${pid} not found.`);
      if (used.has(chosen.id)) throw new ImError('CLOUD_RETRYABLE', 'Two different networks assigned to the same provider_id');
    } else {
      chosen = site.nets.find((n) => n.isPublic === pub && !used.has(n.id));
      if (!chosen) continue;
      net.setValue('provider_id', chosen.name);
    }
    used.add(chosen.id);
    out.push({ radlNet: id, neutron: chosen, attach: !chosen.isPool || ids.length === 1 });
  }
  return out;
}

/** The first free `10.0.*.0/24`-style CIDR (wildcards 1..253) not inside any used CIDR. */
export function freeCidr(pattern: string, used: readonly string[]): string | undefined {
  const parsed = used
    .map((c) => {
      try {
        return ipaddr.parseCIDR(c);
      } catch {
        return undefined;
      }
    })
    .filter((x): x is [ipaddr.IPv4 | ipaddr.IPv6, number] => x !== undefined);
  const stars = (pattern.match(/\*/g) ?? []).length;
  const overlaps = (cidr: string) => {
    let c: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      c = ipaddr.parseCIDR(cidr);
    } catch {
      return true;
    }
    return parsed.some(([addr, bits]) => {
      if (addr.kind() !== c[0].kind()) return false;
      return c[0].match(addr, bits) || addr.match(c[0], c[1]);
    });
  };
  const total = 253 ** stars;
  for (let k = 0; k < Math.min(total, 100_000); k++) {
    let rest = k;
    const digits: number[] = [];
    for (let i = 0; i < stars; i++) {
      digits.unshift((rest % 253) + 1);
      rest = Math.floor(rest / 253);
    }
    let j = 0;
    const candidate = pattern.replace(/\*/g, () => String(digits[j++]));
    if (!overlaps(candidate)) return candidate;
  }
  return undefined;
}
