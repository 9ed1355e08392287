/** Pure parts of the store: key formats, UTF-8 chunking, purge date and cut-off, mutate retries. */
import { describe, expect, it } from 'vitest';
import { ImError } from '#core/errors';
import { VersionConflictError, type InfraRecord, type InfrastructureStore, type PurgeOptions, type VmRecord } from '#core/types';
import { splitUtf8 } from '#store/dynamodb/index';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { parsePurgeDate, runPurge } from '#store/purge';
import { logSk, timeSortKey, timeUpperBound, vmSk } from '#store/dynamodb/schema';

describe('key formats', () => {
  it('sort keys order like the numbers they encode', () => {
    const times = [0, 9, 10, 1_700_000_000_000, 99_999_999_999_999];
    const keys = times.map((t) => timeSortKey(t, 'id'));
    expect([...keys].sort()).toEqual(keys);
    expect([2, 10, 100].map(vmSk).sort()).toEqual([vmSk(2), vmSk(10), vmSk(100)]);
    // Log chunks: time order first, then the writer's own sequence, whatever the random suffix.
    const chunks = [logSk(3, 9, 5, 'ffffff'), logSk(3, 10, 1, '000000'), logSk(3, 10, 2, '000000'), logSk(3, 1_700_000_000_000, 0, 'aaaaaa')];
    expect([...chunks].reverse().sort()).toEqual(chunks);
    // "strictly before t": keys at t are not below the bound, keys at t-1 are.
    expect(timeSortKey(1000, 'x') < timeUpperBound(1000)).toBe(false);
    expect(timeSortKey(999, 'x') < timeUpperBound(1000)).toBe(true);
  });

  it('log prefixes of the infrastructure and of each VM never overlap', () => {
    expect(logSk('inf', 1, 2, 'abcdef')).toBe('LOG#INF#000000000000001.000000002.abcdef');
    expect(logSk(1, 1, 1, 'x').startsWith('LOG#VM0000000001#')).toBe(true);
    expect(logSk(10, 1, 1, 'x').startsWith('LOG#VM0000000001#')).toBe(false);
  });
});

describe('splitUtf8', () => {
  it('keeps short text whole', () => {
    expect(splitUtf8('hello', 10)).toEqual(['hello']);
    expect(splitUtf8('', 10)).toEqual(['']);
  });

  it('cuts at most maxBytes, never inside a character, and loses nothing', () => {
    const text = 'aé✓😀'.repeat(1000); // 1, 2, 3 and 4-byte characters
    for (const max of [4, 5, 7, 64, 1000]) {
      const pieces = splitUtf8(text, max);
      expect(pieces.join('')).toBe(text);
      for (const p of pieces) {
        expect(Buffer.byteLength(p)).toBeLessThanOrEqual(max);
        expect(p).not.toContain('\uFFFD');
      }
    }
  });
});

describe('parsePurgeDate', () => {
  it('accepts YYYY-MM-DD (and IM’s YYYY/MM/DD) as 00:00 UTC', () => {
    expect(parsePurgeDate('2024-06-01')?.toISOString()).toBe('2024-06-01T00:00:00.000Z');
    expect(parsePurgeDate('2024/6/1')?.toISOString()).toBe('2024-06-01T00:00:00.000Z');
    expect(parsePurgeDate(' 2024-02-29 ')?.toISOString()).toBe('2024-02-29T00:00:00.000Z');
  });

  it('rejects anything else', () => {
    for (const bad of ['2024-02-30', '2023-02-29', '2024-13-01', '2024-00-10', '24-01-01', '2024-01-01T00:00', 'yesterday', '']) {
      expect(parsePurgeDate(bad), bad).toBeUndefined();
    }
  });
});

/** A store double that records purge calls (only purge is used). */
function purgeRecorder(): { store: InfrastructureStore; calls: PurgeOptions[] } {
  const calls: PurgeOptions[] = [];
  const store = {
    purge: async (opts: PurgeOptions) => {
      calls.push(opts);
      return { infrastructures: 2, items: 7 };
    },
  } as unknown as InfrastructureStore;
  return { store, calls };
}

describe('runPurge', () => {
  const now = Date.UTC(2025, 5, 15, 12);
  const day = 86_400_000;

  it('purges deleted infrastructures past the retention, plus deleted ones created before `before`', async () => {
    const { store, calls } = purgeRecorder();
    expect(await runPurge(store, { retentionDays: 30, now })).toEqual({
      infrastructures: 2,
      items: 7,
      deletedBefore: new Date(now - 30 * day).toISOString(),
    });
    await runPurge(store, { retentionDays: 30, now, before: new Date('2025-06-01T00:00:00Z') });
    await runPurge(store, { retentionDays: 30, now, before: new Date('2020-01-01T00:00:00Z') });
    await runPurge(store, { retentionDays: 0, now });
    expect(calls).toEqual([
      { deletedBefore: now - 30 * day, deletedCreatedBefore: undefined },
      { deletedBefore: now - 30 * day, deletedCreatedBefore: Date.UTC(2025, 5, 1) },
      { deletedBefore: now - 30 * day, deletedCreatedBefore: Date.UTC(2020, 0, 1) },
      { deletedBefore: now, deletedCreatedBefore: undefined },
    ]);
  });

  it('rejects a negative or non-numeric retention', async () => {
    const { store } = purgeRecorder();
    await expect(runPurge(store, { retentionDays: -1, now })).rejects.toThrow(RangeError);
    await expect(runPurge(store, { retentionDays: Number.NaN, now })).rejects.toThrow(RangeError);
  });
});

/** A store double over one in-memory infrastructure / VM that conflicts `conflicts` times. */
function flakyStore(conflicts: number) {
  const inf = { id: 'i', version: 1, tosca: 'x', status: 'active', ownerKeys: ['k'] } as unknown as InfraRecord;
  const vm = { infId: 'i', vmId: 0, version: 1, state: 'pending' } as unknown as VmRecord;
  const updates: Record<string, unknown>[] = [];
  let left = conflicts;
  const store = {
    getInfrastructure: async (id: string) => (id === 'i' ? { ...inf } : undefined),
    updateInfrastructure: async (_id: string, version: number, patch: Record<string, unknown>) => {
      updates.push(patch);
      if (left-- > 0 || version !== inf.version) throw new VersionConflictError();
      Object.assign(inf, patch, { version: version + 1 });
      return { ...inf };
    },
    getVm: async (_i: string, id: number) => (id === 0 ? { ...vm } : undefined),
    updateVm: async (_i: string, _v: number, version: number, patch: Record<string, unknown>) => {
      updates.push(patch);
      if (left-- > 0) throw new VersionConflictError();
      Object.assign(vm, patch, { version: version + 1 });
      return { ...vm };
    },
  } as unknown as InfrastructureStore;
  return { store, updates };
}

describe('mutateInfrastructure / mutateVm', () => {
  it('retries after conflicts and writes only the changed fields', async () => {
    const { store, updates } = flakyStore(3);
    const calls: number[] = [];
    const result = await mutateInfrastructure(store, 'i', (inf) => {
      calls.push(inf.version);
      return { ...inf, vmMaster: (inf.vmMaster ?? 0) + 1 };
    }, { baseDelayMs: 1 });
    expect(result).toMatchObject({ version: 2, vmMaster: 1 });
    expect(calls).toHaveLength(4);
    expect(updates.at(-1)).toEqual({ vmMaster: 1 });
  });

  it('gives up after `retries` conflicts with the VersionConflictError', async () => {
    const { store, updates } = flakyStore(100);
    await expect(mutateInfrastructure(store, 'i', () => ({ vmMaster: 5 }), { retries: 2, baseDelayMs: 1 })).rejects.toBeInstanceOf(VersionConflictError);
    expect(updates).toHaveLength(3);
  });

  it('does not write when fn returns undefined or no change; missing → ImError', async () => {
    const { store, updates } = flakyStore(0);
    expect(await mutateInfrastructure(store, 'i', () => undefined)).toMatchObject({ version: 1 });
    expect(await mutateInfrastructure(store, 'i', (inf) => ({ status: inf.status, ownerKeys: [...inf.ownerKeys] }))).toMatchObject({ version: 1 });
    expect(updates).toEqual([]);
    // Setting an absent optional field to undefined is no change either; removing a present one is.
    expect(await mutateInfrastructure(store, 'i', () => ({ vmMaster: undefined }))).toMatchObject({ version: 1 });
    await mutateInfrastructure(store, 'i', () => ({ tosca: undefined }));
    expect(updates).toEqual([{ tosca: undefined }]);
    const err = await mutateInfrastructure(store, 'nope', () => ({ vmMaster: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImError);
    expect((err as ImError).code).toBe('INF_NOT_FOUND');
  });

  it('mutateVm retries too, and reports a missing VM as VM_NOT_FOUND', async () => {
    const { store } = flakyStore(2);
    expect(await mutateVm(store, 'i', 0, () => ({ state: 'running' }), { baseDelayMs: 1 })).toMatchObject({ version: 2, state: 'running' });
    await expect(mutateVm(store, 'i', 9, () => ({ state: 'off' }))).rejects.toMatchObject({ code: 'VM_NOT_FOUND' });
  });
});
