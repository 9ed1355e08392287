/** refreshVms: due VMs of a connector with updateVmsInfo are read in one batch call; the rest as refreshVm does. */
import { describe, expect, it } from 'vitest';
import { DummyConnector } from '#connectors/dummy';
import type { AuthItem, VmHandle, VmUpdate } from '#core/types';
import { Network } from '#radl/index';
import { parseVmInfo, refreshVms } from '#core/vm-refresh';
import { makeEnv, nodesRadl, seedInfra } from './fixtures';

/** A Dummy type with a batch method; counts single and batch calls; the batch adds a network to VM 1's RADL. */
class Batching extends DummyConnector {
  single = 0;
  batches: number[] = [];
  override async updateVmInfo(vm: VmHandle): Promise<VmUpdate> {
    this.single++;
    return { state: 'running', system: vm.system.clone() };
  }
  async updateVmsInfo(vms: VmHandle[], _auth: AuthItem): Promise<(VmUpdate | Error)[]> {
    this.batches.push(vms.length);
    return vms.map((vm) => {
      if (vm.vmId === 2) return new Error('VM 2 vanished');
      const system = vm.system.clone();
      system.setValue('net_interface.0.ip', `192.0.2.${vm.vmId + 10}`);
      if (vm.vmId === 1) {
        const net = new Network(`public.${vm.vmId}`);
        net.setValue('outbound', 'yes');
        vm.radl.networks.push(net);
        system.setValue('net_interface.1.connection', net.id);
      }
      return { state: 'stopped', system, log: `message of VM ${vm.vmId}\n` };
    });
  }
}

describe('refreshVms', () => {
  it('one batch call for the due VMs, per-VM errors kept, network changes and connector messages persisted', async () => {
    let now = 1_700_000_000_000;
    const conn = new Batching();
    const env = makeEnv({ connectors: [conn], now: () => now, config: { VM_INFO_UPDATE_FREQUENCY: '10' } });
    const { infId, vmIds } = await seedInfra(env.services, nodesRadl(3, ''));
    for (const id of vmIds) {
      const v = (await env.store.getVm(infId, id))!;
      await env.store.updateVm(infId, id, v.version, { providerId: `p-${id}`, state: 'running', creating: false, lastUpdate: now - 60_000, ctxtState: 'none' });
    }
    const inf = (await env.store.getInfrastructure(infId))!;
    const vms = await env.store.listVms(infId);
    const out = await refreshVms(env.services, inf, vms);
    expect(conn.batches).toEqual([3]);
    expect(conn.single).toBe(0);
    expect(out.map((v) => v.state)).toEqual(['stopped', 'stopped', 'running']);
    const vm1 = (await env.store.getVm(infId, 1))!;
    expect(parseVmInfo(vm1).getNetworkById('public.1')?.isPublic()).toBe(true);
    expect(await env.store.getLog(infId, 1)).toBe('message of VM 1\n');
    // Not due any more: no provider call at all.
    now += 1000;
    await refreshVms(env.services, (await env.store.getInfrastructure(infId))!, await env.store.listVms(infId));
    expect(conn.batches).toEqual([3]);
    // VM 2 (its error kept the old state and lastUpdate) is due alone: a single call, not a batch.
    expect(conn.single).toBe(1);
  });
});
