/** Record factories shared by the store tests. */
import { randomUUID } from 'node:crypto';
import type { InfraRecord, VmRecord } from '#core/types';

/** A valid infrastructure record; `over` replaces any field. */
export function makeInf(over: Partial<InfraRecord> = {}): InfraRecord {
  const now = Date.now();
  return {
    id: randomUUID(),
    version: 1,
    owners: [{ username: 'alice', passwordHash: 'scrypt$c2FsdA==$aGFzaA==', usedToken: false }],
    ownerKeys: ['owner-alice'],
    status: 'active',
    createdAt: now,
    updatedAt: now,
    radl: JSON.stringify({ networks: [{ id: 'public', outbound: true }], systems: [{ name: 'front' }] }),
    vmCounter: 0,
    addingOps: [],
    privateNetworks: {},
    snapshots: [],
    ...over,
  };
}

/** A valid VM record of `infId`; `over` replaces any field. */
export function makeVm(infId: string, vmId: number, over: Partial<VmRecord> = {}): VmRecord {
  return {
    infId,
    vmId,
    version: 1,
    cloudId: 'one',
    cloudType: 'Dummy',
    providerId: `dummy-${vmId}`,
    systemName: 'front',
    state: 'pending',
    creating: true,
    destroyed: false,
    deleting: false,
    info: JSON.stringify({ systems: [{ name: 'front', features: { 'net_interface.0.ip': `10.0.0.${vmId % 250}` } }] }),
    ctxtState: 'none',
    lastUpdate: 0,
    createdAt: Date.now(),
    cloudData: { securityGroups: ['sg-1'], nested: { a: [1, 2, 3] } },
    ...over,
  };
}
