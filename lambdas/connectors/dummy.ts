/**
 * The Dummy connector (lifecycle.md §8): a fake cloud for tests and demos. It accepts any system,
 * "launches" VMs instantly (state running, IP 10.0.0.1, credentials username/password) and never
 * contacts anything.
 *
 * Lambda is stateless, so the connector keeps no memory: the VM's provider state is the `state`
 * feature of its RADL (written by the tasks), and stop/start return the new state for the caller
 * to write.
 */
import { ImError } from '#core/errors';
import type {
  AuthItem,
  CloudConnector,
  CloudImage,
  LaunchedVm,
  LaunchRequest,
  Quotas,
  VmHandle,
  VmState,
  VmUpdate,
} from '#core/types';
import type { System } from '#radl/index';

/** The fake IP every Dummy VM gets (it never answers SSH). */
export const DUMMY_IP = '10.0.0.1';

/**
 * A provider id like IM's (`str(int(time * 100))`, a centisecond timestamp) followed by the VM id:
 * two VMs launched in the same centisecond — even by different Lambda instances — still get
 * different ids, because VM ids are unique in an infrastructure and the timestamp has a fixed width.
 */
export function timestampProviderId(vmId: number, now: number = Date.now()): string {
  return `${Math.floor(now / 10)}${vmId}`;
}

/**
 * The provider state a record-backed connector reports: what the tasks last wrote into the VM's
 * RADL, with the contextualization refinements folded back to `running`.
 */
export function recordedState(system: System): VmState {
  const s = system.getString('state');
  if (s === 'stopped' || s === 'off') return s;
  return 'running';
}

/** The Dummy cloud connector (`type = Dummy`). */
export class DummyConnector implements CloudConnector {
  readonly type = 'Dummy';
  /** Dummy VMs are fictitious: 10.0.0.1 is a placeholder that the SSH wait never connects to. */
  readonly simulated: boolean = true;
  private readonly now: () => number;

  /** @param opts.now clock in epoch ms (provider ids). */
  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** Any system fits; sets `disk.0.os.credentials.username = 'username'` when missing. */
  concreteSystem(system: System, _auth: AuthItem): System[] {
    const s = system.clone();
    if (!s.getValue('disk.0.os.credentials.username')) s.setValue('disk.0.os.credentials.username', 'username');
    return [s];
  }

  /** Running at once, `provider.type = Dummy`, `net_interface.0.ip = 10.0.0.1`, username/password if missing. */
  async launch(req: LaunchRequest): Promise<LaunchedVm> {
    const system = req.system.clone();
    system.setValue('provider.type', this.type);
    system.setValue('net_interface.0.ip', DUMMY_IP);
    if (!system.getValue('disk.0.os.credentials.username')) system.setValue('disk.0.os.credentials.username', 'username');
    if (!system.getValue('disk.0.os.credentials.password') && !system.getValue('disk.0.os.credentials.private_key')) {
      system.setValue('disk.0.os.credentials.password', 'password');
    }
    return { providerId: timestampProviderId(req.vmId, this.now()), state: 'running', system };
  }

  /** No-op: the state the record holds. */
  async updateVmInfo(vm: VmHandle, _auth: AuthItem): Promise<VmUpdate> {
    return { state: recordedState(vm.system), system: vm.system.clone() };
  }

  async finalize(_vm: VmHandle, _last: boolean, _auth: AuthItem): Promise<void> {}

  async start(vm: VmHandle, _auth: AuthItem): Promise<VmUpdate> {
    return { state: 'running', system: vm.system.clone() };
  }

  async stop(vm: VmHandle, _auth: AuthItem): Promise<VmUpdate> {
    return { state: 'stopped', system: vm.system.clone() };
  }

  async reboot(_vm: VmHandle, _auth: AuthItem): Promise<void> {}

  /** Copies `cpu.count` and `memory.size` (in M) of the new system. */
  async alterVm(vm: VmHandle, newSystem: System, _auth: AuthItem): Promise<VmUpdate> {
    const system = vm.system.clone();
    const cpu = newSystem.getNumber('cpu.count');
    if (cpu !== undefined) system.setValue('cpu.count', cpu);
    const mem = newSystem.getNumber('memory.size', 'M');
    if (mem !== undefined) system.setValue('memory.size', mem, 'M');
    return { state: recordedState(vm.system), system };
  }

  async createSnapshot(_vm: VmHandle, _diskNum: number, imageName: string, _autoDelete: boolean, _auth: AuthItem): Promise<string> {
    return `mock0://linux.for.ev.er/${imageName}`;
  }

  async deleteImage(_imageUrl: string, _auth: AuthItem): Promise<void> {}

  async listImages(_auth: AuthItem, _filters: Record<string, string>): Promise<CloudImage[]> {
    return [
      { uri: 'mock0://linux.for.ev.er/image1', name: 'Image Name1' },
      { uri: 'mock0://linux.for.ev.er/image2', name: 'Image Name2' },
    ];
  }

  async getQuotas(_auth: AuthItem): Promise<Quotas> {
    const q = () => ({ used: 1, limit: 10 });
    return { cores: q(), ram: q(), instances: q(), floating_ips: q(), security_groups: q() };
  }
}

/** Thrown by connector operations a cloud does not implement (IM's base connector text). */
export function notImplemented(): ImError {
  return new ImError('BAD_REQUEST', 'Should have implemented this');
}
