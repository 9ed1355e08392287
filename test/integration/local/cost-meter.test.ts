/**
 * The cost meter of bench/cost.ts on a real local mode (DynamoDB Local, the ASL run by the local
 * orchestrator): a lifecycle of 3 Dummy VMs gives non-zero, consistent counters within bounds that a
 * regression of the flows would break (transitions and DynamoDB requests per VM), and the item size
 * rules the meter uses agree with DynamoDB Local's own ConsumedCapacity.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCostSession, type CostSession, type LifecycleMeasure } from '../../../bench/cost/session.ts';
import { itemSize, writeUnits } from '../../../bench/cost/model.ts';

const VMS = 3;
let session: CostSession;
let m: LifecycleMeasure;
let one: LifecycleMeasure;

beforeAll(async () => {
  session = await startCostSession({ jvm: 'startup' });
  one = await session.lifecycle(1);
  m = await session.lifecycle(VMS);
}, 180_000);
afterAll(async () => {
  await session?.stop();
});

describe('cost meter (3 Dummy VMs)', () => {
  it('counts DynamoDB units of every step, the VM writes included', () => {
    expect(m.create.dynamo.wru).toBeGreaterThanOrEqual(VMS);
    expect(m.create.dynamo.rru).toBeGreaterThan(0);
    expect(m.destroy.dynamo.wru).toBeGreaterThanOrEqual(VMS);
    expect(m.poll.dynamo.rru).toBeGreaterThan(0);
    // A state poll reads; it writes at most one refresh per VM.
    expect(m.poll.dynamo.wru).toBeLessThanOrEqual(VMS);
    for (const op of [m.create, m.poll, m.destroy]) {
      // Every request costs at least half a read unit or one write unit.
      expect(op.dynamo.rru + op.dynamo.wru).toBeGreaterThanOrEqual(op.dynamo.requests / 2);
      expect(Object.values(op.dynamo.byOperation).reduce((a, b) => a + b, 0)).toBe(op.dynamo.requests);
    }
    // The journal of the local orchestrator is not counted: no DeleteItem in a create.
    expect(m.create.dynamo.byOperation.DeleteItem ?? 0).toBe(0);
  });

  it('counts state transitions, Lambda Tasks and executions, within bounds per VM', () => {
    expect(m.create.workflows.transitions).toBeGreaterThan(0);
    expect(m.destroy.workflows.transitions).toBeGreaterThan(0);
    expect(m.poll.workflows.transitions).toBe(0);
    for (const op of [m.create, m.destroy]) {
      expect(op.workflows.lambdaInvocations).toBeGreaterThan(0);
      expect(op.workflows.lambdaInvocations).toBeLessThanOrEqual(op.workflows.transitions);
      expect(op.workflows.lambdaDurationsMs).toHaveLength(op.workflows.lambdaInvocations);
      for (const e of op.workflows.executions) {
        expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
        // Every transition is at least one history event, plus the start and the end.
        expect(e.history).toBeGreaterThanOrEqual(e.transitions + 2);
      }
    }
    expect(m.create.workflows.executions.map((e) => e.workflow)).toContain('launch');
    expect(m.destroy.workflows.executions.map((e) => e.workflow)).toEqual(['destroy']);
    // Regression bounds: the launch is batched (no transitions per VM within a batch), the destroy finalizes each VM
    // in one Map iteration; DynamoDB requests grow by a few per VM at most.
    expect(m.create.workflows.transitions).toBeLessThanOrEqual(one.create.workflows.transitions + 2);
    expect(m.create.workflows.transitions).toBeLessThanOrEqual(15);
    expect(m.destroy.workflows.transitions - one.destroy.workflows.transitions).toBeLessThanOrEqual(3 * (VMS - 1));
    expect(m.destroy.workflows.transitions).toBeLessThanOrEqual(12 + 3 * VMS);
    expect(m.create.dynamo.requests).toBeLessThanOrEqual(12 + 2 * VMS);
    expect(m.destroy.dynamo.requests - one.destroy.dynamo.requests).toBeLessThanOrEqual(6 * (VMS - 1));
    expect(m.create.apiDurationsMs).toHaveLength(1);
  });

  it('stays far below the Step Functions and DynamoDB limits', () => {
    for (const op of [m.create, m.destroy]) {
      expect(op.workflows.largestStateBytes).toBeGreaterThan(0);
      expect(op.workflows.largestStateBytes).toBeLessThan(256 * 1024);
      for (const e of op.workflows.executions) expect(e.history).toBeLessThan(25_000);
    }
    expect(m.largestItemBytes).toBeGreaterThan(0);
    expect(m.largestItemBytes).toBeLessThan(400 * 1024);
  });

  it('sizes items as DynamoDB Local charges them, away from a 1 KB boundary', async () => {
    // DynamoDB Local's own sizes differ from the documented rules by a few bytes (it charges an item of 1,016
    // bytes by the rules as 2 WRU), so the meter computes transactions by the rules; here both must agree
    // where a few bytes do not matter.
    const client = session.local.dynamoClient;
    for (const len of [10, 500, 1500, 2500, 5000]) {
      const item = { PK: { S: 'COST#probe' }, SK: { S: `len-${len}` }, n: { N: '12345.678' }, m: { M: { a: { S: 'x'.repeat(len) }, l: { L: [{ BOOL: true }] } } } };
      const r = await client.send(new PutItemCommand({ TableName: session.local.config.TABLE_NAME, Item: item, ReturnConsumedCapacity: 'TOTAL' }));
      expect(r.ConsumedCapacity?.CapacityUnits, `item of ${itemSize(item)} bytes`).toBe(writeUnits(itemSize(item)));
    }
  });
});
