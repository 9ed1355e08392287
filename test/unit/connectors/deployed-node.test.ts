import { describe, expect, it } from 'vitest';
import { DeployedNodeConnector } from '#connectors/deployed-node';
import { createConnectorRegistry } from '#connectors/registry';
import { loadConfig } from '#core/config';

const TEST_DEPS = { config: loadConfig({}), logger: { debug() {}, info() {}, warn() {}, error() {} } };
import { ImError } from '#core/errors';
import type { VmHandle } from '#core/types';
import { parseRadl, Radl, type System } from '#radl/index';

const auth = { type: 'DeployedNode', id: 'dn' };
const sys = (features: string): System => parseRadl(`system host ( ${features} )`).systems[0];
const handle = (system: System): VmHandle => ({ infId: 'i', vmId: 0, providerId: 'p', system, radl: new Radl() });
const FULL = "net_interface.0.ip = '192.0.2.5' and disk.0.os.credentials.username = 'root' and disk.0.os.credentials.password = 'pw'";

async function rejectsWith(p: Promise<unknown>, message: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ImError);
  expect((err as ImError).code).toBe('BAD_REQUEST');
  expect((err as ImError).message).toBe(message);
}

describe('DeployedNodeConnector (lifecycle.md §8)', () => {
  const dn = new DeployedNodeConnector({ now: () => 1_700_000_000_000 });

  it('has type DeployedNode and is in the registry', () => {
    expect(dn.type).toBe('DeployedNode');
    expect(createConnectorRegistry(TEST_DEPS).get('DeployedNode')).toBeInstanceOf(DeployedNodeConnector);
  });

  it('fits only systems with net_interface.0.ip, a username and a password or private key', () => {
    expect(dn.concreteSystem(sys(FULL), auth)).toHaveLength(1);
    expect(
      dn.concreteSystem(sys("net_interface.0.ip = '192.0.2.5' and disk.0.os.credentials.username = 'root' and disk.0.os.credentials.private_key = 'K'"), auth),
    ).toHaveLength(1);
    expect(dn.concreteSystem(sys("disk.0.os.credentials.username = 'root' and disk.0.os.credentials.password = 'pw'"), auth)).toEqual([]);
    expect(dn.concreteSystem(sys("net_interface.0.ip = '192.0.2.5' and disk.0.os.credentials.password = 'pw'"), auth)).toEqual([]);
    expect(dn.concreteSystem(sys("net_interface.0.ip = '192.0.2.5' and disk.0.os.credentials.username = 'root'"), auth)).toEqual([]);
  });

  it('launch marks the VM running without contacting anything', async () => {
    const s = sys(FULL);
    const vm = await dn.launch({ infId: 'i', vmId: 3, attempt: 1, clientToken: 'im-i-3-1', radl: new Radl(), system: s, auth, tags: {} });
    expect(vm.state).toBe('running');
    expect(vm.providerId).toBe('1700000000003');
    expect(vm.system.getValue('provider.type')).toBe('DeployedNode');
    expect(vm.system.getValue('net_interface.0.ip')).toBe('192.0.2.5');
    expect((await dn.updateVmInfo(handle(vm.system), auth)).state).toBe('running');
    await expect(dn.finalize(handle(vm.system), true, auth)).resolves.toBeUndefined();
  });

  it('stop/start: Operation not supported; alter: Not supported; the rest: not implemented', async () => {
    const h = handle(sys(FULL));
    await rejectsWith(dn.stop(h, auth), 'Operation not supported');
    await rejectsWith(dn.start(h, auth), 'Operation not supported');
    await rejectsWith(dn.alterVm(h, sys(FULL), auth), 'Not supported');
    await rejectsWith(dn.reboot(h, auth), 'Should have implemented this');
    await rejectsWith(dn.listImages(auth, {}), 'Should have implemented this');
    await rejectsWith(dn.getQuotas(auth), 'Should have implemented this');
    await rejectsWith(dn.createSnapshot(h, 0, 'n', false, auth), 'Should have implemented this');
  });
});
