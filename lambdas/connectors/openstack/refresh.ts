/**
 * Refresh (openstack.md §4): Nova status → IM state, flavor features, addresses, floating IPs for running VMs
 * that asked for a public address, attached volumes, and the one-shot `additional_ip` / `router` steps.
 *
 * Batching: {@link refreshMany} reads every server of the project with one `GET /servers/detail` (paged) and
 * refreshes each VM from it; a VM missing from the list is confirmed with its own GET. Flavors are read only when
 * a server's flavor changed, volumes only when new, floating IPs only when one has to be added.
 */
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle, VmState, VmUpdate } from '#core/types';
import type { OstEnv } from '#connectors/openstack/env';
import { sessionFor } from '#connectors/openstack/env';
import type { OstSession } from '#connectors/openstack/session';
import { errorText, isNotFound } from '#connectors/openstack/errors';
import { checkCompatible } from '#connectors/openstack/auth-item';
import { applyFlavor, getFlavor, loadExtraSpecs, parseFlavor } from '#connectors/openstack/flavors';
import { assignServerIps, serverIps } from '#connectors/openstack/addresses';
import { addFloatingIp, boundTo, listFloatingIps, listPools, MAX_FIP_FAILURES, serverPorts } from '#connectors/openstack/floating-ips';
import { refreshDisks } from '#connectors/openstack/volumes';
import { readCloudData, writeCloudData, type OstCloudData } from '#connectors/openstack/cloud-data';
import { isPrivateIp } from '#connectors/openstack/shared';
import { arr, obj, objs, str, type Obj } from '#connectors/openstack/util';

const STATES: Record<string, VmState> = {
  BUILD: 'pending',
  REBUILD: 'pending',
  QUEUE_RESIZE: 'pending',
  PREP_RESIZE: 'pending',
  PASSWORD: 'pending',
  RESCUE: 'pending',
  SHARE_IP: 'pending',
  SHARE_IP_NO_CONFIG: 'pending',
  DELETE_IP: 'pending',
  ACTIVE: 'running',
  VERIFY_RESIZE: 'running',
  REBOOT: 'running',
  HARD_REBOOT: 'running',
  SHUTOFF: 'stopped',
  SUSPENDED: 'stopped',
  DELETED: 'off',
  ERROR: 'failed',
};

/** Nova status → IM state (§4.1 table); anything else → unknown. */
export const mapStatus = (status: string | undefined): VmState => (status && STATES[status.toUpperCase()]) || 'unknown';

/** Lazily loaded lists shared by the VMs of one refresh call. */
export class RefreshBatch {
  private poolsP?: Promise<{ id: string; name: string }[]>;
  private fipsP?: Promise<Obj[]>;
  constructor(readonly s: OstSession) {}
  pools = () => (this.poolsP ??= listPools(this.s));
  fips = () => (this.fipsP ??= listFloatingIps(this.s));
}

export const notFoundError = (sid: string) => new ImError('BAD_REQUEST', `Error updating the instance ${sid}. VM not found.`);

async function getServer(s: OstSession, sid: string): Promise<Obj | undefined> {
  try {
    return obj((await s.request('compute', 'GET', `/servers/${encodeURIComponent(sid)}`)).json.server);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Every server of the project (`/servers/detail`, following `servers_links` next pages). */
export async function listServers(s: OstSession, maxPages = 20): Promise<Obj[]> {
  const out: Obj[] = [];
  let r = await s.request('compute', 'GET', '/servers/detail');
  for (let page = 0; ; page++) {
    out.push(...objs(r.json.servers));
    const next = objs(r.json.servers_links).find((l) => str(l.rel) === 'next');
    const href = next ? str(next.href) : undefined;
    if (!href || page + 1 >= maxPages) break;
    r = await s.requestUrl('compute', href);
  }
  return out;
}

/** One VM. */
export async function refreshOne(env: OstEnv, vm: VmHandle, auth: AuthItem): Promise<VmUpdate> {
  const s = sessionFor(env, auth);
  const server = await getServer(s, vm.providerId);
  if (!server) throw notFoundError(vm.providerId);
  return fromServer(env, new RefreshBatch(s), vm, server);
}

/** Several VMs of one item: one server list. Per VM: its update, or the error of that VM. */
export async function refreshMany(env: OstEnv, vms: VmHandle[], auth: AuthItem): Promise<(VmUpdate | ImError)[]> {
  const s = sessionFor(env, auth);
  const batch = new RefreshBatch(s);
  let byId: Map<string, Obj>;
  try {
    byId = new Map((await listServers(s)).map((x) => [str(x.id) ?? '', x]));
  } catch (err) {
    const e = new ImError('CLOUD_RETRYABLE', `Error getting the servers: ${errorText(err, s.secretValues())}`);
    return vms.map(() => e);
  }
  const out: (VmUpdate | ImError)[] = [];
  for (const vm of vms) {
    try {
      let server = byId.get(vm.providerId);
      // Not in the list (paging limits, eventual consistency): ask for it.
      server ??= await getServer(s, vm.providerId);
      if (!server) throw notFoundError(vm.providerId);
      out.push(await fromServer(env, batch, vm, server));
    } catch (err) {
      out.push(err instanceof ImError ? err : new ImError('CLOUD_RETRYABLE', `Error updating the instance ${vm.providerId}: ${errorText(err, s.secretValues())}`));
    }
  }
  return out;
}

async function fromServer(env: OstEnv, batch: RefreshBatch, vm: VmHandle, server: Obj): Promise<VmUpdate> {
  const s = batch.s;
  const data = readCloudData(vm.cloudData);
  checkCompatible(data.auth, s.auth.item);
  const system = vm.system.clone();
  const sid = vm.providerId;
  const log: string[] = [];
  const status = str(server.status);
  const state = mapStatus(status);
  if (str(server['OS-EXT-STS:vm_state']) === 'resized') {
    await s.request('compute', 'POST', `/servers/${sid}/action`, { body: { confirmResize: null } }).catch(() => undefined);
  }
  if (state === 'failed' && !data.faultReported) {
    const fault = str(obj(server.fault).message);
    if (fault) log.push(`${fault}\n`);
    data.faultReported = true;
  }
  await refreshFlavor(s, server, system, data);
  for (const [id, n] of Object.entries(data.networks ?? {})) {
    const net = vm.radl.getNetworkById(id);
    if (net && !net.getString('provider_id')) net.setValue('provider_id', n.providerId);
    if (net && n.cidr && !net.getString('cidr')) net.setValue('cidr', n.cidr);
  }
  const masks = env.config.PRIVATE_NET_MASKS;
  let ips = serverIps(server, masks);
  if (state === 'running' && (data.fipFailures ?? 0) < MAX_FIP_FAILURES) {
    const added = await ensureFloatingIps(env, batch, vm, server, ips, (data.requestedPublic ?? []).map((r) => r as unknown as Obj), data, log);
    if (added.length) ips = serverIps(server, masks, added);
  } else if (state === 'running' && data.fipFailures === MAX_FIP_FAILURES) {
    log.push('Error adding a floating IP: Max number of retries reached.\n');
    data.fipFailures = MAX_FIP_FAILURES + 1;
  }
  assignServerIps(vm.radl, system, ips, masks, env.now());
  await refreshDisks(s, server, system, s.auth.host.server, (data.knownVolumes ??= {})).catch(() => undefined);
  await oneShotSteps(s, vm, system, data, ips).catch((err: unknown) => env.logger.debug('OpenStack refresh step failed', { vmId: vm.vmId, error: errorText(err, s.secretValues()) }));
  system.setValue('provider.type', 'OpenStack');
  const az = str(server['OS-EXT-AZ:availability_zone']);
  if (az) system.setValue('availability_zone', az);
  const update: VmUpdate = { state, system, cloudData: writeCloudData(data) };
  if (log.length) update.log = log.join('');
  return update;
}

async function refreshFlavor(s: OstSession, server: Obj, system: VmHandle['system'], data: OstCloudData): Promise<void> {
  const f = obj(server.flavor);
  const id = str(f.id);
  try {
    if (id) {
      if (id === data.flavorId) return;
      const flavor = await getFlavor(s, id);
      if (!flavor.extraSpecs) await loadExtraSpecs(s, flavor);
      applyFlavor(system, flavor);
      data.flavorId = id;
    } else if (str(f.original_name)) {
      applyFlavor(system, parseFlavor(f));
    }
  } catch {
    // errors ignored (§4.1 step 5)
  }
}

/** §4.3: the public addresses the VM asked for and does not have yet. Returns the addresses added. */
async function ensureFloatingIps(env: OstEnv, batch: RefreshBatch, vm: VmHandle, server: Obj, ips: ReturnType<typeof serverIps>, wanted: Obj[], data: OstCloudData, log: string[]): Promise<string[]> {
  const s = batch.s;
  const masks = env.config.PRIVATE_NET_MASKS;
  const have = ips.filter((x) => !x.v6 && x.isPublic).map((x) => x.ip);
  const todo = wanted.filter((w, k) => {
    const fixed = str(w.fixedIp);
    return fixed ? !have.includes(fixed) : k >= have.length;
  });
  if (todo.length === 0) return [];
  const sid = vm.providerId;
  let ports: string[];
  try {
    ports = await serverPorts(s, sid);
    // Nova's address cache may lag behind Neutron: count the floating IPs Neutron already binds to the server.
    const bound = boundTo(await batch.fips(), sid, ports).map((f) => str(f.floating_ip_address) ?? '').filter((ip) => ip && !isPrivateIp(ip, masks));
    const known = [...new Set([...have, ...bound])];
    const still = wanted.filter((w, k) => {
      const fixed = str(w.fixedIp);
      return fixed ? !known.includes(fixed) : k >= known.length;
    });
    if (still.length === 0) return bound.filter((ip) => !have.includes(ip));
    const added: string[] = [];
    for (const w of still) {
      const fixed = str(w.fixedIp);
      const pool = str(w.pool);
      added.push(await addFloatingIp(s, { infId: vm.infId, serverId: sid, ports, masks, fips: batch.fips, pools: batch.pools, ...(fixed ? { fixedIp: fixed } : {}), ...(pool ? { pool } : {}) }, data));
    }
    data.fipFailures = 0;
    return [...bound.filter((ip) => !have.includes(ip)), ...added];
  } catch (err) {
    data.fipFailures = (data.fipFailures ?? 0) + 1;
    log.push(`Error adding a floating IP: ${errorText(err, s.secretValues())} (${data.fipFailures}/${MAX_FIP_FAILURES})\n`);
    return [];
  }
}

/** §4.1 steps 6–7: `net_interface.0.additional_ip` (allowed address pair) and `router` (IndigoVR), once each. */
async function oneShotSteps(s: OstSession, vm: VmHandle, system: VmHandle['system'], data: OstCloudData, ips: ReturnType<typeof serverIps>): Promise<void> {
  const sid = vm.providerId;
  const extraIp = system.getString('net_interface.0.additional_ip');
  if (extraIp && !data.additionalIpDone) {
    const ports = objs((await s.request('network', 'GET', '/v2.0/ports', { query: { device_id: sid } })).json.ports).filter((p) => str(p.device_id) === sid);
    const port = ports[ports.length - 1];
    if (port) {
      await s.request('network', 'PUT', `/v2.0/ports/${str(port.id)}`, { body: { port: { allowed_address_pairs: [{ ip_address: extraIp }] } } });
      system.delValue('net_interface.0.additional_ip');
      data.additionalIpDone = true;
    }
  }
  for (const id of system.getNetworkIds()) {
    const net = vm.radl.getNetworkById(id);
    const router = net?.getString('router');
    if (!net || !router || data.routerDone) continue;
    // IM routes through the VM of `<system>`: only that VM's own refresh knows its address here.
    const [cidr, routerSystem] = router.split(',').map((x) => x.trim());
    if (routerSystem !== system.name) continue;
    const nexthop = system.getString('net_interface.0.ip') ?? ips.find((x) => !x.v6 && !x.isPublic)?.ip;
    const pid = net.getString('provider_id');
    if (!nexthop || !pid) continue;
    const nets = objs((await s.request('network', 'GET', '/v2.0/networks')).json.networks).filter((n) => str(n.name) === pid);
    const subnets = arr(nets[0]?.subnets);
    if (subnets.length !== 1) continue;
    await s.request('network', 'PUT', `/v2.0/subnets/${String(subnets[0])}`, { body: { subnet: { host_routes: [{ destination: cidr, nexthop }] } } });
    await s.request('compute', 'POST', `/servers/${sid}/action`, { body: { removeSecurityGroup: { name: 'default' } } }).catch(() => undefined);
    const ports = objs((await s.request('network', 'GET', '/v2.0/ports', { query: { device_id: sid } })).json.ports).filter((p) => str(p.device_id) === sid);
    for (const p of ports) await s.request('network', 'PUT', `/v2.0/ports/${str(p.id)}`, { body: { port: { port_security_enabled: false } } });
    net.delValue('router');
    data.routerDone = true;
  }
}
