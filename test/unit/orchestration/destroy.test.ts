import { describe, expect, it } from 'vitest';
import { DeployedNodeConnector } from '#connectors/deployed-node';
import { DummyConnector } from '#connectors/dummy';
import { ImError } from '#core/errors';
import type { AuthItem, VmHandle } from '#core/types';
import { parseVmInfo, vmSystem } from '#core/vm-refresh';
import { finalizeOrder } from '#orchestration/destroy-tasks';
import { makeEnv, nodesRadl, runFlow, seedInfra, type TestEnv } from './fixtures';

const TWO_CLOUDS: AuthItem[] = [
  { type: 'Dummy', id: 'd1' },
  { type: 'Dummy', id: 'd2' },
];

const twoCloudRadl = (perCloud = 2) => `network publica (outbound = 'yes')
system a ( net_interface.0.connection = 'publica' )
system b ( net_interface.0.connection = 'publica' )
contextualize ()
deploy a ${perCloud} d1
deploy b ${perCloud} d2
`;

/** Records finalize calls; fails the VMs in `failing` (CloudRetryable `transient` times first). */
class RecordingDummy extends DummyConnector {
  finalized: { vmId: number; last: boolean; cloud: string }[] = [];
  failing = new Set<number>();
  transient = new Map<number, number>();
  deletedImages: string[] = [];
  override async finalize(vm: VmHandle, last: boolean, auth: AuthItem): Promise<void> {
    const t = this.transient.get(vm.vmId) ?? 0;
    if (t > 0) {
      this.transient.set(vm.vmId, t - 1);
      throw new ImError('CLOUD_RETRYABLE', 'throttled');
    }
    if (this.failing.has(vm.vmId)) throw new ImError('BAD_REQUEST', `cannot delete ${vm.providerId}`);
    this.finalized.push({ vmId: vm.vmId, last, cloud: auth.id! });
  }
  override async deleteImage(url: string): Promise<void> {
    if (url.endsWith('/broken')) throw new Error('image busy');
    this.deletedImages.push(url);
  }
}

async function launched(env: TestEnv, radl: string, auth?: AuthItem[]) {
  const ids = await seedInfra(env.services, radl, auth ? { auth } : {});
  expect((await runFlow(env, 'launch', ids)).status).toBe('SUCCEEDED');
  return ids;
}

describe('finalizeOrder', () => {
  const vm = (vmId: number, cloudId: string, launched = true) => ({ vmId, cloudId, providerId: launched ? `p${vmId}` : undefined }) as never;
  it('reverse id order; the lowest id of each cloud last, unless the cloud keeps VMs', () => {
    expect(finalizeOrder([vm(0, 'x'), vm(1, 'x'), vm(2, 'y'), vm(3, 'y')], [])).toEqual({ vmIds: [3, 1], lastVmIds: [2, 0] });
    expect(finalizeOrder([vm(2, 'y'), vm(3, 'y')], [vm(0, 'y')])).toEqual({ vmIds: [3, 2], lastVmIds: [] });
    expect(finalizeOrder([vm(0, 'x', false), vm(1, 'x')], [])).toEqual({ vmIds: [0], lastVmIds: [1] });
  });
});

/** makeEnv with LAUNCH_BATCH_SIZE set: 50 does every flow in its first task, 2 goes through the Map of batches. */
const withBatch =
  (batch: string) =>
  (o: Parameters<typeof makeEnv>[0] = {}) =>
    makeEnv({ ...o, config: { LAUNCH_BATCH_SIZE: batch, ...o.config } });

describe.each(['50', '2'])('LAUNCH_BATCH_SIZE=%s', (batch) => {
const makeEnv = withBatch(batch);
describe('destroy flow', () => {
  it('finalizes every VM in reverse id order, the last VM of each cloud last with last=true, then marks the infrastructure deleted', async () => {
    const conn = new RecordingDummy();
    const now = Date.now();
    const env = makeEnv({ connectors: [conn], config: { MAX_SIMULTANEOUS_LAUNCHES: '1', DELETED_RETENTION_DAYS: '30' }, now: () => now });
    const { infId } = await launched(env, twoCloudRadl(), TWO_CLOUDS);
    const r = await runFlow(env, 'destroy', { infId });
    expect(r.status).toBe('SUCCEEDED');
    expect(conn.finalized).toEqual([
      { vmId: 3, last: false, cloud: 'd2' },
      { vmId: 1, last: false, cloud: 'd1' },
      { vmId: 2, last: true, cloud: 'd2' },
      { vmId: 0, last: true, cloud: 'd1' },
    ]);
    const inf = (await env.store.getInfrastructure(infId))!;
    expect(inf).toMatchObject({ status: 'deleted', deletedAt: now, expiresAt: Math.floor(now / 1000) + 30 * 86_400 });
    // Through the Map of batches each batch records its VMs; a destroy done in its first task marks only the
    // record deleted (its VMs go with it), and writes the VMs only when the infrastructure stays.
    const vms = await env.store.listVms(infId);
    if (batch === '2') for (const v of vms) expect(v).toMatchObject({ state: 'off', destroyed: true, deleting: false });
    else for (const v of vms) expect(v).toMatchObject({ destroyed: false, deleting: false });
  });

  it('runs finalizations in parallel up to MAX_SIMULTANEOUS_LAUNCHES', async () => {
    let active = 0;
    let max = 0;
    class Slow extends DummyConnector {
      override async finalize(): Promise<void> {
        active++;
        max = Math.max(max, active);
        await new Promise((r) => setTimeout(r, 20));
        active--;
      }
    }
    const env = makeEnv({ connectors: [new Slow()], config: { MAX_SIMULTANEOUS_LAUNCHES: '3' } });
    const { infId } = await launched(env, nodesRadl(10));
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(max).toBe(3);
  });

  it('a finalize error without force: back to active, error in the log and the execution cause; re-running completes', async () => {
    const conn = new RecordingDummy();
    conn.failing.add(1);
    const env = makeEnv({ connectors: [conn] });
    const { infId } = await launched(env, nodesRadl(3));
    const r = await runFlow(env, 'destroy', { infId });
    expect(r).toMatchObject({ status: 'FAILED', error: 'DestroyFailed' });
    expect(r.cause).toMatch(/^Error destroying the infrastructure: VM 1: cannot delete \d+$/);
    expect((await env.store.getInfrastructure(infId))?.status).toBe('active');
    expect(await env.store.getLog(infId, 'inf')).toContain('Error destroying the infrastructure: VM 1: cannot delete');
    const vms = await env.store.listVms(infId);
    expect(vms.map((v) => v.destroyed)).toEqual([true, false, true]);
    expect(vms[1]).toMatchObject({ deleting: false, state: 'configured' });

    conn.failing.clear();
    conn.finalized = [];
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(conn.finalized.map((f) => f.vmId)).toEqual([1]);
    expect((await env.store.getInfrastructure(infId))?.status).toBe('deleted');
    // Once more: nothing to do, still deleted.
    conn.finalized = [];
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(conn.finalized).toEqual([]);
  });

  it('with force, errors are logged and the infrastructure is deleted anyway', async () => {
    const conn = new RecordingDummy();
    conn.failing.add(0);
    const env = makeEnv({ connectors: [conn] });
    const { infId } = await launched(env, nodesRadl(2));
    expect((await runFlow(env, 'destroy', { infId, force: true })).status).toBe('SUCCEEDED');
    expect((await env.store.getInfrastructure(infId))?.status).toBe('deleted');
    expect(await env.store.getLog(infId, 'inf')).toMatch(/Error destroying the infrastructure: VM 0: .*\n\(ignored: force\)/);
  });

  it('retries CloudRetryable finalize errors', async () => {
    const conn = new RecordingDummy();
    conn.transient.set(0, 2);
    const env = makeEnv({ connectors: [conn], orchestrator: { waitTimeScale: 0.001 } });
    const { infId } = await launched(env, nodesRadl(1));
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(conn.finalized.map((f) => f.vmId)).toEqual([0]);
  });

  it('VMs that never launched are marked destroyed without calling the connector', async () => {
    class NoLaunch extends RecordingDummy {
      override async launch(): Promise<never> {
        throw new ImError('BAD_REQUEST', 'nope');
      }
    }
    const conn = new NoLaunch();
    const env = makeEnv({ connectors: [conn] });
    const { infId } = await launched(env, nodesRadl(2));
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(conn.finalized).toEqual([]);
    expect((await env.store.getInfrastructure(infId))?.status).toBe('deleted');
  });

  it('deletes the auto_delete snapshots; a failing one is logged and does not stop the destroy', async () => {
    const conn = new RecordingDummy();
    const env = makeEnv({ connectors: [conn] });
    const { infId } = await launched(env, nodesRadl(1));
    const inf = (await env.store.getInfrastructure(infId))!;
    await env.store.updateInfrastructure(infId, inf.version, { snapshots: ['mock0://linux.for.ev.er/s1', 'mock0://linux.for.ev.er/broken'] });
    expect((await runFlow(env, 'destroy', { infId })).status).toBe('SUCCEEDED');
    expect(conn.deletedImages).toEqual(['mock0://linux.for.ev.er/s1']);
    expect(await env.store.getLog(infId, 'inf')).toContain('Error deleting the snapshot mock0://linux.for.ev.er/broken: image busy');
    expect((await env.store.getInfrastructure(infId))?.status).toBe('deleted');
  });
});

describe('remove flow', () => {
  it('finalizes the given VMs (off, destroyed); last=true only when no VM of that cloud stays', async () => {
    const conn = new RecordingDummy();
    const env = makeEnv({ connectors: [conn], config: { MAX_SIMULTANEOUS_LAUNCHES: '1' } });
    const { infId } = await launched(env, twoCloudRadl(), TWO_CLOUDS);
    const r = await runFlow(env, 'remove', { infId, vmIds: [1, 2, 3] });
    expect(r).toMatchObject({ status: 'SUCCEEDED', output: { ok: true, removed: 3 } });
    expect(conn.finalized).toEqual([
      { vmId: 3, last: false, cloud: 'd2' },
      { vmId: 1, last: false, cloud: 'd1' },
      { vmId: 2, last: true, cloud: 'd2' },
    ]);
    const vms = await env.store.listVms(infId);
    expect(vms.map((v) => [v.state, v.destroyed])).toEqual([
      ['configured', false],
      ['off', true],
      ['off', true],
      ['off', true],
    ]);
    expect((await env.store.getInfrastructure(infId))?.status).toBe('active');
  });

  it('re-contextualizes the remaining VMs unless context is false', async () => {
    const env = makeEnv();
    const { infId } = await launched(env, nodesRadl(3));
    const ctxtRuns = async () => (await env.store.getLog(infId, 'inf')).split('Contextualization disabled by the RADL/TOSCA template.').length - 1;
    expect(await ctxtRuns()).toBe(1);
    expect((await runFlow(env, 'remove', { infId, vmIds: [2], context: false })).status).toBe('SUCCEEDED');
    expect(await ctxtRuns()).toBe(1);
    expect((await runFlow(env, 'remove', { infId, vmIds: [1], context: true })).status).toBe('SUCCEEDED');
    expect(await ctxtRuns()).toBe(2);
  });

  it('collects errors: "Error removing resources: …"', async () => {
    const conn = new RecordingDummy();
    conn.failing.add(0);
    const env = makeEnv({ connectors: [conn] });
    const { infId } = await launched(env, nodesRadl(2));
    const r = await runFlow(env, 'remove', { infId, vmIds: [0, 1] });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RemoveFailed' });
    expect(r.cause).toMatch(/^Error removing resources: VM 0: cannot delete/);
    expect((await env.store.listVms(infId)).map((v) => [v.destroyed, v.deleting])).toEqual([
      [false, false],
      [true, false],
    ]);
  });
});

});

describe('stop / start flows', () => {
  it('Dummy: stop → stopped, start → running again (configured after contextualization)', async () => {
    const env = makeEnv();
    const { infId } = await launched(env, nodesRadl(3));
    expect((await runFlow(env, 'stop', { infId })).status).toBe('SUCCEEDED');
    let vms = await env.store.listVms(infId);
    expect(vms.map((v) => v.state)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(vmSystem(parseVmInfo(vms[0]), vms[0]).getValue('state')).toBe('stopped');
    expect((await runFlow(env, 'start', { infId, vmIds: [1] })).status).toBe('SUCCEEDED');
    vms = await env.store.listVms(infId);
    expect(vms.map((v) => v.state)).toEqual(['stopped', 'configured', 'stopped']);
  });

  it('errors go to the VM log and the execution cause (DeployedNode: Operation not supported)', async () => {
    const env = makeEnv({ connectors: [new DeployedNodeConnector()] });
    const radl = `network publica (outbound = 'yes')
system host ( net_interface.0.connection = 'publica' and net_interface.0.ip = '192.0.2.10' and
  disk.0.os.credentials.username = 'root' and disk.0.os.credentials.password = 'secret' )
contextualize ()
deploy host 1`;
    const { infId } = await launched(env, radl, [{ type: 'DeployedNode', id: 'dn' }]);
    const r = await runFlow(env, 'stop', { infId });
    expect(r).toMatchObject({ status: 'FAILED', error: 'StopFailed', cause: 'Error stopping the infrastructure: VM 0: Operation not supported' });
    expect(await env.store.getLog(infId, 0)).toBe('Error stopping the VM: Operation not supported\n');
    expect((await env.store.listVms(infId))[0].state).toBe('configured');
  });
});

describe('contextualize flow failures', () => {
  it('an unexpected error marks the waiting VMs unconfigured and the infrastructure not configured', async () => {
    const env = makeEnv({ orchestrator: { sshProbe: async () => {} } });
    const ids = await seedInfra(env.services, nodesRadl(2, "configure node (\n@begin\n- tasks: []\n@end\n)"));
    await runFlow(env, 'launch', ids);
    const store = env.store;
    const orig = store.listVms.bind(store);
    let calls = 0;
    store.listVms = async (infId: string) => {
      if (calls++ === 0) throw new Error('store hiccup');
      return orig(infId);
    };
    const r = await runFlow(env, 'contextualize', { infId: ids.infId });
    store.listVms = orig;
    expect(r).toMatchObject({ status: 'FAILED', error: 'ContextualizationFailed' });
    expect((await store.listVms(ids.infId)).map((v) => [v.state, v.ctxtState])).toEqual([
      ['unconfigured', 'failed'],
      ['unconfigured', 'failed'],
    ]);
    expect((await store.getInfrastructure(ids.infId))?.configured).toBe(false);
    expect(await store.getLog(ids.infId, 'inf')).toContain('Contextualization Error: store hiccup');
  });
});
