/**
 * An in-memory InfrastructureStore with the same optimistic locking as the DynamoDB one, for runner
 * tests that need no DynamoDB Local. Records are copied in and out (no shared references).
 */
import { errors } from '#core/errors';
import {
  VersionConflictError,
  type InfraRecord,
  type InfrastructureStore,
  type LogScope,
  type PurgeOptions,
  type VmRecord,
} from '#core/types';

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryStore implements InfrastructureStore {
  readonly infs = new Map<string, InfraRecord>();
  readonly vms = new Map<string, VmRecord>();
  readonly logs = new Map<string, string[]>();
  /** Every appendLog call, in order (to check streaming). */
  readonly appendCalls: { infId: string; scope: LogScope; text: string; at: number }[] = [];

  private vmKey(infId: string, vmId: number): string {
    return `${infId}#${vmId}`;
  }

  async createInfrastructure(inf: InfraRecord): Promise<void> {
    if (this.infs.has(inf.id)) throw new VersionConflictError();
    this.infs.set(inf.id, copy(inf));
  }

  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    const r = this.infs.get(infId);
    return r ? copy(r) : undefined;
  }

  async updateInfrastructure(infId: string, expectedVersion: number, patch: Partial<Omit<InfraRecord, 'id' | 'version'>>): Promise<InfraRecord> {
    const cur = this.infs.get(infId);
    if (!cur) throw errors.infNotFound();
    if (cur.version !== expectedVersion) throw new VersionConflictError();
    const next = { ...cur, ...copy(patch), version: cur.version + 1, updatedAt: Date.now() } as InfraRecord;
    this.infs.set(infId, next);
    return copy(next);
  }

  async listInfrastructures(): Promise<InfraRecord[]> {
    return [...this.infs.values()].map(copy);
  }

  async reserveVmIds(infId: string, count: number): Promise<number[]> {
    const cur = this.infs.get(infId);
    if (!cur) throw errors.infNotFound();
    const ids = Array.from({ length: count }, (_, i) => cur.vmCounter + i);
    cur.vmCounter += count;
    return ids;
  }

  async putVm(vm: VmRecord): Promise<void> {
    this.vms.set(this.vmKey(vm.infId, vm.vmId), copy(vm));
  }

  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    const r = this.vms.get(this.vmKey(infId, vmId));
    return r ? copy(r) : undefined;
  }

  async listVms(infId: string): Promise<VmRecord[]> {
    return [...this.vms.values()].filter((v) => v.infId === infId).sort((a, b) => a.vmId - b.vmId).map(copy);
  }

  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>): Promise<VmRecord> {
    const cur = this.vms.get(this.vmKey(infId, vmId));
    if (!cur) throw errors.invalidVm();
    if (cur.version !== expectedVersion) throw new VersionConflictError();
    const next = { ...cur, ...copy(patch), version: cur.version + 1 } as VmRecord;
    this.vms.set(this.vmKey(infId, vmId), next);
    return copy(next);
  }

  async appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    if (!this.infs.has(infId)) throw errors.infNotFound();
    const key = `${infId}#${scope}`;
    this.logs.set(key, [...(this.logs.get(key) ?? []), text]);
    this.appendCalls.push({ infId, scope, text, at: Date.now() });
  }

  async getLog(infId: string, scope: LogScope): Promise<string> {
    return (this.logs.get(`${infId}#${scope}`) ?? []).join('');
  }

  async clearLog(infId: string, scope: LogScope): Promise<void> {
    this.logs.delete(`${infId}#${scope}`);
  }

  async deleteInfrastructureData(infId: string): Promise<void> {
    this.infs.delete(infId);
    for (const k of [...this.vms.keys()]) if (k.startsWith(`${infId}#`)) this.vms.delete(k);
  }

  async purge(_opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    return { infrastructures: 0, items: 0 };
  }
}
