/** GetInfrastructureInfo: ids of the live (non-destroyed) VMs, in id order. */
import type { AuthItem, Services } from '#core/types';
import { callerAndInfra, liveVms } from '#core/usecases/common';

export async function getInfrastructureInfo(services: Services, auth: AuthItem[], infId: string): Promise<number[]> {
  await callerAndInfra(services, auth, infId);
  return (await liveVms(services, infId)).map((vm) => vm.vmId);
}
