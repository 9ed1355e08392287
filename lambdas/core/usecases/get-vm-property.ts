/**
 * GetVMProperty: one feature of the VM system (refreshed): numbers in base units (bytes), strings,
 * string lists, or for `contains` features the feature sets. Undefined when the VM has no such
 * feature (REST answers 404 `Incorrect property <prop> for VM ID <id>`).
 */
import type { AuthItem, Services } from '#core/types';
import type { Features } from '#radl/index';
import { refreshVm } from '#core/vm-refresh';
import { callerInfraAnd, getLiveVm } from '#core/usecases/common';
import { currentVmRadl } from '#core/usecases/get-vm-info';

export type VmPropertyValue = number | string | string[] | { contains: Features[] };

export async function getVmProperty(
  services: Services,
  auth: AuthItem[],
  infId: string,
  vmId: string | number,
  prop: string,
): Promise<VmPropertyValue | undefined> {
  const { inf, value: live } = await callerInfraAnd(services, auth, infId, () => getLiveVm(services, infId, vmId));
  const vm = await refreshVm(services, inf, live);
  const sys = currentVmRadl(vm).systems[0];
  if (!sys) return undefined;
  const contains = sys.getContains(prop);
  if (contains.length > 0) return { contains };
  return sys.getValue(prop);
}
