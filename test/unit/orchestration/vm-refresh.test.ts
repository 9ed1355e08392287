import { beforeEach, describe, expect, it } from 'vitest';
import { DummyConnector } from '#connectors/dummy';
import type { AuthItem, CtxtState, InfraRecord, VmHandle, VmRecord, VmState, VmUpdate } from '#core/types';
import { VersionConflictError } from '#core/types';
import { parseVmInfo, refineState, refreshVm, vmSystem } from '#core/vm-refresh';
import { makeEnv, nodesRadl, seedInfra, type TestEnv } from './fixtures';

/** A Dummy whose updateVmInfo answers what the test says (or fails), counting calls. */
class ScriptedConnector extends DummyConnector {
  calls = 0;
  next: VmState | Error = 'running';
  override async updateVmInfo(vm: VmHandle, _auth: AuthItem): Promise<VmUpdate> {
    this.calls++;
    if (this.next instanceof Error) throw this.next;
    const system = vm.system.clone();
    system.setValue('net_interface.0.ip', '192.0.2.7');
    return { state: this.next, system, cloudData: { seen: this.calls } };
  }
}

const FREQ = 10; // VM_INFO_UPDATE_FREQUENCY s
const GRACE = 120; // VM_INFO_UPDATE_ERROR_GRACE_PERIOD s

describe('refreshVm (lifecycle.md §1.1)', () => {
  let now: number;
  let env: TestEnv;
  let conn: ScriptedConnector;
  let inf: InfraRecord;
  let vm: VmRecord;

  async function setVm(patch: Partial<VmRecord>): Promise<VmRecord> {
    const cur = (await env.store.getVm(vm.infId, vm.vmId))!;
    vm = await env.store.updateVm(vm.infId, vm.vmId, cur.version, patch);
    return vm;
  }

  beforeEach(async () => {
    now = 1_700_000_000_000;
    conn = new ScriptedConnector();
    env = makeEnv({
      connectors: [conn],
      now: () => now,
      config: { VM_INFO_UPDATE_FREQUENCY: String(FREQ), VM_INFO_UPDATE_ERROR_GRACE_PERIOD: String(GRACE) },
    });
    const radl = nodesRadl(1, '').replace("net_interface.0.connection = 'publica'", "net_interface.0.connection = 'publica' and net_interface.0.dns_name = 'node-#N#.example.org'");
    const { infId, vmIds } = await seedInfra(env.services, radl);
    inf = (await env.store.getInfrastructure(infId))!;
    vm = (await env.store.getVm(infId, vmIds[0]))!;
    await setVm({ providerId: 'p-1', state: 'running', creating: false, lastUpdate: now - 60_000, ctxtState: 'none' });
  });

  it('1. a VM that failed at launch stays failed and is never refreshed', async () => {
    await setVm({ providerId: undefined, state: 'failed', creating: false });
    const r = await refreshVm(env.services, inf, vm, { force: true });
    expect(r.state).toBe('failed');
    expect(conn.calls).toBe(0);
  });

  it('2. destroyed → off; being deleted → deleting (no provider call)', async () => {
    await setVm({ destroyed: true });
    expect((await refreshVm(env.services, inf, vm, { force: true })).state).toBe('off');
    await setVm({ destroyed: false, deleting: true });
    expect((await refreshVm(env.services, inf, vm, { force: true })).state).toBe('deleting');
    expect(conn.calls).toBe(0);
  });

  it('concurrent refreshes of the same due record ask the provider and write once, and share the result', async () => {
    await setVm({ lastUpdate: now - (FREQ * 1000 + 1) });
    const before = (await env.store.getVm(vm.infId, vm.vmId))!;
    const results = await Promise.all(Array.from({ length: 10 }, () => refreshVm(env.services, inf, before)));
    expect(conn.calls).toBe(1);
    for (const r of results) expect(r).toBe(results[0]);
    expect(results[0].lastUpdate).toBe(now);
    // One write: the stored version moved by one.
    expect((await env.store.getVm(vm.infId, vm.vmId))!.version).toBe(before.version + 1);
    // Forced refreshes are never shared.
    await Promise.all([refreshVm(env.services, inf, results[0], { force: true }), refreshVm(env.services, inf, results[0], { force: true })]);
    expect(conn.calls).toBe(3);
  });

  it('3. refreshes only when older than VM_INFO_UPDATE_FREQUENCY, unless forced', async () => {
    await setVm({ lastUpdate: now - (FREQ * 1000 - 1) });
    await refreshVm(env.services, inf, vm);
    expect(conn.calls).toBe(0);
    await refreshVm(env.services, inf, vm, { force: true });
    expect(conn.calls).toBe(1);
    await setVm({ lastUpdate: now - (FREQ * 1000 + 1) });
    const r = await refreshVm(env.services, inf, vm);
    expect(conn.calls).toBe(2);
    expect(r.lastUpdate).toBe(now);
    expect(r.cloudData).toEqual({ seen: 2 });
    expect(vmSystem(parseVmInfo(r), r).getValue('net_interface.0.ip')).toBe('192.0.2.7');
    // persisted
    expect((await env.store.getVm(vm.infId, vm.vmId))!.lastUpdate).toBe(now);
  });

  it('3. a provider error keeps the old state …', async () => {
    await setVm({ state: 'stopped' });
    conn.next = new Error('provider down');
    const r = await refreshVm(env.services, inf, vm, { force: true });
    expect(r.state).toBe('stopped');
    expect(r.lastUpdate).toBe(now - 60_000);
  });

  it('3. … except that a VM still being created reads pending', async () => {
    await setVm({ state: 'running', creating: true });
    conn.next = new Error('provider down');
    expect((await refreshVm(env.services, inf, vm, { force: true })).state).toBe('pending');
  });

  it('4. no successful refresh for longer than the grace period → unknown (not while creating)', async () => {
    conn.next = new Error('provider down');
    await setVm({ lastUpdate: now - (GRACE * 1000 + 1) });
    expect((await refreshVm(env.services, inf, vm)).state).toBe('unknown');
    await setVm({ state: 'pending', creating: true });
    expect((await refreshVm(env.services, inf, vm)).state).toBe('pending');
  });

  it('4. within the grace period the old state stays', async () => {
    conn.next = new Error('provider down');
    await setVm({ lastUpdate: now - (GRACE * 1000 - 1) });
    expect((await refreshVm(env.services, inf, vm)).state).toBe('running');
  });

  it('5. running/configured/unconfigured are refined by the contextualization state', async () => {
    const cases: [CtxtState, VmState][] = [
      ['none', 'running'],
      ['pending', 'running'],
      ['running', 'running'],
      ['ok', 'configured'],
      ['disabled', 'configured'],
      ['failed', 'unconfigured'],
    ];
    for (const [ctxt, expected] of cases) {
      await setVm({ ctxtState: ctxt });
      conn.next = 'running';
      expect((await refreshVm(env.services, inf, vm, { force: true })).state, ctxt).toBe(expected);
    }
  });

  it('5. the infrastructure contextualization failing makes running VMs unconfigured', async () => {
    await setVm({ ctxtState: 'ok' });
    expect((await refreshVm(env.services, { ...inf, configured: false }, vm, { force: true })).state).toBe('unconfigured');
  });

  it('5. other provider states pass through', async () => {
    for (const s of ['stopped', 'off', 'failed', 'pending'] as VmState[]) {
      await setVm({ ctxtState: 'ok' });
      conn.next = s;
      expect((await refreshVm(env.services, inf, vm, { force: true })).state, s).toBe(s);
    }
  });

  it('5. writes the state into the VM RADL and replaces #N# in DNS names', async () => {
    await setVm({ ctxtState: 'ok' });
    const r = await refreshVm(env.services, inf, vm, { force: true });
    const sys = vmSystem(parseVmInfo(r), r);
    expect(sys.getValue('state')).toBe('configured');
    expect(sys.getValue('net_interface.0.dns_name')).toBe(`node-${vm.vmId}.example.org`);
  });

  it('a concurrent write wins: the newer record is returned, refined, without a second provider call', async () => {
    const stale = vm;
    await setVm({ ctxtState: 'ok' });
    const r = await refreshVm(env.services, inf, stale, { force: true });
    expect(conn.calls).toBe(1);
    expect(r.version).toBe(vm.version);
    expect(r.state).toBe('configured');
  });

  it('propagates store errors other than version conflicts', async () => {
    const store = env.services.store;
    const orig = store.updateVm.bind(store);
    store.updateVm = async () => {
      throw new Error('table gone');
    };
    await expect(refreshVm(env.services, inf, vm, { force: true })).rejects.toThrow('table gone');
    store.updateVm = orig;
    expect(new VersionConflictError()).toBeInstanceOf(Error);
  });
});

describe('refineState', () => {
  it('is a pure function of state, ctxtState and the infrastructure flag', () => {
    expect(refineState('configured', 'pending', undefined)).toBe('running');
    expect(refineState('unconfigured', 'ok', true)).toBe('configured');
    expect(refineState('configured', 'disabled', false)).toBe('unconfigured');
    expect(refineState('stopped', 'failed', false)).toBe('stopped');
  });
});
