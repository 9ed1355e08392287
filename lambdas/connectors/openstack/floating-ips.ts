/**
 * Floating IPs (openstack.md §4.3, §5.2c, §6.1c): added to a running VM that asked for a public address,
 * one attempt per refresh (IM loops 5 × 5 s inside one refresh; a refresh here may run inside an API call),
 * at most 5 failed attempts; released at finalize when the connector allocated them.
 */
import type { OstSession } from '#connectors/openstack/session';
import { isNotFound } from '#connectors/openstack/errors';
import { isPrivateIp } from '#connectors/openstack/shared';
import type { OstCloudData } from '#connectors/openstack/cloud-data';
import { obj, objs, str, type Obj } from '#connectors/openstack/util';

export const MAX_FIP_FAILURES = 5;
export const fipDescription = (infId: string) => `Floating IP created by the IM for Inf: ${infId}`;

/** Floating-IP pools: external networks, API order. */
export async function listPools(s: OstSession): Promise<{ id: string; name: string }[]> {
  const r = await s.request('network', 'GET', '/v2.0/networks', { query: { 'router:external': 'True' } });
  return objs(r.json.networks)
    .filter((n) => n['router:external'] === undefined || n['router:external'] === true)
    .map((n) => ({ id: str(n.id) ?? '', name: str(n.name) ?? '' }))
    .filter((p) => p.id);
}

export async function listFloatingIps(s: OstSession, query?: Record<string, string>): Promise<Obj[]> {
  return objs((await s.request('network', 'GET', '/v2.0/floatingips', query ? { query } : {})).json.floatingips);
}

/** The server's ports (`os-interface`), in order. */
export async function serverPorts(s: OstSession, serverId: string): Promise<string[]> {
  const r = await s.request('compute', 'GET', `/servers/${serverId}/os-interface`);
  return objs(r.json.interfaceAttachments).map((a) => str(a.port_id)).filter((x): x is string => !!x);
}

/** Floating IPs bound to the server (by port details, else by port id). */
export function boundTo(fips: Obj[], serverId: string, ports: string[]): Obj[] {
  return fips.filter((f) => {
    const pd = obj(f.port_details);
    if (str(pd.device_id) === serverId) return true;
    const port = str(f.port_id);
    return port !== undefined && ports.includes(port);
  });
}

export interface FipRequest {
  infId: string;
  serverId: string;
  ports: string[];
  /** RADL `provider_id` of the public network (the pool to use first). */
  pool?: string;
  /** A fixed public address asked in `net_interface.N.ip`. */
  fixedIp?: string;
  masks: readonly string[];
  /** The project's floating IPs (loaded once per refresh batch). */
  fips: () => Promise<Obj[]>;
  pools: () => Promise<{ id: string; name: string }[]>;
}

async function attach(s: OstSession, fipId: string, ports: string[]): Promise<boolean> {
  for (const port of ports) {
    try {
      await s.request('network', 'PUT', `/v2.0/floatingips/${fipId}`, { body: { floatingip: { port_id: port } } });
      return true;
    } catch {
      // next port
    }
  }
  return false;
}

/** One attempt to give the server a floating IP; throws with IM's message on failure. Updates `data`. */
export async function addFloatingIp(s: OstSession, req: FipRequest, data: OstCloudData): Promise<string> {
  if (req.ports.length === 0) throw new Error('Error attaching a Floating IP to the node.');
  if (req.fixedIp) {
    const found = (await listFloatingIps(s, { floating_ip_address: req.fixedIp })).find((f) => str(f.floating_ip_address) === req.fixedIp);
    if (!found) throw new Error(`Fixed IP ${req.fixedIp} not found.`);
    if (!(await attach(s, str(found.id) ?? '', req.ports))) throw new Error('Error attaching a Floating IP to the node.');
    if (!data.floatingIps.includes(req.fixedIp)) data.floatingIps.push(req.fixedIp);
    return req.fixedIp;
  }
  const pools = await req.pools();
  if (pools.length === 0) throw new Error('No pools available.');
  const ordered = [...pools.filter((p) => p.name === req.pool), ...pools.filter((p) => p.name !== req.pool)];
  const all = await req.fips();
  for (const pool of ordered) {
    const free = all.find(
      (f) => str(f.floating_network_id) === pool.id && !str(f.port_id) && !isPrivateIp(str(f.floating_ip_address) ?? '', req.masks) && str(f.description) !== fipDescription(req.infId),
    );
    if (free) {
      const address = str(free.floating_ip_address) ?? '';
      if (!(await attach(s, str(free.id) ?? '', req.ports))) throw new Error('Error attaching a Floating IP to the node.');
      free.port_id = req.ports[0];
      if (!data.floatingIps.includes(address)) data.floatingIps.push(address);
      return address;
    }
    const r = await s.request('network', 'POST', '/v2.0/floatingips', { body: { floatingip: { floating_network_id: pool.id, description: fipDescription(req.infId) } } });
    const fip = obj(r.json.floatingip);
    const id = str(fip.id) ?? '';
    const address = str(fip.floating_ip_address) ?? '';
    data.createdFips.push(id);
    if (isPrivateIp(address, req.masks)) {
      await s.request('network', 'DELETE', `/v2.0/floatingips/${id}`).then(() => (data.createdFips = data.createdFips.filter((x) => x !== id)), () => undefined);
      continue;
    }
    if (await attach(s, id, req.ports)) return address;
    await s.request('network', 'DELETE', `/v2.0/floatingips/${id}`).then(() => (data.createdFips = data.createdFips.filter((x) => x !== id)), () => undefined);
    throw new Error('Error attaching a Floating IP to the node.');
  }
  throw new Error('No pools available.');
}

/** Detaches one floating IP and releases it unless `keep`. */
export async function releaseFip(s: OstSession, fip: Obj, keep: boolean): Promise<void> {
  const id = str(fip.id) ?? '';
  if (str(fip.port_id)) await s.request('network', 'PUT', `/v2.0/floatingips/${id}`, { body: { floatingip: { port_id: null } } }).catch(() => undefined);
  if (keep) return;
  try {
    await s.request('network', 'DELETE', `/v2.0/floatingips/${id}`);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}

/** Finalize (c): floating IPs of the server and those the connector allocated. Returns failure messages. */
export async function removeServerFips(s: OstSession, serverId: string | undefined, data: OstCloudData, infId: string, sweep: boolean): Promise<string[]> {
  try {
    const fips = await listFloatingIps(s);
    let ports: string[] = [];
    if (serverId && fips.some((f) => str(f.port_id) && !f.port_details)) {
      ports = objs((await s.request('network', 'GET', '/v2.0/ports', { query: { device_id: serverId } })).json.ports)
        .filter((p) => str(p.device_id) === serverId)
        .map((p) => str(p.id) ?? '');
    }
    const bound = serverId ? boundTo(fips, serverId, ports) : [];
    const targets = new Map<string, Obj>();
    for (const f of bound) targets.set(str(f.id) ?? '', f);
    for (const f of fips) {
      const id = str(f.id) ?? '';
      if (data.createdFips.includes(id)) targets.set(id, f);
      // The last VM also sweeps unbound addresses allocated for the infrastructure (a refresh that died midway).
      if (sweep && !str(f.port_id) && str(f.description) === fipDescription(infId)) targets.set(id, f);
    }
    for (const f of targets.values()) {
      const keep = data.floatingIps.includes(str(f.floating_ip_address) ?? '') && !data.createdFips.includes(str(f.id) ?? '');
      await releaseFip(s, f, keep);
    }
    data.createdFips = [];
    return [];
  } catch (err) {
    return [`Error removing Floating IPs: ${err instanceof Error ? err.message : String(err)}`];
  }
}
