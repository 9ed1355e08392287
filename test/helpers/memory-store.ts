/**
 * The InfrastructureStore port in memory, with the DynamoDB store's semantics (conditional writes
 * on versions, undefined removes a field, records copied in and out, VMs created with their
 * record), for tests that need no DynamoDB Local. Counts calls per method and records every log
 * append (to check streaming).
 */
import { errors } from '#core/errors';
import {
  VersionConflictError,
  type InfraRecord,
  type InfrastructureStore,
  type ListOptions,
  type LogScope,
  type PurgeOptions,
  type StoreHealth,
  type VmRecord,
  type VmUpdateRequest,
} from '#core/types';

const copy = <T>(v: T): T => structuredClone(v);

function applyPatch<T extends object>(rec: T, patch: object): T {
  const out = { ...rec } as Record<string, unknown>;
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else out[k] = copy(v);
  }
  return out as T;
}

export class MemoryStore implements InfrastructureStore {
  readonly infs = new Map<string, InfraRecord>();
  readonly vms = new Map<string, Map<number, VmRecord>>();
  readonly logs = new Map<string, string>();
  /** Calls per method name. */
  readonly calls: Record<string, number> = {};
  /** Every appendLog call, in order. */
  readonly appendCalls: { infId: string; scope: LogScope; text: string; at: number }[] = [];

  private count(m: string): void {
    this.calls[m] = (this.calls[m] ?? 0) + 1;
  }

  async createInfrastructure(inf: InfraRecord, vms: VmRecord[] = []): Promise<void> {
    this.count('createInfrastructure');
    if (this.infs.has(inf.id)) throw new VersionConflictError();
    this.infs.set(inf.id, copy(inf));
    this.vms.set(inf.id, new Map(vms.map((v) => [v.vmId, copy(v)])));
  }

  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    this.count('getInfrastructure');
    const i = this.infs.get(infId);
    return i && copy(i);
  }

  async updateInfrastructure(infId: string, expectedVersion: number, patch: Partial<Omit<InfraRecord, 'id' | 'version'>>): Promise<InfraRecord> {
    this.count('updateInfrastructure');
    const cur = this.infs.get(infId);
    if (!cur) throw errors.infNotFound();
    if (cur.version !== expectedVersion) throw new VersionConflictError();
    const { vmCounter: _ignored, ...rest } = patch;
    const next = applyPatch(cur, { updatedAt: Date.now(), ...rest, version: expectedVersion + 1 });
    this.infs.set(infId, next);
    return copy(next);
  }

  async listInfrastructureIds(opts: ListOptions = {}): Promise<string[]> {
    return [...this.infs.values()]
      .filter((i) => (opts.includeDeleted || i.status !== 'deleted') && (opts.ownerKey === undefined || i.ownerKeys.includes(opts.ownerKey)))
      .sort((a, b) => b.createdAt - a.createdAt)
      .map((i) => i.id);
  }

  async listInfrastructures(opts: ListOptions = {}): Promise<InfraRecord[]> {
    return (await this.listInfrastructureIds(opts)).map((id) => copy(this.infs.get(id)!));
  }

  async reserveVmIds(infId: string, count: number): Promise<number[]> {
    const cur = this.infs.get(infId);
    if (!cur) throw errors.infNotFound();
    const ids = Array.from({ length: count }, (_, i) => cur.vmCounter + i);
    this.infs.set(infId, { ...cur, vmCounter: cur.vmCounter + count });
    return ids;
  }

  async putVm(vm: VmRecord): Promise<void> {
    this.count('putVm');
    let m = this.vms.get(vm.infId);
    if (!m) this.vms.set(vm.infId, (m = new Map()));
    m.set(vm.vmId, copy(vm));
  }

  async putVms(vms: VmRecord[]): Promise<void> {
    this.count('putVms');
    for (const vm of vms) {
      let m = this.vms.get(vm.infId);
      if (!m) this.vms.set(vm.infId, (m = new Map()));
      m.set(vm.vmId, copy(vm));
    }
  }

  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    this.count('getVm');
    const v = this.vms.get(infId)?.get(vmId);
    return v && copy(v);
  }

  async listVms(infId: string): Promise<VmRecord[]> {
    this.count('listVms');
    return [...(this.vms.get(infId)?.values() ?? [])].sort((a, b) => a.vmId - b.vmId).map(copy);
  }

  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>): Promise<VmRecord> {
    this.count('updateVm');
    const cur = this.vms.get(infId)?.get(vmId);
    if (!cur) throw errors.invalidVm();
    if (cur.version !== expectedVersion) throw new VersionConflictError();
    const next = applyPatch(cur, { ...patch, version: expectedVersion + 1 });
    this.vms.get(infId)!.set(vmId, next);
    return copy(next);
  }

  async updateVms(updates: VmUpdateRequest[]): Promise<VmRecord[]> {
    this.count('updateVms');
    for (const { vm } of updates) {
      const cur = this.vms.get(vm.infId)?.get(vm.vmId);
      if (!cur) throw errors.invalidVm();
      if (cur.version !== vm.version) throw new VersionConflictError();
    }
    return updates.map(({ vm, patch }) => {
      const next = applyPatch(this.vms.get(vm.infId)!.get(vm.vmId)!, { ...patch, version: vm.version + 1 });
      this.vms.get(vm.infId)!.set(vm.vmId, next);
      return copy(next);
    });
  }

  async appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    this.count('appendLog');
    if (!this.infs.has(infId)) throw errors.infNotFound();
    const k = `${infId}/${scope}`;
    this.logs.set(k, (this.logs.get(k) ?? '') + text);
    this.appendCalls.push({ infId, scope, text, at: Date.now() });
  }

  async getLog(infId: string, scope: LogScope): Promise<string> {
    return this.logs.get(`${infId}/${scope}`) ?? '';
  }

  async clearLog(infId: string, scope: LogScope): Promise<void> {
    this.logs.delete(`${infId}/${scope}`);
  }

  async deleteInfrastructureData(infId: string): Promise<void> {
    this.infs.delete(infId);
    this.vms.delete(infId);
    for (const k of [...this.logs.keys()]) if (k.startsWith(`${infId}/`)) this.logs.delete(k);
  }

  async purge(_opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    return { infrastructures: 0, items: 0 };
  }

  async health(): Promise<StoreHealth> {
    return { ok: true };
  }
}
