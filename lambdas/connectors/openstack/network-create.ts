/**
 * Networks the connector creates for private RADL networks with `create = 'yes'` (openstack.md §3.3.3) and
 * their removal (§6.3): network, subnet, router `im-<inf>` and its interface.
 *
 * Launches of one infrastructure run in parallel (in this process and in other Lambda instances): creation is
 * serialised per name in the process, and after a POST the connector lists the networks of that name again and
 * keeps the oldest (created_at, then id), deleting its own if it lost the race, so every VM ends on one network.
 */
import type { Logger } from '#core/types';
import type { Radl, System } from '#radl/index';
import type { OstSession } from '#connectors/openstack/session';
import { isNotFound } from '#connectors/openstack/errors';
import { freeCidr, type NeutronNet, type SiteNetworks } from '#connectors/openstack/network';
import { KeyedLock, obj, objs, oldestFirst, str, type Obj } from '#connectors/openstack/util';

/** Marker in the description of the networks the connector creates (finds them at the last finalize). */
export const netDescription = (infId: string) => `Network created by the IM for Inf: ${infId}`;
export const routerName = (infId: string) => `im-${infId}`;

export interface CreatedNetwork {
  id: string;
  name: string;
  radlNet: string;
  cidr: string;
}

export interface NetworkCreation {
  infId: string;
  /** Clone of the infrastructure RADL (provider_id / cidr are written to it). */
  radl: Radl;
  system: System;
  site: SiteNetworks;
  lock: KeyedLock;
  logger: Logger;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

class CreationError extends Error {}

/** A network creation failure, in IM's words (`Error creating networks: …`). */
export class NetworkCreationError extends Error {}

async function listNetworks(s: OstSession): Promise<Obj[]> {
  return objs((await s.request('network', 'GET', '/v2.0/networks')).json.networks);
}

/** The usable CIDR for a RADL network (its own, or the first free one of its wildcard pattern). */
function chooseCidr(radl: Radl, pattern: string | undefined, site: SiteNetworks): string | undefined {
  if (pattern && !pattern.includes('*')) return pattern;
  const used = [...site.usedCidrs];
  for (const n of radl.networks) {
    const c = n.getString('cidr');
    if (c && !c.includes('*')) used.push(c);
  }
  return freeCidr(pattern ?? '10.0.*.0/24', used);
}

/** The router for a new subnet: one whose gateway is on a public network (preferring the RADL pool), else a new `im-<inf>`. */
async function findOrCreateRouter(s: OstSession, c: NetworkCreation, created: { routers: string[] }): Promise<string | undefined> {
  const routers = objs((await s.request('network', 'GET', '/v2.0/routers')).json.routers);
  const publicIds = new Set(c.site.nets.filter((n) => n.isPublic).map((n) => n.id));
  const withGw = routers.filter((r) => publicIds.has(str(obj(r.external_gateway_info).network_id) ?? ''));
  const poolName = c.radl.getPublicNetworks().map((n) => n.getString('provider_id')).find(Boolean);
  const poolId = c.site.nets.find((n) => n.name === poolName)?.id;
  const chosen = withGw.find((r) => str(obj(r.external_gateway_info).network_id) === poolId) ?? withGw[0];
  if (chosen) return str(chosen.id);
  const own = routers.find((r) => str(r.name) === routerName(c.infId));
  if (own) return str(own.id);
  const gw = c.site.nets.find((n) => n.isPublic);
  if (!gw) return undefined;
  try {
    const r = await s.request('network', 'POST', '/v2.0/routers', {
      body: { router: { name: routerName(c.infId), description: 'IM created router', admin_state_up: true, external_gateway_info: { network_id: gw.id } } },
    });
    const id = str(obj(r.json.router).id);
    if (id) created.routers.push(id);
    return id;
  } catch (err) {
    c.logger.warn('OpenStack: could not create a router, going on without', { infId: c.infId, error: errText(err) });
    return undefined;
  }
}

async function createOne(s: OstSession, c: NetworkCreation, radlNet: string, name: string, created: { networks: CreatedNetwork[]; routers: string[] }): Promise<void> {
  const net = c.radl.getNetworkById(radlNet);
  if (!net) return;
  const existing = (await listNetworks(s)).filter((n) => str(n.name) === name).sort(oldestFirst)[0];
  if (existing) {
    net.setValue('provider_id', name);
    net.delValue('cidr');
    addToSite(c.site, existing, name);
    return;
  }
  const cidr = chooseCidr(c.radl, net.getString('cidr'), c.site);
  if (!cidr) throw new CreationError('No net CIDR specified nor free net CIDR found.');
  let networkId: string;
  try {
    const r = await s.request('network', 'POST', '/v2.0/networks', { body: { network: { name, description: netDescription(c.infId) } } });
    networkId = str(obj(r.json.network).id) ?? '';
    if (!networkId) throw new Error('no network id in the answer');
  } catch (err) {
    throw new CreationError(`Error creating ost network for net ${radlNet}: ${errText(err)}`);
  }
  // Lost a race with another launch of the infrastructure: use the oldest network of that name.
  const same = (await listNetworks(s)).filter((n) => str(n.name) === name).sort(oldestFirst);
  if (same.length > 1 && str(same[0].id) !== networkId) {
    await s.request('network', 'DELETE', `/v2.0/networks/${networkId}`).catch(() => undefined);
    net.setValue('provider_id', name);
    net.delValue('cidr');
    addToSite(c.site, same[0], name);
    return;
  }
  const record: CreatedNetwork = { id: networkId, name, radlNet, cidr };
  created.networks.push(record);
  let subnetId: string;
  try {
    const dns = net.getString('dnsserver');
    const r = await s.request('network', 'POST', '/v2.0/subnets', {
      body: {
        subnet: {
          name: `im-${c.infId}-sub${radlNet}`,
          network_id: networkId,
          cidr,
          ip_version: 4,
          description: '',
          dns_nameservers: dns ? [dns] : [],
          host_routes: [],
        },
      },
    });
    subnetId = str(obj(r.json.subnet).id) ?? '';
  } catch (err) {
    await s.request('network', 'DELETE', `/v2.0/networks/${networkId}`).then(
      () => created.networks.splice(created.networks.indexOf(record), 1),
      () => undefined,
    );
    throw new CreationError(`Error creating ost subnet for net ${radlNet}: ${errText(err)}`);
  }
  const routerId = await findOrCreateRouter(s, c, created);
  if (routerId) {
    try {
      await s.request('network', 'PUT', `/v2.0/routers/${routerId}/add_router_interface`, { body: { subnet_id: subnetId } });
    } catch (err) {
      const ports = objs((await s.request('network', 'GET', '/v2.0/ports', { query: { device_id: routerId, network_id: networkId } }).catch(() => ({ json: {} as Record<string, unknown> }))).json.ports);
      if (!ports.some((p) => str(p.device_id) === routerId && str(p.network_id) === networkId)) {
        await s.request('network', 'DELETE', `/v2.0/subnets/${subnetId}`).catch(() => undefined);
        await s.request('network', 'DELETE', `/v2.0/networks/${networkId}`).then(
          () => created.networks.splice(created.networks.indexOf(record), 1),
          () => undefined,
        );
        throw new CreationError(`Error adding subnet to the router: ${errText(err)}`);
      }
    }
  }
  net.setValue('provider_id', name);
  net.setValue('cidr', cidr);
  c.site.usedCidrs.push(cidr);
  c.site.nets.push({ id: networkId, name, subnetIds: [subnetId], external: false, isPublic: false, isPool: false, cidr, tags: [], description: netDescription(c.infId) });
}

function addToSite(site: SiteNetworks, n: Obj, name: string): void {
  const id = str(n.id) ?? '';
  if (site.nets.some((x) => x.id === id)) return;
  const entry: NeutronNet = { id, name, subnetIds: [], external: false, isPublic: false, isPool: false, tags: [], description: str(n.description) ?? '' };
  site.nets.push(entry);
}

/**
 * Creates (or reuses by name) the networks of the system's private `create = 'yes'` RADL networks. What it
 * created is pushed to `created` (for the rollback of a failed launch). Errors: `Error creating networks: <msg>`.
 */
export async function ensurePrivateNetworks(s: OstSession, c: NetworkCreation, created: { networks: CreatedNetwork[]; routers: string[] }): Promise<void> {
  const done = new Set<string>();
  for (const id of c.system.getNetworkIds()) {
    const net = c.radl.getNetworkById(id);
    if (!net || net.isPublic() || net.getString('create') !== 'yes' || done.has(id)) continue;
    done.add(id);
    const name = net.getString('provider_id') ?? `im-${c.infId}-${id}`;
    try {
      await c.lock.run(`${c.infId}|net|${name}`, () => createOne(s, c, id, name, created));
    } catch (err) {
      throw new NetworkCreationError(`Error creating networks: ${errText(err)}`);
    }
  }
}


/**
 * Removes a network the connector made: its router interfaces, its ports, the network. With `onlyIfUnused`,
 * a network still holding a server port is left alone (another VM uses it). Returns the messages of the steps
 * that failed (empty = removed or already gone).
 */
export async function deleteNetwork(s: OstSession, networkId: string, onlyIfUnused: boolean): Promise<string[]> {
  const messages: string[] = [];
  let ports: Obj[];
  try {
    ports = objs((await s.request('network', 'GET', '/v2.0/ports', { query: { network_id: networkId } })).json.ports).filter((p) => str(p.network_id) === networkId);
  } catch (err) {
    return [`Error listing the ports of network ${networkId}: ${errText(err)}`];
  }
  if (onlyIfUnused && ports.some((p) => (str(p.device_owner) ?? '').startsWith('compute:'))) return [];
  for (const p of ports.filter((x) => str(x.device_owner) === 'network:router_interface' || str(x.device_owner) === 'network:ha_router_replicated_interface')) {
    const routerId = str(p.device_id) ?? '';
    const subnetId = str(obj(objs(p.fixed_ips)[0]).subnet_id);
    try {
      await s.request('network', 'PUT', `/v2.0/routers/${routerId}/remove_router_interface`, { body: subnetId ? { subnet_id: subnetId } : { port_id: str(p.id) } });
    } catch (err) {
      if (!isNotFound(err)) messages.push(`Error deleting subnet ${subnetId ?? ''} from the router ${routerId}: ${errText(err)}`);
    }
  }
  for (const p of ports.filter((x) => !(str(x.device_owner) ?? '').startsWith('network:router_interface'))) {
    await s.request('network', 'DELETE', `/v2.0/ports/${str(p.id)}`).catch(() => undefined);
  }
  try {
    await s.request('network', 'DELETE', `/v2.0/networks/${networkId}`);
  } catch (err) {
    if (!isNotFound(err)) messages.push(`Error deleting network ${networkId}: ${errText(err)}`);
  }
  return messages;
}

/** Deletes router `im-<inf>` if it exists (after its interfaces went). */
export async function deleteInfraRouter(s: OstSession, infId: string, routerIds: string[] = []): Promise<string[]> {
  const messages: string[] = [];
  let routers: Obj[];
  try {
    routers = objs((await s.request('network', 'GET', '/v2.0/routers')).json.routers);
  } catch (err) {
    return [`Error listing routers: ${errText(err)}`];
  }
  for (const r of routers.filter((x) => str(x.name) === routerName(infId) || routerIds.includes(str(x.id) ?? ''))) {
    try {
      await s.request('network', 'DELETE', `/v2.0/routers/${str(r.id)}`);
    } catch (err) {
      if (!isNotFound(err)) messages.push(`Error deleting the router ${str(r.name)}: ${errText(err)}`);
    }
  }
  return messages;
}

/**
 * The last VM's network cleanup (§6.3): every network named `im-<inf>-…` or marked as created for the
 * infrastructure, with at most one subnet (more means someone else added subnets: left alone), then the router.
 */
export async function deleteInfraNetworks(s: OstSession, infId: string, knownIds: string[]): Promise<string[]> {
  let nets: Obj[];
  try {
    nets = await listNetworks(s);
  } catch (err) {
    return [`Error listing networks: ${errText(err)}`];
  }
  const messages: string[] = [];
  for (const n of nets) {
    const id = str(n.id) ?? '';
    const mine = (str(n.name) ?? '').startsWith(`im-${infId}-`) || str(n.description) === netDescription(infId) || knownIds.includes(id);
    if (!mine || (Array.isArray(n.subnets) && n.subnets.length > 1)) continue;
    messages.push(...(await deleteNetwork(s, id, false)));
  }
  messages.push(...(await deleteInfraRouter(s, infId)));
  return messages;
}

