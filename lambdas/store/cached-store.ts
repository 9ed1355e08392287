/**
 * A write-through record cache in front of any {@link InfrastructureStore} (IM serves its
 * infrastructures from memory; its INF_CACHE_TIME option bounds how long they stay there).
 *
 * What is cached, per infrastructure: the record (getInfrastructure), its VM records (getVm) and,
 * once listVms has been loaded, the whole VM list; per owner (and for admins, all): the ids of the
 * owner's infrastructures (listInfrastructures). Logs are never cached.
 *
 * Coherence comes from every write going through this object:
 *  - a successful write puts its result in the cache (updateInfrastructure / updateVm return the
 *    new record; createInfrastructure / putVm(s) write the record given; reserveVmIds raises the
 *    cached `vmCounter`); owner listings gain / lose the ids that creations, owner changes and
 *    deletions add / remove;
 *  - a failed write (VersionConflictError above all) drops the entry, so that the read-modify-write
 *    helpers (./mutate.ts) read the record again from the store;
 *  - a newer version is never replaced by an older one (results of concurrent calls may arrive in
 *    any order; vmCounter only grows), and a read started before an invalidation never fills the cache;
 *  - concurrent misses of the same record / list share one store read.
 *
 * The cache is per process: writes made by another process (another Lambda instance, the purge
 * CLI, the contextualization runner's child process) are not seen until the entry is older than
 * `maxAgeMs`, or {@link CachedInfrastructureStore.invalidate} / {@link CachedInfrastructureStore.external}
 * is called. Local mode runs the runner through `external(infId)` (reads of that infrastructure go
 * to the store while it runs; its entries are dropped when it ends). In AWS, where many Lambda
 * instances write, INF_CACHE_TIME defaults to 0 (no cache). Local mode's worker processes
 * (LOCAL_WORKERS > 1) are {@link CachePeers} of each other: every write (and every external()
 * start / end) is applied by the other workers' caches before the write resolves.
 *
 * Deleted / expired semantics are the store's: a cached record past its `expiresAt` reads as
 * missing, listings leave deleted ones out unless asked, and deletions drop everything cached.
 * Records handed out are frozen (deeply): they are shared by every caller.
 */
import {
  VersionConflictError,
  type InfraRecord,
  type InfrastructureStore,
  type LogScope,
  type PurgeOptions,
  type VmRecord,
} from '#core/types';

/**
 * The other processes that cache the same table (local mode's worker processes,
 * lambdas/local/cluster.ts). After each write this cache tells them what changed, and the write
 * resolves only once every peer has dropped it: a request answered after a write never reads an
 * older record in another process.
 */
export interface CachePeers {
  /** Peers drop `infId` (`lists`: their owner listings too); `infId` undefined: everything. */
  changed(infId: string | undefined, lists: boolean): Promise<void>;
  /** Peers stop (`on`) / resume caching `infId`: another process (the runner) writes it meanwhile. */
  external(infId: string, on: boolean): Promise<void>;
}

export interface CachedStoreOptions {
  /** Longest time (ms) an entry is used before it is read again: `Infinity` = unlimited; 0 = no cache (pass-through). */
  maxAgeMs: number;
  /** Clock (epoch ms) for ages and the TTL filter; default Date.now (use the inner store's). */
  now?: () => number;
  /** Infrastructures (and owner listings) kept at most; the oldest are dropped first. Default 10 000. */
  maxEntries?: number;
  /** Other processes caching the same table, told of every write (default: none). */
  peers?: CachePeers;
}

interface Stamped<T> {
  value: T;
  at: number;
}

interface InfEntry {
  /** Bumped when the record is dropped: a read started before never fills the cache. */
  infGen: number;
  /** The same for the VMs. */
  vmGen: number;
  inf?: Stamped<InfraRecord>;
  vms: Map<number, Stamped<VmRecord>>;
  /** Set (load time) while `vms` holds every VM of the infrastructure. */
  completeAt?: number;
  /** `vms` in id order (cleared on any VM change). */
  sorted?: VmRecord[];
  readingInf?: Promise<InfraRecord | undefined>;
  readingVms?: Promise<VmRecord[]>;
}

interface OwnerList {
  ids: Set<string>;
  at: number;
}

/** Optional batch methods of a store (lambdas/store/dynamodb-store.ts has them). */
type BatchMethods = {
  putVms?: (vms: VmRecord[]) => Promise<void>;
  createInfrastructureWithVms?: (inf: InfraRecord, vms: VmRecord[]) => Promise<void>;
};

/** Owner-listing key of the admins' listing (every infrastructure). */
const ALL = '\u0000all';

/** Copy without undefined values (the store drops them), so that a written record reads back equal. */
function normalize<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(normalize) as T;
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = normalize(v);
    return out as T;
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  // Typed arrays (binary attributes) cannot be frozen: left as they are.
  if (value && typeof value === 'object' && !Object.isFrozen(value) && !ArrayBuffer.isView(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Newest first, as the store's indexes order them (created time, then id). */
function newestFirst(a: InfraRecord, b: InfraRecord): number {
  if (a.createdAt !== b.createdAt) return b.createdAt - a.createdAt;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export class CachedInfrastructureStore implements InfrastructureStore {
  /** The decorated store. */
  readonly inner: InfrastructureStore;
  /** False: every call goes straight to `inner`. */
  readonly enabled: boolean;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, InfEntry>();
  private readonly lists = new Map<string, OwnerList>();
  private readonly readingLists = new Map<string, Promise<OwnerList | undefined>>();
  /** Bumped on every change of owner-listing membership: a listing read started before is not kept. */
  private listGen = 0;
  /** Bumped whenever a record is dropped: the records of a listing read started before are not kept. */
  private dropGen = 0;
  /** Infrastructures another process is writing now (see {@link external}): not cached meanwhile. */
  private readonly externals = new Map<string, number>();
  private readonly peers?: CachePeers;
  /** The peers' acknowledgement of the latest external() broadcast (see {@link peersSettled}). */
  private externalTold: Promise<void> = Promise.resolve();
  /** Store round trips saved / made by this cache (reads only), for benchmarks and tests. */
  readonly stats = { hits: 0, misses: 0 };

  constructor(inner: InfrastructureStore, opts: CachedStoreOptions) {
    this.inner = inner;
    this.maxAgeMs = opts.maxAgeMs;
    this.enabled = opts.maxAgeMs > 0;
    this.now = opts.now ?? Date.now;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.peers = opts.maxAgeMs > 0 ? opts.peers : undefined;
  }

  // ---- cache control -------------------------------------------------------------------------

  /** Drops everything cached about the infrastructure (record, VMs, the owner listings holding it). */
  invalidate(infId: string): void {
    this.entries.delete(infId);
    this.dropGen++;
    let changed = false;
    for (const [key, list] of this.lists) {
      if (list.ids.has(infId)) {
        this.lists.delete(key);
        changed = true;
      }
    }
    if (changed) this.listsChanged();
  }

  /** Drops everything. */
  clear(): void {
    this.entries.clear();
    this.dropGen++;
    this.lists.clear();
    this.listsChanged();
  }

  /** Applies a peer's write (see {@link CachePeers.changed}): drops what it changed. */
  peerChanged(infId: string | undefined, lists: boolean): void {
    if (!this.enabled) return;
    if (infId === undefined) return this.clear();
    this.invalidate(infId);
    if (lists) {
      this.lists.clear();
      this.listsChanged();
    }
  }

  /** Applies a peer's {@link external} start (`on`) or end. */
  peerExternal(infId: string, on: boolean): void {
    if (!this.enabled) return;
    this.countExternal(infId, on ? 1 : -1);
    this.invalidate(infId);
  }

  /** Resolves once the peers have applied every {@link external} start / end made so far. */
  peersSettled(): Promise<void> {
    return this.externalTold;
  }

  private countExternal(infId: string, delta: number): void {
    const n = (this.externals.get(infId) ?? 0) + delta;
    if (n <= 0) this.externals.delete(infId);
    else this.externals.set(infId, n);
  }

  /** Tells the peers (if any) that a write changed `infId`; never rejects. */
  private tell(infId: string | undefined, lists: boolean): Promise<void> {
    return this.peers ? this.peers.changed(infId, lists).catch(() => undefined) : Promise.resolve();
  }

  /** After a failed write: the peers are told unless nothing can have been written (a failed condition). */
  private async tellFailed(infId: string | undefined, lists: boolean, err: unknown): Promise<void> {
    if (this.peers && !(err instanceof VersionConflictError)) await this.tell(infId, lists);
  }

  /**
   * Another process writes the infrastructure until the returned function is called (e.g. the
   * contextualization runner's child process): meanwhile its records are read from the store and
   * not cached; at both ends its entries are dropped. Calls nest.
   */
  external(infId: string): () => void {
    if (!this.enabled) return () => undefined;
    this.countExternal(infId, 1);
    this.invalidate(infId);
    this.tellExternal(infId, true);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.countExternal(infId, -1);
      this.invalidate(infId);
      this.tellExternal(infId, false);
    };
  }

  private tellExternal(infId: string, on: boolean): void {
    const peers = this.peers;
    if (!peers) return;
    const told = peers.external(infId, on).catch(() => undefined);
    this.externalTold = Promise.all([this.externalTold, told]).then(() => undefined);
  }

  // ---- helpers -------------------------------------------------------------------------------

  private fresh(at: number): boolean {
    return this.maxAgeMs === Infinity || this.now() - at < this.maxAgeMs;
  }

  private expired(rec: { expiresAt?: number }): boolean {
    return typeof rec.expiresAt === 'number' && rec.expiresAt * 1000 <= this.now();
  }

  /** Cached at all for this infrastructure (enabled, and nobody else writes it now). */
  private caching(infId: string): boolean {
    return this.enabled && !this.externals.has(infId);
  }

  private entry(infId: string): InfEntry {
    let e = this.entries.get(infId);
    if (!e) {
      e = { infGen: 0, vmGen: 0, vms: new Map() };
      this.entries.set(infId, e);
      if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    return e;
  }

  private live(infId: string, e: InfEntry): boolean {
    return this.entries.get(infId) === e;
  }

  /** Keeps the newer of the cached and the given record (vmCounter: the larger). */
  private putInf(e: InfEntry, rec: InfraRecord): InfraRecord {
    const cur = e.inf?.value;
    if (cur && cur.version > rec.version) {
      if (rec.vmCounter > cur.vmCounter) e.inf = { value: deepFreeze({ ...cur, vmCounter: rec.vmCounter }), at: e.inf!.at };
      return e.inf!.value;
    }
    const value = cur && cur.vmCounter > rec.vmCounter ? { ...rec, vmCounter: cur.vmCounter } : rec;
    e.inf = { value: deepFreeze(value), at: this.now() };
    return e.inf.value;
  }

  private dropInf(infId: string): void {
    const e = this.entries.get(infId);
    if (!e) return;
    e.inf = undefined;
    e.readingInf = undefined;
    e.infGen++;
    this.dropGen++;
  }

  private putVmEntry(e: InfEntry, vm: VmRecord, at = this.now()): void {
    const cur = e.vms.get(vm.vmId);
    if (cur && cur.value.version > vm.version) return;
    e.vms.set(vm.vmId, { value: deepFreeze(vm), at });
    e.sorted = undefined;
  }

  private dropVm(infId: string, vmId: number): void {
    const e = this.entries.get(infId);
    if (!e) return;
    e.vms.delete(vmId);
    e.completeAt = undefined;
    e.sorted = undefined;
    e.readingVms = undefined;
    e.vmGen++;
  }

  private listsChanged(): void {
    this.listGen++;
    this.readingLists.clear();
  }

  /** Adds / removes `infId` in the loaded owner listings after a creation or an owner change. */
  private relist(rec: InfraRecord, created: boolean): void {
    const keys = new Set(rec.ownerKeys);
    for (const [key, list] of this.lists) {
      if (key === ALL) {
        if (created) list.ids.add(rec.id);
      } else if (keys.has(key)) list.ids.add(rec.id);
      else list.ids.delete(rec.id);
    }
    this.listsChanged();
  }

  // ---- infrastructures -----------------------------------------------------------------------

  async createInfrastructure(inf: InfraRecord): Promise<void> {
    try {
      await this.inner.createInfrastructure(inf);
    } catch (err) {
      if (this.enabled) this.invalidate(inf.id);
      await this.tellFailed(inf.id, true, err);
      throw err;
    }
    if (this.caching(inf.id)) {
      const e = this.entry(inf.id);
      e.infGen++;
      e.readingInf = undefined;
      this.putInf(e, normalize(inf));
      this.relist(inf, true);
    }
    if (this.peers) await this.tell(inf.id, true);
  }

  /**
   * A NEW infrastructure (never used id) with its first VMs (one transaction when the inner store
   * can): these VMs are then known to be all of them, so the VM list is cached as complete.
   */
  async createInfrastructureWithVms(inf: InfraRecord, vms: VmRecord[]): Promise<void> {
    const inner = this.inner as InfrastructureStore & BatchMethods;
    try {
      if (typeof inner.createInfrastructureWithVms === 'function') await inner.createInfrastructureWithVms(inf, vms);
      else {
        await inner.createInfrastructure(inf);
        if (typeof inner.putVms === 'function') await inner.putVms(vms);
        else await Promise.all(vms.map((vm) => inner.putVm(vm)));
      }
    } catch (err) {
      if (this.enabled) this.invalidate(inf.id);
      await this.tellFailed(inf.id, true, err);
      throw err;
    }
    if (this.caching(inf.id)) {
      const e = this.entry(inf.id);
      e.infGen++;
      e.vmGen++;
      e.readingInf = undefined;
      e.readingVms = undefined;
      this.putInf(e, normalize(inf));
      const at = this.now();
      e.vms.clear();
      for (const vm of vms) this.putVmEntry(e, normalize(vm), at);
      e.completeAt = at;
      this.relist(inf, true);
    }
    if (this.peers) await this.tell(inf.id, true);
  }

  async getInfrastructure(infId: string): Promise<InfraRecord | undefined> {
    if (!this.caching(infId)) return this.inner.getInfrastructure(infId);
    const e = this.entry(infId);
    if (e.inf && this.fresh(e.inf.at)) {
      this.stats.hits++;
      return this.expired(e.inf.value) ? undefined : e.inf.value;
    }
    if (e.readingInf) return e.readingInf;
    this.stats.misses++;
    const gen = e.infGen;
    const reading: Promise<InfraRecord | undefined> = this.inner.getInfrastructure(infId).then(
      (rec) => {
        if (e.readingInf === reading) e.readingInf = undefined;
        return rec && e.infGen === gen && this.live(infId, e) ? this.putInf(e, rec) : rec;
      },
      (err: unknown) => {
        if (e.readingInf === reading) e.readingInf = undefined;
        throw err;
      },
    );
    e.readingInf = reading;
    return reading;
  }

  async updateInfrastructure(infId: string, expectedVersion: number, patch: Partial<Omit<InfraRecord, 'id' | 'version'>>): Promise<InfraRecord> {
    let rec: InfraRecord;
    try {
      rec = await this.inner.updateInfrastructure(infId, expectedVersion, patch);
    } catch (err) {
      // A conflict (or a write of unknown outcome): read the record again next time.
      if (this.enabled) this.dropInf(infId);
      await this.tellFailed(infId, 'ownerKeys' in patch, err);
      throw err;
    }
    let out = rec;
    if (this.caching(infId)) {
      const e = this.entry(infId);
      e.readingInf = undefined;
      const cached = this.putInf(e, rec);
      if ('ownerKeys' in patch) this.relist(cached, false);
      if (cached.version === rec.version) out = cached;
    }
    if (this.peers) await this.tell(infId, 'ownerKeys' in patch);
    return out;
  }

  async listInfrastructures(opts: { ownerKey?: string; includeDeleted?: boolean }): Promise<InfraRecord[]> {
    if (!this.enabled) return this.inner.listInfrastructures(opts);
    const key = opts.ownerKey ?? ALL;
    let list = this.lists.get(key);
    if (list && this.fresh(list.at)) this.stats.hits++;
    else {
      const loaded = await this.loadList(key, opts.ownerKey);
      // Not kept (membership changed meanwhile): answer from the store itself.
      if (!loaded) return this.inner.listInfrastructures(opts);
      list = loaded;
    }
    const out: InfraRecord[] = [];
    const missing: string[] = [];
    for (const id of list.ids) {
      const e = this.caching(id) ? this.entries.get(id) : undefined;
      if (e?.inf && this.fresh(e.inf.at)) out.push(e.inf.value);
      else missing.push(id);
    }
    if (missing.length > 0) {
      const recs = await Promise.all(missing.map((id) => this.getInfrastructure(id)));
      for (const rec of recs) if (rec) out.push(rec);
    }
    return out.filter((inf) => !this.expired(inf) && (opts.includeDeleted || inf.status !== 'deleted')).sort(newestFirst);
  }

  /** Loads an owner's (or every) infrastructure, deleted ones included; undefined when not kept. */
  private loadList(key: string, ownerKey: string | undefined): Promise<OwnerList | undefined> {
    let reading = this.readingLists.get(key);
    if (reading) return reading;
    this.stats.misses++;
    const gen = this.listGen;
    const drops = this.dropGen;
    reading = this.inner.listInfrastructures({ ...(ownerKey !== undefined ? { ownerKey } : {}), includeDeleted: true }).then(
      (recs) => {
        if (this.readingLists.get(key) === reading) this.readingLists.delete(key);
        if (gen !== this.listGen) return undefined;
        if (drops === this.dropGen) for (const rec of recs) if (this.caching(rec.id)) this.putInf(this.entry(rec.id), rec);
        const list: OwnerList = { ids: new Set(recs.map((r) => r.id)), at: this.now() };
        this.lists.set(key, list);
        if (this.lists.size > this.maxEntries) this.lists.delete(this.lists.keys().next().value as string);
        return list;
      },
      (err: unknown) => {
        if (this.readingLists.get(key) === reading) this.readingLists.delete(key);
        throw err;
      },
    );
    this.readingLists.set(key, reading);
    return reading;
  }

  async reserveVmIds(infId: string, count: number): Promise<number[]> {
    let ids: number[];
    try {
      ids = await this.inner.reserveVmIds(infId, count);
    } catch (err) {
      if (this.enabled) this.dropInf(infId);
      await this.tellFailed(infId, false, err);
      throw err;
    }
    const e = this.caching(infId) ? this.entries.get(infId) : undefined;
    if (e?.inf && ids.length > 0) {
      const counter = ids[ids.length - 1] + 1;
      if (counter > e.inf.value.vmCounter) e.inf = { value: deepFreeze({ ...e.inf.value, vmCounter: counter }), at: e.inf.at };
    }
    if (this.peers) await this.tell(infId, false);
    return ids;
  }

  // ---- VMs -----------------------------------------------------------------------------------

  async putVm(vm: VmRecord): Promise<void> {
    try {
      await this.inner.putVm(vm);
    } catch (err) {
      if (this.enabled) this.dropVm(vm.infId, vm.vmId);
      await this.tellFailed(vm.infId, false, err);
      throw err;
    }
    this.afterPut([vm]);
    if (this.peers) await this.tell(vm.infId, false);
  }

  /** Many VM records at once (the inner store's batch write when it has one). */
  async putVms(vms: VmRecord[]): Promise<void> {
    const inner = this.inner as InfrastructureStore & BatchMethods;
    try {
      if (typeof inner.putVms === 'function') await inner.putVms(vms);
      else await Promise.all(vms.map((vm) => inner.putVm(vm)));
    } catch (err) {
      if (this.enabled) for (const vm of vms) this.dropVm(vm.infId, vm.vmId);
      if (this.peers) for (const infId of new Set(vms.map((vm) => vm.infId))) await this.tellFailed(infId, false, err);
      throw err;
    }
    this.afterPut(vms);
    if (this.peers) for (const infId of new Set(vms.map((vm) => vm.infId))) await this.tell(infId, false);
  }

  private afterPut(vms: VmRecord[]): void {
    for (const vm of vms) {
      if (!this.caching(vm.infId)) continue;
      // A put replaces the item whatever its version: drop what was cached, then keep the record written.
      const e = this.entry(vm.infId);
      const cur = e.vms.get(vm.vmId);
      if (cur && cur.value.version !== vm.version) {
        this.dropVm(vm.infId, vm.vmId);
        continue;
      }
      e.readingVms = undefined;
      this.putVmEntry(e, normalize(vm));
    }
  }

  async getVm(infId: string, vmId: number): Promise<VmRecord | undefined> {
    if (!this.caching(infId)) return this.inner.getVm(infId, vmId);
    const e = this.entry(infId);
    const hit = e.vms.get(vmId);
    if (hit && this.fresh(hit.at)) {
      this.stats.hits++;
      return hit.value;
    }
    this.stats.misses++;
    const gen = e.vmGen;
    const vm = await this.inner.getVm(infId, vmId);
    if (vm && e.vmGen === gen && this.live(infId, e)) {
      this.putVmEntry(e, vm);
      return e.vms.get(vmId)!.value;
    }
    return vm;
  }

  async listVms(infId: string): Promise<VmRecord[]> {
    if (!this.caching(infId)) return this.inner.listVms(infId);
    const e = this.entry(infId);
    if (e.completeAt !== undefined && this.fresh(e.completeAt)) {
      this.stats.hits++;
      return this.sortedVms(e).slice();
    }
    if (e.readingVms) return (await e.readingVms).slice();
    this.stats.misses++;
    const gen = e.vmGen;
    const reading: Promise<VmRecord[]> = this.inner.listVms(infId).then(
      (vms) => {
        if (e.readingVms === reading) e.readingVms = undefined;
        if (e.vmGen !== gen || !this.live(infId, e)) return vms;
        const at = this.now();
        for (const vm of vms) this.putVmEntry(e, vm, at);
        e.completeAt = at;
        // VMs written meanwhile are newer than the list: answer from the cache.
        return this.sortedVms(e);
      },
      (err: unknown) => {
        if (e.readingVms === reading) e.readingVms = undefined;
        throw err;
      },
    );
    e.readingVms = reading;
    return (await reading).slice();
  }

  private sortedVms(e: InfEntry): VmRecord[] {
    e.sorted ??= [...e.vms.values()].map((s) => s.value).sort((a, b) => a.vmId - b.vmId);
    return e.sorted;
  }

  async updateVm(infId: string, vmId: number, expectedVersion: number, patch: Partial<Omit<VmRecord, 'infId' | 'vmId' | 'version'>>): Promise<VmRecord> {
    let vm: VmRecord;
    try {
      vm = await this.inner.updateVm(infId, vmId, expectedVersion, patch);
    } catch (err) {
      if (this.enabled) this.dropVm(infId, vmId);
      await this.tellFailed(infId, false, err);
      throw err;
    }
    let out = vm;
    if (this.caching(infId)) {
      const e = this.entry(infId);
      e.readingVms = undefined;
      this.putVmEntry(e, vm);
      const cached = e.vms.get(vmId)!.value;
      if (cached.version === vm.version) out = cached;
    }
    if (this.peers) await this.tell(infId, false);
    return out;
  }

  // ---- logs (never cached) -------------------------------------------------------------------

  appendLog(infId: string, scope: LogScope, text: string): Promise<void> {
    return this.inner.appendLog(infId, scope, text);
  }

  getLog(infId: string, scope: LogScope): Promise<string> {
    return this.inner.getLog(infId, scope);
  }

  clearLog(infId: string, scope: LogScope): Promise<void> {
    return this.inner.clearLog(infId, scope);
  }

  // ---- deletion ------------------------------------------------------------------------------

  async deleteInfrastructureData(infId: string): Promise<void> {
    try {
      await this.inner.deleteInfrastructureData(infId);
    } finally {
      if (this.enabled) {
        this.entries.delete(infId);
        this.dropGen++;
        for (const list of this.lists.values()) list.ids.delete(infId);
        this.listsChanged();
      }
      if (this.peers) await this.tell(infId, true);
    }
  }

  async purge(opts: PurgeOptions): Promise<{ infrastructures: number; items: number }> {
    try {
      return await this.inner.purge(opts);
    } finally {
      if (this.enabled) this.clear();
      if (this.peers) await this.tell(undefined, true);
    }
  }
}

/** Whether a store is the record cache (to call invalidate / external on it). */
export function isCachedStore(store: InfrastructureStore): store is CachedInfrastructureStore {
  return store instanceof CachedInfrastructureStore;
}

/**
 * INF_CACHE_TIME (seconds; unset = `defaultSeconds`) → the cache's max age in ms
 * (`Infinity` for an unlimited default).
 */
export function cacheMaxAgeMs(infCacheTime: number | undefined, defaultSeconds: number): number {
  const s = infCacheTime ?? defaultSeconds;
  return s === Infinity ? Infinity : Math.max(0, s * 1000);
}
