/** GetInfrastructureInfo: ids of the live (non-destroyed) VMs, in id order. */
import type { AuthItem, Services } from '#core/types';
import { callerInfraAnd, liveVms } from '#core/usecases/common';

export async function getInfrastructureInfo(services: Services, auth: AuthItem[], infId: string): Promise<number[]> {
  const { value: vms } = await callerInfraAnd(services, auth, infId, () => liveVms(services, infId));
  return vms.map((vm) => vm.vmId);
}
