/** Fake Nova (compute API v2.1 with microversions): flavors, servers and their actions, interfaces, volume attachments, quotas — §8.2–8.3. */
import { PROJECT_ID, USER_ID, type FakeState, type J } from './state.ts';
import { novaError, route, type Ctx, type Reply, type Route } from './routes.ts';
import { createPort, groupByRef } from './neutron.ts';
import { createVolume } from './storage.ts';

const C = '/compute/v2.1';

function flavorRef(s: FakeState, f: J, mv: number): J {
  if (mv >= 2.047) {
    return { original_name: f.name, ram: f.ram, disk: f.disk, vcpus: f.vcpus, ephemeral: f['OS-FLV-EXT-DATA:ephemeral'], swap: 0, extra_specs: s.extraSpecs.get(String(f.id)) ?? {} };
  }
  return { id: f.id, links: [{ rel: 'bookmark', href: `/flavors/${String(f.id)}` }] };
}

export function serverJson(s: FakeState, v: J, c: Ctx): J {
  const flavor = s.flavors.get(String(v.flavorId)) ?? {};
  const addresses: Record<string, J[]> = {};
  for (const p of s.ports.values()) {
    if (p.device_id !== v.id) continue;
    const net = s.networks.get(String(p.network_id));
    const label = String(net?.name ?? p.network_id);
    for (const f of p.fixed_ips as J[]) (addresses[label] ??= []).push({ addr: f.ip_address, version: 4, 'OS-EXT-IPS:type': 'fixed', 'OS-EXT-IPS-MAC:mac_addr': p.mac_address });
    for (const fip of s.fips.values()) {
      if (fip.port_id === p.id) (addresses[label] ??= []).push({ addr: fip.floating_ip_address, version: 4, 'OS-EXT-IPS:type': 'floating', 'OS-EXT-IPS-MAC:mac_addr': p.mac_address });
    }
  }
  const out: J = {
    id: v.id,
    name: v.name,
    status: v.status,
    addresses,
    flavor: flavorRef(s, flavor, c.microversion),
    image: v.imageId ? { id: v.imageId, links: [] } : '',
    metadata: v.metadata,
    hostId: v.status === 'BUILD' ? '' : 'a1b2c3host',
    tenant_id: PROJECT_ID,
    user_id: USER_ID,
    created: v.created,
    updated: v.updated,
    links: [
      { rel: 'self', href: `${c.baseUrl}${C}/servers/${String(v.id)}` },
      { rel: 'bookmark', href: `${c.baseUrl}/compute/servers/${String(v.id)}` },
    ],
    key_name: null,
    'OS-EXT-AZ:availability_zone': v.az,
    'OS-EXT-STS:vm_state': v.vmState,
    'OS-EXT-STS:task_state': v.taskState ?? null,
    'OS-EXT-STS:power_state': v.status === 'ACTIVE' ? 1 : v.status === 'SHUTOFF' ? 4 : 0,
    'os-extended-volumes:volumes_attached': (v.volumes as string[]).map((id) => ({ id, delete_on_termination: (v.dot as string[]).includes(id) })),
    security_groups: (v.groups as string[]).map((name) => ({ name })),
    accessIPv4: '',
    accessIPv6: '',
    config_drive: '',
    progress: v.status === 'BUILD' ? 50 : 0,
  };
  if (v.status === 'ERROR') out.fault = v.fault;
  return out;
}

function usage(s: FakeState): { instances: number; cores: number; ram: number } {
  let instances = 0;
  let cores = 0;
  let ram = 0;
  for (const v of s.servers.values()) {
    if (v.status === 'DELETED') continue;
    const f = s.flavors.get(String(v.flavorId));
    instances++;
    cores += Number(f?.vcpus ?? 0);
    ram += Number(f?.ram ?? 0);
  }
  return { instances, cores, ram };
}

function getServer(s: FakeState, id: string): J | undefined {
  const v = s.servers.get(id);
  return v && v.status !== 'DELETED' ? v : undefined;
}

const notFound = (id: string) => novaError(404, 'itemNotFound', `Instance ${id} could not be found.`);

function tenantNetworks(s: FakeState): J[] {
  return [...s.networks.values()].filter((n) => n['router:external'] !== true);
}

function createServer(s: FakeState, c: Ctx): Reply {
  const b = (c.body.server ?? {}) as J;
  if (!b.name || typeof b.name !== 'string') return novaError(400, 'badRequest', "Invalid input for field/attribute server. Value: {}. 'name' is a required property");
  const flavor = s.flavors.get(String(b.flavorRef));
  if (!flavor || flavor['OS-FLV-DISABLED:disabled']) return novaError(400, 'badRequest', `Flavor ${String(b.flavorRef)} could not be found.`);
  const bdm = Array.isArray(b.block_device_mapping_v2) ? (b.block_device_mapping_v2 as J[]) : [];
  const boot = bdm.find((d) => Number(d.boot_index) === 0);
  const imageId = String(b.imageRef ?? '');
  if (imageId) {
    const img = s.images.get(imageId);
    if (!img || img.status !== 'active') return novaError(400, 'badRequest', `Image ${imageId} could not be found.`);
  } else if (!boot || boot.source_type !== 'volume') {
    return novaError(400, 'badRequest', 'Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.');
  }
  for (const d of bdm) if (d.source_type === 'volume' && !s.volumes.has(String(d.uuid))) return novaError(400, 'badRequest', `Block Device Mapping is Invalid: failed to get volume ${String(d.uuid)}.`);
  let nets: string[];
  if (b.networks === undefined || b.networks === 'auto') {
    if (b.networks === undefined && c.microversion >= 2.037) return novaError(400, 'badRequest', "Invalid input for field/attribute server. 'networks' is a required property");
    const tenant = tenantNetworks(s);
    if (tenant.length > 1) return novaError(409, 'conflictingRequest', 'Multiple possible networks found, use a Network ID to be more specific.');
    nets = tenant.map((n) => String(n.id));
  } else if (b.networks === 'none') {
    nets = [];
  } else if (Array.isArray(b.networks)) {
    nets = [];
    for (const n of b.networks as J[]) {
      const id = String(n.uuid ?? '');
      if (!s.networks.has(id)) return novaError(400, 'badRequest', `Network ${id} could not be found.`);
      nets.push(id);
    }
  } else return novaError(400, 'badRequest', 'Invalid input for field/attribute networks.');
  const groups: string[] = [];
  for (const g of (Array.isArray(b.security_groups) ? b.security_groups : [{ name: 'default' }]) as J[]) {
    const found = groupByRef(s, String(g.name ?? ''));
    if (!found) return novaError(400, 'badRequest', `Security group ${String(g.name)} not found for project ${PROJECT_ID}.`);
    groups.push(String(found.name));
  }
  const u = usage(s);
  const want = { instances: 1, cores: Number(flavor.vcpus), ram: Number(flavor.ram) };
  for (const k of ['instances', 'cores', 'ram'] as const) {
    const limit = s.quota(k);
    if (limit >= 0 && u[k] + want[k] > limit) return novaError(403, 'forbidden', `Quota exceeded for ${k}: Requested ${want[k]}, but already used ${u[k]} of ${limit} ${k}`);
  }
  if (b.user_data !== undefined && (typeof b.user_data !== 'string' || Buffer.from(b.user_data, 'base64').toString('base64') !== b.user_data.replace(/\s/g, ''))) {
    return novaError(400, 'badRequest', 'User data needs to be valid base 64.');
  }
  const id = s.id();
  const now = s.now();
  const v: J = {
    id,
    name: b.name,
    status: 'BUILD',
    vmState: 'building',
    taskState: 'spawning',
    flavorId: flavor.id,
    imageId,
    metadata: (b.metadata as J | undefined) ?? {},
    created: now,
    updated: now,
    az: typeof b.availability_zone === 'string' ? b.availability_zone : 'nova',
    volumes: [],
    dot: [],
    groups,
    nets,
    bdm,
    userData: b.user_data,
    body: b,
  };
  s.servers.set(id, v);
  s.track('servers', id);
  const fail = s.knobs.fail_build_next > 0;
  if (fail) s.knobs.fail_build_next--;
  s.later(s.knobs.build_delay_ms, () => finishBuild(s, v, fail));
  return { status: 202, headers: { Location: `${c.baseUrl}${C}/servers/${id}` }, body: { server: { id, links: [{ rel: 'self', href: `${c.baseUrl}${C}/servers/${id}` }], adminPass: 'fakeAdminPass', security_groups: groups.map((name) => ({ name })), 'OS-DCF:diskConfig': 'MANUAL' } } };
}

function finishBuild(s: FakeState, v: J, fail: boolean): void {
  if (v.status !== 'BUILD') return;
  v.taskState = null;
  v.updated = s.now();
  if (fail) {
    v.status = 'ERROR';
    v.vmState = 'error';
    v.fault = { code: 500, message: 'No valid host was found. There are not enough hosts available.', created: s.now() };
    return;
  }
  for (const netId of v.nets as string[]) {
    const net = s.networks.get(netId);
    if (!net) continue;
    const groupIds = (v.groups as string[]).map((g) => groupByRef(s, g)?.id).filter(Boolean) as string[];
    createPort(s, net, { device_id: String(v.id), device_owner: 'compute:nova', security_groups: groupIds });
  }
  for (const d of v.bdm as J[]) {
    if (d.destination_type === 'local' || (d.source_type === 'image' && d.destination_type !== 'volume')) continue;
    let volId: string;
    if (d.source_type === 'volume') volId = String(d.uuid);
    else {
      const vol = createVolume(s, { size: Number(d.volume_size ?? 1), name: '', status: 'in-use', volume_type: typeof d.volume_type === 'string' ? d.volume_type : '__DEFAULT__' });
      volId = String(vol.id);
    }
    const vol = s.volumes.get(volId);
    if (!vol) continue;
    vol.status = 'in-use';
    const dev = `/dev/vd${String.fromCharCode(97 + (v.volumes as string[]).length)}`;
    vol.attachments = [{ server_id: v.id, attachment_id: s.id(), id: volId, volume_id: volId, device: dev, host_name: null }];
    (v.volumes as string[]).push(volId);
    if (d.delete_on_termination === true) (v.dot as string[]).push(volId);
  }
  v.status = 'ACTIVE';
  v.vmState = 'active';
}

function deleteServer(s: FakeState, c: Ctx): Reply {
  const v = getServer(s, c.params[0]);
  if (!v) return notFound(c.params[0]);
  v.taskState = 'deleting';
  s.later(s.knobs.delete_delay_ms, () => {
    for (const [pid, p] of [...s.ports.entries()]) {
      if (p.device_id !== v.id) continue;
      for (const f of s.fips.values()) if (f.port_id === pid) Object.assign(f, { port_id: null, fixed_ip_address: null, status: 'DOWN', port_details: null });
      s.ports.delete(pid);
    }
    for (const id of v.volumes as string[]) {
      const vol = s.volumes.get(id);
      if (!vol) continue;
      if ((v.dot as string[]).includes(id)) s.volumes.delete(id);
      else Object.assign(vol, { status: 'available', attachments: [] });
    }
    s.servers.delete(String(v.id));
  });
  return { status: 204 };
}

function action(s: FakeState, c: Ctx): Reply {
  const v = getServer(s, c.params[0]);
  if (!v) return notFound(c.params[0]);
  const [name] = Object.keys(c.body);
  const conflict = () => novaError(409, 'conflictingRequest', `Cannot '${name}' instance ${String(v.id)} while it is in vm_state ${String(v.vmState)}`);
  const later = (fn: () => void) => s.later(s.knobs.action_delay_ms, fn);
  switch (name) {
    case 'os-stop':
      if (v.status !== 'ACTIVE') return conflict();
      v.taskState = 'powering-off';
      later(() => Object.assign(v, { status: 'SHUTOFF', vmState: 'stopped', taskState: null }));
      return { status: 202 };
    case 'os-start':
      if (v.status !== 'SHUTOFF') return conflict();
      v.taskState = 'powering-on';
      later(() => Object.assign(v, { status: 'ACTIVE', vmState: 'active', taskState: null }));
      return { status: 202 };
    case 'reboot': {
      if (!['ACTIVE', 'SHUTOFF'].includes(String(v.status))) return conflict();
      const type = ((c.body.reboot ?? {}) as J).type === 'HARD' ? 'HARD_REBOOT' : 'REBOOT';
      Object.assign(v, { status: type });
      later(() => Object.assign(v, { status: 'ACTIVE', vmState: 'active' }));
      return { status: 202 };
    }
    case 'resize': {
      const ref = String(((c.body.resize ?? {}) as J).flavorRef ?? '');
      if (!s.flavors.has(ref)) return novaError(400, 'badRequest', `Flavor ${ref} could not be found.`);
      if (v.status !== 'ACTIVE' && v.status !== 'SHUTOFF') return conflict();
      if (ref === v.flavorId) return novaError(400, 'badRequest', 'When resizing, instances must change flavor!');
      Object.assign(v, { status: 'RESIZE', taskState: 'resize_prep', newFlavor: ref });
      later(() => Object.assign(v, { status: 'VERIFY_RESIZE', vmState: 'resized', taskState: null }));
      return { status: 202 };
    }
    case 'confirmResize':
      if (v.status !== 'VERIFY_RESIZE') return novaError(409, 'conflictingRequest', `Instance has not been resized.`);
      Object.assign(v, { status: 'ACTIVE', vmState: 'active', flavorId: v.newFlavor });
      return { status: 204 };
    case 'createImage': {
      const imgName = String(((c.body.createImage ?? {}) as J).name ?? '');
      if (!imgName) return novaError(400, 'badRequest', "Invalid input for field/attribute createImage. 'name' is a required property");
      const id = s.id();
      s.images.set(id, { id, name: imgName, status: 'queued', visibility: 'private', created_at: s.now(), updated_at: s.now(), instance_uuid: v.id, tags: [] });
      s.track('images', id);
      later(() => {
        const img = s.images.get(id);
        if (img) img.status = 'active';
      });
      if (c.microversion >= 2.045 || s.knobs.createimage_body_only) return { status: 202, body: { image_id: id } };
      return { status: 202, headers: { Location: `${c.baseUrl}/image/v2/images/${id}` } };
    }
    case 'removeSecurityGroup': {
      const g = String(((c.body.removeSecurityGroup ?? {}) as J).name ?? '');
      if (!(v.groups as string[]).includes(g)) return novaError(404, 'itemNotFound', `Security group ${g} not found for project ${PROJECT_ID}.`);
      v.groups = (v.groups as string[]).filter((x) => x !== g);
      const gid = groupByRef(s, g)?.id;
      for (const p of s.ports.values()) if (p.device_id === v.id) p.security_groups = (p.security_groups as string[]).filter((x) => x !== gid);
      return { status: 202 };
    }
    default:
      return novaError(400, 'badRequest', `There is no such action: ${name}`);
  }
}

function listServers(s: FakeState, c: Ctx): Reply {
  let all = [...s.servers.values()].filter((v) => v.status !== 'DELETED');
  const name = c.query.get('name');
  if (name) all = all.filter((v) => new RegExp(name).test(String(v.name)));
  const marker = c.query.get('marker');
  if (marker) {
    const i = all.findIndex((v) => v.id === marker);
    if (i < 0) return novaError(400, 'badRequest', `marker [${marker}] not found`);
    all = all.slice(i + 1);
  }
  const limit = Math.min(Number(c.query.get('limit') ?? s.knobs.servers_page_size), s.knobs.servers_page_size);
  const page = all.slice(0, limit);
  const body: J = { servers: page.map((v) => serverJson(s, v, c)) };
  if (all.length > limit) body.servers_links = [{ rel: 'next', href: `${c.baseUrl}${C}/servers/detail?limit=${limit}&marker=${String(page[page.length - 1].id)}` }];
  return { status: 200, body };
}

function quotaSet(s: FakeState, c: Ctx): Reply {
  const u = usage(s);
  const q = (k: 'instances' | 'cores' | 'ram', used: number) => ({ in_use: used, limit: s.quota(k), reserved: 0 });
  const set: J = { id: c.params[0], instances: q('instances', u.instances), cores: q('cores', u.cores), ram: q('ram', u.ram), key_pairs: { in_use: 0, limit: 100, reserved: 0 }, metadata_items: { in_use: 0, limit: 128, reserved: 0 }, server_groups: { in_use: 0, limit: 10, reserved: 0 }, server_group_members: { in_use: 0, limit: 10, reserved: 0 } };
  if (c.microversion < 2.036) {
    set.floating_ips = { in_use: s.fips.size, limit: s.quota('floatingip'), reserved: 0 };
    set.security_groups = { in_use: s.groups.size, limit: s.quota('security_group'), reserved: 0 };
  }
  return { status: 200, body: { quota_set: set } };
}

export const novaRoutes: Route[] = [
  route('GET', `${C}/flavors/detail`, (s) => ({ status: 200, body: { flavors: [...s.flavors.values()] } })),
  route('GET', `${C}/flavors`, (s) => ({ status: 200, body: { flavors: [...s.flavors.values()].map((f) => ({ id: f.id, name: f.name, links: f.links })) } })),
  route('GET', `${C}/flavors/([^/]+)`, (s, c) => {
    const f = s.flavors.get(c.params[0]);
    return f ? { status: 200, body: { flavor: f } } : novaError(404, 'itemNotFound', `Flavor ${c.params[0]} could not be found.`);
  }),
  route('GET', `${C}/flavors/([^/]+)/os-extra_specs`, (s, c) =>
    s.flavors.has(c.params[0]) ? { status: 200, body: { extra_specs: s.extraSpecs.get(c.params[0]) ?? {} } } : novaError(404, 'itemNotFound', `Flavor ${c.params[0]} could not be found.`),
  ),
  route('POST', `${C}/servers`, createServer),
  route('GET', `${C}/servers/detail`, listServers),
  route('GET', `${C}/servers/([^/]+)`, (s, c) => {
    const v = getServer(s, c.params[0]);
    return v ? { status: 200, body: { server: serverJson(s, v, c) } } : notFound(c.params[0]);
  }),
  route('DELETE', `${C}/servers/([^/]+)`, deleteServer),
  route('POST', `${C}/servers/([^/]+)/action`, action),
  route('GET', `${C}/servers/([^/]+)/os-interface`, (s, c) => {
    const v = getServer(s, c.params[0]);
    if (!v) return notFound(c.params[0]);
    const ports = [...s.ports.values()].filter((p) => p.device_id === v.id);
    return { status: 200, body: { interfaceAttachments: ports.map((p) => ({ port_id: p.id, net_id: p.network_id, fixed_ips: p.fixed_ips, mac_addr: p.mac_address, port_state: p.status })) } };
  }),
  route('POST', `${C}/servers/([^/]+)/os-volume_attachments`, (s, c) => {
    const v = getServer(s, c.params[0]);
    if (!v) return notFound(c.params[0]);
    const a = (c.body.volumeAttachment ?? {}) as J;
    const vol = s.volumes.get(String(a.volumeId));
    if (!vol) return novaError(404, 'itemNotFound', `Volume ${String(a.volumeId)} could not be found.`);
    if (vol.status !== 'available') return novaError(400, 'badRequest', `Invalid volume: volume ${String(vol.id)} status must be available`);
    const dev = typeof a.device === 'string' && a.device ? a.device : `/dev/vd${String.fromCharCode(98 + (v.volumes as string[]).length)}`;
    vol.status = 'attaching';
    (v.volumes as string[]).push(String(vol.id));
    s.later(s.knobs.volume_delay_ms, () => Object.assign(vol, { status: 'in-use', attachments: [{ server_id: v.id, attachment_id: s.id(), id: vol.id, volume_id: vol.id, device: dev }] }));
    return { status: 200, body: { volumeAttachment: { id: vol.id, volumeId: vol.id, serverId: v.id, device: dev } } };
  }),
  route('DELETE', `${C}/servers/([^/]+)/os-volume_attachments/([^/]+)`, (s, c) => {
    const v = getServer(s, c.params[0]);
    if (!v) return notFound(c.params[0]);
    const vol = s.volumes.get(c.params[1]);
    if (!vol || !(v.volumes as string[]).includes(c.params[1])) return novaError(404, 'itemNotFound', `volume_id not found: ${c.params[1]}`);
    v.volumes = (v.volumes as string[]).filter((x) => x !== c.params[1]);
    vol.status = 'detaching';
    s.later(s.knobs.volume_delay_ms, () => Object.assign(vol, { status: 'available', attachments: [] }));
    return { status: 202 };
  }),
  route('GET', `${C}/os-quota-sets/([^/]+)/detail`, quotaSet),
  route('GET', `${C}/os-volumes/([^/]+)`, (s, c) => {
    const vol = s.volumes.get(c.params[0]);
    return vol ? { status: 200, body: { volume: { id: vol.id, size: vol.size, status: vol.status } } } : novaError(404, 'itemNotFound', `Volume ${c.params[0]} could not be found.`);
  }),
  route('DELETE', `${C}/images/([^/]+)`, (s, c) => {
    if (c.microversion >= 2.036) return novaError(404, 'itemNotFound', 'The resource could not be found.');
    return s.images.delete(c.params[0]) ? { status: 204 } : novaError(404, 'itemNotFound', `Image not found.`);
  }),
];
