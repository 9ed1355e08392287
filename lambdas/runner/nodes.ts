/**
 * The contextualization view of the VMs of an infrastructure (pure): IPs, names, credentials, how
 * to reach each one, and the master VM (lifecycle.md §3).
 */
import { parseRadlJson, replaceNumTemplate, type Network, type Radl, type System } from '#radl/index';
import type { VmRecord } from '#core/types';

export interface NodeCredentials {
  user?: string;
  password?: string;
  privateKey?: string;
  publicKey?: string;
}

export interface NodeIface {
  index: number;
  network: string;
  isPublic: boolean;
  ip?: string;
  /** From `net_interface.N.dns_name` (with #N# replaced), split at the first dot. */
  hostname?: string;
  domain?: string;
}

/** An SSH jump host: the master VM, the RADL `ansible` host or a network's `proxy_host`. */
export interface JumpHost {
  host: string;
  port: number;
  user: string;
  password?: string;
  privateKey?: string;
  /** Label for logs (`master VM 0`, `proxy_host of network priv`…). */
  label: string;
}

export interface Application {
  name: string;
  version?: string;
  path?: string;
  preinstalled?: boolean;
}

export interface DataDisk {
  index: number;
  device: string;
  mountPath: string;
  fstype: string;
}

export interface CtxtNode {
  vmId: number;
  systemName: string;
  providerId?: string;
  cloudType: string;
  /** `disk.0.os.name`, lower case; '' when absent (= linux). */
  os: string;
  ifaces: NodeIface[];
  publicIp?: string;
  privateIp?: string;
  /** The address the runner connects to (public IP, else private IP). */
  ip?: string;
  sshPort: number;
  hostname: string;
  domain: string;
  fqdn: string;
  creds: NodeCredentials;
  /** Requested new credentials (`disk.0.os.credentials.new.*`) that differ from the current ones. */
  newCreds: { password?: string; publicKey?: string; privateKey?: string };
  applications: Application[];
  dataDisks: DataDisk[];
  vaultPassword?: string;
  /** A proxy_host of a private network the VM is connected to. */
  proxy?: JumpHost;
  /** Features of the VM system, for IM_APP_* and IM_INFRASTRUCTURE_RADL. */
  system: System;
  radl: Radl;
}

export interface NamingDefaults {
  DEFAULT_VM_NAME: string;
  DEFAULT_DOMAIN: string;
}

/** `name.domain` → [name, domain] (first dot); no dot → [name, defaultDomain]. `#N#` replaced by the VM id. */
export function splitName(name: string, vmId: number, defaultDomain: string): [string, string] {
  const full = replaceNumTemplate(name, vmId);
  const dot = full.indexOf('.');
  if (dot <= 0) return [full, defaultDomain];
  return [full.slice(0, dot), full.slice(dot + 1)];
}

/** Parses `user:pass@host:port` (user, password and port optional). */
export function parseProxyHost(value: string, key?: string, label = 'proxy_host'): JumpHost | undefined {
  const m = /^(?:([^:@]+)(?::([^@]*))?@)?([^@:]+)(?::(\d+))?$/.exec(value.trim());
  if (!m) return undefined;
  return {
    user: m[1] ?? 'root',
    password: m[2] || undefined,
    host: m[3],
    port: m[4] ? Number(m[4]) : 22,
    privateKey: key || undefined,
    label,
  };
}

function str(sys: System, prop: string): string | undefined {
  const v = sys.getValue(prop);
  if (v === undefined || v === null) return undefined;
  const s = Array.isArray(v) ? v[0] : String(v);
  return s === undefined || s === '' ? undefined : s;
}

function sshPortOf(nets: Network[]): number {
  for (const n of nets) {
    if (!n.isPublic()) continue;
    let ports;
    try {
      ports = n.getOutPorts();
    } catch {
      ports = undefined;
    }
    for (const p of ports ?? []) {
      if (!p.isRange && p.protocol === 'tcp' && p.localPort === 22 && p.remotePort !== 22) return p.remotePort;
    }
  }
  return 22;
}

/** Builds the node of one VM from its record (the VM RADL in `info`). */
export function nodeFromVm(vm: VmRecord, defaults: NamingDefaults): CtxtNode {
  const radl = parseRadlJson(vm.info);
  const system = radl.systems.find((s) => s.name === vm.systemName) ?? radl.systems[0];
  if (!system) throw new Error(`VM ${vm.vmId} has no system in its RADL`);
  const netById = new Map(radl.networks.map((n) => [n.id, n]));

  const ifaces: NodeIface[] = [];
  const n = system.getNumNetInterfaces();
  for (let i = 0; i < n; i++) {
    const network = str(system, `net_interface.${i}.connection`) ?? '';
    const net = netById.get(network);
    const iface: NodeIface = { index: i, network, isPublic: net?.isPublic() ?? false };
    const ip = str(system, `net_interface.${i}.ip`);
    if (ip) iface.ip = ip;
    const dns = str(system, `net_interface.${i}.dns_name`);
    if (dns) [iface.hostname, iface.domain] = splitName(dns, vm.vmId, defaults.DEFAULT_DOMAIN);
    ifaces.push(iface);
  }
  const publicIp = ifaces.find((f) => f.isPublic && f.ip)?.ip;
  const privateIp = ifaces.find((f) => !f.isPublic && f.ip)?.ip;

  const named = ifaces.find((f) => f.hostname);
  const [hostname, domain] = named
    ? [named.hostname as string, named.domain as string]
    : splitName(`${defaults.DEFAULT_VM_NAME}`, vm.vmId, defaults.DEFAULT_DOMAIN);

  const creds: NodeCredentials = {
    user: str(system, 'disk.0.os.credentials.username'),
    password: str(system, 'disk.0.os.credentials.password'),
    privateKey: str(system, 'disk.0.os.credentials.private_key'),
    publicKey: str(system, 'disk.0.os.credentials.public_key'),
  };
  const newPassword = str(system, 'disk.0.os.credentials.new.password');
  const newPublicKey = str(system, 'disk.0.os.credentials.new.public_key');
  const newPrivateKey = str(system, 'disk.0.os.credentials.new.private_key');
  const newCreds: CtxtNode['newCreds'] = {};
  if (newPassword && newPassword !== creds.password) newCreds.password = newPassword;
  if (newPublicKey && newPrivateKey && newPrivateKey !== creds.privateKey) {
    newCreds.publicKey = newPublicKey;
    newCreds.privateKey = newPrivateKey;
  }

  const applications: Application[] = system.getApplications(0).map((app) => {
    const a: Application = { name: app.getString('name') ?? '' };
    const version = app.getString('version');
    const path = app.getString('path');
    const pre = app.getString('preinstalled');
    if (version) a.version = version;
    if (path) a.path = path;
    if (pre) a.preinstalled = pre.toLowerCase() === 'yes';
    return a;
  });

  const dataDisks: DataDisk[] = [];
  for (let d = 1; d < Math.max(system.getNumDisks(), 1); d++) {
    const device = str(system, `disk.${d}.device`);
    const mountPath = str(system, `disk.${d}.mount_path`);
    const fstype = str(system, `disk.${d}.fstype`);
    if (device && mountPath && fstype) dataDisks.push({ index: d, device, mountPath, fstype });
  }

  let proxy: JumpHost | undefined;
  for (const f of ifaces) {
    const net = netById.get(f.network);
    const ph = net?.getString('proxy_host');
    if (!f.isPublic && ph) {
      proxy = parseProxyHost(ph, net?.getString('proxy_key'), `proxy_host of network ${f.network}`);
      if (proxy) break;
    }
  }

  const node: CtxtNode = {
    vmId: vm.vmId,
    systemName: vm.systemName,
    cloudType: vm.cloudType,
    os: (str(system, 'disk.0.os.name') ?? '').toLowerCase(),
    ifaces,
    sshPort: sshPortOf(radl.networks.filter((net) => ifaces.some((f) => f.network === net.id))),
    hostname,
    domain,
    fqdn: domain ? `${hostname}.${domain}` : hostname,
    creds,
    newCreds,
    applications,
    dataDisks,
    system,
    radl,
  };
  if (vm.providerId) node.providerId = vm.providerId;
  if (publicIp) node.publicIp = publicIp;
  if (privateIp) node.privateIp = privateIp;
  const ip = publicIp ?? privateIp;
  if (ip) node.ip = ip;
  const vault = str(system, 'vault.password');
  if (vault) node.vaultPassword = vault;
  if (proxy) node.proxy = proxy;
  return node;
}

/** Whether a node can be the master: Linux (or unknown OS) with a public IP, or behind a proxy_host. */
export function canBeMaster(n: CtxtNode): boolean {
  return (n.os === '' || n.os === 'linux') && (!!n.publicIp || (!!n.privateIp && !!n.proxy)) && !!n.creds.user;
}

function connected(a: CtxtNode, b: CtxtNode): boolean {
  if (a.publicIp && b.publicIp) return true;
  const nets = new Set(a.ifaces.map((f) => f.network));
  return b.ifaces.some((f) => nets.has(f.network));
}

/**
 * IM's master selection: among the candidates (ctxt enabled, Linux, public IP or proxy), the one connected
 * to most VMs; ties go to the lowest VM id (first created). `preferred` (the stored master) wins while it
 * is still a candidate.
 */
export function selectMaster(nodes: CtxtNode[], enabled: (n: CtxtNode) => boolean, preferred?: number): CtxtNode | undefined {
  const candidates = nodes.filter((n) => enabled(n) && canBeMaster(n)).sort((a, b) => a.vmId - b.vmId);
  const keep = candidates.find((c) => c.vmId === preferred);
  if (keep) return keep;
  let best: CtxtNode | undefined;
  let bestScore = -1;
  for (const c of candidates) {
    const score = nodes.filter((o) => o !== c && connected(c, o)).length;
    if (score > bestScore) {
      best = c;
      bestScore = score;
    }
  }
  return best;
}

/** The RADL `ansible` host (an external Ansible master) as a jump host, with its names for IM_MASTER_*. */
export function ansibleHostJump(radl: Radl): { jump: JumpHost; host: string } | undefined {
  const ah = radl.ansibleHosts[0];
  if (!ah) return undefined;
  const host = ah.getString('host') ?? '';
  const user = ah.getString('credentials.username') ?? 'root';
  const jump: JumpHost = { host, port: 22, user, label: `ansible host ${ah.id}` };
  const pw = ah.getString('credentials.password');
  const key = ah.getString('credentials.private_key');
  if (pw) jump.password = pw;
  if (key) jump.privateKey = key;
  const parsed = parseProxyHost(host);
  if (parsed) {
    jump.host = parsed.host;
    jump.port = parsed.port;
  }
  return { jump, host };
}

/**
 * How the runner reaches a node: directly when it has a public IP; else through its network's
 * proxy_host, the RADL `ansible` host, or the master VM (when that has a public IP).
 */
export function jumpFor(node: CtxtNode, master: CtxtNode | undefined, ansibleJump: JumpHost | undefined): JumpHost | undefined {
  if (node.publicIp) return undefined;
  if (node.proxy) return node.proxy;
  if (ansibleJump) return ansibleJump;
  if (!master || master.vmId === node.vmId || !master.publicIp || !master.creds.user) return undefined;
  const j: JumpHost = { host: master.publicIp, port: master.sshPort, user: master.creds.user, label: `master VM ${master.vmId}` };
  if (master.creds.password) j.password = master.creds.password;
  if (master.creds.privateKey) j.privateKey = master.creds.privateKey;
  return j;
}
