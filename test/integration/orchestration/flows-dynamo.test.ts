/**
 * The flows through the local orchestrator on DynamoDB Local (the store of local mode), with
 * timings of launching 1 / 10 / 50 Dummy VMs to configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DummyConnector } from '#connectors/dummy';
import { ImError } from '#core/errors';
import type { AuthItem, LaunchedVm, LaunchRequest, VmHandle } from '#core/types';
import { DynamoInfrastructureStore } from '#store/dynamodb/index';
import { startTestDynamo, type TestDynamo } from '../../helpers/dynamo';
import { makeEnv, nodesRadl, runFlow, seedInfra } from '../../unit/orchestration/fixtures';

let db: TestDynamo;
const timings: string[] = [];

beforeAll(async () => {
  db = await startTestDynamo();
});

afterAll(async () => {
  if (timings.length) console.log(`Launch to configured through the local orchestrator on DynamoDB Local:\n  ${timings.join('\n  ')}`);
  await db?.stop();
});

const dynamoStore = () => new DynamoInfrastructureStore({ client: db.client, tableName: db.tableName });

describe('flows on DynamoDB Local', () => {
  it('warms up (state machine validation, JIT, table)', async () => {
    const env = makeEnv({ store: dynamoStore(), config: { MAX_SIMULTANEOUS_LAUNCHES: '10' } });
    const ids = await seedInfra(env.services, nodesRadl(2));
    expect((await runFlow(env, 'launch', ids)).status).toBe('SUCCEEDED');
  });

  it.each([
    [1, 5],
    [10, 5],
    [10, 10],
    [50, 5],
    [50, 20],
    [50, 40],
  ])('launches %i Dummy VMs to configured (MAX_SIMULTANEOUS_LAUNCHES=%i)', async (n, conc) => {
    const env = makeEnv({ store: dynamoStore(), config: { MAX_SIMULTANEOUS_LAUNCHES: String(conc) } });
    const ids = await seedInfra(env.services, nodesRadl(n));
    const t0 = performance.now();
    const r = await runFlow(env, 'launch', ids, 120_000);
    const ms = performance.now() - t0;
    timings.push(`${String(n).padStart(2)} VMs, MAX_SIMULTANEOUS_LAUNCHES=${String(conc).padEnd(2)}: ${ms.toFixed(0)} ms`);
    expect(r.status).toBe('SUCCEEDED');
    const vms = await env.store.listVms(ids.infId);
    expect(vms.map((v) => v.state)).toEqual(Array(n).fill('configured'));
    expect((await env.store.getInfrastructure(ids.infId))?.configured).toBe(true);
  });

  it('relaunch after CloudRetryable clears the attempt messages (undefined removes the attribute)', async () => {
    class Flaky extends DummyConnector {
      n = 0;
      override async launch(req: LaunchRequest): Promise<LaunchedVm> {
        if (++this.n <= 2) throw new ImError('CLOUD_RETRYABLE', 'capacity');
        return super.launch(req);
      }
    }
    const env = makeEnv({ store: dynamoStore(), connectors: [new Flaky()] });
    const ids = await seedInfra(env.services, nodesRadl(1));
    await runFlow(env, 'launch', ids);
    const [vm] = await env.store.listVms(ids.infId);
    expect(vm).toMatchObject({ state: 'configured', launchAttempts: 3 });
    expect(vm.errorMsg).toBeUndefined();
  });

  it('Dummy with contextualization enabled ends unconfigured after WAIT_SSH_ACCCESS_TIMEOUT', async () => {
    const env = makeEnv({ store: dynamoStore(), config: { WAIT_SSH_ACCCESS_TIMEOUT: '0.5' } });
    const ids = await seedInfra(env.services, nodesRadl(3, ''));
    expect((await runFlow(env, 'launch', ids)).status).toBe('SUCCEEDED');
    for (const vm of await env.store.listVms(ids.infId)) {
      expect(vm).toMatchObject({ state: 'unconfigured', ctxtState: 'failed' });
      expect(await env.store.getLog(ids.infId, vm.vmId)).toContain('Error waiting the VM to have the SSH access active (10.0.0.1:22)');
    }
    expect((await env.store.getInfrastructure(ids.infId))?.configured).toBe(false);
  });

  it('destroy finalizes in reverse order, is idempotent after a partial failure, and ends deleted with a TTL', async () => {
    class Recording extends DummyConnector {
      order: number[] = [];
      failing = new Set<number>([2]);
      override async finalize(vm: VmHandle, _last: boolean, _auth: AuthItem): Promise<void> {
        if (this.failing.has(vm.vmId)) throw new ImError('BAD_REQUEST', 'in use');
        this.order.push(vm.vmId);
      }
    }
    const conn = new Recording();
    const env = makeEnv({ store: dynamoStore(), connectors: [conn], config: { MAX_SIMULTANEOUS_LAUNCHES: '1' } });
    const ids = await seedInfra(env.services, nodesRadl(4));
    await runFlow(env, 'launch', ids);
    const first = await runFlow(env, 'destroy', { infId: ids.infId });
    expect(first).toMatchObject({ status: 'FAILED', error: 'DestroyFailed', cause: 'Error destroying the infrastructure: VM 2: in use' });
    expect(conn.order).toEqual([3, 1, 0]);
    expect((await env.store.getInfrastructure(ids.infId))?.status).toBe('active');
    conn.failing.clear();
    expect((await runFlow(env, 'destroy', { infId: ids.infId })).status).toBe('SUCCEEDED');
    expect(conn.order).toEqual([3, 1, 0, 2]);
    const inf = await env.store.getInfrastructure(ids.infId);
    expect(inf?.status).toBe('deleted');
    expect(inf?.expiresAt).toBeGreaterThan(Date.now() / 1000 + 29 * 86_400);
    // The partial failure recorded what it finalized (the infrastructure stayed); the destroy that then
    // finalized everything left marks the record deleted, its VMs go with it.
    expect((await env.store.listVms(ids.infId)).filter((v) => v.destroyed && v.state === 'off').map((v) => v.vmId)).toEqual([0, 1, 3]);
  });
});
