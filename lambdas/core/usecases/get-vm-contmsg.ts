/** GetVMContMsg: `<error message>\n` (when the launch failed) followed by the VM's contextualization log. */
import type { AuthItem, Services, VmRecord } from '#core/types';
import { callerInfraAnd, getLiveVm } from '#core/usecases/common';

export async function vmContMsg(services: Services, vm: VmRecord): Promise<string> {
  const log = await services.store.getLog(vm.infId, vm.vmId);
  return (vm.errorMsg ? `${vm.errorMsg}\n` : '') + log;
}

export async function getVmContMsg(services: Services, auth: AuthItem[], infId: string, vmId: string | number): Promise<string> {
  const { value: vm } = await callerInfraAnd(services, auth, infId, () => getLiveVm(services, infId, vmId));
  return vmContMsg(services, vm);
}
