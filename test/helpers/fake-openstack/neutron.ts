/** Fake Neutron (networking API v2.0): networks, subnets, ports, routers, floating IPs, security groups and rules, quotas — §8.2–8.3. */
import { PROJECT_ID, type FakeState, type J } from './state.ts';
import { neutronError, route, type Ctx, type Reply, type Route } from './routes.ts';

const N = '/network/v2.0';

/** GET filters of the API reference: every query key but fields/limit/marker/sort is an attribute equality. */
function filtered(items: J[], c: Ctx): J[] {
  let out = items;
  for (const key of new Set(c.query.keys())) {
    if (['fields', 'limit', 'marker', 'sort_key', 'sort_dir', 'page_reverse'].includes(key)) continue;
    const wanted = c.query.getAll(key);
    out = out.filter((x) => {
      const v = x[key];
      return wanted.some((w) => (typeof v === 'boolean' ? String(v).toLowerCase() === w.toLowerCase() : Array.isArray(v) ? v.includes(w) : String(v ?? '') === w));
    });
  }
  const fields = c.query.getAll('fields');
  if (fields.length) out = out.map((x) => Object.fromEntries(fields.filter((f) => f in x).map((f) => [f, x[f]])));
  return out;
}

function paged(items: J[], c: Ctx, pageSize: number, key: string, path: string): Reply {
  let all = items;
  const marker = c.query.get('marker');
  if (marker) all = all.slice(all.findIndex((x) => x.id === marker) + 1);
  const limit = Math.min(Number(c.query.get('limit') ?? pageSize), pageSize);
  const page = all.slice(0, limit);
  const body: J = { [key]: filtered(page, c) };
  if (all.length > limit) body[`${key}_links`] = [{ rel: 'next', href: `${c.baseUrl}${N}/${path}?limit=${limit}&marker=${String(page[page.length - 1].id)}` }];
  return { status: 200, body };
}

const nf = (what: string, id: string) => neutronError(404, `${what}NotFound`, `${what} ${id} could not be found.`);
const overQuota = (r: string) => neutronError(409, 'OverQuota', `Quota exceeded for resources: ['${r}'].`);

export function groupByRef(s: FakeState, ref: string): J | undefined {
  return s.groups.get(ref) ?? [...s.groups.values()].find((g) => g.name === ref);
}

let mac = 16;
export function createPort(s: FakeState, net: J, extra: J): J {
  const subnetId = (net.subnets as string[])[0];
  const sn = subnetId ? s.subnets.get(subnetId) : undefined;
  const id = s.id();
  mac++;
  const port: J = {
    id,
    name: '',
    network_id: net.id,
    device_id: '',
    device_owner: '',
    fixed_ips: sn ? [{ subnet_id: sn.id, ip_address: s.nextIp(sn) }] : [],
    security_groups: [],
    status: 'ACTIVE',
    admin_state_up: true,
    mac_address: `fa:16:3e:00:${(mac >> 8).toString(16).padStart(2, '0')}:${(mac & 255).toString(16).padStart(2, '0')}`,
    tenant_id: PROJECT_ID,
    project_id: PROJECT_ID,
    allowed_address_pairs: [],
    port_security_enabled: true,
    created_at: s.now(),
    ...extra,
  };
  s.ports.set(id, port);
  s.track('ports', id);
  return port;
}

function count(m: Map<string, J>): number {
  return m.size;
}

function portUsage(s: FakeState, pred: (p: J) => boolean): boolean {
  return [...s.ports.values()].some(pred);
}

function fipJson(s: FakeState, f: J): J {
  const port = f.port_id ? s.ports.get(String(f.port_id)) : undefined;
  return { ...f, port_details: port ? { name: port.name, network_id: port.network_id, mac_address: port.mac_address, admin_state_up: true, status: port.status, device_id: port.device_id, device_owner: port.device_owner } : null };
}

/** The external network is reachable from the port's subnet through a router whose gateway is on it. */
function reachable(s: FakeState, port: J, extNet: string): boolean {
  const subnets = (port.fixed_ips as J[]).map((f) => f.subnet_id);
  for (const r of s.routers.values()) {
    if ((r.external_gateway_info as J | null)?.network_id !== extNet) continue;
    for (const p of s.ports.values()) {
      if (p.device_id !== r.id || p.device_owner !== 'network:router_interface') continue;
      if ((p.fixed_ips as J[]).some((f) => subnets.includes(f.subnet_id))) return true;
    }
  }
  return false;
}

function visibleNetworks(s: FakeState): J[] {
  let nets = [...s.networks.values()];
  if (s.knobs.no_floating_pools) nets = nets.filter((n) => n['router:external'] !== true);
  if (s.knobs.only_external_networks) nets = nets.filter((n) => n['router:external'] === true || !s.seeded.has(String(n.id)));
  return nets;
}

export const neutronRoutes: Route[] = [
  // Networks
  route('GET', `${N}/networks`, (s, c) => ({ status: 200, body: { networks: filtered(visibleNetworks(s), c) } })),
  route('GET', `${N}/networks/([^/]+)`, (s, c) => {
    const n = s.networks.get(c.params[0]);
    return n ? { status: 200, body: { network: n } } : nf('Network', c.params[0]);
  }),
  route('POST', `${N}/networks`, (s, c) => {
    const b = (c.body.network ?? {}) as J;
    if (count(s.networks) - [...s.networks.keys()].filter((k) => s.seeded.has(k)).length >= s.quota('network')) return overQuota('network');
    const n = s.addNetwork(String(b.name ?? ''), { description: String(b.description ?? '') });
    s.track('networks', String(n.id));
    return { status: 201, body: { network: n } };
  }),
  route('DELETE', `${N}/networks/([^/]+)`, (s, c) => {
    const n = s.networks.get(c.params[0]);
    if (!n) return nf('Network', c.params[0]);
    if (portUsage(s, (p) => p.network_id === n.id && p.device_owner !== 'network:dhcp')) {
      return neutronError(409, 'NetworkInUse', `Unable to complete operation on network ${String(n.id)}. There are one or more ports still in use on the network.`);
    }
    for (const sid of n.subnets as string[]) s.subnets.delete(sid);
    s.networks.delete(String(n.id));
    return { status: 204 };
  }),
  // Subnets
  route('GET', `${N}/subnets`, (s, c) => ({ status: 200, body: { subnets: filtered([...s.subnets.values()], c) } })),
  route('POST', `${N}/subnets`, (s, c) => {
    const b = (c.body.subnet ?? {}) as J;
    const net = s.networks.get(String(b.network_id));
    if (!net) return nf('Network', String(b.network_id));
    if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(String(b.cidr ?? ''))) return neutronError(400, 'InvalidInput', `Invalid input for cidr. Reason: '${String(b.cidr)}' is not a valid IP subnet.`);
    if (b.ip_version !== 4 && b.ip_version !== 6) return neutronError(400, 'InvalidInput', 'Invalid input for ip_version.');
    const sn = s.addSubnet(net, String(b.name ?? ''), String(b.cidr), { dns_nameservers: b.dns_nameservers ?? [], host_routes: b.host_routes ?? [], description: b.description ?? '' });
    s.track('subnets', String(sn.id));
    return { status: 201, body: { subnet: sn } };
  }),
  route('PUT', `${N}/subnets/([^/]+)`, (s, c) => {
    const sn = s.subnets.get(c.params[0]);
    if (!sn) return nf('Subnet', c.params[0]);
    Object.assign(sn, (c.body.subnet ?? {}) as J);
    return { status: 200, body: { subnet: sn } };
  }),
  route('DELETE', `${N}/subnets/([^/]+)`, (s, c) => {
    const sn = s.subnets.get(c.params[0]);
    if (!sn) return nf('Subnet', c.params[0]);
    if (portUsage(s, (p) => (p.fixed_ips as J[]).some((f) => f.subnet_id === sn.id) && p.device_owner !== 'network:dhcp')) return neutronError(409, 'SubnetInUse', `Unable to complete operation on subnet ${String(sn.id)}: One or more ports have an IP allocation from this subnet.`);
    s.subnets.delete(String(sn.id));
    const net = s.networks.get(String(sn.network_id));
    if (net) net.subnets = (net.subnets as string[]).filter((x) => x !== sn.id);
    return { status: 204 };
  }),
  // Ports
  route('GET', `${N}/ports`, (s, c) => paged([...s.ports.values()], c, s.knobs.ports_page_size, 'ports', 'ports')),
  route('GET', `${N}/ports/([^/]+)`, (s, c) => {
    const p = s.ports.get(c.params[0]);
    return p ? { status: 200, body: { port: p } } : nf('Port', c.params[0]);
  }),
  route('PUT', `${N}/ports/([^/]+)`, (s, c) => {
    const p = s.ports.get(c.params[0]);
    if (!p) return nf('Port', c.params[0]);
    Object.assign(p, (c.body.port ?? {}) as J);
    return { status: 200, body: { port: p } };
  }),
  route('DELETE', `${N}/ports/([^/]+)`, (s, c) => {
    const p = s.ports.get(c.params[0]);
    if (!p) return nf('Port', c.params[0]);
    if (String(p.device_owner).startsWith('network:router_interface')) return neutronError(409, 'PortInUse', `Port ${String(p.id)} cannot be deleted directly via the port API: has device owner network:router_interface.`);
    for (const f of s.fips.values()) if (f.port_id === p.id) Object.assign(f, { port_id: null, fixed_ip_address: null, status: 'DOWN' });
    s.ports.delete(String(p.id));
    return { status: 204 };
  }),
  // Routers
  route('GET', `${N}/routers`, (s, c) => ({ status: 200, body: { routers: filtered([...s.routers.values()], c) } })),
  route('POST', `${N}/routers`, (s, c) => {
    const b = (c.body.router ?? {}) as J;
    const gw = (b.external_gateway_info ?? null) as J | null;
    if (gw && s.networks.get(String(gw.network_id))?.['router:external'] !== true) return neutronError(400, 'BadRequest', `Bad router request: Network ${String(gw.network_id)} is not a valid external network.`);
    const id = s.id();
    const r = { id, name: b.name ?? '', description: b.description ?? '', status: 'ACTIVE', admin_state_up: b.admin_state_up ?? true, external_gateway_info: gw ? { network_id: gw.network_id, enable_snat: true } : null, routes: [], tenant_id: PROJECT_ID, project_id: PROJECT_ID, created_at: s.now() };
    s.routers.set(id, r);
    s.track('routers', id);
    return { status: 201, body: { router: r } };
  }),
  route('DELETE', `${N}/routers/([^/]+)`, (s, c) => {
    const r = s.routers.get(c.params[0]);
    if (!r) return nf('Router', c.params[0]);
    if (portUsage(s, (p) => p.device_id === r.id && p.device_owner === 'network:router_interface')) return neutronError(409, 'RouterInUse', `Router ${String(r.id)} still has ports`);
    s.routers.delete(String(r.id));
    return { status: 204 };
  }),
  route('PUT', `${N}/routers/([^/]+)/add_router_interface`, (s, c) => {
    const r = s.routers.get(c.params[0]);
    if (!r) return nf('Router', c.params[0]);
    const sn = s.subnets.get(String(c.body.subnet_id));
    if (!sn) return nf('Subnet', String(c.body.subnet_id));
    if (portUsage(s, (p) => p.device_id === r.id && (p.fixed_ips as J[]).some((f) => f.subnet_id === sn.id))) return neutronError(400, 'BadRequest', `Bad router request: Router already has a port on subnet ${String(sn.id)}.`);
    const id = s.id();
    s.ports.set(id, { id, name: '', network_id: sn.network_id, device_id: r.id, device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: sn.id, ip_address: sn.gateway_ip }], security_groups: [], status: 'ACTIVE', mac_address: 'fa:16:3e:ff:ff:01', tenant_id: PROJECT_ID, project_id: PROJECT_ID, created_at: s.now() });
    s.track('ports', id);
    return { status: 200, body: { id: r.id, subnet_id: sn.id, subnet_ids: [sn.id], port_id: id, network_id: sn.network_id, tenant_id: PROJECT_ID } };
  }),
  route('PUT', `${N}/routers/([^/]+)/remove_router_interface`, (s, c) => {
    const r = s.routers.get(c.params[0]);
    if (!r) return nf('Router', c.params[0]);
    const port = [...s.ports.values()].find(
      (p) => p.device_id === r.id && p.device_owner === 'network:router_interface' && (p.id === c.body.port_id || (p.fixed_ips as J[]).some((f) => f.subnet_id === c.body.subnet_id)),
    );
    if (!port) return neutronError(404, 'RouterInterfaceNotFoundForSubnet', `Router ${String(r.id)} has no interface on subnet ${String(c.body.subnet_id)}`);
    s.ports.delete(String(port.id));
    return { status: 200, body: { id: r.id, subnet_id: c.body.subnet_id, port_id: port.id } };
  }),
  // Floating IPs
  route('GET', `${N}/floatingips`, (s, c) => ({ status: 200, body: { floatingips: filtered([...s.fips.values()].map((f) => fipJson(s, f)), c) } })),
  route('POST', `${N}/floatingips`, (s, c) => {
    const b = (c.body.floatingip ?? {}) as J;
    const net = s.networks.get(String(b.floating_network_id));
    if (!net || net['router:external'] !== true) return nf('Network', String(b.floating_network_id));
    if (s.fips.size >= s.quota('floatingip')) return overQuota('floatingip');
    const sn = s.subnets.get((net.subnets as string[])[0]);
    if (!sn) return neutronError(400, 'BadRequest', 'No subnet on the external network');
    const id = s.id();
    const f: J = { id, floating_ip_address: s.nextIp(sn), floating_network_id: net.id, port_id: null, fixed_ip_address: null, router_id: null, status: 'DOWN', description: b.description ?? '', tenant_id: PROJECT_ID, project_id: PROJECT_ID, created_at: s.now() };
    s.fips.set(id, f);
    s.track('floatingips', id);
    return { status: 201, body: { floatingip: fipJson(s, f) } };
  }),
  route('PUT', `${N}/floatingips/([^/]+)`, (s, c) => {
    const f = s.fips.get(c.params[0]);
    if (!f) return nf('FloatingIP', c.params[0]);
    const b = (c.body.floatingip ?? {}) as J;
    if (b.port_id === null) {
      Object.assign(f, { port_id: null, fixed_ip_address: null, status: 'DOWN', router_id: null });
      return { status: 200, body: { floatingip: fipJson(s, f) } };
    }
    const port = s.ports.get(String(b.port_id));
    if (!port) return nf('Port', String(b.port_id));
    if (f.port_id && f.port_id !== port.id) return neutronError(409, 'FloatingIPPortAlreadyAssociated', `Cannot associate floating IP ${String(f.floating_ip_address)} (${String(f.id)}) with port ${String(port.id)}: it is already associated.`);
    if (!reachable(s, port, String(f.floating_network_id))) {
      return neutronError(404, 'ExternalGatewayForFloatingIPNotFound', `External network ${String(f.floating_network_id)} is not reachable from subnet ${String((port.fixed_ips as J[])[0]?.subnet_id)}.`);
    }
    Object.assign(f, { port_id: port.id, fixed_ip_address: (port.fixed_ips as J[])[0]?.ip_address ?? null, status: 'ACTIVE' });
    return { status: 200, body: { floatingip: fipJson(s, f) } };
  }),
  route('DELETE', `${N}/floatingips/([^/]+)`, (s, c) => (s.fips.delete(c.params[0]) ? { status: 204 } : nf('FloatingIP', c.params[0]))),
  // Security groups
  route('GET', `${N}/security-groups`, (s, c) => ({ status: 200, body: { security_groups: filtered([...s.groups.values()], c) } })),
  route('GET', `${N}/security-groups/([^/]+)`, (s, c) => {
    const g = s.groups.get(c.params[0]);
    return g ? { status: 200, body: { security_group: g } } : nf('SecurityGroup', c.params[0]);
  }),
  route('POST', `${N}/security-groups`, (s, c) => {
    const b = (c.body.security_group ?? {}) as J;
    if (!b.name) return neutronError(400, 'BadRequest', "Invalid input for name.");
    if (s.groups.size >= s.quota('security_group')) return overQuota('security_group');
    const g = s.addGroup(String(b.name), String(b.description ?? ''));
    s.track('security_groups', String(g.id));
    return { status: 201, body: { security_group: g } };
  }),
  route('DELETE', `${N}/security-groups/([^/]+)`, (s, c) => {
    const g = s.groups.get(c.params[0]);
    if (!g) return nf('SecurityGroup', c.params[0]);
    if (portUsage(s, (p) => (p.security_groups as string[]).includes(String(g.id)))) return neutronError(409, 'SecurityGroupInUse', `Security Group ${String(g.id)} in use.`);
    s.groups.delete(String(g.id));
    for (const [rid, r] of [...s.rules.entries()]) if (r.security_group_id === g.id) s.rules.delete(rid);
    return { status: 204 };
  }),
  route('POST', `${N}/security-group-rules`, (s, c) => {
    const b = (c.body.security_group_rule ?? {}) as J;
    const g = s.groups.get(String(b.security_group_id));
    if (!g) return nf('SecurityGroup', String(b.security_group_id));
    if (!['ingress', 'egress'].includes(String(b.direction))) return neutronError(400, 'InvalidInput', 'Invalid input for direction.');
    if (b.protocol !== null && b.protocol !== undefined && !['tcp', 'udp', 'icmp'].includes(String(b.protocol))) return neutronError(400, 'SecurityGroupRuleInvalidProtocol', `Security group rule protocol ${String(b.protocol)} not supported.`);
    const min = b.port_range_min ?? null;
    const max = b.port_range_max ?? null;
    if (min !== null && max !== null && Number(min) > Number(max)) return neutronError(400, 'SecurityGroupInvalidPortRange', 'For TCP/UDP protocols, port_range_min must be <= port_range_max');
    const ethertype = b.ethertype ?? 'IPv4';
    const prefix = b.remote_ip_prefix ?? null;
    if (prefix !== null && String(prefix).includes(':') !== (ethertype === 'IPv6')) return neutronError(400, 'SecurityGroupRuleParameterConflict', `Conflicting value ethertype ${String(ethertype)} for CIDR ${String(prefix)}`);
    const rule = { direction: b.direction, ethertype, protocol: b.protocol ?? null, port_range_min: min, port_range_max: max, remote_ip_prefix: prefix, remote_group_id: b.remote_group_id ?? null, security_group_id: g.id };
    const key = JSON.stringify(rule);
    if ([...s.rules.values()].some((r) => JSON.stringify({ ...r, id: undefined, description: undefined }) === JSON.stringify({ ...rule, id: undefined, description: undefined }))) {
      return neutronError(409, 'SecurityGroupRuleExists', `Security group rule already exists. Rule id is ${key.length}.`);
    }
    const id = s.id();
    const full = { id, description: '', ...rule };
    s.rules.set(id, full);
    (g.security_group_rules as J[]).push(full);
    return { status: 201, body: { security_group_rule: full } };
  }),
  route('GET', `${N}/quotas/([^/]+)/details.json`, (s) => {
    const q = (name: Parameters<FakeState['quota']>[0], used: number) => ({ used, limit: s.quota(name), reserved: 0 });
    const own = (m: Map<string, J>) => [...m.keys()].filter((k) => !s.seeded.has(k)).length;
    return {
      status: 200,
      body: {
        quota: {
          floatingip: q('floatingip', s.fips.size),
          network: q('network', own(s.networks)),
          port: q('port', s.ports.size),
          rbac_policy: { used: 0, limit: 10, reserved: 0 },
          router: q('router', s.routers.size),
          security_group: q('security_group', s.groups.size),
          security_group_rule: q('security_group_rule', s.rules.size),
          subnet: q('subnet', s.subnets.size),
        },
      },
    };
  }),
];
