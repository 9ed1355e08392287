/**
 * Pure helpers of the EC2 connector: image URLs and provider ids, EC2 state and error mapping, IP
 * classification (PRIVATE_NET_MASKS), the RADL → instance-requirements translation, tags, device names,
 * SSH public keys, the cloud-init user data, and the shape of the VM's `cloudData`. No network calls here.
 */
import { createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Network, Radl, System } from '#radl/index';
import { ImError } from '#core/errors';
import { candidateInstanceTypes, describeRequirements, type InstanceRequirements, type Range } from '#connectors/ec2-instance-types';
import type { VmState } from '#core/types';
import type { Instance } from '@aws-sdk/client-ec2';

/** The SSH user the connector creates (with cloud-init) when the RADL names none. */
export const DEFAULT_USER = 'cloudadm';
/** Tag on every resource the connector creates; finalize(last) finds leftovers by it. */
export const INFRA_TAG = 'IM-INFRA-ID';

// ---------------------------------------------------------------------------------------------
// Image URLs and provider ids
// ---------------------------------------------------------------------------------------------

const REGION_RE = /^[a-z]{2}(-[a-z]+)+-\d+$/;

/** `aws://<region>/<ami-…|snap-…>`. */
export interface AwsImageRef {
  region: string;
  /** `ami-…` or `snap-…`. */
  id: string;
  kind: 'ami' | 'snap';
}

/** Parses an IM EC2 image URL; undefined for any other scheme or shape. */
export function parseImageUrl(url: string | undefined): AwsImageRef | undefined {
  if (!url) return undefined;
  const m = /^aws:\/\/([^/]+)\/((ami|snap)-[0-9a-zA-Z]+)\/?$/.exec(url.trim());
  if (!m || !REGION_RE.test(m[1])) return undefined;
  return { region: m[1], id: m[2], kind: m[3] as 'ami' | 'snap' };
}

/** The IM image URL of an AMI or snapshot. */
export function imageUrl(region: string, id: string): string {
  return `aws://${region}/${id}`;
}

/** `<region>;<instance-id>` → parts; undefined when malformed or empty. */
export function parseProviderId(providerId: string | undefined): { region: string; instanceId: string } | undefined {
  if (!providerId) return undefined;
  const i = providerId.indexOf(';');
  if (i <= 0) return undefined;
  const region = providerId.slice(0, i);
  const instanceId = providerId.slice(i + 1);
  return instanceId.startsWith('i-') ? { region, instanceId } : undefined;
}

/** The first `aws://` image URL of the system's `disk.0.image.url` (a string or a list). */
export function systemImage(system: System): AwsImageRef | undefined {
  for (const u of system.getList('disk.0.image.url') ?? []) {
    const ref = parseImageUrl(u);
    if (ref) return ref;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// States
// ---------------------------------------------------------------------------------------------

const STATE_MAP: Record<string, VmState> = {
  pending: 'pending',
  running: 'running',
  stopping: 'running',
  stopped: 'stopped',
  'shutting-down': 'off',
  terminated: 'off',
};

/** EC2 instance state name → IM VM state (lifecycle.md §8); unknown names → `unknown`. */
export function mapEc2State(name: string | undefined): VmState {
  return (name && STATE_MAP[name]) || 'unknown';
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** Transient EC2 errors: the launch flow retries them (MAX_VM_FAILS). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientAddressCapacity',
  'InstanceLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'SpotMaxPriceTooLow',
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'Unavailable',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'DependencyViolation',
  'IncorrectInstanceState',
]);

/** The credentials (or their permissions) were refused. */
export const AUTH_CODES: ReadonlySet<string> = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'AccessDenied',
  'AccessDeniedException',
  'OptInRequired',
  'CredentialsProviderError',
]);

/** The error code of an AWS SDK error (`name`, or `Code`/`code` for odd shapes). */
export function errorCode(err: unknown): string {
  if (!err || typeof err !== 'object') return 'Unknown';
  const e = err as { name?: unknown; Code?: unknown; code?: unknown };
  for (const c of [e.Code, e.name, e.code]) if (typeof c === 'string' && c && c !== 'Error') return c;
  return 'Unknown';
}

/** NotFound-style codes: the resource is already gone. */
export function isNotFound(err: unknown): boolean {
  const c = errorCode(err);
  return c.endsWith('.NotFound') || c.endsWith('NotFound') || c === 'InvalidAMIID.Unavailable';
}

/** Replaces every occurrence of the given secrets in a text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out;
}

/** The secret values of an EC2 auth item (never to be logged or shown). */
export function authSecrets(auth: Record<string, string | undefined>): string[] {
  return [auth.password, auth.token, auth.username].filter((s): s is string => typeof s === 'string' && s !== '');
}

/**
 * Any error → ImError. Transient codes → CLOUD_RETRYABLE; refused credentials → BAD_REQUEST
 * `EC2 credentials rejected: <code>`; other EC2 errors → BAD_REQUEST with EC2's message. Secrets of the auth
 * item are scrubbed from every message.
 */
export function mapEc2Error(err: unknown, context: string, secrets: readonly string[] = []): ImError {
  if (err instanceof ImError) return err;
  const code = errorCode(err);
  if (AUTH_CODES.has(code)) return new ImError('BAD_REQUEST', `EC2 credentials rejected: ${code}`);
  const raw = err instanceof Error ? err.message : String(err);
  const msg = scrubSecrets(raw || code, secrets).split('\n')[0].slice(0, 500);
  const text = `${context}: ${msg}${code !== 'Unknown' && !msg.includes(code) ? ` (${code})` : ''}`;
  return new ImError(RETRYABLE_CODES.has(code) ? 'CLOUD_RETRYABLE' : 'BAD_REQUEST', text);
}

// ---------------------------------------------------------------------------------------------
// IP addresses (lifecycle.md §4)
// ---------------------------------------------------------------------------------------------

/** True when the address falls in one of the masks (PRIVATE_NET_MASKS). */
export function isPrivateIp(ip: string, masks: readonly string[]): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return false;
  }
  for (const m of masks) {
    try {
      const [range, bits] = ipaddr.parseCIDR(m);
      if (range.kind() === addr.kind() && addr.match(range, bits)) return true;
    } catch {
      // ignore malformed masks
    }
  }
  return false;
}

/** Whether an IPv4 address is inside a network `cidr`, which may use `*` octets (`10.*.*.0/24`). */
export function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  if (!base || !bitsText || !ipaddr.IPv4.isValid(ip)) return false;
  const ipOctets = ip.split('.');
  const octets = base.split('.');
  if (octets.length !== 4) return false;
  const concrete = octets.map((o, i) => (o === '*' ? ipOctets[i] : o)).join('.');
  try {
    const [range, bits] = ipaddr.parseCIDR(`${concrete}/${bitsText}`);
    const addr = ipaddr.parse(ip);
    return range.kind() === addr.kind() && addr.match(range, bits);
  } catch {
    return false;
  }
}

/**
 * Writes the addresses a provider reports into the system (lifecycle.md §4): IPv6 → `net_interface.N.ipv6`;
 * public IPv4 → the interfaces connected to a public network; private IPv4 → the private-network interface
 * whose `cidr` contains it, else the first private-network interface. Interfaces keep their old value when no
 * address of their kind is reported (e.g. a stopped VM loses its public IP). Returns the system (mutated).
 */
export function assignIps(system: System, radl: Radl, ips: string[], masks: readonly string[]): System {
  const ifaces: { index: number; net?: Network }[] = [];
  for (let i = 0; i < system.getNumNetInterfaces(); i++) {
    const id = system.getString(`net_interface.${i}.connection`);
    ifaces.push({ index: i, net: id ? radl.getNetworkById(id) : undefined });
  }
  const v6 = ips.filter((ip) => ip.includes(':'));
  const v4 = ips.filter((ip) => !ip.includes(':'));
  const pub = v4.filter((ip) => !isPrivateIp(ip, masks));
  const priv = v4.filter((ip) => isPrivateIp(ip, masks));
  const publicIfaces = ifaces.filter((f) => f.net?.isPublic());
  const privateIfaces = ifaces.filter((f) => f.net && !f.net.isPublic());
  const used = new Set<number>();
  const put = (i: number, ip: string) => {
    system.setValue(`net_interface.${i}.ip`, ip);
    used.add(i);
  };
  // A public address already recorded (e.g. a fixed Elastic IP) stays on its interface.
  for (const ip of pub) {
    const same = publicIfaces.find((f) => system.getString(`net_interface.${f.index}.ip`) === ip && !used.has(f.index));
    const free = same ?? publicIfaces.find((f) => !used.has(f.index));
    if (free) put(free.index, ip);
  }
  for (const ip of priv) {
    const candidates = privateIfaces.filter((f) => !used.has(f.index));
    const byCidr = candidates.find((f) => {
      const cidr = f.net?.getString('cidr');
      return cidr !== undefined && ipInCidr(ip, cidr);
    });
    const chosen = byCidr ?? candidates.find((f) => !f.net?.getString('cidr') || system.getString(`net_interface.${f.index}.ip`) === ip) ?? candidates[0];
    if (chosen) put(chosen.index, ip);
  }
  if (v6.length && ifaces.length) system.setValue(`net_interface.${(publicIfaces[0] ?? ifaces[0]).index}.ipv6`, v6[0]);
  return system;
}

// ---------------------------------------------------------------------------------------------
// Instance requirements
// ---------------------------------------------------------------------------------------------

const MiB = 1024 * 1024;

function bounds(system: System, prop: string, scale = 1, eqIsMinOnly = false): Range | undefined {
  const b = system.getBounds(prop);
  const min = b.min?.getNumber();
  const max = b.max?.getNumber();
  if (min === undefined && max === undefined) return undefined;
  const r: Range = {};
  const isEq = b.min !== undefined && b.min === b.max;
  if (min !== undefined) r.min = min / scale;
  if (max !== undefined && !(isEq && eqIsMinOnly)) r.max = max / scale;
  return r;
}

/**
 * What a system asks of its instance type. `memory.size = X` is read as "at least X" (EC2 sizes are
 * binary and RADL units may be decimal); `price = X` as "at most X". `arch` overrides `cpu.arch` (the AMI's
 * architecture decides at launch).
 */
export function instanceRequirements(system: System, arch?: string): InstanceRequirements {
  const req: InstanceRequirements = {};
  const it = system.getString('instance_type');
  if (it) req.instanceType = it;
  const cpus = bounds(system, 'cpu.count');
  if (cpus) req.cpus = cpus;
  const mem = bounds(system, 'memory.size', MiB, true);
  if (mem) req.memoryMiB = mem;
  const a = arch ?? system.getString('cpu.arch');
  if (a) req.arch = a;
  const gpus = bounds(system, 'gpu.count');
  if (gpus) req.gpus = gpus;
  const vendor = system.getString('gpu.vendor');
  if (vendor) req.gpuVendor = vendor;
  const model = system.getString('gpu.model');
  if (model) req.gpuModel = model;
  const pb = system.getBounds('price');
  if (pb.max || pb.min) {
    const price: Range = {};
    const maxV = pb.max?.getNumber();
    if (maxV !== undefined) price.max = maxV;
    const minV = pb.min?.getNumber();
    if (minV !== undefined && pb.min !== pb.max) price.min = minV;
    req.price = price;
  }
  return req;
}

// ---------------------------------------------------------------------------------------------
// Tags, disks
// ---------------------------------------------------------------------------------------------

/** `k=v,k2=v2` → map (entries without `=` are skipped; a value may contain `=`). */
export function parseInstanceTags(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!value) return out;
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) continue;
    const k = part.slice(0, i).trim();
    if (k) out[k] = part.slice(i + 1).trim();
  }
  return out;
}

/** EC2 tag list from a map: drops reserved `aws:` keys and trims keys/values to EC2's limits (50 tags). */
export function toEc2Tags(tags: Record<string, string>): { Key: string; Value: string }[] {
  return Object.entries(tags)
    .filter(([k]) => k && !k.toLowerCase().startsWith('aws:'))
    .slice(0, 50)
    .map(([k, v]) => ({ Key: k.slice(0, 128), Value: String(v ?? '').slice(0, 256) }));
}

/** `Name` tag: instance_name | disk.0.image.name | system name, lower-cased, `_` → `-`, plus `-<suffix>`. */
export function nameTag(system: System, suffix: string): string {
  const base = system.getString('instance_name') ?? system.getString('disk.0.image.name') ?? system.name;
  return `${base.toLowerCase().replace(/_/g, '-')}-${suffix}`.slice(0, 256);
}

/** Device name of data disk N: `disk.N.device` (`sdb`, `xvdb`, `/dev/sdb`) or `/dev/sd<b+N-1>`. */
export function deviceName(system: System, n: number): string {
  const given = system.getString(`disk.${n}.device`)?.trim();
  if (given) return given.startsWith('/dev/') ? given : `/dev/${given}`;
  return `/dev/sd${String.fromCharCode('a'.charCodeAt(0) + Math.min(n, 25))}`;
}

/** Bytes → whole GiB, at least 1. */
export function bytesToGiB(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 1024 ** 3));
}

/** EBS volume types EC2 accepts. */
export const VOLUME_TYPES: ReadonlySet<string> = new Set(['standard', 'gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1']);

// ---------------------------------------------------------------------------------------------
// SSH keys and cloud-init
// ---------------------------------------------------------------------------------------------

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function mpint(b64url: string): Buffer {
  let b = Buffer.from(b64url, 'base64url');
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

/** OpenSSH public key of a JWK public key (RSA, Ed25519, ECDSA P-256/384/521). */
function jwkToOpenSsh(jwk: JsonWebKey): string | undefined {
  if (jwk.kty === 'RSA' && jwk.n && jwk.e) {
    return `ssh-rsa ${Buffer.concat([sshString('ssh-rsa'), mpint(jwk.e), mpint(jwk.n)]).toString('base64')}`;
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519' && jwk.x) {
    return `ssh-ed25519 ${Buffer.concat([sshString('ssh-ed25519'), sshString(Buffer.from(jwk.x, 'base64url'))]).toString('base64')}`;
  }
  if (jwk.kty === 'EC' && jwk.x && jwk.y) {
    const curve = { 'P-256': 'nistp256', 'P-384': 'nistp384', 'P-521': 'nistp521' }[jwk.crv ?? ''];
    if (!curve) return undefined;
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
    const type = `ecdsa-sha2-${curve}`;
    return `${type} ${Buffer.concat([sshString(type), sshString(curve), sshString(point)]).toString('base64')}`;
  }
  return undefined;
}

/** The OpenSSH public key of a PEM private key; undefined when it cannot be read. */
export function publicKeyFromPrivate(privatePem: string): string | undefined {
  try {
    return jwkToOpenSsh(createPublicKey(createPrivateKey(privatePem)).export({ format: 'jwk' }));
  } catch {
    return undefined;
  }
}

/** An OpenSSH public key line (`ssh-rsa AAAA… [comment]`) or a PEM public key → OpenSSH form; else undefined. */
export function normalisePublicKey(value: string): string | undefined {
  const v = value.trim();
  if (/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+)\s+[A-Za-z0-9+/=]+/.test(v)) return v.split(/\s+/).slice(0, 2).join(' ');
  if (v.includes('-----BEGIN')) {
    try {
      return jwkToOpenSsh(createPublicKey(v).export({ format: 'jwk' }));
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** A RADL `public_key` shorter than 128 characters without spaces names an existing EC2 key pair (IM rule). */
export function isKeyPairName(value: string): boolean {
  const v = value.trim();
  return v.length > 0 && v.length < 128 && !/\s/.test(v) && !v.includes('-----BEGIN') && normalisePublicKey(v) === undefined;
}

const USERNAME_RE = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** Whether a username can be created by cloud-init. */
export function isValidUsername(u: string): boolean {
  return USERNAME_RE.test(u);
}

/** cloud-init user data: creates `username` with sudo and the public key, plus the system's `cloud_init` recipes. */
export function cloudInitUserData(username: string, publicKey: string | undefined, recipes: string[] = []): string {
  const lines = ['#cloud-config', 'users:', '  - default', `  - name: ${username}`, '    sudo: "ALL=(ALL) NOPASSWD:ALL"', '    shell: /bin/bash', '    lock_passwd: true'];
  if (publicKey) lines.push('    ssh_authorized_keys:', `      - ${JSON.stringify(publicKey)}`);
  const base = lines.join('\n') + '\n';
  if (recipes.length === 0) return base;
  const boundary = '==IM-EC2-BOUNDARY==';
  const part = (text: string) => {
    const t = text.replace(/^\s*\n/, '');
    const type = t.startsWith('#!') ? 'text/x-shellscript' : t.startsWith('#include') ? 'text/x-include-url' : 'text/cloud-config';
    return `--${boundary}\nContent-Type: ${type}; charset="utf-8"\nMIME-Version: 1.0\n\n${t}\n`;
  };
  return [`Content-Type: multipart/mixed; boundary="${boundary}"\nMIME-Version: 1.0\n\n`, part(base), ...recipes.map(part), `--${boundary}--\n`].join('');
}

/** The `cloud_init` configures that contextualize items assign to this system (lifecycle.md §3). */
export function cloudInitRecipes(radl: Radl, systemName: string): string[] {
  const items = radl.contextualize?.getItemsBySystem(systemName) ?? [];
  const out: string[] = [];
  for (const it of items) {
    if ((it.ctxtTool ?? '').toLowerCase() !== 'cloud_init') continue;
    const recipe = radl.getConfigureByName(it.configureId)?.recipes;
    if (recipe && recipe.trim()) out.push(recipe);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// cloudData
// ---------------------------------------------------------------------------------------------

/** A security group the VM uses. */
export interface Ec2SecurityGroupData {
  id: string;
  name: string;
  vpcId?: string;
  /** Created by the connector for this infrastructure: deleted when the last VM is finalized. */
  managed: boolean;
}

/** An Elastic IP the VM uses. */
export interface Ec2ElasticIpData {
  allocationId: string;
  publicIp: string;
  /** Allocated by the connector (released at finalize); false = the user's address (only disassociated). */
  allocated: boolean;
  associationId?: string;
  /** Association still to do (the instance was not ready at launch): updateVmInfo completes it. */
  pending?: boolean;
}

/** What the connector created for a VM (`VmRecord.cloudData`). JSON-serialisable. */
export interface Ec2CloudData {
  region: string;
  instanceId?: string;
  vpcId?: string;
  subnetId?: string;
  securityGroups?: Ec2SecurityGroupData[];
  /** Key pair created or imported for this VM (deleted at finalize). */
  keyPair?: string;
  elasticIps?: Ec2ElasticIpData[];
  /** Volumes to delete explicitly after termination (not DeleteOnTermination). */
  volumes?: string[];
  /** AMI registered from a snapshot image URL for this VM. */
  registeredImage?: string;
  spot?: boolean;
}

/** The resources a failed launch left behind (to pass to finalize), if the error carries them. */
export function launchErrorCloudData(err: unknown): Record<string, unknown> | undefined {
  const d = (err as { cloudData?: unknown } | undefined)?.cloudData;
  return d && typeof d === 'object' ? (d as Record<string, unknown>) : undefined;
}

/** Reads the (untrusted, stored) cloudData of a VM. */
export function readCloudData(raw: Record<string, unknown> | undefined, fallbackRegion: string): Ec2CloudData {
  const d = (raw ?? {}) as Partial<Ec2CloudData>;
  const out: Ec2CloudData = { region: typeof d.region === 'string' && d.region ? d.region : fallbackRegion };
  if (typeof d.instanceId === 'string') out.instanceId = d.instanceId;
  if (typeof d.vpcId === 'string') out.vpcId = d.vpcId;
  if (typeof d.subnetId === 'string') out.subnetId = d.subnetId;
  if (Array.isArray(d.securityGroups)) out.securityGroups = d.securityGroups.filter((g) => g && typeof g.id === 'string');
  if (typeof d.keyPair === 'string') out.keyPair = d.keyPair;
  if (Array.isArray(d.elasticIps)) out.elasticIps = d.elasticIps.filter((e) => e && typeof e.allocationId === 'string');
  if (Array.isArray(d.volumes)) out.volumes = d.volumes.filter((v) => typeof v === 'string');
  if (typeof d.registeredImage === 'string') out.registeredImage = d.registeredImage;
  if (d.spot) out.spot = true;
  return out;
}

/** Every address of the instance (primary, per-interface private, public, IPv6). */
export function instanceIps(inst: Instance): string[] {
  const ips: string[] = [];
  const add = (ip: string | undefined) => {
    if (ip && !ips.includes(ip)) ips.push(ip);
  };
  add(inst.PublicIpAddress);
  add(inst.PrivateIpAddress);
  for (const n of inst.NetworkInterfaces ?? []) {
    add(n.Association?.PublicIp);
    for (const p of n.PrivateIpAddresses ?? []) {
      add(p.Association?.PublicIp);
      add(p.PrivateIpAddress);
    }
    for (const a of n.Ipv6Addresses ?? []) add(a.Ipv6Address);
  }
  return ips;
}

/** Resolves to undefined when the call fails with a NotFound code. */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * EC2's concreteSystem, free of any SDK import so that the registry can answer it without loading
 * the EC2 client: one candidate per `aws://` URL of `disk.0.image.url` ([] when none), with that URL,
 * `provider.type = 'EC2'` and the default username `cloudadm`. Throws BAD_REQUEST when no instance type
 * of the table (of either architecture — the AMI decides at launch) satisfies the requirements.
 */
export function ec2ConcreteSystem(system: System): System[] {
  const out: System[] = [];
  for (const url of system.getList('disk.0.image.url') ?? []) {
    if (!parseImageUrl(url)) continue;
    const s = system.clone();
    s.setValue('disk.0.image.url', url);
    s.setValue('provider.type', 'EC2');
    if (!s.getString('disk.0.os.credentials.username')) s.setValue('disk.0.os.credentials.username', DEFAULT_USER);
    const req = instanceRequirements(s);
    delete req.arch;
    if (candidateInstanceTypes(req).length === 0) {
      throw new ImError('BAD_REQUEST', `No EC2 instance type satisfies the requirements of system '${system.name}': ${describeRequirements(req)}`);
    }
    out.push(s);
  }
  return out;
}
