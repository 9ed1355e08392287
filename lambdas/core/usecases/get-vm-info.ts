/**
 * GetVMInfo: refreshes the VM from its provider (at most every VM_INFO_UPDATE_FREQUENCY s) and
 * returns its RADL: the networks it uses and its system, with the features the IM sets.
 */
import type { AuthItem, Services, VmRecord } from '#core/types';
import type { Radl } from '#radl/index';
import { refreshVm } from '#core/vm-refresh';
import { callerInfraAnd, getLiveVm, vmRadl } from '#core/usecases/common';

/** The VM RADL with its current state written into the system. */
export function currentVmRadl(vm: VmRecord): Radl {
  const radl = vmRadl(vm);
  const sys = radl.systems[0];
  if (sys && sys.getString('state') !== vm.state) sys.setValue('state', vm.state);
  return radl;
}

export async function getVmInfo(services: Services, auth: AuthItem[], infId: string, vmId: string | number): Promise<Radl> {
  const { inf, value: live } = await callerInfraAnd(services, auth, infId, () => getLiveVm(services, infId, vmId));
  const vm = await refreshVm(services, inf, live);
  return currentVmRadl(vm);
}
