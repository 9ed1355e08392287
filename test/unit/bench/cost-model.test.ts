/**
 * The cost model's arithmetic (bench/cost/model.ts, prices.ts, infra-sizes.ts, meter.ts's state
 * index): DynamoDB's item size and request unit rules, the billing steps of Lambda, Express and
 * Fargate, and the dollars at the dated prices.
 */
import { describe, expect, it } from 'vitest';
import {
  dollars, emptyUsage, expressDollars, expressGbSeconds, fargateSeconds, indexEntry, itemSize, itemWriteUnits, lambdaGbSeconds, numberSize,
  readUnits, valueSize, writeUnits, type IndexSpec,
} from '../../../bench/cost/model.ts';
import { PRICES, PRICES_AS_OF } from '../../../bench/cost/prices.ts';
import { parseInfraSizes, readInfraSizes } from '../../../bench/cost/infra-sizes.ts';
import { stateIndex } from '../../../bench/cost/meter.ts';
import { loadDefinition } from '#orchestration/asl';

const S = (s: string) => ({ S: s });
const N = (n: string) => ({ N: n });

describe('DynamoDB item sizes', () => {
  it('strings count UTF-8 bytes, names included', () => {
    expect(itemSize({ PK: S('INF#a') })).toBe(2 + 5);
    expect(itemSize({ é: S('€') })).toBe(2 + 3);
  });
  it('numbers: one byte per two significant digits plus one', () => {
    expect(numberSize('123')).toBe(3);
    expect(numberSize('100')).toBe(2);
    expect(numberSize('0.001')).toBe(2);
    expect(numberSize('-12345678')).toBe(5);
    expect(numberSize('0')).toBe(2);
    expect(itemSize({ n: N('12345') })).toBe(1 + 4);
  });
  it('maps and lists: 3 bytes plus 1 per element, booleans and nulls 1', () => {
    expect(valueSize({ M: { a: S('b') } })).toBe(3 + 1 + 1 + 1);
    expect(valueSize({ L: [S('ab'), { BOOL: true }] })).toBe(3 + (1 + 2) + (1 + 1));
    expect(valueSize({ NULL: true })).toBe(1);
    expect(valueSize({ SS: ['a', 'bc'] })).toBe(3);
    expect(() => valueSize({ X: 1 })).toThrow();
  });
});

describe('request units', () => {
  it('reads: 4 KB steps, at least one, half when eventually consistent', () => {
    expect(readUnits(0, true)).toBe(1);
    expect(readUnits(4096, true)).toBe(1);
    expect(readUnits(4097, true)).toBe(2);
    expect(readUnits(9000, false)).toBe(1.5);
  });
  it('writes: 1 KB steps, at least one, ×2 in a transaction', () => {
    expect(writeUnits(1)).toBe(1);
    expect(writeUnits(1024)).toBe(1);
    expect(writeUnits(1025)).toBe(2);
    expect(writeUnits(1025, true)).toBe(4);
  });

  const GSI: IndexSpec = { name: 'G', keys: ['GPK', 'GSK'], projected: ['status'] };
  const rules = { transactional: true, indexes: [GSI], tableKeys: ['PK', 'SK'] };
  const base = { PK: S('INF#1'), SK: S('META'), data: S('x'.repeat(1500)) };
  it('an item write: the larger image, ×2 in a transaction, plus changed index entries', () => {
    // No index key: the larger of before (1.5 KB) and after (0.5 KB) → 2 units, ×2.
    expect(itemWriteUnits(base, { ...base, data: S('x'.repeat(500)) }, rules)).toBe(4);
    // A put that carries the index key: + one index write.
    const indexed = { ...base, GPK: S('INF'), GSK: S('001'), status: S('running') };
    expect(itemWriteUnits(undefined, indexed, rules)).toBe(4 + 1);
    // Unchanged entry: no index write; a projected attribute changed: one; the key changed: delete + put.
    expect(itemWriteUnits(indexed, { ...indexed, data: S('y') }, rules)).toBe(4);
    expect(itemWriteUnits(indexed, { ...indexed, status: S('off') }, rules)).toBe(5);
    expect(itemWriteUnits(indexed, { ...indexed, GSK: S('002') }, rules)).toBe(6);
    // A delete: the old image, and its index entry goes.
    expect(itemWriteUnits(indexed, undefined, { ...rules, transactional: false })).toBe(2 + 1);
  });
  it('an index entry holds the table keys, its keys and the projected attributes only', () => {
    const item = { PK: S('p'), SK: S('s'), GPK: S('g'), GSK: S('h'), status: S('on'), other: S('zzz') };
    expect(Object.keys(indexEntry(item, GSI, ['PK', 'SK'])!).sort()).toEqual(['GPK', 'GSK', 'PK', 'SK', 'status']);
    expect(indexEntry({ PK: S('p'), SK: S('s') }, GSI, ['PK', 'SK'])).toBeUndefined();
  });
});

describe('billing steps', () => {
  it('Lambda: ms steps at the memory size', () => {
    expect(lambdaGbSeconds(0.2, 1024)).toBeCloseTo(0.001, 9);
    expect(lambdaGbSeconds(1500.2, 512)).toBeCloseTo(1.501 / 2, 9);
  });
  it('Express: 100 ms and 64 MB steps', () => {
    expect(expressGbSeconds(1)).toBeCloseTo(0.1 * (64 / 1024), 9);
    expect(expressGbSeconds(250, 100)).toBeCloseTo(0.3 * (128 / 1024), 9);
    expect(expressDollars([1, 1])).toBeCloseTo(2 * (1e-6 + 0.1 * 0.0625 * 0.00001667), 12);
  });
  it('Fargate: per second with a one-minute minimum', () => {
    expect(fargateSeconds(10, 1024, 2048)).toEqual({ vcpuSeconds: 60, gbSeconds: 120 });
    expect(fargateSeconds(300.4, 512, 1024)).toEqual({ vcpuSeconds: 150.5, gbSeconds: 301 });
  });
});

describe('dollars', () => {
  it('the dated list prices', () => {
    expect(PRICES_AS_OF).toMatch(/^\d{4}-\d{2}$/);
    expect(PRICES.dynamoWru * 1e6).toBeCloseTo(0.625, 9);
    expect(PRICES.dynamoRru * 1e6).toBeCloseTo(0.125, 9);
    expect(PRICES.sfnTransition * 1000).toBeCloseTo(0.025, 9);
    expect(PRICES.apiGatewayRestRequest * 1e6).toBeCloseTo(3.5, 9);
  });
  it('each service from its units, and the total', () => {
    const u = { ...emptyUsage(), wru: 1e6, rru: 2e6, transitions: 1000, lambdaInvocations: 1e6, lambdaGbSeconds: 1e5, apiRequests: 1e6, fargateVcpuSeconds: 3600, fargateGbSeconds: 7200, logBytes: 1024 ** 3 };
    const d = dollars(u, { lambda: 'arm64', fargate: 'x86_64' });
    expect(d.dynamodb).toBeCloseTo(0.625 + 0.25, 9);
    expect(d.stepFunctions).toBeCloseTo(0.025, 9);
    expect(d.lambda).toBeCloseTo(0.2 + 1e5 * 0.0000133334, 9);
    expect(d.apiGateway).toBeCloseTo(3.5, 9);
    expect(d.fargate).toBeCloseTo(0.04048 + 2 * 0.004445, 9);
    expect(d.logs).toBeCloseTo(0.5, 9);
    expect(d.total).toBeCloseTo(d.dynamodb + d.stepFunctions + d.lambda + d.apiGateway + d.fargate + d.logs, 12);
    expect(dollars(u, { lambda: 'x86_64', fargate: 'x86_64' }).lambda).toBeGreaterThan(d.lambda);
  });
});

describe('sizes from infra/', () => {
  it('parses the CDK literals', () => {
    const fns = `new HandlerFunction(this, 'Rest', { ...api, memorySize: 512, timeout }); new HandlerFunction(this, 'XmlRpc', { memorySize: 256 });
      new HandlerFunction(this, 'Tasks', { handler: 'tasks', memorySize: 2048 }); architecture: lambda.Architecture.X86_64,`;
    const ctxt = `this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {\n  cpu: 2048,\n  memoryLimitMiB: 4096,`;
    const cfg = `runnerArchitecture: z.enum(['x86_64', 'arm64']).default('arm64'),`;
    expect(parseInfraSizes(fns, ctxt, cfg)).toEqual({
      lambdaMemoryMb: { rest: 512, xmlrpc: 256, tasks: 2048 },
      lambdaArchitecture: 'x86_64',
      fargate: { cpuUnits: 2048, memoryMiB: 4096, architecture: 'arm64' },
    });
    expect(() => parseInfraSizes('', ctxt, cfg)).toThrow(/infra\/: cannot find/);
  });
  it('finds them in the real infra/ code', () => {
    const s = readInfraSizes();
    expect(s.lambdaMemoryMb.tasks).toBeGreaterThanOrEqual(128);
    expect(s.fargate.cpuUnits).toBeGreaterThanOrEqual(256);
  });
});

describe('state index of the ASL', () => {
  it('knows which states run in a Distributed Map child', () => {
    const launch = stateIndex(loadDefinition('launch', new Proxy({}, { get: () => 'arn:aws:local:x' })));
    expect(launch.get('LaunchBatch')?.map).toEqual({ name: 'LaunchBatches', distributed: true });
    expect(launch.get('PrepareLaunch')?.map).toBeUndefined();
    const destroy = stateIndex(loadDefinition('destroy', new Proxy({}, { get: () => 'arn:aws:local:x' })));
    expect(destroy.get('FinalizeBatch')?.map).toEqual({ name: 'FinalizeBatches', distributed: false });
  });
});
