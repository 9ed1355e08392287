import { describe, expect, it } from 'vitest';
import { DUMMY_IP, DummyConnector, timestampProviderId } from '#connectors/dummy';
import { createConnectorRegistry } from '#connectors/registry';
import { loadConfig } from '#core/config';

const TEST_DEPS = { config: loadConfig({}), logger: { debug() {}, info() {}, warn() {}, error() {} } };
import { ImError } from '#core/errors';
import type { LaunchRequest, VmHandle } from '#core/types';
import { parseRadl, Radl, System } from '#radl/index';

const auth = { type: 'Dummy', id: 'dummy' };

function request(system: System, vmId = 0): LaunchRequest {
  return { infId: 'inf', vmId, attempt: 1, clientToken: `im-inf-${vmId}-1`, radl: new Radl(), system, auth, tags: {} };
}

function handle(system: System, vmId = 0): VmHandle {
  return { infId: 'inf', vmId, providerId: 'p', system, radl: new Radl() };
}

const node = () => parseRadl("system node ( cpu.count >= 1 and memory.size >= 1G )").systems[0];

describe('DummyConnector (lifecycle.md §8)', () => {
  const dummy = new DummyConnector({ now: () => 1_700_000_000_123 });

  it('has type Dummy and is in the registry', () => {
    expect(dummy.type).toBe('Dummy');
    expect(createConnectorRegistry(TEST_DEPS).get('Dummy')).toBeInstanceOf(DummyConnector);
  });

  it('accepts any system, setting username = username when missing', () => {
    const [c] = dummy.concreteSystem(node(), auth);
    expect(c.getValue('disk.0.os.credentials.username')).toBe('username');
    const own = node();
    own.setValue('disk.0.os.credentials.username', 'ubuntu');
    expect(dummy.concreteSystem(own, auth)[0].getValue('disk.0.os.credentials.username')).toBe('ubuntu');
    expect(own.getValue('provider.type')).toBeUndefined();
  });

  it('launches running with provider.type, IP 10.0.0.1 and username/password when missing', async () => {
    const vm = await dummy.launch(request(node()));
    expect(vm.state).toBe('running');
    expect(vm.system.getValue('provider.type')).toBe('Dummy');
    expect(vm.system.getValue('net_interface.0.ip')).toBe(DUMMY_IP);
    expect(vm.system.getValue('disk.0.os.credentials.username')).toBe('username');
    expect(vm.system.getValue('disk.0.os.credentials.password')).toBe('password');
    const withKey = node();
    withKey.setValue('disk.0.os.credentials.username', 'me');
    withKey.setValue('disk.0.os.credentials.private_key', 'KEY');
    const k = await dummy.launch(request(withKey));
    expect(k.system.getValue('disk.0.os.credentials.username')).toBe('me');
    expect(k.system.getValue('disk.0.os.credentials.password')).toBeUndefined();
  });

  it('gives IM-style provider ids (centisecond timestamp) that differ per VM within the same instant', async () => {
    expect(timestampProviderId(7, 1_700_000_000_123)).toBe('1700000000127');
    const ids = await Promise.all([0, 1, 2, 10, 11].map(async (i) => (await dummy.launch(request(node(), i))).providerId));
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(id).toMatch(/^170000000012\d+$/);
  });

  it('keeps its state in the record: stop → stopped, start → running, updateVmInfo reads the RADL state', async () => {
    const s = node();
    expect((await dummy.stop(handle(s), auth)).state).toBe('stopped');
    expect((await dummy.start(handle(s), auth)).state).toBe('running');
    s.setValue('state', 'stopped');
    expect((await dummy.updateVmInfo(handle(s), auth)).state).toBe('stopped');
    s.setValue('state', 'configured');
    expect((await dummy.updateVmInfo(handle(s), auth)).state).toBe('running');
    await expect(dummy.finalize(handle(s), true, auth)).resolves.toBeUndefined();
    await expect(dummy.reboot(handle(s), auth)).resolves.toBeUndefined();
  });

  it('alterVm copies cpu.count and memory.size (in M)', async () => {
    const wanted = parseRadl("system node ( cpu.count = 4 and memory.size = 2G and disk.0.os.name = 'windows' )").systems[0];
    const r = await dummy.alterVm(handle(node()), wanted, auth);
    expect(r.system.getValue('cpu.count')).toBe(4);
    expect(r.system.getFeature('memory.size')?.unit).toBe('M');
    expect(r.system.getValue('memory.size', 'M')).toBe(2000);
    expect(r.system.getValue('disk.0.os.name')).toBeUndefined();
  });

  it('snapshots, images and quotas', async () => {
    expect(await dummy.createSnapshot(handle(node()), 0, 'snap1', true, auth)).toBe('mock0://linux.for.ev.er/snap1');
    await expect(dummy.deleteImage('mock0://linux.for.ev.er/snap1', auth)).resolves.toBeUndefined();
    expect(await dummy.listImages(auth, {})).toEqual([
      { uri: 'mock0://linux.for.ev.er/image1', name: 'Image Name1' },
      { uri: 'mock0://linux.for.ev.er/image2', name: 'Image Name2' },
    ]);
    const q = await dummy.getQuotas(auth);
    expect(Object.keys(q).sort()).toEqual(['cores', 'floating_ips', 'instances', 'ram', 'security_groups']);
    for (const v of Object.values(q)) expect(v).toEqual({ used: 1, limit: 10 });
  });

  it('registry: extra connectors replace built-in ones of the same type', () => {
    class Other extends DummyConnector {}
    const r = createConnectorRegistry(TEST_DEPS, [new Other()]);
    expect(r.get('Dummy')).toBeInstanceOf(Other);
    expect(r.types()).toEqual(expect.arrayContaining(['Dummy', 'DeployedNode']));
    expect(new ImError('BAD_REQUEST', 'x').code).toBe('BAD_REQUEST');
  });
});
