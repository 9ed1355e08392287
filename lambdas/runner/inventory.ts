/**
 * The Ansible inventory of a contextualization (pure): a YAML inventory with one group per system
 * and IM's variables (lifecycle.md §3), plus the key / password files it refers to (the caller writes
 * them, mode 0600, in its private work folder).
 *
 * Per host: ansible_host/port/user, password (also as become password) or key file, and for VMs
 * without a public IP an ssh ProxyCommand through the jump host (the master VM, the RADL `ansible`
 * host, or the network's `proxy_host`); IM_NODE_PUBLIC_IP, IM_NODE_PRIVATE_IP, IM_NODE_HOSTNAME,
 * IM_NODE_DOMAIN, IM_NODE_FQDN, IM_NODE_NUM, IM_NODE_VMID, IM_NODE_CLOUD_TYPE, IM_NODE_NET_<i>_IP|HOSTNAME|
 * DOMAIN|FQDN, IM_APP_<NAME>_PATH|VERSION. Global: IM_<SYSTEM>_NUM_VMS, IM_MASTER_HOSTNAME|FQDN|DOMAIN,
 * IM_INFRASTRUCTURE_ID, IM_INFRASTRUCTURE_RADL (RADL-JSON of networks, systems and deploys, `.`→`_` in
 * keys, credentials removed). IM_INFRASTRUCTURE_AUTH is never written: cloud credentials do not leave
 * the service. Every string that came from a user or a provider and contains `{` is tagged `!unsafe`
 * so Ansible never templates it.
 */
import { join } from 'node:path';
import { radlToJson, type Radl } from '#radl/index';
import type { CtxtNode, JumpHost } from '#runner/nodes';
import { dumpYaml, unsafe, type Tagged } from '#runner/yaml';

export interface FileToWrite {
  path: string;
  content: string;
  mode: number;
}

export interface MasterNames {
  hostname: string;
  domain: string;
  fqdn: string;
}

export interface InventoryInput {
  infId: string;
  /** Every VM with an IP that takes part (and the disabled ones, for the variables). */
  nodes: CtxtNode[];
  master?: MasterNames;
  /** The jump host of a node without public IP (undefined = reach it directly). */
  jumpFor: (node: CtxtNode) => JumpHost | undefined;
  /** Folder for key and password files (inside the private work folder). */
  keyDir: string;
  infraRadl: Radl;
  /** Seconds for ssh ConnectTimeout of the jump connection. */
  connectTimeout?: number;
}

export interface InventoryOutput {
  yaml: string;
  /** Inventory host name of each VM. */
  hostNames: Map<number, string>;
  files: FileToWrite[];
}

/** A value safe from templating: tagged `!unsafe` when it contains `{`. */
export function safe(s: string): string | Tagged {
  return s.includes('{') ? unsafe(s) : s;
}

/** `<ip>_<vmId>` as IM names its inventory hosts (`:` of IPv6 addresses → `-`: it separates host patterns). */
export function inventoryHostName(node: CtxtNode): string {
  return `${(node.ip ?? 'noip').replace(/[^A-Za-z0-9.-]/g, '-')}_${node.vmId}`;
}

/** Upper case, anything but letters, digits and `_` → `_` (valid Ansible variable names). */
export function varToken(s: string): string {
  return s.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

const SHELL_SAFE = /^[A-Za-z0-9@%+=:,./_-]+$/;
function shellArg(s: string): string {
  return SHELL_SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The ssh `-o ProxyCommand=…` argument that goes through `jump` (password via sshpass -f, or a key). */
export function proxyCommandArgs(jump: JumpHost, files: { passwordFile?: string; keyFile?: string }, connectTimeout = 20): string {
  const ssh = [
    'ssh',
    '-W',
    '%h:%p',
    '-q',
    '-p',
    String(jump.port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    `ConnectTimeout=${connectTimeout}`,
    '-o',
    'ControlMaster=no',
    '-o',
    'ControlPath=none',
  ];
  if (files.keyFile) ssh.push('-i', files.keyFile, '-o', 'IdentitiesOnly=yes');
  if (files.keyFile && !files.passwordFile) ssh.push('-o', 'BatchMode=yes');
  ssh.push(shellArg(`${jump.user}@${jump.host}`));
  const cmd = files.passwordFile ? ['sshpass', '-f', files.passwordFile, ...ssh] : ssh;
  return `-o ProxyCommand="${cmd.join(' ')}"`;
}

function stripCredentials(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripCredentials);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (/credentials\.(password|private_key|token|new\.)|vault\.password|proxy_key/.test(k)) continue;
      out[k] = stripCredentials(v);
    }
    return out;
  }
  return value;
}

function underscoreKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(underscoreKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k.replace(/\./g, '_')] = underscoreKeys(v);
    return out;
  }
  return typeof value === 'string' ? safe(value) : value;
}

/** IM_INFRASTRUCTURE_RADL: networks, systems and deploys as RADL-JSON with `.`→`_` in keys. */
export function infrastructureRadlVar(radl: Radl): unknown {
  const items = radlToJson(radl).filter((i) => ['network', 'system', 'deploy'].includes(String(i.class)));
  return underscoreKeys(stripCredentials(items));
}

/** IM_NODE_* variables of a node. */
export function nodeVars(node: CtxtNode): Record<string, unknown> {
  const v: Record<string, unknown> = {};
  if (node.publicIp) v.IM_NODE_PUBLIC_IP = node.publicIp;
  const priv = node.privateIp ?? node.publicIp;
  if (priv) v.IM_NODE_PRIVATE_IP = priv;
  v.IM_NODE_HOSTNAME = safe(node.hostname);
  v.IM_NODE_DOMAIN = safe(node.domain);
  v.IM_NODE_FQDN = safe(node.fqdn);
  v.IM_NODE_NUM = node.vmId;
  v.IM_NODE_VMID = safe(node.providerId ?? '');
  v.IM_NODE_CLOUD_TYPE = safe(node.cloudType);
  for (const f of node.ifaces) {
    if (!f.ip) continue;
    v[`IM_NODE_NET_${f.index}_IP`] = f.ip;
    if (f.hostname) {
      v[`IM_NODE_NET_${f.index}_HOSTNAME`] = safe(f.hostname);
      v[`IM_NODE_NET_${f.index}_DOMAIN`] = safe(f.domain ?? '');
      v[`IM_NODE_NET_${f.index}_FQDN`] = safe(f.domain ? `${f.hostname}.${f.domain}` : f.hostname);
    }
  }
  for (const app of node.applications) {
    if (!app.name) continue;
    if (app.path) v[`IM_APP_${varToken(app.name)}_PATH`] = safe(app.path);
    if (app.version) v[`IM_APP_${varToken(app.name)}_VERSION`] = safe(app.version);
  }
  return v;
}

export function buildInventory(input: InventoryInput): InventoryOutput {
  const files: FileToWrite[] = [];
  const hostNames = new Map<number, string>();
  const jumpFiles = new Map<JumpHost, { passwordFile?: string; keyFile?: string }>();
  let jumpSeq = 0;
  const filesForJump = (j: JumpHost) => {
    let f = jumpFiles.get(j);
    if (!f) {
      f = {};
      const n = jumpSeq++;
      if (j.password) {
        f.passwordFile = join(input.keyDir, `jump${n}.pw`);
        files.push({ path: f.passwordFile, content: j.password, mode: 0o600 });
      }
      if (j.privateKey) {
        f.keyFile = join(input.keyDir, `jump${n}.pem`);
        files.push({ path: f.keyFile, content: j.privateKey.endsWith('\n') ? j.privateKey : `${j.privateKey}\n`, mode: 0o600 });
      }
      jumpFiles.set(j, f);
    }
    return f;
  };

  const groups: Record<string, { hosts: Record<string, Record<string, unknown>> }> = {};
  const counts = new Map<string, number>();
  const windows: Record<string, null> = {};
  for (const node of [...input.nodes].sort((a, b) => a.vmId - b.vmId)) {
    counts.set(node.systemName, (counts.get(node.systemName) ?? 0) + 1);
    if (!node.ip) continue;
    const name = inventoryHostName(node);
    hostNames.set(node.vmId, name);
    const h: Record<string, unknown> = { ansible_host: node.ip, ansible_port: node.sshPort };
    if (node.creds.user) h.ansible_user = safe(node.creds.user);
    if (node.creds.password) {
      h.ansible_password = safe(node.creds.password);
      h.ansible_become_password = safe(node.creds.password);
    }
    if (node.creds.privateKey) {
      const keyFile = join(input.keyDir, `vm${node.vmId}.pem`);
      files.push({ path: keyFile, content: node.creds.privateKey.endsWith('\n') ? node.creds.privateKey : `${node.creds.privateKey}\n`, mode: 0o600 });
      h.ansible_ssh_private_key_file = keyFile;
    }
    const jump = input.jumpFor(node);
    if (jump) h.ansible_ssh_common_args = proxyCommandArgs(jump, filesForJump(jump), input.connectTimeout);
    if (node.os === 'windows') {
      h.ansible_connection = 'winrm';
      h.ansible_winrm_server_cert_validation = 'ignore';
      windows[name] = null;
    }
    if (node.newCreds.password) h.im_ctxt_new_password = safe(node.newCreds.password);
    if (node.newCreds.publicKey) h.im_ctxt_new_public_key = safe(node.newCreds.publicKey.trim());
    Object.assign(h, nodeVars(node));
    const g = (groups[node.systemName] ??= { hosts: {} });
    g.hosts[name] = h;
  }

  const vars: Record<string, unknown> = {};
  for (const [system, n] of counts) vars[`IM_${varToken(system)}_NUM_VMS`] = n;
  if (input.master) {
    vars.IM_MASTER_HOSTNAME = safe(input.master.hostname);
    vars.IM_MASTER_FQDN = safe(input.master.fqdn);
    vars.IM_MASTER_DOMAIN = safe(input.master.domain);
  }
  vars.IM_INFRASTRUCTURE_ID = input.infId;
  vars.IM_INFRASTRUCTURE_RADL = infrastructureRadlVar(input.infraRadl);

  const children: Record<string, unknown> = { ...groups };
  children.windows = { hosts: windows };
  const yaml = dumpYaml({ all: { vars, children } });
  return { yaml, hostNames, files };
}
