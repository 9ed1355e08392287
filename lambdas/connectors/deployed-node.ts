/**
 * The DeployedNode connector (lifecycle.md §8): lets existing hosts join an infrastructure (and its
 * contextualization). A system fits only if it gives `net_interface.0.ip`, a username and a password
 * or private key; "launching" marks the VM running without contacting anything.
 */
import { ImError } from '#core/errors';
import type { AuthItem, CloudConnector, CloudImage, LaunchedVm, LaunchRequest, Quotas, VmHandle, VmUpdate } from '#core/types';
import type { System } from '#radl/index';
import { notImplemented, recordedState, timestampProviderId } from '#connectors/dummy';

const notSupported = () => new ImError('BAD_REQUEST', 'Operation not supported');

/** The DeployedNode connector (`type = DeployedNode`). */
export class DeployedNodeConnector implements CloudConnector {
  readonly type = 'DeployedNode';
  private readonly now: () => number;

  /** @param opts.now clock in epoch ms (provider ids). */
  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** The system itself when it has `net_interface.0.ip`, a username and a password or private key; else none. */
  concreteSystem(system: System, _auth: AuthItem): System[] {
    const ip = system.getValue('net_interface.0.ip');
    const user = system.getValue('disk.0.os.credentials.username');
    const secret = system.getValue('disk.0.os.credentials.password') || system.getValue('disk.0.os.credentials.private_key');
    return ip && user && secret ? [system.clone()] : [];
  }

  async launch(req: LaunchRequest): Promise<LaunchedVm> {
    const system = req.system.clone();
    system.setValue('provider.type', this.type);
    return { providerId: timestampProviderId(req.vmId, this.now()), state: 'running', system };
  }

  async updateVmInfo(vm: VmHandle, _auth: AuthItem): Promise<VmUpdate> {
    return { state: recordedState(vm.system), system: vm.system.clone() };
  }

  async finalize(_vm: VmHandle, _last: boolean, _auth: AuthItem): Promise<void> {}

  async start(_vm: VmHandle, _auth: AuthItem): Promise<void> {
    throw notSupported();
  }

  async stop(_vm: VmHandle, _auth: AuthItem): Promise<void> {
    throw notSupported();
  }

  async reboot(_vm: VmHandle, _auth: AuthItem): Promise<void> {
    throw notImplemented();
  }

  async alterVm(_vm: VmHandle, _newSystem: System, _auth: AuthItem): Promise<VmUpdate> {
    throw new ImError('BAD_REQUEST', 'Not supported');
  }

  async createSnapshot(_vm: VmHandle, _diskNum: number, _name: string, _autoDelete: boolean, _auth: AuthItem): Promise<string> {
    throw notImplemented();
  }

  async deleteImage(_imageUrl: string, _auth: AuthItem): Promise<void> {
    throw notImplemented();
  }

  async listImages(_auth: AuthItem, _filters: Record<string, string>): Promise<CloudImage[]> {
    throw notImplemented();
  }

  async getQuotas(_auth: AuthItem): Promise<Quotas> {
    throw notImplemented();
  }
}
