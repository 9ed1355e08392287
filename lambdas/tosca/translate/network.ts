/**
 * Networks: `tosca.nodes.network.Network` nodes, `tosca.nodes.network.Port` bindings (explicit mode),
 * and the simple mode from the endpoint capabilities of a Compute and of the nodes hosted on it
 * (PUBLIC / PRIVATE / provider ids / `net,pool`, dns names, TLS, ports → outports, additional IPs).
 * Then IM's completion: a public network when there is none, interface 0 for every system, private
 * networks split per cloud, deploys ordered public first.
 */
import { Network, type Radl, type System } from '#radl/index';
import { findHost, isCompute } from '#tosca/functions';
import type { NodeTemplate } from '#tosca/template';
import { isMap } from '#tosca/yaml';
import { problem, value, type Translation } from '#tosca/translate/context';

function net(id: string, outbound: boolean): Network {
  const n = new Network(id);
  n.setValue('outbound', outbound ? 'yes' : 'no');
  return n;
}

/** A Network node → RADL network. */
export function networkFromNode(t: Translation, node: NodeTemplate): Network {
  const n = net(node.name, value(t, node.properties.network_type, node) === 'public');
  const name = value(t, node.properties.network_name, node);
  if (name) n.setValue('provider_id', String(name));
  const cidr = value(t, node.properties.cidr, node);
  if (cidr) {
    n.setValue('cidr', String(cidr));
    n.setValue('create', 'yes');
  }
  const gw = value(t, node.properties.gateway_ip, node);
  if (gw) n.setValue('router', String(gw));
  const proxy = value(t, node.properties.proxy_host, node);
  if (proxy) {
    const cred = value(t, node.properties.proxy_credential, node);
    if (isMap(cred) && cred.user) {
      if (cred.token_type === 'private_key') {
        n.setValue('proxy_host', `${String(cred.user)}@${String(proxy)}`);
        if (cred.token) n.setValue('proxy_key', String(cred.token));
      } else {
        n.setValue('proxy_host', cred.token ? `${String(cred.user)}:${String(cred.token)}@${String(proxy)}` : `${String(cred.user)}@${String(proxy)}`);
      }
    } else n.setValue('proxy_host', String(proxy));
  }
  return n;
}

type Ports = Map<string, Record<string, unknown>>;

/** `[<cidr>-]<source>/<proto>-<target>/<proto>` or `[<cidr>-]<a>:<b>/<proto>` for each port. */
export function formatOutports(ports: Ports): string {
  const out: string[] = [];
  for (const p of ports.values()) {
    const protocol = typeof p.protocol === 'string' && p.protocol ? p.protocol : 'tcp';
    const cidr = typeof p.remote_cidr === 'string' && p.remote_cidr ? `${p.remote_cidr}-` : '';
    const range = p.source_range;
    if (Array.isArray(range) && range.length === 2) {
      out.push(`${cidr}${String(range[0])}:${String(range[1])}/${protocol}`);
      continue;
    }
    const remote = p.source ?? p.target;
    const local = p.target ?? remote;
    if (remote === undefined || remote === null) continue;
    out.push(`${cidr}${String(remote)}/${protocol}-${String(local)}/${protocol}`);
  }
  return out.join(',');
}

function addOutports(n: Network, ports: Ports): void {
  if (ports.size === 0) return;
  const s = formatOutports(ports);
  if (!s) return;
  const cur = n.getString('outports');
  n.setValue('outports', cur ? `${cur},${s}` : s);
}

/** The endpoint capabilities that shape a Compute's networking: those of the nodes it hosts, then its own. */
function endpointsOf(t: Translation, node: NodeTemplate): { owner: NodeTemplate; props: Record<string, unknown> }[] {
  const out: { owner: NodeTemplate; props: Record<string, unknown> }[] = [];
  for (const other of t.topo.nodes.values()) {
    if (other === node || isCompute(t.topo, other) || findHost(t.topo, other) !== node) continue;
    for (const [cap, props] of Object.entries(other.capabilities)) {
      const def = t.topo.types.capabilities(other.type)[cap];
      const capType = typeof def?.type === 'string' ? def.type : '';
      if (t.topo.types.isA('capability_types', capType, 'tosca.capabilities.Endpoint')) out.push({ owner: other, props });
    }
  }
  if (node.capabilities.endpoint) out.push({ owner: node, props: node.capabilities.endpoint });
  return out;
}

interface Binding {
  network: string;
  ip?: string;
  dnsName?: string;
  additionalDns: string[];
  additionalIp?: string;
  tls: boolean;
  order: number;
}

/** Port nodes bound to a Compute (explicit mode). */
function bindingsOf(t: Translation, node: NodeTemplate): Binding[] {
  const out: Binding[] = [];
  for (const port of t.topo.nodes.values()) {
    if (!port.known || !t.topo.types.isA('node_types', port.type, 'tosca.nodes.network.Port')) continue;
    let binding: string | undefined;
    let link: string | undefined;
    for (const r of port.requirements) {
      if (r.name === 'binding') binding = r.node;
      if (r.name === 'link') link = r.node;
    }
    if (binding !== node.name || !link) continue;
    const p = (k: string) => value(t, port.properties[k], port);
    const order = p('order');
    const b: Binding = { network: link, order: typeof order === 'number' ? order : 0, tls: p('tls') === true, additionalDns: [] };
    const ip = p('ip_address');
    if (ip) b.ip = String(ip);
    const dns = p('dns_name');
    if (dns) b.dnsName = String(dns);
    const add = p('additional_dns_names');
    if (Array.isArray(add)) b.additionalDns = add.map(String);
    const aip = p('additional_ip');
    if (aip) b.additionalIp = String(aip);
    out.push(b);
  }
  return out;
}

function setDns(sys: System, iface: number, names: string[], tls: boolean): void {
  let m = 0;
  while (sys.hasFeature(`net_interface.${iface}.dns.${m}.name`)) m++;
  for (const name of names) {
    sys.setValue(`net_interface.${iface}.dns.${m}.name`, name);
    if (tls) sys.setValue(`net_interface.${iface}.dns.${m}.tls`, 'true');
    m++;
  }
}

function ifaceOf(sys: System, netId: string): number | undefined {
  const ids = sys.getNetworkIds();
  const i = ids.indexOf(netId);
  return i < 0 ? undefined : i;
}

/** The networks and interfaces of a Compute's system. */
export function addNodeNets(t: Translation, node: NodeTemplate, sys: System): void {
  const radl = t.radl;
  let publicIp = value(t, node.properties.public_ip, node) === true;
  let privateIp = true;
  let providerId: string | undefined;
  let pool: string | undefined;
  let dnsName: string | undefined;
  const additionalDns: string[] = [];
  let additionalIp: string | undefined;
  let tls = false;
  const ports: Ports = new Map();
  for (const { owner, props } of endpointsOf(t, node)) {
    const v = (k: string) => (props[k] === undefined || props[k] === null ? undefined : value(t, props[k], owner));
    const nn = v('network_name');
    if (nn !== undefined) {
      let name = String(nn);
      const parts = name.split(',');
      if (parts.length > 1) {
        name = parts[0].trim();
        pool = parts[1].trim();
        publicIp = true;
      }
      if (name === 'PUBLIC') publicIp = true;
      else if (name.endsWith('.PUBLIC')) {
        publicIp = true;
        providerId = name.slice(0, -'.PUBLIC'.length);
      } else if (name.endsWith('.PRIVATE')) providerId = name.slice(0, -'.PRIVATE'.length);
      else if (name !== 'PRIVATE' && name !== '') providerId = name;
    }
    const dns = v('dns_name');
    if (dns) dnsName = String(dns);
    const add = v('additional_dns_names');
    if (Array.isArray(add)) for (const a of add) if (a !== null && a !== undefined) additionalDns.push(String(a));
    const pip = v('private_ip');
    if (pip !== undefined) privateIp = pip !== false;
    if (v('tls') === true) tls = true;
    const aip = v('additional_ip');
    if (aip) additionalIp = String(aip);
    const ps = v('ports');
    if (isMap(ps)) for (const [k, p] of Object.entries(ps)) if (isMap(p)) ports.set(k, p);
    const port = v('port');
    if (port !== undefined) {
      const protocol = v('protocol') ?? 'tcp';
      ports.set(`im-${String(protocol)}-${String(port)}`, { protocol, source: port });
    }
  }
  if (dnsName) sys.setValue('net_interface.0.dns_name', dnsName);
  const bindings = bindingsOf(t, node);
  if (bindings.length > 0) {
    let portNet: Network | undefined;
    for (const b of bindings) {
      const n = radl.getNetworkById(b.network);
      if (!n) {
        problem(t, `Node ${node.name} with a port binded to a non existing network: ${b.network}.`, node.name);
        continue;
      }
      sys.setValue(`net_interface.${b.order}.connection`, b.network);
      if (b.dnsName) sys.setValue(`net_interface.${b.order}.dns_name`, b.dnsName);
      if (b.ip) sys.setValue(`net_interface.${b.order}.ip`, b.ip);
      if (b.additionalIp) sys.setValue(`net_interface.${b.order}.additional_ip`, b.additionalIp);
      const names = [...(b.dnsName ? [b.dnsName] : []), ...b.additionalDns];
      if (names.length > 0) setDns(sys, b.order, names, b.tls);
      if (n.isPublic()) portNet = n;
      else portNet ??= n;
    }
    if (portNet) addOutports(portNet, ports);
    return;
  }
  let privateNet: Network | undefined;
  if (!publicIp || privateIp) {
    privateNet = radl.networks.find((n) => !n.isPublic() && ifaceOf(sys, n.id) !== undefined) ?? radl.networks.find((n) => !n.isPublic());
    if (!privateNet) {
      privateNet = net('private_net', false);
      radl.networks.push(privateNet);
    }
    if (!publicIp) addOutports(privateNet, ports);
    if (ifaceOf(sys, privateNet.id) === undefined) sys.setValue(`net_interface.${sys.getNumNetInterfaces()}.connection`, privateNet.id);
    if (dnsName) setDns(sys, ifaceOf(sys, privateNet.id) as number, [dnsName], tls);
  }
  let publicNet: Network | undefined;
  if (publicIp) {
    let id = 'public_net';
    for (let i = 1; radl.getNetworkById(id); i++) id = `public_net_${i}`;
    publicNet = net(id, true);
    radl.networks.push(publicNet);
    addOutports(publicNet, ports);
    const iface = sys.getNumNetInterfaces();
    sys.setValue(`net_interface.${iface}.connection`, publicNet.id);
    const names = [...(!privateNet && dnsName ? [dnsName] : []), ...additionalDns];
    if (names.length > 0) setDns(sys, iface, names, tls);
  }
  if (additionalIp) sys.setValue('net_interface.0.additional_ip', additionalIp);
  if (providerId) {
    if (privateNet) privateNet.setValue('provider_id', providerId);
    if (publicNet && !privateNet) publicNet.setValue('provider_id', providerId);
  }
  if (pool && publicNet) publicNet.setValue('provider_id', pool);
}

/** A public network `public` when there is none; interface 0 for every system without one. */
export function completeNetworks(radl: Radl): void {
  if (radl.networks.length === 0) radl.networks.push(net('public', true));
  const pub = radl.networks.find((n) => n.isPublic()) ?? radl.networks[radl.networks.length - 1];
  for (const s of radl.systems) {
    if (!s.hasFeature('net_interface.0.connection')) s.setValue('net_interface.0.connection', pub.id);
  }
}

function cloudOf(image: string | undefined): string | undefined {
  if (!image) return undefined;
  const m = /^([a-z0-9+.-]+):\/\/([^/:]*)/i.exec(image);
  return m ? `${m[1]}://${m[2]}` : undefined;
}

/**
 * Private networks used by systems whose images are in different clouds are split: the systems of the
 * second cloud move to a new `private.<host>` network (which takes provider_id, cidr, create, router
 * and outports). `current` gives the image of the systems already deployed (add-resources).
 */
export function splitPrivateNetworks(radl: Radl, deployed: { system: System; radl: Radl }[] = []): void {
  const cloudByNet = new Map<string, string>();
  const toDeploy = new Set(radl.deploys.map((d) => d.systemId));
  const groups: { systems: System[]; radl: Radl }[] = [
    ...deployed.map((d) => ({ systems: [d.system], radl: d.radl })),
    { systems: radl.systems.filter((s) => toDeploy.has(s.name)), radl },
  ];
  for (const g of groups) {
    for (const s of g.systems) {
      const cloud = cloudOf(s.getString('disk.0.image.url'));
      if (!cloud) continue;
      const host = /^[^:]+:\/\/(.*)$/.exec(cloud)?.[1] ?? '';
      for (const netId of s.getNetworkIds()) {
        const n = g.radl.getNetworkById(netId);
        if (!n || n.isPublic()) continue;
        const known = cloudByNet.get(netId);
        if (known === undefined) {
          cloudByNet.set(netId, cloud);
          continue;
        }
        if (known === cloud) continue;
        let newId = [...cloudByNet].find(([, c]) => c === cloud)?.[0];
        if (newId === undefined) {
          const nn = net(`private.${host}`, false);
          for (const k of ['provider_id', 'cidr', 'create', 'router', 'outports']) {
            const v = n.getString(k);
            if (v) {
              nn.setValue(k, v);
              n.delValue(k);
            }
          }
          radl.networks.push(nn);
          newId = nn.id;
        }
        for (let i = 0; s.hasFeature(`net_interface.${i}.connection`); i++) {
          if (s.getString(`net_interface.${i}.connection`) === netId) s.setValue(`net_interface.${i}.connection`, newId);
        }
        cloudByNet.set(newId, cloud);
      }
    }
  }
}

/** Deploys with a public network first (names containing `wn` after the others), then the private ones. */
export function orderDeploys(radl: Radl): void {
  const isPublic = (sysName: string) => {
    const s = radl.getSystemByName(sysName);
    return !!s && s.getNetworkIds().some((id) => radl.getNetworkById(id)?.isPublic());
  };
  const pub = radl.deploys.filter((d) => isPublic(d.systemId));
  const priv = radl.deploys.filter((d) => !isPublic(d.systemId));
  radl.deploys = [...pub.filter((d) => !d.systemId.includes('wn')), ...pub.filter((d) => d.systemId.includes('wn')), ...priv];
}
