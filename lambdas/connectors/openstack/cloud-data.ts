/**
 * What the connector keeps about a VM (`VmRecord.cloudData`, JSON): the server, what it created and must
 * remove at finalize, and the small state the refresh carries between calls. Read back as untrusted input.
 */
import type { RememberedAuth } from '#connectors/openstack/auth-item';
import type { KnownVolume } from '#connectors/openstack/volumes';

export interface OstCloudData {
  serverId?: string;
  /** Flavor id whose features the system holds (a refresh reads the flavor only when it changes). */
  flavorId?: string;
  /** The item the VM was created with (§1.2). */
  auth?: RememberedAuth;
  /** Volumes added by alter (IM's `vm.volumes`): detached and deleted at finalize. */
  volumes: string[];
  /** Addresses of reused or fixed floating IPs (IM's `vm.floating_ips`): detached, never released. */
  floatingIps: string[];
  /** Floating IPs the connector allocated for the VM: released at finalize. */
  createdFips: string[];
  /** Failed floating-IP additions (at 5 no more tries). */
  fipFailures?: number;
  /** The provider's fault text was already reported. */
  faultReported?: boolean;
  /** Attached volumes already read (not read again at every refresh). */
  knownVolumes?: Record<string, KnownVolume>;
  /** RADL network → Neutron network name chosen or created at launch (+ cidr of a created one). */
  networks?: Record<string, { providerId: string; cidr?: string }>;
  /** Ids of networks / routers / security groups this VM's launch created (swept with the last VM). */
  createdNetworks?: string[];
  createdRouters?: string[];
  securityGroups?: string[];
  /** Public interfaces the VM asked for (descending index): a refresh gives them floating IPs (§4.3). */
  requestedPublic?: { iface: number; fixedIp?: string; pool?: string }[];
  /** One-shot refresh steps done (§4.1 steps 6–7). */
  additionalIpDone?: boolean;
  routerDone?: boolean;
}

const strings = (x: unknown): string[] => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : []);

export function readCloudData(raw: Record<string, unknown> | undefined): OstCloudData {
  const d = (raw ?? {}) as Record<string, unknown>;
  const out: OstCloudData = { volumes: strings(d.volumes), floatingIps: strings(d.floatingIps), createdFips: strings(d.createdFips) };
  if (typeof d.serverId === 'string') out.serverId = d.serverId;
  if (typeof d.flavorId === 'string') out.flavorId = d.flavorId;
  if (d.auth && typeof d.auth === 'object' && typeof (d.auth as RememberedAuth).auth_version === 'string') out.auth = d.auth as RememberedAuth;
  if (typeof d.fipFailures === 'number') out.fipFailures = d.fipFailures;
  if (d.faultReported === true) out.faultReported = true;
  if (d.knownVolumes && typeof d.knownVolumes === 'object') out.knownVolumes = d.knownVolumes as Record<string, KnownVolume>;
  if (d.networks && typeof d.networks === 'object') out.networks = d.networks as OstCloudData['networks'];
  for (const k of ['createdNetworks', 'createdRouters', 'securityGroups'] as const) if (Array.isArray(d[k])) out[k] = strings(d[k]);
  if (Array.isArray(d.requestedPublic)) {
    out.requestedPublic = (d.requestedPublic as unknown[])
      .filter((x): x is Record<string, unknown> => !!x && typeof x === 'object' && typeof (x as { iface?: unknown }).iface === 'number')
      .map((x) => ({ iface: x.iface as number, ...(typeof x.fixedIp === 'string' ? { fixedIp: x.fixedIp } : {}), ...(typeof x.pool === 'string' ? { pool: x.pool } : {}) }));
  }
  if (d.additionalIpDone === true) out.additionalIpDone = true;
  if (d.routerDone === true) out.routerDone = true;
  return out;
}

/** A plain JSON copy for `VmUpdate.cloudData`. */
export function writeCloudData(d: OstCloudData): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
}
