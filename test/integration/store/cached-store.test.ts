/**
 * The record cache (lambdas/store/cached-store.ts) in front of the DynamoDB store on DynamoDB Local:
 * coherence of every write, conflicts, ages, deleted / expired records, owner listings, the runner's
 * external writes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VersionConflictError, type InfrastructureStore } from '#core/types';
import { DynamoInfrastructureStore } from '#store/dynamodb/index';
import { CachedInfrastructureStore, cacheMaxAgeMs } from '#store/cached-store';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { startTestDynamo, type TestDynamo } from '../../helpers/dynamo';
import { makeInf, makeVm } from './fixtures';

let db: TestDynamo;
beforeAll(async () => {
  db = await startTestDynamo();
});
afterAll(async () => {
  await db?.stop();
});

/** The DynamoDB store with a count of the calls that reach it. */
function countingStore(now?: () => number): { store: DynamoInfrastructureStore; calls: Record<string, number> } {
  const store = new DynamoInfrastructureStore({ client: db.client, tableName: db.tableName, ...(now ? { now } : {}) });
  const calls: Record<string, number> = {};
  for (const m of ['getInfrastructure', 'listInfrastructureIds', 'getVm', 'listVms', 'updateInfrastructure', 'updateVm'] as const) {
    const original = (store[m] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (store as unknown as Record<string, unknown>)[m] = (...args: unknown[]) => {
      calls[m] = (calls[m] ?? 0) + 1;
      return original(...args);
    };
  }
  return { store, calls };
}

function cached(inner: InfrastructureStore, maxAgeMs = Infinity, now?: () => number): CachedInfrastructureStore {
  return new CachedInfrastructureStore(inner, { maxAgeMs, ...(now ? { now } : {}) });
}

describe('record cache: reads and writes', () => {
  it('serves repeated reads from memory and every write updates the cached record', async () => {
    const { store, calls } = countingStore();
    const cache = cached(store);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    expect((await cache.getInfrastructure(inf.id))?.radl).toBe(inf.radl);
    for (let i = 0; i < 5; i++) await cache.getInfrastructure(inf.id);
    expect(calls.getInfrastructure ?? 0).toBe(0);

    const next = await cache.updateInfrastructure(inf.id, 1, { addingOps: ['a', 'b'], tosca: undefined });
    expect(next.version).toBe(2);
    expect(await cache.getInfrastructure(inf.id)).toEqual(next);
    expect(await db.store.getInfrastructure(inf.id)).toEqual(next);

    const ids = await cache.reserveVmIds(inf.id, 3);
    expect(ids).toEqual([0, 1, 2]);
    // The counter changed without a version: the record is read again, once.
    expect((await cache.getInfrastructure(inf.id))?.vmCounter).toBe(3);
    await cache.getInfrastructure(inf.id);
    expect(calls.getInfrastructure ?? 0).toBe(1);
  });

  it('hands out frozen records', async () => {
    const cache = cached(countingStore().store);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    const rec = (await cache.getInfrastructure(inf.id))!;
    expect(Object.isFrozen(rec) && Object.isFrozen(rec.owners[0]) && Object.isFrozen(rec.snapshots)).toBe(true);
    expect(() => {
      (rec as { addingOps: string[] }).addingOps = ['x'];
    }).toThrow(TypeError);
    // The caller's own object stays writable: the cache keeps a copy.
    inf.addingOps = ['y'];
    expect((await cache.getInfrastructure(inf.id))?.addingOps).toEqual([]);
  });

  it('caches VMs and the VM list; a new infrastructure created with its VMs needs no list query', async () => {
    const { store, calls } = countingStore();
    const cache = cached(store);
    const inf = makeInf({ vmCounter: 3, addingOps: ['op'] });
    const vms = [0, 1, 2].map((i) => makeVm(inf.id, i));
    await cache.createInfrastructure(inf, vms);
    expect(await db.store.listVms(inf.id)).toHaveLength(3); // one transaction wrote them all
    expect((await cache.listVms(inf.id)).map((v) => v.vmId)).toEqual([0, 1, 2]);
    expect(calls.listVms ?? 0).toBe(0);

    const updated = await cache.updateVm(inf.id, 1, 1, { state: 'running', creating: false, errorMsg: undefined });
    expect((await cache.getVm(inf.id, 1))?.state).toBe('running');
    expect((await cache.listVms(inf.id))[1]).toEqual(updated);
    expect(await db.store.getVm(inf.id, 1)).toEqual(updated);
    expect(calls.getVm ?? 0).toBe(0);
    expect(calls.listVms ?? 0).toBe(0);

    // A write of the record (status, flags) changes no VM item: the list stays in memory, the record is new.
    const cur = (await cache.getInfrastructure(inf.id))!;
    await cache.updateInfrastructure(inf.id, cur.version, { status: 'deleting' }, cur);
    expect((await cache.getInfrastructure(inf.id))?.status).toBe('deleting');
    expect((await cache.listVms(inf.id))[1]).toEqual(updated);
    expect(calls.listVms ?? 0).toBe(0);

    // An infrastructure created without its VMs: the first list is one query, then memory.
    const other = makeInf();
    await cache.createInfrastructure(other);
    await cache.putVms([makeVm(other.id, 0), makeVm(other.id, 1)]);
    expect(await cache.listVms(other.id)).toHaveLength(2);
    expect(await cache.listVms(other.id)).toHaveLength(2);
    expect(calls.listVms).toBe(1);
  });

  it('creates with more VMs than one transaction holds (record first, then batches)', async () => {
    const { store, calls } = countingStore();
    const cache = cached(store);
    const inf = makeInf({ vmCounter: 30 });
    await cache.createInfrastructure(inf, Array.from({ length: 30 }, (_, i) => makeVm(inf.id, i)));
    expect(await db.store.listVms(inf.id)).toHaveLength(30);
    expect((await db.store.getInfrastructure(inf.id))?.vmCounter).toBe(30);
    expect((await cache.listVms(inf.id)).map((v) => v.vmId)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(calls.listVms ?? 0).toBe(0);
    await expect(cache.createInfrastructure(makeInf({ id: inf.id }), [])).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.createInfrastructure(makeInf(), [makeVm('another', 0)])).rejects.toThrow(/another infrastructure/);
  });

  it('returns what the store returns for records written by others once invalidated', async () => {
    const { store } = countingStore();
    const cache = cached(store);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    await store.updateInfrastructure(inf.id, 1, { addingOps: ['other'] }); // another process
    expect((await cache.getInfrastructure(inf.id))?.addingOps).toEqual([]); // stale: per-process cache
    cache.drop(inf.id);
    expect((await cache.getInfrastructure(inf.id))?.addingOps).toEqual(['other']);
  });
});

describe('record cache: conflicts and concurrency', () => {
  it('a version conflict drops the entry, so that mutate helpers read the record again', async () => {
    const { store } = countingStore();
    const cache = cached(store);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    await cache.getInfrastructure(inf.id);
    await store.updateInfrastructure(inf.id, 1, { snapshots: ['external'] }); // v2 behind the cache's back
    await expect(cache.updateInfrastructure(inf.id, 1, { addingOps: ['x'] })).rejects.toBeInstanceOf(VersionConflictError);
    expect((await cache.getInfrastructure(inf.id))?.version).toBe(2);

    // mutateInfrastructure over a stale entry: conflict, re-read, nothing lost.
    await store.updateInfrastructure(inf.id, 2, { snapshots: ['external', 'second'] });
    const after = await mutateInfrastructure(cache, inf.id, (cur) => ({ snapshots: [...cur.snapshots, 'mine'] }), { baseDelayMs: 1 });
    expect(after.snapshots).toEqual(['external', 'second', 'mine']);
    expect((await store.getInfrastructure(inf.id))?.snapshots).toEqual(['external', 'second', 'mine']);
  });

  it('20 parallel read-modify-writes through the cache, racing another writer, lose nothing', async () => {
    const { store } = countingStore();
    const cache = cached(store);
    const other = cached(new DynamoInfrastructureStore({ client: db.client, tableName: db.tableName })); // a second process
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) =>
        mutateInfrastructure(cache, inf.id, (cur) => ({ snapshots: [...cur.snapshots, `a${i}`] }), { baseDelayMs: 1, retries: 100 }),
      ),
      ...Array.from({ length: 10 }, (_, i) =>
        mutateInfrastructure(other, inf.id, (cur) => ({ snapshots: [...cur.snapshots, `b${i}`] }), { baseDelayMs: 1, retries: 100 }),
      ),
    ]);
    const stored = (await store.getInfrastructure(inf.id))!;
    expect(stored.snapshots).toHaveLength(30);
    expect(stored.version).toBe(31);
    cache.drop(inf.id);
    expect((await cache.getInfrastructure(inf.id))?.snapshots).toHaveLength(30);
  });

  it('20 parallel VM updates and id reservations through the cache lose nothing', async () => {
    const { store } = countingStore();
    const cache = cached(store);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    await cache.putVm(makeVm(inf.id, 0, { cloudData: { n: 0 } }));
    const [, ids] = await Promise.all([
      Promise.all(
        Array.from({ length: 20 }, () =>
          mutateVm(cache, inf.id, 0, (v) => ({ cloudData: { n: (v.cloudData?.n as number) + 1 } }), { baseDelayMs: 1, retries: 100 }),
        ),
      ),
      Promise.all(Array.from({ length: 20 }, () => cache.reserveVmIds(inf.id, 1))),
    ]);
    expect((await store.getVm(inf.id, 0))?.cloudData).toEqual({ n: 20 });
    expect((await cache.getVm(inf.id, 0))?.cloudData).toEqual({ n: 20 });
    expect(ids.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect((await cache.getInfrastructure(inf.id))?.vmCounter).toBe(20);
  });
});

describe('record cache: age, deletion, expiry', () => {
  it('entries older than maxAgeMs (INF_CACHE_TIME) are read again', async () => {
    let now = Date.now();
    const clock = () => now;
    const { store, calls } = countingStore(clock);
    const cache = cached(store, 5_000, clock);
    const inf = makeInf();
    await cache.createInfrastructure(inf);
    await store.updateInfrastructure(inf.id, 1, { addingOps: ['z'] });
    now += 4_000;
    expect((await cache.getInfrastructure(inf.id))?.addingOps).toEqual([]);
    now += 2_000;
    expect((await cache.getInfrastructure(inf.id))?.addingOps).toEqual(['z']);
    expect(calls.getInfrastructure).toBe(1);
    expect(cacheMaxAgeMs(undefined, Infinity)).toBe(Infinity);
    expect(cacheMaxAgeMs(undefined, 0)).toBe(0);
    expect(cacheMaxAgeMs(2.5, Infinity)).toBe(2500);
  });

  it('keeps the store semantics of deleted and expired records', async () => {
    let now = Date.now();
    const clock = () => now;
    const { store } = countingStore(clock);
    const cache = cached(store, Infinity, clock);
    const key = `owner-${now}`;
    const inf = makeInf({ ownerKeys: [key] });
    await cache.createInfrastructure(inf);
    expect((await cache.listInfrastructures({ ownerKey: key })).map((i) => i.id)).toEqual([inf.id]);
    await cache.updateInfrastructure(inf.id, 1, { status: 'deleted', deletedAt: now, expiresAt: Math.floor(now / 1000) + 60 });
    expect((await cache.getInfrastructure(inf.id))?.status).toBe('deleted');
    expect(await cache.listInfrastructures({ ownerKey: key })).toEqual([]);
    expect((await cache.listInfrastructures({ ownerKey: key, includeDeleted: true })).map((i) => i.id)).toEqual([inf.id]);
    now += 61_000; // past expiresAt: gone, as the store says
    expect(await cache.getInfrastructure(inf.id)).toBeUndefined();
    expect(await store.getInfrastructure(inf.id)).toBeUndefined();
    expect(await cache.listInfrastructures({ ownerKey: key, includeDeleted: true })).toEqual([]);

    const gone = makeInf({ ownerKeys: [key] });
    await cache.createInfrastructure(gone);
    await cache.putVm(makeVm(gone.id, 0));
    await cache.getVm(gone.id, 0);
    await cache.deleteInfrastructureData(gone.id);
    expect(await cache.getInfrastructure(gone.id)).toBeUndefined();
    expect(await cache.getVm(gone.id, 0)).toBeUndefined();
    expect(await cache.listVms(gone.id)).toEqual([]);
    expect(await cache.listInfrastructures({ ownerKey: key })).toEqual([]);
  });

  it('owner listings follow creations and owner changes, newest first, with no store read once loaded', async () => {
    const { store, calls } = countingStore();
    const cache = cached(store);
    const a = `owner-a-${Date.now()}`;
    const b = `owner-b-${Date.now()}`;
    const first = makeInf({ ownerKeys: [a], createdAt: 1000 });
    await cache.createInfrastructure(first);
    expect((await cache.listInfrastructures({ ownerKey: a })).map((i) => i.id)).toEqual([first.id]);
    const second = makeInf({ ownerKeys: [a], createdAt: 2000 });
    await cache.createInfrastructure(second);
    const listed = await cache.listInfrastructures({ ownerKey: a });
    expect(listed.map((i) => i.id)).toEqual([second.id, first.id]);
    expect(await cache.listInfrastructures({ ownerKey: b })).toEqual([]);
    const loads = calls.listInfrastructureIds;
    await cache.updateInfrastructure(first.id, 1, { ownerKeys: [b] });
    expect((await cache.listInfrastructures({ ownerKey: a })).map((i) => i.id)).toEqual([second.id]);
    expect((await cache.listInfrastructures({ ownerKey: b })).map((i) => i.id)).toEqual([first.id]);
    // An owner change drops the listings: each owner's is one query again.
    expect(calls.listInfrastructureIds).toBe(loads + 2);
    // The same answers as the store itself.
    expect((await store.listInfrastructures({ ownerKey: b })).map((i) => i.id)).toEqual([first.id]);
  });
});

describe('record cache: external writers and pass-through', () => {
  it('external(infId): reads go to the store while another process writes, entries dropped at the end', async () => {
    const { store, calls } = countingStore();
    const cache = cached(store);
    const inf = makeInf();
    await cache.createInfrastructure(inf, [makeVm(inf.id, 0)]);
    const release = cache.external(inf.id);
    await store.updateVm(inf.id, 0, 1, { ctxtState: 'running' }); // the runner
    expect((await cache.getVm(inf.id, 0))?.ctxtState).toBe('running');
    expect((await cache.listVms(inf.id))[0].ctxtState).toBe('running');
    await store.updateVm(inf.id, 0, 2, { ctxtState: 'ok' });
    await store.updateInfrastructure(inf.id, 1, { configured: true });
    expect((await cache.getVm(inf.id, 0))?.ctxtState).toBe('ok');
    release();
    const before = calls.getInfrastructure ?? 0;
    expect((await cache.getInfrastructure(inf.id))?.configured).toBe(true);
    await cache.getInfrastructure(inf.id);
    expect(calls.getInfrastructure).toBe(before + 1);
  });
});
