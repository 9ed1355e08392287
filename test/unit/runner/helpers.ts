/** Builders of VM records and nodes for the runner's unit tests. */
import type { VmRecord } from '#core/types';
import { parseRadl, radlToJsonString } from '#radl/index';
import { nodeFromVm, type CtxtNode } from '#runner/nodes';

export const NAMING = { DEFAULT_VM_NAME: 'vnode-#N#', DEFAULT_DOMAIN: 'localdomain' };

/** A VM record whose info is the given RADL text (networks + one system). */
export function vmRecord(vmId: number, systemName: string, radlText: string, extra: Partial<VmRecord> = {}): VmRecord {
  return {
    infId: 'inf-1',
    vmId,
    version: 1,
    cloudId: 'dn',
    cloudType: 'DeployedNode',
    providerId: `prov-${vmId}`,
    systemName,
    state: 'running',
    creating: false,
    destroyed: false,
    deleting: false,
    info: radlToJsonString(parseRadl(radlText), 0),
    ctxtState: 'pending',
    lastUpdate: 0,
    createdAt: 0,
    ...extra,
  };
}

/** A node on network `pub` (public) or `priv` with the given IP and extra features. */
export function node(vmId: number, system: string, ip: string, opts: { priv?: boolean; features?: string[]; nets?: string } = {}): CtxtNode {
  const net = opts.priv ? 'priv' : 'pub';
  const text = `${opts.nets ?? "network pub (outbound = 'yes')\nnetwork priv ()"}
system ${system} (
  net_interface.0.connection = '${net}' and net_interface.0.ip = '${ip}' and
  disk.0.os.credentials.username = 'user${vmId}' and disk.0.os.credentials.password = 'pw${vmId}'${(opts.features ?? []).map((f) => ` and ${f}`).join('')}
)`;
  return nodeFromVm(vmRecord(vmId, system, text), NAMING);
}
