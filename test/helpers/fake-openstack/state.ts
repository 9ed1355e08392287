/**
 * State of the fake OpenStack (openstack.md §8): projects, users, tokens, flavors, images, servers, networks,
 * subnets, ports, routers, floating IPs, security groups, volumes, quotas, and the fault-injection knobs.
 * Shapes follow the OpenStack API reference (Keystone v3/v2.0, Nova 2.1+, Neutron v2.0, Glance v2, Cinder v3).
 */
import { randomUUID } from 'node:crypto';

export type J = Record<string, unknown>;

export interface FailRule {
  method?: string;
  /** Regular expression on the path (without query). */
  path: string;
  /** Fail only the nth matching call (1-based)… */
  nth?: number;
  /** …or every kth matching call. */
  every?: number;
  status: number;
  body?: unknown;
  /** Internal: matching calls seen so far. */
  seen?: number;
}

export interface Knobs {
  build_delay_ms: number;
  action_delay_ms: number;
  volume_delay_ms: number;
  delete_delay_ms: number;
  latency_ms: number | Record<string, number>;
  fail: FailRule[];
  quota: Partial<Record<'instances' | 'cores' | 'ram' | 'floatingip' | 'security_group' | 'network' | 'volumes' | 'gigabytes' | 'port' | 'router' | 'subnet', number>>;
  fail_build_next: number;
  token_ttl_s: number;
  regions: string[];
  no_floating_pools: boolean;
  only_external_networks: boolean;
  external_subnet_private: boolean;
  createimage_body_only: boolean;
  images_page_size: number;
  ports_page_size: number;
  servers_page_size: number;
  oidc_tokens: string[];
}

export const DEFAULT_KNOBS: Knobs = {
  build_delay_ms: 100,
  action_delay_ms: 50,
  volume_delay_ms: 30,
  delete_delay_ms: 50,
  latency_ms: 0,
  fail: [],
  quota: {},
  fail_build_next: 0,
  token_ttl_s: 3600,
  regions: ['RegionOne'],
  no_floating_pools: false,
  only_external_networks: false,
  external_subnet_private: false,
  createimage_body_only: false,
  images_page_size: 25,
  ports_page_size: 1000,
  servers_page_size: 1000,
  oidc_tokens: ['oidc-access-token-0123456789'],
};

export const DEFAULT_QUOTA = { instances: 10, cores: 20, ram: 51200, floatingip: 10, security_group: 10, network: 10, volumes: 10, gigabytes: 1000, port: 50, router: 10, subnet: 10, security_group_rule: 100 };

export interface Token {
  id: string;
  userId: string;
  projectId?: string;
  expiresAt: number;
  methods: string[];
}

export const PROJECT_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
export const VO_PROJECT_ID = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
export const USER_ID = 'u0000000000000000000000000000001';
export const FED_USER_ID = 'u0000000000000000000000000000002';

export const USERS = [
  { id: USER_ID, name: 'demo', password: 'demo-secret-pass', domain: 'Default', projects: [PROJECT_ID] },
  { id: FED_USER_ID, name: 'egi-user', password: '', domain: 'Default', projects: [VO_PROJECT_ID, PROJECT_ID] },
];
export const PROJECTS = [
  { id: PROJECT_ID, name: 'demo', domain_id: 'default', description: 'demo project', enabled: true },
  { id: VO_PROJECT_ID, name: 'vo.access.egi.eu', domain_id: 'default', description: 'VO project', enabled: true },
];
export const APP_CREDS = [{ id: 'appcred0000000000000000000000001', secret: 'appcred-secret-value', userId: USER_ID, projectId: PROJECT_ID }];
export const IDP = { idp: 'egi.eu', protocol: 'openid' };

/** Everything that exists. Keys: ids. */
export class FakeState {
  knobs: Knobs = structuredClone(DEFAULT_KNOBS);
  tokens = new Map<string, Token>();
  flavors = new Map<string, J>();
  extraSpecs = new Map<string, Record<string, string>>();
  images = new Map<string, J>();
  servers = new Map<string, J>();
  networks = new Map<string, J>();
  subnets = new Map<string, J>();
  ports = new Map<string, J>();
  routers = new Map<string, J>();
  fips = new Map<string, J>();
  groups = new Map<string, J>();
  rules = new Map<string, J>();
  volumes = new Map<string, J>();
  /** Ids present after seeding (not counted as leaks). */
  seeded = new Set<string>();
  /** Every resource id ever created through the API, by kind. */
  created: Record<string, string[]> = {};
  timers = new Set<NodeJS.Timeout>();
  ipCounters = new Map<string, number>();
  volCounter = 0;

  constructor() {
    this.seed();
  }

  now(): string {
    return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  }

  id(): string {
    return randomUUID();
  }

  track(kind: string, id: string): void {
    (this.created[kind] ??= []).push(id);
  }

  later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  quota(name: keyof typeof DEFAULT_QUOTA): number {
    return (this.knobs.quota as Record<string, number | undefined>)[name] ?? DEFAULT_QUOTA[name];
  }

  /** Next free address of a subnet (gateway .1 excluded). */
  nextIp(subnet: J): string {
    const [base, bits] = String(subnet.cidr).split('/');
    const o = base.split('.').map(Number);
    const start = ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
    const size = 2 ** (32 - Number(bits));
    const used = new Set<string>();
    for (const p of this.ports.values()) for (const f of p.fixed_ips as J[]) used.add(String(f.ip_address));
    for (const f of this.fips.values()) used.add(String(f.floating_ip_address));
    let n = this.ipCounters.get(String(subnet.id)) ?? 2;
    for (let k = 0; k < size; k++, n++) {
      if (n >= size - 1) n = 2;
      const x = start + n;
      const ip = [x >>> 24, (x >>> 16) & 255, (x >>> 8) & 255, x & 255].join('.');
      if (!used.has(ip)) {
        this.ipCounters.set(String(subnet.id), n + 1);
        return ip;
      }
    }
    throw new Error('subnet full');
  }

  addNetwork(name: string, opts: { external?: boolean; shared?: boolean; cidr?: string; isDefault?: boolean; tags?: string[]; description?: string } = {}): J {
    const id = this.id();
    const net: J = {
      id,
      name,
      status: 'ACTIVE',
      admin_state_up: true,
      subnets: [],
      'router:external': opts.external ?? false,
      shared: opts.shared ?? false,
      is_default: opts.isDefault ?? false,
      tags: opts.tags ?? [],
      description: opts.description ?? '',
      tenant_id: PROJECT_ID,
      project_id: PROJECT_ID,
      mtu: 1450,
      created_at: this.now(),
      updated_at: this.now(),
    };
    this.networks.set(id, net);
    if (opts.cidr) this.addSubnet(net, `${name}-subnet`, opts.cidr);
    return net;
  }

  addSubnet(net: J, name: string, cidr: string, extra: J = {}): J {
    const id = this.id();
    const base = cidr.split('/')[0].split('.');
    const sn: J = {
      id,
      name,
      network_id: net.id,
      cidr,
      ip_version: 4,
      gateway_ip: `${base[0]}.${base[1]}.${base[2]}.1`,
      enable_dhcp: true,
      dns_nameservers: [],
      host_routes: [],
      allocation_pools: [],
      description: '',
      tenant_id: PROJECT_ID,
      project_id: PROJECT_ID,
      created_at: this.now(),
      ...extra,
    };
    this.subnets.set(id, sn);
    (net.subnets as string[]).push(id);
    return sn;
  }

  addGroup(name: string, description: string): J {
    const id = this.id();
    const g: J = { id, name, description, tenant_id: PROJECT_ID, project_id: PROJECT_ID, created_at: this.now(), security_group_rules: [] };
    this.groups.set(id, g);
    for (const ethertype of ['IPv4', 'IPv6']) {
      const rid = this.id();
      const rule = { id: rid, direction: 'egress', ethertype, protocol: null, port_range_min: null, port_range_max: null, remote_ip_prefix: null, remote_group_id: null, security_group_id: id };
      this.rules.set(rid, rule);
      (g.security_group_rules as J[]).push(rule);
    }
    return g;
  }

  seed(): void {
    const flavor = (id: string, name: string, vcpus: number, ram: number, disk: number, extra: J = {}, specs: Record<string, string> = {}) => {
      this.flavors.set(id, {
        id,
        name,
        vcpus,
        ram,
        disk,
        swap: '',
        'OS-FLV-EXT-DATA:ephemeral': 0,
        'OS-FLV-DISABLED:disabled': false,
        'os-flavor-access:is_public': true,
        rxtx_factor: 1.0,
        links: [{ rel: 'self', href: `/flavors/${id}` }],
        ...extra,
      });
      this.extraSpecs.set(id, specs);
    };
    flavor('1', 'm1.tiny', 1, 512, 1);
    flavor('2', 'm1.small', 1, 2048, 20);
    flavor('3', 'm1.medium', 2, 4096, 40);
    flavor('4', 'm1.large', 4, 8192, 80);
    flavor('5', 'm1.xlarge', 8, 16384, 160);
    flavor('10', 'g.small', 1, 2048, 20, {}, { 'pci_passthrough:alias': 'GPU:2,FPGA:1' });
    flavor('11', 'gpu.v100', 8, 32768, 80, {}, { 'Accelerator:Type': 'GPU', 'Accelerator:Number': '1', 'Accelerator:Vendor': 'NVIDIA', 'Accelerator:Model': 'Tesla V100' });
    flavor('12', 'm1.disabled', 1, 512, 10, { 'OS-FLV-DISABLED:disabled': true });
    flavor('13', 'm1.nodisk', 2, 4096, 0);
    flavor('14', 'm1.ephemeral', 2, 4096, 10, { 'OS-FLV-EXT-DATA:ephemeral': 20 });
    const image = (id: string, name: string, extra: J = {}) =>
      this.images.set(id, { id, name, status: 'active', visibility: 'public', disk_format: 'qcow2', container_format: 'bare', size: 1073741824, min_disk: 0, min_ram: 0, created_at: this.now(), updated_at: this.now(), self: `/v2/images/${id}`, file: `/v2/images/${id}/file`, schema: '/v2/schemas/image', tags: [], ...extra });
    image('img-ubuntu-2204', 'Ubuntu 22.04 LTS', { os_distro: 'ubuntu', os_version: '22.04' });
    image('img-ubuntu-2404', 'ubuntu_24.04_image2');
    image('img-centos-7', 'CentOS 7', { os_distro: 'centos', os_version: '7' });
    image('img-cirros', 'cirros-0.6.2');
    image('img-queued', 'not ready', { status: 'queued' });
    const pub = this.addNetwork('public', { external: true, shared: true, cidr: '203.0.113.0/24' });
    const priv = this.addNetwork('private', { cidr: '10.0.0.0/24' });
    const rid = this.id();
    this.routers.set(rid, { id: rid, name: 'router1', status: 'ACTIVE', admin_state_up: true, external_gateway_info: { network_id: pub.id, enable_snat: true }, tenant_id: PROJECT_ID, project_id: PROJECT_ID, routes: [], created_at: this.now() });
    const sn = this.subnets.get((priv.subnets as string[])[0]) as J;
    const pid = this.id();
    this.ports.set(pid, { id: pid, name: '', network_id: priv.id, device_id: rid, device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: sn.id, ip_address: '10.0.0.1' }], security_groups: [], status: 'ACTIVE', mac_address: 'fa:16:3e:00:00:01', tenant_id: PROJECT_ID, project_id: PROJECT_ID, allowed_address_pairs: [], port_security_enabled: true, created_at: this.now() });
    this.addGroup('default', 'Default security group');
    for (const m of [this.networks, this.subnets, this.ports, this.routers, this.groups, this.rules, this.images, this.flavors]) for (const k of m.keys()) this.seeded.add(k);
  }

  /** Resources made through the API that still exist, by kind (what a test calls leaks). */
  leftovers(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    const add = (kind: string, m: Map<string, J>, skip?: (x: J) => boolean) => {
      const ids = [...m.entries()].filter(([k, v]) => !this.seeded.has(k) && !(skip && skip(v))).map(([k]) => k);
      if (ids.length) out[kind] = ids;
    };
    add('servers', this.servers);
    add('ports', this.ports);
    add('floatingips', this.fips);
    add('volumes', this.volumes);
    add('security_groups', this.groups);
    add('networks', this.networks);
    add('subnets', this.subnets);
    add('routers', this.routers);
    return out;
  }

  leakCount(): number {
    return Object.values(this.leftovers()).reduce((n, ids) => n + ids.length, 0);
  }
}
