/**
 * Counting what an operation of local mode would use in AWS:
 *  - DynamoDB request units, exactly: a middleware on the store's DynamoDBClient asks every data
 *    request for ReturnConsumedCapacity=TOTAL (DynamoDB Local computes it with DynamoDB's steps: 4 KB
 *    / 1 KB, eventually consistent halves, GSI writes; its item sizes differ from the documented
 *    rules by a few bytes, which matters only within a few bytes of a step). DynamoDB Local under-reports
 *    TransactWriteItems (32 puts of ~0.8 KB: 6 units instead of 64), so a transaction's WRUs are
 *    computed from its items read before and after it (an unmetered BatchGetItem on a second
 *    client) by DynamoDB's rules (model.ts itemWriteUnits: ×2, indexes). A failed conditional write
 *    counts 1 WRU (AWS charges the item's size: at least 1), a cancelled transaction 2 per item.
 *    The local orchestrator's journal (the EXEC partition: Step Functions keeps that state in AWS)
 *    is left out;
 *  - Step Functions: every event of every execution (the orchestrator's onEvent): state
 *    transitions (states entered + retries), Lambda Task invocations and their local duration, the
 *    largest state input/output, the history events each execution would have in AWS (modeled from
 *    the local events, see {@link HISTORY}), each execution's duration, and the bytes of its
 *    execution-data log records.
 */
import { BatchGetItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EXECUTIONS_PK, INDEX_PROJECTED_ATTRIBUTES, OWNER_INDEX, PARTITION_KEY, SORT_KEY, TIME_INDEX } from '#store/dynamodb/schema';
import { itemSize, itemWriteUnits, writeUnits, type AttributeValue, type IndexSpec } from './model.ts';
import { ECS_RUN_TASK_SYNC, LAMBDA_INVOKE, START_EXECUTION_SYNC, WORKFLOWS, loadDefinition, type AslDefinition } from '#orchestration/asl';
import type { ExecutionEvent } from '#local/local-orchestrator';
import type { WorkflowName } from '#core/types';

/** What a state of a definition is, for the history model. */
interface StateInfo {
  type: string;
  resource?: string;
  /** The Map it is inside of, and that Map's mode. */
  map?: { name: string; distributed: boolean };
}

/** State name → info, over every workflow (names are unique within a workflow). */
export function stateIndex(def: AslDefinition): Map<string, StateInfo> {
  const out = new Map<string, StateInfo>();
  const walk = (states: Record<string, unknown>, map?: StateInfo['map']) => {
    for (const [name, raw] of Object.entries(states)) {
      const s = raw as { Type: string; Resource?: string; ItemProcessor?: { States: Record<string, unknown>; ProcessorConfig?: { Mode?: string } }; Iterator?: { States: Record<string, unknown> } };
      if (out.has(name)) throw new Error(`State name ${name} is used twice`);
      out.set(name, { type: s.Type, ...(s.Resource ? { resource: s.Resource } : {}), ...(map ? { map } : {}) });
      const inner = s.ItemProcessor ?? s.Iterator;
      if (inner) walk(inner.States, { name, distributed: (s.ItemProcessor?.ProcessorConfig?.Mode ?? 'INLINE') === 'DISTRIBUTED' });
    }
  };
  walk((def as unknown as { States: Record<string, unknown> }).States);
  return out;
}

const DEFINITION_VALUES = new Proxy({} as Record<string, string>, { get: (_t, k) => `arn:aws:local:${String(k)}` });

/** One execution as AWS would have it: top-level, nested (startExecution.sync) or a Distributed Map child. */
export interface ExecutionStat {
  workflow: WorkflowName;
  id: string;
  kind: 'execution' | 'map child';
  startMs: number;
  endMs?: number;
  /** Modeled history events (AWS limit 25,000). */
  history: number;
  transitions: number;
}

export interface WorkflowCounters {
  transitions: number;
  lambdaInvocations: number;
  /** Local duration (ms) of each Lambda Task invocation. */
  lambdaDurationsMs: number[];
  ecsTasks: number;
  largestStateBytes: number;
  largestStateWhere: string;
  logBytes: number;
  executions: ExecutionStat[];
}

export interface DynamoCounters {
  rru: number;
  wru: number;
  requests: number;
  failedWrites: number;
  /** Requests per operation (GetItem, UpdateItem, …). */
  byOperation: Record<string, number>;
}

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems']);
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

/**
 * History events per local event (AWS's event types): entering and leaving a state are one each; a
 * Task adds Scheduled + Started on entry (+ Submitted for .sync) and Succeeded on exit; a retry adds
 * Scheduled + Started again; a Map adds MapStateStarted / MapStateSucceeded (Distributed:
 * MapRunStarted / MapRunSucceeded); an inline Map iteration adds IterationStarted / Succeeded; a
 * Distributed Map iteration is a child execution (ExecutionStarted / Succeeded in its own history).
 * CloudWatch Logs records: each history event with its data, plus {@link LOG_ENVELOPE} bytes.
 */
export const HISTORY = { taskEntry: 2, syncTaskEntry: 3, taskExit: 1, retry: 2, mapEntry: 1, mapExit: 1 } as const;
export const LOG_ENVELOPE = 250;

const jsonBytes = (v: unknown) => (v === undefined ? 0 : Buffer.byteLength(JSON.stringify(v), 'utf8'));

export class Meter {
  active = false;
  dynamo: DynamoCounters = Meter.emptyDynamo();
  workflows: WorkflowCounters = Meter.emptyWorkflows();
  private readonly states = new Map<WorkflowName, Map<string, StateInfo>>();
  private readonly open = new Map<string, ExecutionStat>();
  private readonly taskStart = new Map<string, number>();

  constructor() {
    for (const w of WORKFLOWS) this.states.set(w, stateIndex(loadDefinition(w, DEFINITION_VALUES)));
  }

  static emptyDynamo(): DynamoCounters {
    return { rru: 0, wru: 0, requests: 0, failedWrites: 0, byOperation: {} };
  }

  static emptyWorkflows(): WorkflowCounters {
    return { transitions: 0, lambdaInvocations: 0, lambdaDurationsMs: [], ecsTasks: 0, largestStateBytes: 0, largestStateWhere: '', logBytes: 0, executions: [] };
  }

  /** Starts counting from zero. */
  reset(): void {
    this.dynamo = Meter.emptyDynamo();
    this.workflows = Meter.emptyWorkflows();
  }

  /** Executions started while counting that have not ended yet. */
  get running(): number {
    return this.open.size;
  }

  /** Installs the request-unit middleware on the store's client; `reader` (another client, not metered) reads transaction items. */
  attach(client: DynamoDBClient, reader: DynamoDBClient, tableName: string): void {
    const keysOf = (input: Record<string, unknown>) =>
      ((input.TransactItems ?? []) as Record<string, { Item?: Record<string, unknown>; Key?: Record<string, unknown> }>[]).map((t) => {
        const [kind, body] = Object.entries(t)[0]!;
        const k = body.Key ?? body.Item ?? {};
        return { kind, key: { [PARTITION_KEY]: { S: str(k[PARTITION_KEY]) }, [SORT_KEY]: { S: str(k[SORT_KEY]) } } };
      });
    const read = async (keys: Record<string, AttributeValue>[]) => {
      const found = new Map<string, Record<string, AttributeValue>>();
      for (let i = 0; i < keys.length; i += 100) {
        let pending = keys.slice(i, i + 100) as never[];
        while (pending.length) {
          const r = await reader.send(new BatchGetItemCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
          for (const item of r.Responses?.[tableName] ?? []) found.set(`${item[PARTITION_KEY]?.S}|${item[SORT_KEY]?.S}`, item as unknown as Record<string, AttributeValue>);
          pending = (r.UnprocessedKeys?.[tableName]?.Keys ?? []) as never[];
        }
      }
      return found;
    };
    const id = (k: Record<string, AttributeValue>) => `${(k[PARTITION_KEY] as { S: string }).S}|${(k[SORT_KEY] as { S: string }).S}`;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const op = (context.commandName ?? '').replace(/Command$/, '');
        const input = args.input as Record<string, unknown>;
        if (!this.active || !(READS.has(op) || WRITES.has(op)) || isJournal(input)) return next(args);
        this.dynamo.requests++;
        this.dynamo.byOperation[op] = (this.dynamo.byOperation[op] ?? 0) + 1;
        if (op === 'TransactWriteItems') {
          const items = keysOf(input);
          const before = await read(items.map((i) => i.key));
          try {
            const out = await next(args);
            const after = await read(items.map((i) => i.key));
            for (const { kind, key } of items) {
              const b = before.get(id(key));
              this.dynamo.wru += kind === 'ConditionCheck' ? writeUnits(b ? itemSize(b) : 0, true) : itemWriteUnits(b, after.get(id(key)), WRITE_RULES);
            }
            return out;
          } catch (err) {
            if ((err as { name?: string }).name === 'TransactionCanceledException') {
              this.dynamo.failedWrites++;
              this.dynamo.wru += 2 * items.length;
            }
            throw err;
          }
        }
        try {
          const out = await next({ ...args, input: { ...input, ReturnConsumedCapacity: 'TOTAL' } });
          const cc = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } | { CapacityUnits?: number }[] }).ConsumedCapacity;
          const units = (Array.isArray(cc) ? cc : cc ? [cc] : []).reduce((a, c) => a + (c.CapacityUnits ?? 0), 0);
          if (READS.has(op)) this.dynamo.rru += units;
          else this.dynamo.wru += units;
          return out;
        } catch (err) {
          const name = (err as { name?: string }).name;
          if (WRITES.has(op) && (name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException')) {
            this.dynamo.failedWrites++;
            this.dynamo.wru += 1;
          }
          throw err;
        }
      },
      { step: 'initialize', name: 'costMeterConsumedCapacity' },
    );
  }

  /** The orchestrator's onEvent. */
  readonly onEvent = (workflow: WorkflowName, executionArn: string, e: ExecutionEvent): void => {
    // Only executions started while counting (their nested executions start their own streams).
    if (e.type === 'ExecutionStarted' ? !this.active : !this.open.has(executionArn)) return;
    const w = this.workflows;
    const index = this.states.get(workflow)!;
    const stat = (id: string) => this.open.get(id);
    const add = (id: string, events: number, payload: unknown) => {
      const s = stat(id);
      if (!s) return;
      s.history += events;
      w.logBytes += events * LOG_ENVELOPE + jsonBytes(payload);
    };
    const size = (v: unknown, where: string) => {
      const b = jsonBytes(v);
      if (b > w.largestStateBytes) {
        w.largestStateBytes = b;
        w.largestStateWhere = where;
      }
    };
    switch (e.type) {
      case 'ExecutionStarted': {
        const s: ExecutionStat = { workflow, id: executionArn, kind: 'execution', startMs: e.timestamp, history: 0, transitions: 0 };
        this.open.set(executionArn, s);
        w.executions.push(s);
        add(executionArn, 1, e.input);
        size(e.input, `${workflow} execution input`);
        return;
      }
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout': {
        add(executionArn, 1, e.type === 'ExecutionSucceeded' ? e.output : undefined);
        if (e.type === 'ExecutionSucceeded') size(e.output, `${workflow} execution output`);
        const s = stat(executionArn);
        if (s) s.endMs = e.timestamp;
        this.open.delete(executionArn);
        return;
      }
      case 'MapIterationStarted':
      case 'MapIterationSucceeded':
      case 'MapIterationFailed': {
        const parent = index.get(e.parentState.name);
        const distributed = parent?.type === 'Map' && this.isDistributed(index, e.parentState.name);
        if (!distributed) return add(executionArn, 1, undefined);
        const childId = `${executionArn}/${e.parentState.name}/${e.index}`;
        if (e.type === 'MapIterationStarted') {
          const s: ExecutionStat = { workflow, id: childId, kind: 'map child', startMs: e.timestamp, history: 0, transitions: 0 };
          this.open.set(childId, s);
          w.executions.push(s);
          add(childId, 1, undefined);
        } else {
          add(childId, 1, undefined);
          const s = stat(childId);
          if (s) s.endMs = e.timestamp;
          this.open.delete(childId);
        }
        return;
      }
      case 'StateEntered':
      case 'StateExited':
      case 'StateFailed':
      case 'StateRetried':
      case 'StateCaught': {
        const info = index.get(e.state.name);
        const inChild = info?.map?.distributed && e.index !== undefined;
        const id = inChild ? `${executionArn}/${info.map!.name}/${e.index}` : executionArn;
        const key = `${id}|${e.state.name}|${e.index ?? ''}`;
        const isTask = info?.type === 'Task';
        const isSync = info?.resource === START_EXECUTION_SYNC || info?.resource === ECS_RUN_TASK_SYNC;
        if (e.type === 'StateEntered' || e.type === 'StateRetried') {
          w.transitions++;
          const s = stat(id);
          if (s) s.transitions++;
          if (e.type === 'StateEntered') size(e.state.input, `${workflow}/${e.state.name} input`);
          let events = e.type === 'StateRetried' ? HISTORY.retry : 1;
          if (e.type === 'StateEntered' && isTask) events += isSync ? HISTORY.syncTaskEntry : HISTORY.taskEntry;
          if (e.type === 'StateEntered' && info?.type === 'Map') events += HISTORY.mapEntry;
          add(id, events, e.state.input);
          if (isTask && info?.resource === LAMBDA_INVOKE) {
            w.lambdaInvocations++;
            this.taskStart.set(key, e.timestamp);
          }
          if (isTask && info?.resource === ECS_RUN_TASK_SYNC) w.ecsTasks++;
          return;
        }
        if (e.type === 'StateExited') {
          size(e.state.output, `${workflow}/${e.state.name} output`);
          add(id, 1 + (isTask ? HISTORY.taskExit : 0) + (info?.type === 'Map' ? HISTORY.mapExit : 0), e.state.output);
        } else {
          add(id, 1, undefined);
        }
        const t0 = this.taskStart.get(key);
        if (t0 !== undefined && e.type !== 'StateCaught') {
          w.lambdaDurationsMs.push(Math.max(0, e.timestamp - t0));
          this.taskStart.delete(key);
        }
        return;
      }
      default:
        return;
    }
  };

  private isDistributed(index: Map<string, StateInfo>, mapName: string): boolean {
    for (const info of index.values()) if (info.map?.name === mapName) return info.map.distributed;
    return false;
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : ((v as { S?: string } | undefined)?.S ?? ''));

/** The table's indexes as DynamoDB writes them (schema.ts). */
const INDEXES: IndexSpec[] = [OWNER_INDEX, TIME_INDEX].map((i) => ({ name: i.name, keys: [i.partitionKey, i.sortKey], projected: INDEX_PROJECTED_ATTRIBUTES }));
const WRITE_RULES = { transactional: true, indexes: INDEXES, tableKeys: [PARTITION_KEY, SORT_KEY] } as const;

/** Whether a request is about the local orchestrator's execution journal (no such item in AWS). */
function isJournal(input: Record<string, unknown>): boolean {
  const pk = (v: unknown) => (typeof v === 'string' ? v : (v as { S?: string } | undefined)?.S);
  const key = (input.Key ?? input.Item) as Record<string, unknown> | undefined;
  if (key && pk(key.PK) === EXECUTIONS_PK) return true;
  const values = input.ExpressionAttributeValues as Record<string, unknown> | undefined;
  return !!values && Object.values(values).some((v) => pk(v) === EXECUTIONS_PK);
}
