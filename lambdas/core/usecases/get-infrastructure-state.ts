/** GetInfrastructureState: refreshes every live VM and aggregates (lifecycle.md §1.2). */
import type { AuthItem, Services } from '#core/types';
import { refreshVms } from '#core/vm-refresh';
import { aggregateInfraState, type InfraStateResult } from '#core/infra-state';
import { callerInfraAnd, liveVms } from '#core/usecases/common';

export async function getInfrastructureState(services: Services, auth: AuthItem[], infId: string): Promise<InfraStateResult> {
  const { inf, value: live } = await callerInfraAnd(services, auth, infId, () => liveVms(services, infId));
  const vms = await refreshVms(services, inf, live);
  return aggregateInfraState({
    vmStates: vms.map((vm) => ({ vmId: vm.vmId, state: vm.state })),
    configured: inf.configured,
    deleting: inf.status === 'deleting',
  });
}
