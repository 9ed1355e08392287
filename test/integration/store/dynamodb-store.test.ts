/**
 * DynamoInfrastructureStore against a real DynamoDB Local (in memory, one per file).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DescribeTableCommand, DescribeTimeToLiveCommand, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { ImError } from '#core/errors';
import { VersionConflictError, type InfraRecord } from '#core/types';
import { DynamoInfrastructureStore, LOG_CHUNK_BYTES, createTable } from '#store/dynamodb/index';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { runPurge } from '#store/purge';
import { OWNER_INDEX, TIME_INDEX, TTL_ATTRIBUTE } from '#store/dynamodb/schema';
import { startTestDynamo, type TestDynamo } from '../../helpers/dynamo';
import { makeInf, makeVm } from './fixtures';

let db: TestDynamo;
let store: DynamoInfrastructureStore;

beforeAll(async () => {
  db = await startTestDynamo();
  store = db.store;
});
afterAll(async () => {
  await db?.stop();
});

/** Approximate DynamoDB item size (attribute names + values), as AWS documents it. */
function attrSize(v: AttributeValue): number {
  if (v.S !== undefined) return Buffer.byteLength(v.S);
  if (v.N !== undefined) return Math.ceil(v.N.length / 2) + 1;
  if (v.B !== undefined) return v.B.length;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.L) return 3 + v.L.reduce((n, x) => n + 1 + attrSize(x), 0);
  if (v.M) return 3 + Object.entries(v.M).reduce((n, [k, x]) => n + 1 + Buffer.byteLength(k) + attrSize(x), 0);
  return 8;
}
const itemSize = (item: Record<string, AttributeValue>) =>
  Object.entries(item).reduce((n, [k, v]) => n + Buffer.byteLength(k) + attrSize(v), 0);

/** Every raw item of a partition (or of the whole table). */
async function rawItems(tableName: string, infId?: string): Promise<Record<string, AttributeValue>[]> {
  const out: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const r = await db.client.send(
      new ScanCommand({
        TableName: tableName,
        ExclusiveStartKey: start,
        ...(infId ? { FilterExpression: 'PK = :pk', ExpressionAttributeValues: { ':pk': { S: `INF#${infId}` } } } : {}),
      }),
    );
    out.push(...(r.Items ?? []));
    start = r.LastEvaluatedKey;
  } while (start);
  return out;
}

describe('createTable', () => {
  it('creates the table with both GSIs and TTL on expiresAt, and is idempotent', async () => {
    await createTable(db.client, db.tableName); // second call: no error
    const t = await db.client.send(new DescribeTableCommand({ TableName: db.tableName }));
    expect(t.Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
    expect(t.Table?.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual([OWNER_INDEX.name, TIME_INDEX.name].sort());
    const ttl = await db.client.send(new DescribeTimeToLiveCommand({ TableName: db.tableName }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(TTL_ATTRIBUTE);
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
  });
});

describe('infrastructures', () => {
  it('creates, reads back every field, and refuses a duplicate id', async () => {
    const inf = makeInf({
      tosca: 'tosca_definitions_version: tosca_simple_yaml_1_0\n',
      configured: false,
      vmMaster: 0,
      privateNetworks: { priv: 'one' },
      snapshots: ['one://server/image/1'],
      cloudAuth: 'sealed-blob',
      extra: { outputs: { url: 'http://x' }, list: [1, 'a', true] },
    });
    await store.createInfrastructure(inf);
    expect(await store.getInfrastructure(inf.id)).toEqual(inf);
    await expect(store.createInfrastructure(inf)).rejects.toBeInstanceOf(VersionConflictError);
    expect(await store.getInfrastructure(randomUUID())).toBeUndefined();
  });

  it('updates conditionally: version + 1, undefined removes a field, stale version conflicts', async () => {
    const inf = makeInf({ vmMaster: 3, configured: true });
    await store.createInfrastructure(inf);
    const updated = await store.updateInfrastructure(inf.id, 1, { addingOps: ['a', 'b'], vmMaster: undefined, extra: { a: 1 } });
    expect(updated.version).toBe(2);
    expect(updated.addingOps).toEqual(['a', 'b']);
    expect(updated).not.toHaveProperty('vmMaster');
    expect(updated.configured).toBe(true);
    expect(updated.updatedAt).toBeGreaterThanOrEqual(inf.updatedAt);
    expect(await store.getInfrastructure(inf.id)).toEqual(updated);
    await expect(store.updateInfrastructure(inf.id, 1, { addingOps: ['x'] })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.updateInfrastructure(randomUUID(), 1, { addingOps: ['x'] })).rejects.toMatchObject({ code: 'INF_NOT_FOUND' });
  });

  it('two writers with the same version: exactly one wins', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    const results = await Promise.allSettled([
      store.updateInfrastructure(inf.id, 1, { addingOps: ['1'] }),
      store.updateInfrastructure(inf.id, 1, { addingOps: ['2'] }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect((rejected[0] as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
    // The same on the transactional path (status change).
    const r2 = await Promise.allSettled([
      store.updateInfrastructure(inf.id, 2, { status: 'deleting' }),
      store.updateInfrastructure(inf.id, 2, { status: 'deleting', ownerKeys: ['x'] }),
    ]);
    expect(r2.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((r2.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(VersionConflictError);
  });

  it('mutateInfrastructure: 20 parallel increments lose no update', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    await Promise.all(Array.from({ length: 20 }, () => mutateInfrastructure(store, inf.id, (cur) => ({ addingOps: [...cur.addingOps, 'op'] }))));
    const final = await store.getInfrastructure(inf.id);
    expect(final?.addingOps).toHaveLength(20);
    expect(final?.version).toBe(21);
  });

  it('mutateInfrastructure: undefined or unchanged → no write; missing → INF_NOT_FOUND', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    expect(await mutateInfrastructure(store, inf.id, () => undefined)).toEqual(inf);
    expect(await mutateInfrastructure(store, inf.id, (cur) => ({ ...cur }))).toEqual(inf);
    const next = await mutateInfrastructure(store, inf.id, async (cur) => ({ ...cur, configured: true }));
    expect(next).toMatchObject({ version: 2, configured: true });
    const err = await mutateInfrastructure(store, randomUUID(), () => ({ addingOps: ['1'] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImError);
    expect((err as ImError).code).toBe('INF_NOT_FOUND');
  });

  it('reserveVmIds: 20 parallel callers get unique sequential ids, never reused', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    const batches = await Promise.all(Array.from({ length: 20 }, (_, i) => store.reserveVmIds(inf.id, (i % 3) + 1)));
    const ids = batches.flat().sort((a, b) => a - b);
    const total = batches.reduce((n, b) => n + b.length, 0);
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const b of batches) b.forEach((id, i) => expect(id).toBe(b[0] + i)); // consecutive per call
    // A stale full-record update never moves the counter back.
    await store.updateInfrastructure(inf.id, 1, { vmCounter: 0, addingOps: ['1'] });
    expect(await store.reserveVmIds(inf.id, 2)).toEqual([total, total + 1]);
    expect((await store.getInfrastructure(inf.id))?.vmCounter).toBe(total + 2);
    await expect(store.reserveVmIds(randomUUID(), 1)).rejects.toMatchObject({ code: 'INF_NOT_FOUND' });
  });

  it('stores a large RADL compressed and reads it back intact', async () => {
    const systems = Array.from({ length: 6000 }, (_, i) => ({ name: `node-${i}`, features: { memory: '4g', image: `one://host/${i}` } }));
    const radl = JSON.stringify({ systems });
    expect(radl.length).toBeGreaterThan(400 * 1024);
    const inf = makeInf({ radl });
    await store.createInfrastructure(inf);
    expect((await store.getInfrastructure(inf.id))?.radl).toBe(radl);
    const smaller = JSON.stringify({ systems: systems.slice(0, 2) });
    expect((await store.updateInfrastructure(inf.id, 1, { radl: smaller })).radl).toBe(smaller);
    expect((await store.updateInfrastructure(inf.id, 2, { radl })).radl).toBe(radl);
    for (const item of await rawItems(db.tableName, inf.id)) expect(itemSize(item)).toBeLessThan(400 * 1024);
  });
});

describe('owner index and listing', () => {
  it('lists an owner’s infrastructures newest first, isolated from other owners', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const base = Date.now() - 100_000;
    const a = [0, 1, 2].map((i) => makeInf({ createdAt: base + i * 1000, ownerKeys: ['ka'] }));
    const b = [0, 1].map((i) => makeInf({ createdAt: base + i * 1000 + 500, ownerKeys: ['kb'] }));
    const shared = makeInf({ createdAt: base + 5000, ownerKeys: ['ka', 'kb'] });
    for (const inf of [...a, ...b, shared]) await s.createInfrastructure(inf);

    expect((await s.listInfrastructures({ ownerKey: 'ka' })).map((i) => i.id)).toEqual([shared.id, a[2].id, a[1].id, a[0].id]);
    expect((await s.listInfrastructures({ ownerKey: 'kb' })).map((i) => i.id)).toEqual([shared.id, b[1].id, b[0].id]);
    expect(await s.listInfrastructures({ ownerKey: 'nobody' })).toEqual([]);
    expect(await s.listInfrastructures({ ownerKey: '' })).toEqual([]); // never "all"
    const all = await s.listInfrastructures({});
    expect(all.map((i) => i.id)).toEqual([shared, a[2], b[1], a[1], b[0], a[0]].map((i) => i.id));
    expect(all[0]).toEqual(shared);
    expect(await s.listInfrastructureIds({ ownerKey: 'ka' })).toEqual([shared.id, a[2].id, a[1].id, a[0].id]);
  });

  it('keeps owner links in sync when the owners change', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const inf = makeInf({ ownerKeys: ['k1', 'k2'] });
    await s.createInfrastructure(inf);
    const updated = await s.updateInfrastructure(inf.id, 1, {
      ownerKeys: ['k2', 'k3'],
      owners: [...inf.owners, { username: 'carol', passwordHash: 'x', usedToken: true }],
    });
    expect(updated.ownerKeys).toEqual(['k2', 'k3']);
    expect(await s.listInfrastructures({ ownerKey: 'k1' })).toEqual([]);
    expect((await s.listInfrastructures({ ownerKey: 'k2' })).map((i) => i.id)).toEqual([inf.id]);
    expect(await s.listInfrastructures({ ownerKey: 'k3' })).toEqual([updated]);
    const links = (await rawItems(tableName, inf.id)).filter((i) => i.SK.S?.startsWith('OWNER#'));
    expect(links.map((l) => l.SK.S).sort()).toEqual(['OWNER#k2', 'OWNER#k3']);
  });

  it('hides deleted infrastructures from lists unless includeDeleted, but getInfrastructure returns them', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName, deletedRetentionDays: 30 });
    const live = makeInf({ ownerKeys: ['k'], createdAt: Date.now() - 2000 });
    const gone = makeInf({ ownerKeys: ['k'], createdAt: Date.now() - 1000 });
    await s.createInfrastructure(live);
    await s.createInfrastructure(gone);
    const before = Date.now();
    const deleted = await s.updateInfrastructure(gone.id, 1, { status: 'deleted' });
    expect(deleted.deletedAt).toBeGreaterThanOrEqual(before);
    expect(deleted.expiresAt).toBe(Math.floor((deleted.deletedAt! + 30 * 86_400_000) / 1000));
    expect(await s.getInfrastructure(gone.id)).toEqual(deleted);
    expect((await s.listInfrastructures({ ownerKey: 'k' })).map((i) => i.id)).toEqual([live.id]);
    expect((await s.listInfrastructures({})).map((i) => i.id)).toEqual([live.id]);
    expect((await s.listInfrastructures({ ownerKey: 'k', includeDeleted: true })).map((i) => i.id)).toEqual([gone.id, live.id]);
    expect((await s.listInfrastructures({ includeDeleted: true })).map((i) => i.id)).toEqual([gone.id, live.id]);
  });

  it('lists more than 100 infrastructures (BatchGetItem pages)', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const base = Date.now() - 1_000_000;
    const infs = Array.from({ length: 130 }, (_, i) => makeInf({ createdAt: base + i, ownerKeys: ['many'] }));
    await Promise.all(infs.map((inf) => s.createInfrastructure(inf)));
    const listed = await s.listInfrastructures({ ownerKey: 'many' });
    expect(listed.map((i) => i.id)).toEqual(infs.map((i) => i.id).reverse());
  });
});

describe('expiry (TTL filtered on read)', () => {
  it('never returns an infrastructure whose expiresAt has passed', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const expired = makeInf({ ownerKeys: ['k'], status: 'deleted', deletedAt: Date.now() - 10_000, expiresAt: Math.floor(Date.now() / 1000) - 5 });
    const future = makeInf({ ownerKeys: ['k'], status: 'deleted', deletedAt: Date.now(), expiresAt: Math.floor(Date.now() / 1000) + 3600 });
    await s.createInfrastructure(expired);
    await s.createInfrastructure(future);
    expect(await s.getInfrastructure(expired.id)).toBeUndefined();
    expect(await s.getInfrastructure(future.id)).toEqual(future);
    const listed = await s.listInfrastructures({ ownerKey: 'k', includeDeleted: true });
    expect(listed.map((i) => i.id)).toEqual([future.id]);
    expect((await s.listInfrastructures({ includeDeleted: true })).map((i) => i.id)).toEqual([future.id]);
    // Expired through an update, and seen by a store whose clock is later.
    const later = new DynamoInfrastructureStore({ client: db.client, tableName, now: () => Date.now() + 7200_000 });
    expect(await later.getInfrastructure(future.id)).toBeUndefined();
    expect(await later.listInfrastructures({ ownerKey: 'k', includeDeleted: true })).toEqual([]);
    await expect(mutateInfrastructure(later, future.id, () => ({ addingOps: ['1'] }))).rejects.toMatchObject({ code: 'INF_NOT_FOUND' });
  });
});

describe('VMs', () => {
  it('putVm / getVm / listVms (id order, destroyed included) / updateVm', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    const ids = await store.reserveVmIds(inf.id, 12);
    for (const id of [...ids].reverse()) await store.putVm(makeVm(inf.id, id, { destroyed: id === 3 }));
    const vms = await store.listVms(inf.id);
    expect(vms.map((v) => v.vmId)).toEqual(ids); // numeric order even past 9 (padded keys)
    expect(vms[3].destroyed).toBe(true);
    const vm = await store.getVm(inf.id, 5);
    expect(vm).toEqual(makeVm(inf.id, 5, { createdAt: vm!.createdAt }));
    expect(await store.getVm(inf.id, 99)).toBeUndefined();

    const up = await store.updateVm(inf.id, 5, 1, { state: 'running', creating: false, providerId: undefined, errorMsg: 'x' });
    expect(up).toMatchObject({ version: 2, state: 'running', creating: false, errorMsg: 'x' });
    expect(up).not.toHaveProperty('providerId');
    await expect(store.updateVm(inf.id, 5, 1, { state: 'off' })).rejects.toBeInstanceOf(VersionConflictError);
    await expect(store.updateVm(inf.id, 99, 1, { state: 'off' })).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('mutateVm: 20 parallel read-modify-writes lose no update', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    await store.putVm(makeVm(inf.id, 0, { launchAttempts: 0 }));
    await Promise.all(Array.from({ length: 20 }, () => mutateVm(store, inf.id, 0, (vm) => ({ launchAttempts: (vm.launchAttempts ?? 0) + 1 }))));
    expect(await store.getVm(inf.id, 0)).toMatchObject({ launchAttempts: 20, version: 21 });
    await expect(mutateVm(store, inf.id, 7, () => ({ state: 'off' }))).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });

  it('putVms writes 50 VMs in batches', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    const ids = await store.reserveVmIds(inf.id, 50);
    await store.putVms(ids.map((id) => makeVm(inf.id, id)));
    const vms = await store.listVms(inf.id);
    expect(vms.map((v) => v.vmId)).toEqual(ids);
    expect(vms[49]).toEqual(makeVm(inf.id, 49, { createdAt: vms[49].createdAt }));
  });
});

describe('contextualization logs', () => {
  it('appends, reads in order, clears, per scope', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    expect(await store.getLog(inf.id, 'inf')).toBe('');
    await store.appendLog(inf.id, 'inf', 'line 1\n');
    await store.appendLog(inf.id, 'inf', 'line 2\n');
    await store.appendLog(inf.id, 2, 'vm 2 says ñ✓\n');
    await store.appendLog(inf.id, 12, 'vm 12\n');
    expect(await store.getLog(inf.id, 'inf')).toBe('line 1\nline 2\n');
    expect(await store.getLog(inf.id, 2)).toBe('vm 2 says ñ✓\n');
    expect(await store.getLog(inf.id, 12)).toBe('vm 12\n');
    await store.clearLog(inf.id, 'inf');
    expect(await store.getLog(inf.id, 'inf')).toBe('');
    expect(await store.getLog(inf.id, 2)).toBe('vm 2 says ñ✓\n');
    await store.appendLog(inf.id, 'inf', 'after clear\n');
    expect(await store.getLog(inf.id, 'inf')).toBe('after clear\n');
    // Logs never touch the record version.
    expect((await store.getInfrastructure(inf.id))?.version).toBe(1);
    // An append does not read the record (one write): appending to an unknown infrastructure is not checked.
  });

  it('a 1 MB log from concurrent appenders: order per appender kept, nothing lost, items well under 400 KB', async () => {
    const inf = makeInf();
    await store.createInfrastructure(inf);
    // 4 appenders × 64 appends of 4 KB, plus one 200 KB append split into chunks.
    const line = (w: number, i: number) => `[w${w} #${String(i).padStart(3, '0')}] ${'x'.repeat(4096 - 16)}\n`;
    const big = 'é'.repeat(100 * 1024); // 200 KB of 2-byte characters
    await Promise.all([
      ...[0, 1, 2, 3].map(async (w) => {
        for (let i = 0; i < 64; i++) await store.appendLog(inf.id, 0, line(w, i));
      }),
      store.appendLog(inf.id, 0, big),
    ]);
    const log = await store.getLog(inf.id, 0);
    expect(Buffer.byteLength(log)).toBeGreaterThan(1024 * 1024);
    expect(log.length).toBe(4 * 64 * line(0, 0).length + big.length);
    expect(log).toContain(big);
    for (let w = 0; w < 4; w++) {
      const positions = Array.from({ length: 64 }, (_, i) => log.indexOf(`[w${w} #${String(i).padStart(3, '0')}]`));
      expect(positions.every((p) => p >= 0)).toBe(true);
      expect([...positions].sort((a, b) => a - b)).toEqual(positions); // in append order
    }
    const items = await rawItems(db.tableName, inf.id);
    const chunks = items.filter((i) => i.SK.S?.startsWith('LOG#'));
    expect(chunks.length).toBe(4 * 64 + Math.ceil((200 * 1024) / LOG_CHUNK_BYTES));
    const largest = Math.max(...items.map(itemSize));
    expect(largest).toBeLessThanOrEqual(LOG_CHUNK_BYTES + 200);
    expect(largest).toBeLessThan(400 * 1024);
  });
});

describe('deletion and purge', () => {
  /** An infrastructure with 3 VMs, logs and 2 owners: 1 + 3 + 3 + 2 items. */
  async function populated(s: DynamoInfrastructureStore, over: Partial<InfraRecord>): Promise<InfraRecord> {
    const inf = makeInf({ ownerKeys: ['p1', 'p2'], ...over });
    await s.createInfrastructure(inf);
    await s.putVms([0, 1, 2].map((id) => makeVm(inf.id, id)));
    await s.appendLog(inf.id, 'inf', 'inf log');
    await s.appendLog(inf.id, 0, 'vm0 log');
    await s.appendLog(inf.id, 1, 'vm1 log');
    return inf;
  }

  it('deleteInfrastructureData removes every item of the partition and nothing else', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const doomed = await populated(s, {});
    const kept = await populated(s, {});
    expect(await rawItems(tableName, doomed.id)).toHaveLength(9);
    await s.deleteInfrastructureData(doomed.id);
    expect(await rawItems(tableName, doomed.id)).toHaveLength(0);
    expect(await s.getInfrastructure(doomed.id)).toBeUndefined();
    expect(await s.listInfrastructures({ ownerKey: 'p1' })).toEqual([kept]);
    expect(await rawItems(tableName, kept.id)).toHaveLength(9);
  });

  it('purge removes the right partitions and nothing else', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const day = 86_400_000;
    const now = Date.now();
    const oldDeleted = await populated(s, { createdAt: now - 50 * day });
    await s.updateInfrastructure(oldDeleted.id, 1, { status: 'deleted', deletedAt: now - 40 * day });
    const recentDeleted = await populated(s, { createdAt: now - 50 * day });
    await s.updateInfrastructure(recentDeleted.id, 1, { status: 'deleted', deletedAt: now - 2 * day });
    const oldActive = await populated(s, { createdAt: now - 60 * day });
    const newActive = await populated(s, { createdAt: now - day });
    const deleting = await populated(s, { createdAt: now - 45 * day });
    await s.updateInfrastructure(deleting.id, 1, { status: 'deleting' });

    // Retention 30 days: only the infrastructure deleted 40 days ago (10 items with its tombstone).
    expect(await s.purge({ deletedBefore: now - 30 * day })).toEqual({ infrastructures: 1, items: 10 });
    expect(await rawItems(tableName, oldDeleted.id)).toHaveLength(0);
    for (const inf of [recentDeleted, oldActive, newActive, deleting]) expect((await rawItems(tableName, inf.id)).length).toBeGreaterThan(0);
    expect(await s.purge({ deletedBefore: now - 30 * day })).toEqual({ infrastructures: 0, items: 0 });

    // createdBefore (deleted or not): everything created more than 44 days ago.
    expect(await s.purge({ createdBefore: now - 44 * day })).toEqual({ infrastructures: 3, items: 28 });
    for (const inf of [recentDeleted, oldActive, deleting]) expect(await rawItems(tableName, inf.id)).toHaveLength(0);
    expect(await rawItems(tableName, newActive.id)).toHaveLength(9);
    expect(await s.listInfrastructures({ includeDeleted: true })).toEqual([await s.getInfrastructure(newActive.id)]);
    expect(await s.purge({})).toEqual({ infrastructures: 0, items: 0 });
  });

  it('purge still finds a deleted partition whose record TTL already removed', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const inf = await populated(s, {});
    await s.updateInfrastructure(inf.id, 1, { status: 'deleted', deletedAt: Date.now() - 1000, expiresAt: Math.floor(Date.now() / 1000) - 1 });
    // Simulate TTL: remove the record and the owner links (they carry expiresAt), keep the rest.
    const { DeleteItemCommand } = await import('@aws-sdk/client-dynamodb');
    for (const item of await rawItems(tableName, inf.id)) {
      if (item[TTL_ATTRIBUTE]) await db.client.send(new DeleteItemCommand({ TableName: tableName, Key: { PK: item.PK, SK: item.SK } }));
    }
    const left = await rawItems(tableName, inf.id);
    expect(left.map((i) => i.SK.S)).not.toContain('META');
    expect(left.length).toBeGreaterThan(0);
    const result = await runPurge(s, { retentionDays: 0, now: Date.now() });
    expect(result).toMatchObject({ infrastructures: 1, items: left.length });
    expect(await rawItems(tableName, inf.id)).toHaveLength(0);
  });

  it('runPurge: deleted past the retention, plus deleted created before `before`; active ones untouched', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const day = 86_400_000;
    const now = Date.UTC(2025, 5, 15);
    const a = await populated(s, { createdAt: now - 100 * day });
    await s.updateInfrastructure(a.id, 1, { status: 'deleted', deletedAt: Date.UTC(2025, 4, 1) });
    const b = await populated(s, { createdAt: Date.UTC(2025, 5, 1) });
    await s.updateInfrastructure(b.id, 1, { status: 'deleted', deletedAt: Date.UTC(2025, 5, 10) });
    const c = await populated(s, { createdAt: Date.UTC(2025, 5, 12) });
    await s.updateInfrastructure(c.id, 1, { status: 'deleted', deletedAt: Date.UTC(2025, 5, 13) });
    const active = await populated(s, { createdAt: now - 100 * day });

    const first = await runPurge(s, { retentionDays: 30, now }); // retention cut-off 2025-05-16: only a
    expect(first).toEqual({ infrastructures: 1, items: 10, deletedBefore: '2025-05-16T00:00:00.000Z' });
    // b was created before 2025-06-11 (and is deleted); c was created after; active is never purged.
    const second = await runPurge(s, { retentionDays: 30, now, before: new Date('2025-06-11T00:00:00Z') });
    expect(second).toEqual({
      infrastructures: 1,
      items: 10,
      deletedBefore: '2025-05-16T00:00:00.000Z',
      createdBefore: '2025-06-11T00:00:00.000Z',
    });
    expect(await rawItems(tableName, b.id)).toHaveLength(0);
    expect(await rawItems(tableName, c.id)).toHaveLength(10);
    expect(await rawItems(tableName, active.id)).toHaveLength(9);
  });
});

describe('purge Lambda handler', () => {
  it('purges per DELETED_RETENTION_DAYS and PURGE_BEFORE and logs the counts as JSON', async () => {
    const tableName = await db.newTable();
    const s = new DynamoInfrastructureStore({ client: db.client, tableName });
    const day = 86_400_000;
    const [old, recent, active] = [makeInf(), makeInf(), makeInf()];
    for (const inf of [old, recent, active]) await s.createInfrastructure(inf);
    await s.updateInfrastructure(old.id, 1, { status: 'deleted', deletedAt: Date.now() - 40 * day });
    await s.updateInfrastructure(recent.id, 1, { status: 'deleted', deletedAt: Date.now() - 10 * day });

    const savedEnv = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local' });
    delete process.env.PURGE_BEFORE;
    Object.assign(process.env, { TABLE_NAME: tableName, DYNAMODB_SOCKET: db.socketPath, DELETED_RETENTION_DAYS: '30' });
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const { handler } = await import('#handlers/purge');
      expect(await handler()).toMatchObject({ infrastructures: 1, items: 3 }); // record, owner link, tombstone
      expect(await s.getInfrastructure(old.id)).toBeUndefined();
      const log = JSON.parse(lines.find((l) => l.includes('purge done'))!);
      expect(log).toMatchObject({ level: 'INFO', msg: 'purge done', infrastructures: 1, items: 3 });

      process.env.PURGE_BEFORE = new Date(Date.now() + day).toISOString().slice(0, 10);
      expect(await handler()).toMatchObject({ infrastructures: 1 });
      expect(await s.getInfrastructure(recent.id)).toBeUndefined();
      expect(await s.getInfrastructure(active.id)).toEqual(active);

      process.env.PURGE_BEFORE = '2024-13-01';
      await expect(handler()).rejects.toThrow(/PURGE_BEFORE/);
    } finally {
      write.mockRestore();
      process.env = savedEnv;
    }
  });
});

describe('timings', () => {
  it('measures create + 50 VMs, getInfrastructure, listVms, update', async () => {
    const rounds = 5;
    const createMs: number[] = [];
    const putVmsMs: number[] = [];
    let lastId = '';
    for (let r = 0; r < rounds; r++) {
      const inf = makeInf();
      const t0 = performance.now();
      await store.createInfrastructure(inf);
      const ids = await store.reserveVmIds(inf.id, 50);
      const t1 = performance.now();
      await store.putVms(ids.map((id) => makeVm(inf.id, id)));
      const t2 = performance.now();
      createMs.push(t2 - t0);
      putVmsMs.push(t2 - t1);
      lastId = inf.id;
    }
    const n = 200;
    let t = performance.now();
    for (let i = 0; i < n; i++) await store.getInfrastructure(lastId);
    const getMs = (performance.now() - t) / n;
    t = performance.now();
    for (let i = 0; i < 20; i++) await store.listVms(lastId);
    const listVmsMs = (performance.now() - t) / 20;
    t = performance.now();
    for (let i = 0; i < 50; i++) await store.updateInfrastructure(lastId, i + 1, { addingOps: [String(i)] });
    const updateMs = (performance.now() - t) / 50;
    t = performance.now();
    for (let i = 0; i < 50; i++) await store.putVm(makeVm(lastId, 100 + i));
    const putVmMs = (performance.now() - t) / 50;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const report = {
      'create inf + reserve 50 ids + putVms(50), median ms': +median(createMs).toFixed(1),
      'putVms(50), median ms': +median(putVmsMs).toFixed(1),
      'putVm, ms each (sequential)': +putVmMs.toFixed(2),
      'getInfrastructure, ms each': +getMs.toFixed(2),
      'updateInfrastructure, ms each': +updateMs.toFixed(2),
      'listVms(100 VMs), ms each': +listVmsMs.toFixed(2),
    };
    console.log('[store timings, DynamoDB Local]', JSON.stringify(report, null, 1));
    // Loose bounds: catch regressions (extra round trips), not machine noise.
    expect(median(putVmsMs)).toBeLessThan(500);
    expect(getMs).toBeLessThan(50);
  });
});
