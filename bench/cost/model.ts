/**
 * The cost model's arithmetic (pure; test/unit/bench/cost-model.test.ts): DynamoDB item sizes and
 * request units by DynamoDB's rules, the billing steps of Lambda, Step Functions Express and Fargate,
 * and the dollars of a measured usage at {@link PRICES}.
 */
import { PRICES, type Architecture } from './prices.ts';

/** A DynamoDB attribute value in the wire form (`{S: 'x'}`, `{N: '1'}`, `{M: {...}}`, …). */
export type AttributeValue = { [type: string]: unknown };

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

/** Size of a number: 1 byte per two significant digits (leading and trailing zeros trimmed) + 1. */
export function numberSize(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(1, digits.length) / 2) + 1;
}

/** Size of an attribute value (DynamoDB's item size rules; lists and maps: 3 bytes + 1 per element). */
export function valueSize(v: AttributeValue): number {
  const [type, x] = Object.entries(v)[0] ?? ['NULL', true];
  switch (type) {
    case 'S':
      return utf8(x as string);
    case 'N':
      return numberSize(x as string);
    case 'B':
      return (x as Uint8Array).byteLength;
    case 'BOOL':
    case 'NULL':
      return 1;
    case 'SS':
      return (x as string[]).reduce((a, s) => a + utf8(s), 0);
    case 'NS':
      return (x as string[]).reduce((a, s) => a + numberSize(s), 0);
    case 'BS':
      return (x as Uint8Array[]).reduce((a, b) => a + b.byteLength, 0);
    case 'L':
      return 3 + (x as AttributeValue[]).reduce((a, e) => a + 1 + valueSize(e), 0);
    case 'M':
      return 3 + Object.entries(x as Record<string, AttributeValue>).reduce((a, [k, e]) => a + 1 + utf8(k) + valueSize(e), 0);
    default:
      throw new Error(`Unknown attribute type ${type}`);
  }
}

/** Size of an item: every attribute name's UTF-8 bytes plus its value's size. */
export function itemSize(item: Record<string, AttributeValue>): number {
  return Object.entries(item).reduce((a, [k, v]) => a + utf8(k) + valueSize(v), 0);
}

/** Read request units of reading `bytes`: one per 4 KB (rounded up, at least one), half when eventually consistent. */
export function readUnits(bytes: number, consistent: boolean): number {
  return Math.max(1, Math.ceil(bytes / 4096)) * (consistent ? 1 : 0.5);
}

/** Write request units of writing an item of `bytes`: one per 1 KB (rounded up, at least one); ×2 in a transaction. */
export function writeUnits(bytes: number, transactional = false): number {
  return Math.max(1, Math.ceil(bytes / 1024)) * (transactional ? 2 : 1);
}

/** Lambda GB-seconds of one invocation: duration rounded up to the ms, at the memory size. */
export function lambdaGbSeconds(durationMs: number, memoryMb: number): number {
  return (Math.max(1, Math.ceil(durationMs)) / 1000) * (memoryMb / 1024);
}

/** Express GB-seconds of one execution: duration rounded up to 100 ms, memory to 64 MB steps (at least 64 MB). */
export function expressGbSeconds(durationMs: number, memoryMb = 64): number {
  const ms = Math.max(100, Math.ceil(durationMs / 100) * 100);
  const mb = Math.max(64, Math.ceil(memoryMb / 64) * 64);
  return (ms / 1000) * (mb / 1024);
}

/** Fargate billed vCPU-seconds and GB-seconds of one task: per second, one-minute minimum. */
export function fargateSeconds(seconds: number, cpuUnits: number, memoryMiB: number): { vcpuSeconds: number; gbSeconds: number } {
  const s = Math.max(60, Math.ceil(seconds));
  return { vcpuSeconds: (s * cpuUnits) / 1024, gbSeconds: (s * memoryMiB) / 1024 };
}

/** What one measured operation used (in AWS terms). */
export interface Usage {
  rru: number;
  wru: number;
  transitions: number;
  /** Lambda invocations and their GB-seconds, all functions. */
  lambdaInvocations: number;
  lambdaGbSeconds: number;
  apiRequests: number;
  fargateVcpuSeconds: number;
  fargateGbSeconds: number;
  /** Bytes the Step Functions log group would ingest (LogLevel.ALL with execution data). */
  logBytes: number;
}

export const emptyUsage = (): Usage => ({
  rru: 0, wru: 0, transitions: 0, lambdaInvocations: 0, lambdaGbSeconds: 0, apiRequests: 0, fargateVcpuSeconds: 0, fargateGbSeconds: 0, logBytes: 0,
});

export function addUsage(a: Usage, b: Usage): Usage {
  const out = emptyUsage();
  for (const k of Object.keys(out) as (keyof Usage)[]) out[k] = a[k] + b[k];
  return out;
}

export interface Dollars {
  dynamodb: number;
  stepFunctions: number;
  lambda: number;
  apiGateway: number;
  fargate: number;
  logs: number;
  total: number;
}

/** Dollars of a usage at the list prices, for the Lambda and Fargate architectures given. */
export function dollars(u: Usage, arch: { lambda: Architecture; fargate: Architecture }): Dollars {
  const d = {
    dynamodb: u.wru * PRICES.dynamoWru + u.rru * PRICES.dynamoRru,
    stepFunctions: u.transitions * PRICES.sfnTransition,
    lambda: u.lambdaInvocations * PRICES.lambdaRequest + u.lambdaGbSeconds * PRICES.lambdaGbSecond[arch.lambda],
    apiGateway: u.apiRequests * PRICES.apiGatewayRestRequest,
    fargate: (u.fargateVcpuSeconds / 3600) * PRICES.fargateVcpuHour[arch.fargate] + (u.fargateGbSeconds / 3600) * PRICES.fargateGbHour[arch.fargate],
    logs: (u.logBytes / 1024 ** 3) * PRICES.logsIngestGb,
  };
  return { ...d, total: Object.values(d).reduce((a, x) => a + x, 0) };
}

/** Express cost of executions of the given durations (ms) at `memoryMb`. */
export function expressDollars(durationsMs: readonly number[], memoryMb = 64): number {
  return durationsMs.reduce((a, ms) => a + PRICES.expressRequest + expressGbSeconds(ms, memoryMb) * PRICES.expressGbSecond, 0);
}

/** A global secondary index: its key attributes and the attributes it projects (besides the table's keys). */
export interface IndexSpec {
  name: string;
  keys: readonly string[];
  projected: readonly string[];
}

type Item = Record<string, AttributeValue>;

/** The index entry of an item (undefined when the item lacks an index key: sparse index). */
export function indexEntry(item: Item | undefined, index: IndexSpec, tableKeys: readonly string[]): Item | undefined {
  if (!item || index.keys.some((k) => item[k] === undefined)) return undefined;
  const out: Item = {};
  for (const k of [...tableKeys, ...index.keys, ...index.projected]) if (item[k] !== undefined) out[k] = item[k];
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * WRUs of one item write by DynamoDB's rules, from the item before and after (undefined: absent):
 * the larger of the two sizes in 1 KB steps (at least 1), ×2 in a transaction; plus, per index, a
 * write of the entry when it appears, disappears or changes (a changed index key is a delete and a
 * put). Index writes are standard writes (not doubled).
 */
export function itemWriteUnits(before: Item | undefined, after: Item | undefined, opts: { transactional: boolean; indexes: readonly IndexSpec[]; tableKeys: readonly string[] }): number {
  const size = Math.max(before ? itemSize(before) : 0, after ? itemSize(after) : 0);
  let units = writeUnits(size, opts.transactional);
  for (const index of opts.indexes) {
    const b = indexEntry(before, index, opts.tableKeys);
    const a = indexEntry(after, index, opts.tableKeys);
    if (!a && !b) continue;
    if (a && b && same(a, b)) continue;
    const keyChanged = a && b && index.keys.some((k) => !same(a[k], b[k]));
    if (keyChanged) units += writeUnits(itemSize(b)) + writeUnits(itemSize(a));
    else units += writeUnits(Math.max(a ? itemSize(a) : 0, b ? itemSize(b) : 0));
  }
  return units;
}
