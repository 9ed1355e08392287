/**
 * A metered local mode (the same handlers and ASL as in AWS, DynamoDB Local in memory, the record
 * cache off as in AWS) and the measured operations of one VM lifecycle: create (sync), a state poll,
 * destroy (sync) of N Dummy VMs with `contextualize ()`. Used by bench/cost.ts and
 * test/integration/local/cost-meter.test.ts.
 */
import { ScanCommand, type AttributeValue as DdbValue } from '@aws-sdk/client-dynamodb';
import { startLocal, type LocalInstance } from '#local/local-mode';
import { STARTUP_JVM_OPTIONS, THROUGHPUT_JVM_OPTIONS, localDynamoClient } from '#local/dynamodb-local';
import { EXECUTIONS_PK } from '#store/dynamodb/schema';
import { Meter, type DynamoCounters, type WorkflowCounters } from './meter.ts';
import { itemSize, type AttributeValue } from './model.ts';

const AUTH = 'type = InfrastructureManager; username = cost; password = cost-pass\\nid = one; type = Dummy';
export const dummyRadl = (n: number) =>
  `network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ncontextualize ()\ndeploy node ${n}\n`;

/** One measured operation. */
export interface OpMeasure {
  dynamo: DynamoCounters;
  workflows: WorkflowCounters;
  /** API requests and the local wall time of each (ms). */
  apiDurationsMs: number[];
  wallMs: number;
}

export interface LifecycleMeasure {
  vms: number;
  create: OpMeasure;
  poll: OpMeasure;
  destroy: OpMeasure;
  /** Largest DynamoDB item (bytes, DynamoDB's rules) after the create and after the destroy, and its kind. */
  largestItemBytes: number;
  largestItemKind: string;
}

/** The other flows on an infrastructure of N VMs: stop, start, reconfigure (contextualize), remove one VM. */
export type FlowMeasures = Record<'stop' | 'start' | 'contextualize' | 'remove', OpMeasure>;

export interface CostSession {
  local: LocalInstance;
  meter: Meter;
  lifecycle(n: number): Promise<LifecycleMeasure>;
  otherFlows(n: number): Promise<FlowMeasures>;
  stop(): Promise<void>;
}

export interface CostSessionOptions {
  /** DynamoDB Local's JVM: `startup` for tests, `throughput` (default) for the bench. */
  jvm?: 'startup' | 'throughput';
  env?: Record<string, string>;
}

export async function startCostSession(opts: CostSessionOptions = {}): Promise<CostSession> {
  const meter = new Meter();
  const local = await startLocal({
    env: {
      LOG_LEVEL: 'SILENT', REST_PORT: '0', REST_ADDRESS: '127.0.0.1', XMLRCP_PORT: '0', XMLRCP_ADDRESS: '127.0.0.1', TABLE_NAME: 'im-cost',
      // As in AWS: no record cache, every read goes to DynamoDB.
      INF_CACHE_TIME: '0',
      ...(opts.env ?? {}),
    },
    inMemory: true,
    dynamoJvmOptions: opts.jvm === 'startup' ? STARTUP_JVM_OPTIONS : THROUGHPUT_JVM_OPTIONS,
    onWorkflowEvent: meter.onEvent,
  });
  // The meter reads transaction items through a client of its own (not metered).
  const reader = localDynamoClient(local.dynamo().socketPath);
  meter.attach(local.dynamoClient, reader, local.config.TABLE_NAME);
  let apiDurations: number[] = [];
  const api = async (method: string, url: string, body?: string) => {
    const t0 = performance.now();
    const r = await fetch(url, { method, headers: { Authorization: AUTH, ...(body ? { 'Content-Type': 'text/plain' } : {}) }, ...(body ? { body } : {}) });
    const text = await r.text();
    apiDurations.push(performance.now() - t0);
    if (r.status !== 200) throw new Error(`${method} ${url}: ${r.status} ${text}`);
    return text;
  };
  const measure = async (fn: () => Promise<void>): Promise<OpMeasure> => {
    meter.reset();
    apiDurations = [];
    meter.active = true;
    const t0 = performance.now();
    try {
      await fn();
      await local.orchestrator.idle();
      // The last events of an execution arrive just after its result.
      for (let i = 0; i < 500 && meter.running > 0; i++) await new Promise((r) => setTimeout(r, 10));
      if (meter.running > 0) throw new Error(`${meter.running} executions did not end`);
    } finally {
      meter.active = false;
    }
    return { dynamo: meter.dynamo, workflows: meter.workflows, apiDurationsMs: [...apiDurations], wallMs: performance.now() - t0 };
  };
  const largestItem = async (): Promise<{ bytes: number; kind: string }> => {
    let best = { bytes: 0, kind: '' };
    let start: Record<string, DdbValue> | undefined;
    do {
      const r = await local.dynamoClient.send(new ScanCommand({ TableName: local.config.TABLE_NAME, ...(start ? { ExclusiveStartKey: start } : {}) }));
      for (const item of r.Items ?? []) {
        if (item.PK?.S === EXECUTIONS_PK) continue;
        const bytes = itemSize(item as unknown as Record<string, AttributeValue>);
        if (bytes > best.bytes) best = { bytes, kind: item._type?.S ?? String(item.SK?.S) };
      }
      start = r.LastEvaluatedKey;
    } while (start);
    return best;
  };

  return {
    local,
    meter,
    async lifecycle(n: number): Promise<LifecycleMeasure> {
      let uri = '';
      const create = await measure(async () => {
        uri = (await api('POST', `${local.restUrl}/infrastructures`, dummyRadl(n))).trim();
      });
      const afterCreate = await largestItem();
      const poll = await measure(async () => {
        await api('GET', `${uri}/state`);
      });
      const destroy = await measure(async () => {
        await api('DELETE', uri);
      });
      const afterDestroy = await largestItem();
      const largest = afterCreate.bytes >= afterDestroy.bytes ? afterCreate : afterDestroy;
      return { vms: n, create, poll, destroy, largestItemBytes: largest.bytes, largestItemKind: largest.kind };
    },
    async otherFlows(n: number): Promise<FlowMeasures> {
      const uri = (await api('POST', `${local.restUrl}/infrastructures`, dummyRadl(n))).trim();
      await local.orchestrator.idle();
      const stop = await measure(async () => void (await api('PUT', `${uri}/stop`)));
      const start = await measure(async () => void (await api('PUT', `${uri}/start`)));
      const contextualize = await measure(async () => void (await api('PUT', `${uri}/reconfigure`)));
      const remove = await measure(async () => void (await api('DELETE', `${uri}/vms/${n - 1}`)));
      await api('DELETE', uri);
      await local.orchestrator.idle();
      return { stop, start, contextualize, remove };
    },
    stop: async () => {
      reader.destroy();
      await local.stop();
    },
  };
}
