/**
 * A small read-through record cache in front of an {@link InfrastructureStore}, for one process
 * that makes every write itself (local mode; in AWS it is off unless INF_CACHE_TIME asks for it).
 *
 * What it keeps: infrastructure records, each infrastructure's whole VM list, and the owner
 * listings (ids). Logs are never cached.
 *
 * Why it is coherent: every write of this process goes through it, and a write drops (or, when
 * the store returns the new record, replaces) exactly what it changes before it resolves. A read
 * that started before a write never fills the cache afterwards (a generation number per
 * infrastructure). The only other writer in local mode is the contextualization runner's child
 * process: while it runs, {@link CachedInfrastructureStore.external} keeps that infrastructure out of
 * the cache, and its entries are dropped when the runner exits. Other processes (the purge CLI,
 * another server on the same data) are seen once entries are older than `maxAgeMs`.
 *
 * Records handed out are frozen: every caller shares them.
 */
import type { InfraRecord, InfrastructureStore, ListOptions, LogScope, PurgeOptions, StoreHealth, VmRecord, VmUpdateRequest } from '#core/types';

export interface CachedStoreOptions {
  /** Longest time (ms) an entry is used before it is read again (`Infinity`: unlimited). */
  maxAgeMs: number;
  /** Infrastructures kept at most (the oldest entries go first). Default 5000. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  gen: number;
  inf?: { value: InfraRecord; at: number };
  vms?: { value: VmRecord[]; at: number };
}

function freeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) freeze(v);
  }
  return value;
}

/** Drops undefined fields (the store does), so that a written record equals its read-back. */
function normalize<T extends object>(rec: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) if (v !== undefined) out[k] = v;
  return out as T;
}

export class CachedInfrastructureStore implements InfrastructureStore {
  private readonly entries = new Map<string, Entry>();
  private readonly lists = new Map<string, { ids: string[]; at: number }>();
  private listGen = 0;
  private readonly externals = new Map<string, number>();
  private readonly maxAgeMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(
    readonly inner: InfrastructureStore,
    opts: CachedStoreOptions,
  ) {
    this.maxAgeMs = opts.maxAgeMs;
    this.maxEntries = opts.maxEntries ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Another process writes `infId` from now on (the runner): it is read from the store until the
   * returned release is called, which also drops what was cached.
   */
  external(infId: string): () => void {
    this.externals.set(infId, (this.externals.get(infId) ?? 0) + 1);
    this.drop(infId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.externals.get(infId) ?? 1) - 1;
      if (n > 0) this.externals.set(infId, n);
      else this.externals.delete(infId);
      this.drop(infId);
    };
  }

  /** Forgets everything cached about one infrastructure. */
  drop(infId: string): void {
    const e = this.entries.get(infId);
    if (e) {
      e.gen++;
      e.inf = undefined;
      e.vms = undefined;
    }
  }

  private dropInf(infId: string): void {
    const e = this.entries.get(infId);
    if (e) {
      e.gen++;
      e.inf = undefined;
    }
  }

  private dropVms(infId: string): void {
    const e = this.entries.get(infId);
    if (e) {
      e.gen++;
      e.vms = undefined;
    }
  }

  private dropLists(): void {
    this.listGen++;
    this.lists.clear();
  }

  private fresh(at: number): boolean {
    return this.now() - at < this.maxAgeMs;
  }

  private entry(infId: string): Entry | undefined {
    if (this.externals.has(infId)) return undefined;
    let e = this.entries.get(infId);
    if (!e) {
      e = { gen: 0 };
      this.entries.set(infId, e);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    return e;
  }

  /** Keeps the newer record (results of concurrent writes may arrive in any order). */
  private keepInf(rec: InfraRecord): void {
    const e = this.entry(rec.id);
    if (!e) return;
    if (e.inf && e.inf.value.version > rec.version) return;
    e.gen++;
    e.inf = { value: freeze(normalize(rec)), at: this.now() };
  }

  private keepVm(vm: VmRecord): void {
    const e = this.entry(vm.infId);
    if (!e) return;
    if (!e.vms) {
      e.gen++; // a list read in flight must not fill the cache with the older VM
      return;
    }
    const list = e.vms.value;
    const i = list.findIndex((v) => v.vmId === vm.vmId);
    if (i >= 0 && list[i].version > vm.version) return;
    const next = [...list];
    if (i >= 0) next[i] = freeze(normalize(vm));
    else {
      next.push(freeze(normalize(vm)));
      next.sort((a, b) => a.vmId - b.vmId);
    }
    e.gen++;
    e.vms = { value: freeze(next), at: e.vms.at };
  }

  /** Runs a write; whatever happens, what it may have changed (everything, or only the record) is dropped first. */
  private async write<T>(infId: string, fn: () => Promise<T>, only?: 'inf'): Promise<T> {
    const forget = () => (only === 'inf' ? this.dropInf(infId) : this.drop(infId));
    forget();
    try {
      return await fn();
    } catch (err) {
      forget();
      throw err;
    }
  }

  // ---- infrastructures -------------------------------------------------------------------------

  async createInfrastructure(inf: InfraRecord, vms: VmRecord[] = []): Promise<void> {
    await this.write(inf.id, () => this.inner.createInfrastructure(inf, vms));
    this.dropLists();
    this.keepInf(inf);
    const e = this.entry(inf.id);
    // A new id: these are all its VMs.
    if (e) e.vms = { value: freeze(vms.map(normalize).sort((a, b) => a.vmId - b.vmId)), at: this.now() };
  }

  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    const e = this.entry(infId);
    if (e?.inf && this.fresh(e.inf.at)) {
      const v = e.inf.value;
      return typeof v.expiresAt === 'number' && v.expiresAt * 1000 <= this.now() ? undefined : v;
    }
    const gen = e?.gen;
    const rec = await this.inner.getInfrastructure(infId);
    if (e && rec && e.gen === gen && this.entries.get(infId) === e) e.inf = { value: freeze(rec), at: this.now() };
    return rec;
  }

  async updateInfrastructure(infId: string, expectedVersion: number, patch: Partial<Omit<InfraRecord, 'id' | 'version'>>, current?: InfraRecord): Promise<InfraRecord> {
    // The record's item only: the VM list stays (no VM item changes).
    const rec = await this.write(infId, () => this.inner.updateInfrastructure(infId, expectedVersion, patch, current), 'inf');
    if ('ownerKeys' in patch || 'status' in patch || 'expiresAt' in patch) this.dropLists();
    this.keepInf(rec);
    return rec;
  }

  async listInfrastructureIds(opts: ListOptions): Promise<string[]> {
    const key = `${opts.ownerKey ?? '*'}\u0000${opts.includeDeleted ? 1 : 0}`;
    const hit = this.lists.get(key);
    if (hit && this.fresh(hit.at)) return hit.ids;
    const gen = this.listGen;
    const ids = await this.inner.listInfrastructureIds(opts);
    if (gen === this.listGen) this.lists.set(key, { ids: freeze(ids), at: this.now() });
    return ids;
  }

  async listInfrastructures(opts: ListOptions): Promise<InfraRecord[]> {
    const ids = await this.listInfrastructureIds(opts);
    const recs = await Promise.all(ids.map((id) => this.getInfrastructure(id)));
    return recs.filter((r): r is InfraRecord => r !== undefined && (opts.includeDeleted === true || r.status !== 'deleted'));
  }

  async reserveVmIds(infId: string, count: number): Promise<number[]> {
    const ids = await this.inner.reserveVmIds(infId, count);
    // vmCounter changed without a version change: the cached record would hand out old ids.
    this.drop(infId);
    return ids;
  }

  // ---- VMs -------------------------------------------------------------------------------------

  async putVm(vm: VmRecord): Promise<void> {
    await this.putVms([vm]);
  }

  async putVms(vms: VmRecord[]): Promise<void> {
    const infIds = [...new Set(vms.map((v) => v.infId))];
    for (const id of infIds) this.dropVms(id);
    try {
      await (vms.length === 1 ? this.inner.putVm(vms[0]) : this.inner.putVms(vms));
    } finally {
      for (const id of infIds) this.dropVms(id);
    }
  }

  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    const e = this.entry(infId);
    if (e?.vms && this.fresh(e.vms.at)) return e.vms.value.find((v) => v.vmId === vmId);
    return this.inner.getVm(infId, vmId);
  }

  async listVms(infId: string): Promise<VmRecord[]> {
    const e = this.entry(infId);
    if (e?.vms && this.fresh(e.vms.at)) return e.vms.value;
    const gen = e?.gen;
    const vms = await this.inner.listVms(infId);
    if (e && e.gen === gen && this.entries.get(infId) === e) e.vms = { value: freeze(vms), at: this.now() };
    return vms;
  }

  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>): Promise<VmRecord> {
    try {
      const vm = await this.inner.updateVm(infId, vmId, expectedVersion, patch);
      this.keepVm(vm);
      return vm;
    } catch (err) {
      // A conflict means the cached list is stale; the record itself is not concerned.
      this.dropVms(infId);
      throw err;
    }
  }

  async updateVms(updates: VmUpdateRequest[]): Promise<VmRecord[]> {
    try {
      const vms = await this.inner.updateVms(updates);
      for (const vm of vms) this.keepVm(vm);
      return vms;
    } catch (err) {
      for (const id of new Set(updates.map((u) => u.vm.infId))) this.dropVms(id);
      throw err;
    }
  }

  // ---- logs, deletion, purge: passed through ---------------------------------------------------

  appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    return this.inner.appendLog(infId, scope, text);
  }

  getLog(infId: string, scope: LogScope): Promise<string> {
    return this.inner.getLog(infId, scope);
  }

  clearLog(infId: string, scope: LogScope): Promise<void> {
    return this.inner.clearLog(infId, scope);
  }

  async deleteInfrastructureData(infId: string): Promise<void> {
    await this.write(infId, () => this.inner.deleteInfrastructureData(infId));
    this.dropLists();
  }

  async purge(opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    try {
      return await this.inner.purge(opts);
    } finally {
      this.entries.clear();
      this.dropLists();
    }
  }

  health(): Promise<StoreHealth> {
    return this.inner.health();
  }
}

/** INF_CACHE_TIME (seconds; undefined = the mode's default) → the cache's maxAgeMs (0 = no cache). */
export function cacheMaxAgeMs(infCacheTime: number | undefined, defaultSeconds: number): number {
  const seconds = infCacheTime ?? defaultSeconds;
  return seconds === Infinity ? Infinity : Math.max(0, seconds * 1000);
}
