/**
 * Operations on a VM (openstack.md §5): stop / start / reboot, alter (resize + confirm, new volumes, public IP
 * add/remove), disk snapshot, image deletion, and the quotas of a project (§5.6).
 */
import { Feature, type System } from '#radl/index';
import { ImError } from '#core/errors';
import type { AuthItem, Quotas, VmHandle, VmUpdate } from '#core/types';
import type { OstEnv } from '#connectors/openstack/env';
import { sessionFor } from '#connectors/openstack/env';
import type { OstSession } from '#connectors/openstack/session';
import { errorText, isNotFound, toImError } from '#connectors/openstack/errors';
import { selectFlavor, applyFlavor } from '#connectors/openstack/flavors';
import { addVolume } from '#connectors/openstack/volumes';
import { addFloatingIp, listFloatingIps, listPools, releaseFip, serverPorts } from '#connectors/openstack/floating-ips';
import { imageUrl, getImage, parseOstUrl } from '#connectors/openstack/images';
import { readCloudData, writeCloudData } from '#connectors/openstack/cloud-data';
import { isPrivateIp } from '#connectors/openstack/shared';
import { refreshOne, mapStatus } from '#connectors/openstack/refresh';
import { num, obj, str } from '#connectors/openstack/util';

async function serverOf(s: OstSession, vm: VmHandle): Promise<Record<string, unknown>> {
  try {
    return obj((await s.request('compute', 'GET', `/servers/${encodeURIComponent(vm.providerId)}`)).json.server);
  } catch (err) {
    if (isNotFound(err)) throw new ImError('BAD_REQUEST', `VM not found with id: ${vm.providerId}`);
    throw new ImError('CLOUD_RETRYABLE', errorText(err, s.secretValues()));
  }
}

const ACTIONS = {
  stop: { body: { 'os-stop': null }, fail: 'Error in stop operation' },
  start: { body: { 'os-start': null }, fail: 'Error in stop operation' },
  reboot: { body: { reboot: { type: 'HARD' } }, fail: 'Error in reboot operation' },
} as const;

/** §5.1: GET the server, POST the action (202). No waiting: the next refresh sees the new state. */
export async function powerAction(env: OstEnv, vm: VmHandle, auth: AuthItem, op: keyof typeof ACTIONS): Promise<void> {
  const s = sessionFor(env, auth);
  await serverOf(s, vm);
  try {
    const r = await s.request('compute', 'POST', `/servers/${vm.providerId}/action`, { body: ACTIONS[op].body });
    if (r.status !== 202 && r.status !== 200 && r.status !== 204) throw new ImError('BAD_REQUEST', ACTIONS[op].fail);
  } catch (err) {
    if (err instanceof ImError) throw err;
    throw new ImError(num((err as { status?: number }).status) === 409 ? 'BAD_REQUEST' : 'CLOUD_RETRYABLE', errorText(err, s.secretValues()));
  }
  env.logger.info(`OpenStack ${op}`, { infId: vm.infId, vmId: vm.vmId, serverId: vm.providerId });
}

const RESIZE_PROPS = ['cpu.count', 'memory.size', 'gpu.count', 'disks.free_size'];

/** The system a resize asks for, or undefined when the alter changes none of the sizes. */
function resizeTarget(current: System, wanted: System): System | undefined {
  if (!RESIZE_PROPS.some((p) => wanted.hasFeature(p)) && !wanted.hasFeature('instance_type')) return undefined;
  const out = current.clone();
  for (const p of RESIZE_PROPS) {
    if (!wanted.hasFeature(p)) continue;
    out.delValue(p);
    for (const f of wanted.getFeatures(p)) out.addFeature(f.clone(), 'other');
  }
  out.delValue('instance_type');
  const it = wanted.getString('instance_type');
  if (it) out.addFeature(new Feature('instance_type', '=', it));
  // The current flavor's sizes (cpu.count = n …) are not requirements of the new one.
  for (const p of ['cpu.count', 'memory.size']) {
    if (!wanted.hasFeature(p)) out.delValue(p);
  }
  return out;
}

/**
 * §5.2 in order, stopping at the first failure: resize (+ confirm when it reaches VERIFY_RESIZE within the
 * wait; otherwise the next refresh confirms it), new `disk.N.size` volumes, public IP add / remove. The public
 * IP is only touched when the new system says which networks it connects to (IM releases the floating IP of
 * any alter without networks: not replicated).
 */
export async function alterVm(env: OstEnv, vm: VmHandle, wanted: System, auth: AuthItem): Promise<VmUpdate> {
  const s = sessionFor(env, auth);
  const data = readCloudData(vm.cloudData);
  const system = vm.system.clone();
  const server = await serverOf(s, vm);
  const sid = vm.providerId;
  const target = resizeTarget(system, wanted);
  if (target) {
    const flavor = await selectFlavor(s, await env.flavors.list(s, env.now()), target);
    if (!flavor) throw new ImError('BAD_REQUEST', 'Error resizing VM: No instance type found.');
    if (flavor.id !== str(obj(server.flavor).id) && flavor.name !== str(obj(server.flavor).original_name)) {
      try {
        await s.request('compute', 'POST', `/servers/${sid}/action`, { body: { resize: { flavorRef: flavor.id } } });
      } catch (err) {
        throw new ImError('BAD_REQUEST', `Error resizing VM: ${errorText(err, s.secretValues())}`);
      }
      const end = env.now() + env.timing.resizeWaitMs;
      let vmState = '';
      for (;;) {
        await env.sleep(Math.min(env.timing.serverPollMs, Math.max(0, end - env.now())));
        vmState = str((await serverOf(s, vm))['OS-EXT-STS:vm_state']) ?? '';
        if (vmState === 'resized' || vmState === 'error' || env.now() >= end) break;
      }
      if (vmState === 'resized') {
        try {
          await s.request('compute', 'POST', `/servers/${sid}/action`, { body: { confirmResize: null } });
        } catch (err) {
          throw new ImError('BAD_REQUEST', `Error resizing VM: ${errorText(err, s.secretValues())}`);
        }
      } else if (vmState === 'error') {
        throw new ImError('BAD_REQUEST', `Error resizing VM: Resize cannot be confirmed. VM state: ${vmState}`);
      }
      applyFlavor(system, flavor);
      data.flavorId = flavor.id;
    }
  }
  let k = 1;
  while (system.hasFeature(`disk.${k}.size`) || system.hasFeature(`disk.${k}.image.url`)) k++;
  for (let n = k; wanted.hasFeature(`disk.${n}.size`); n++) {
    const size = Math.max(1, Math.ceil((wanted.getNumber(`disk.${n}.size`, 'G') ?? 1) - 1e-9));
    try {
      const t = { intervalMs: env.timing.volumePollMs, budgetMs: env.timing.volumeWaitMs, sleep: env.sleep, now: env.now };
      const v = await addVolume(s, server, size, wanted.getString(`disk.${n}.device`), `${vm.infId}-${vm.vmId}-disk${n}`, t, (id) => data.volumes.push(id));
      system.setValue(`disk.${n}.size`, size, 'G');
      if (v.device) system.setValue(`disk.${n}.device`, v.device);
      for (const p of ['mount_path', 'fstype']) {
        const x = wanted.getString(`disk.${n}.${p}`);
        if (x) system.setValue(`disk.${n}.${p}`, x);
      }
    } catch (err) {
      const msg = errorText(err, s.secretValues());
      throw new ImError('BAD_REQUEST', msg.startsWith('Error creating or attaching') ? msg : `Error connecting with OpenStack server: ${msg}`);
    }
  }
  await alterPublicIp(env, s, vm, wanted, system, data);
  const fresh = await refreshOne(env, { ...vm, system, cloudData: { ...(vm.cloudData ?? {}), ...writeCloudData(data) } }, auth).catch(() => undefined);
  return fresh ?? { state: mapStatus(str(server.status)), system, cloudData: { ...(vm.cloudData ?? {}), ...writeCloudData(data) } };
}

async function alterPublicIp(env: OstEnv, s: OstSession, vm: VmHandle, wanted: System, system: System, data: ReturnType<typeof readCloudData>): Promise<void> {
  const nets = wanted.getNetworkIds();
  if (nets.length === 0) return;
  const masks = env.config.PRIVATE_NET_MASKS;
  const publicNet = nets.map((id) => vm.radl.getNetworkById(id)).find((n) => n?.isPublic());
  const current = await serverOf(s, vm);
  const publicIps = Object.values(obj(current.addresses))
    .flatMap((l) => (Array.isArray(l) ? l : []))
    .map((a) => str(obj(a).addr) ?? '')
    .filter((ip) => ip && !ip.includes(':') && !isPrivateIp(ip, masks));
  try {
    if (publicNet && publicIps.length === 0) {
      const ports = await serverPorts(s, vm.providerId);
      const pool = publicNet.getString('provider_id');
      await addFloatingIp(s, { infId: vm.infId, serverId: vm.providerId, ports, masks, fips: () => listFloatingIps(s), pools: () => listPools(s), ...(pool ? { pool } : {}) }, data);
      const iface = Math.max(0, nets.findIndex((id) => id === publicNet.id));
      data.requestedPublic = [{ iface, ...(pool ? { pool } : {}) }];
    } else if (!publicNet && publicIps.length > 0) {
      for (const ip of publicIps) {
        const fip = (await listFloatingIps(s, { floating_ip_address: ip })).find((f) => str(f.floating_ip_address) === ip);
        if (!fip) throw new Error(`Error detaching IP ${ip} from node ${vm.providerId}`);
        await releaseFip(s, fip, false);
        data.floatingIps = data.floatingIps.filter((x) => x !== ip);
        data.createdFips = data.createdFips.filter((x) => x !== str(fip.id));
        for (let i = 0; i < system.getNumNetInterfaces(); i++) if (system.getString(`net_interface.${i}.ip`) === ip) system.delValue(`net_interface.${i}.ip`);
      }
      data.requestedPublic = [];
    }
  } catch (err) {
    throw new ImError('BAD_REQUEST', `Error adding/removing new public IP: ${errorText(err, s.secretValues())}`);
  }
}

/** §5.3: createImage; id from `Location` (< 2.45) or the body's `image_id` (≥ 2.45). */
export async function createSnapshot(env: OstEnv, vm: VmHandle, imageName: string, auth: AuthItem): Promise<string> {
  const s = sessionFor(env, auth);
  await serverOf(s, vm);
  try {
    const r = await s.request('compute', 'POST', `/servers/${vm.providerId}/action`, { body: { createImage: { name: imageName } } });
    const id = str(r.json.image_id) ?? r.headers.location?.split('/').filter(Boolean).pop();
    if (!id) throw new Error("'location'");
    await getImage(s, id).catch(() => undefined);
    return imageUrl(s.auth.host.server, id);
  } catch (err) {
    throw new ImError('BAD_REQUEST', `Error creating image: ${errorText(err, s.secretValues())}.`);
  }
}

/** §5.4 through Glance (idempotent: an image already gone is fine). */
export async function deleteImage(env: OstEnv, url: string, auth: AuthItem): Promise<void> {
  const s = sessionFor(env, auth);
  const ref = parseOstUrl(url, s.auth.host.server);
  const id = ref?.id ?? url.split('/').pop() ?? url;
  try {
    await getImage(s, id);
  } catch (err) {
    if (isNotFound(err)) return;
    throw new ImError('BAD_REQUEST', `Error getting image ${id}: ${errorText(err, s.secretValues())}`);
  }
  try {
    await s.request('image', 'DELETE', `/v2/images/${encodeURIComponent(id)}`);
  } catch (err) {
    if (isNotFound(err)) return;
    throw new ImError('BAD_REQUEST', `Error deleting image.: ${errorText(err, s.secretValues())}`);
  }
}

/** The project id for quotas: `tenant_id`, else the token's project, else resolved by name (§5.6). */
async function projectId(s: OstSession): Promise<string> {
  if (s.auth.tenantId) return s.auth.tenantId;
  const { projectId: pid } = await s.identity();
  if (pid) return pid;
  return (s.auth.authVersion === '3.x_oidc_access_token' ? s.auth.domain : s.auth.tenant) ?? '';
}

/** §5.6 quota map. Nova is required; Neutron and Cinder are optional. */
export async function getQuotas(env: OstEnv, auth: AuthItem): Promise<Quotas> {
  const s = sessionFor(env, auth);
  const pid = await projectId(s).catch(() => s.auth.tenant ?? '');
  const used = (q: unknown, a: string) => (num(obj(q)[a]) ?? 0) + (num(obj(q).reserved) ?? 0);
  const limit = (q: unknown) => num(obj(q).limit) ?? -1;
  let nova: Record<string, unknown>;
  try {
    nova = obj((await s.request('compute', 'GET', `/os-quota-sets/${encodeURIComponent(pid)}/detail`)).json.quota_set);
  } catch (err) {
    const text = errorText(err, s.secretValues());
    throw toImError(err, text.startsWith("'") ? text : `Error getting the quotas: ${text}`, 'op');
  }
  const out: Quotas = {
    cores: { used: used(nova.cores, 'in_use'), limit: limit(nova.cores) },
    ram: { used: used(nova.ram, 'in_use') / 1024, limit: limit(nova.ram) / 1024 },
    instances: { used: used(nova.instances, 'in_use'), limit: limit(nova.instances) },
  };
  const neutron = await s.request('network', 'GET', `/v2.0/quotas/${encodeURIComponent(pid)}/details.json`).then((r) => obj(r.json.quota), () => undefined);
  if (neutron) {
    out.floating_ips = { used: used(neutron.floatingip, 'used'), limit: limit(neutron.floatingip) };
    out.security_groups = { used: used(neutron.security_group, 'used'), limit: limit(neutron.security_group) };
  } else {
    if (nova.floating_ips) out.floating_ips = { used: used(nova.floating_ips, 'in_use'), limit: limit(nova.floating_ips) };
    if (nova.security_groups) out.security_groups = { used: used(nova.security_groups, 'in_use'), limit: limit(nova.security_groups) };
  }
  const cinder = await s.request('volume', 'GET', `/os-quota-sets/${encodeURIComponent(pid)}`, { query: { usage: 'True' } }).then((r) => obj(r.json.quota_set), () => undefined);
  if (cinder) {
    out.volumes = { used: used(cinder.volumes, 'in_use'), limit: limit(cinder.volumes) };
    out.volume_storage = { used: used(cinder.gigabytes, 'in_use'), limit: limit(cinder.gigabytes) };
  }
  return out;
}
