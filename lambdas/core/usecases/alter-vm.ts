/**
 * AlterVM: the body must hold a system named like the VM's system; the connector resizes the VM
 * (`alterVm`) and the VM record takes the new system. Returns the VM RADL after a forced refresh.
 */
import { errors, toImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { radlToJsonString, type Radl } from '#radl/index';
import { refreshVm } from '#core/vm-refresh';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import {
  callerAndInfra,
  cloudAuthOf,
  connectorFor,
  effectiveCloudItems,
  getLiveVm,
  parseRadlInput,
  refreshedCloudAuth,
  requireWriteMode,
  vmRadl,
  type RadlInput,
} from '#core/usecases/common';
import { vmHandle } from '#core/vm-refresh';
import { currentVmRadl } from '#core/usecases/get-vm-info';
import { createRadl, loadInput } from '#core/usecases/tosca';

export async function alterVm(services: Services, auth: AuthItem[], infId: string, vmId: string | number, input: RadlInput): Promise<Radl> {
  requireWriteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const vm = await getLiveVm(services, infId, vmId);
  const radl = input.format === 'tosca' ? createRadl(services, await loadInput(services, input.text, caller), infId) : parseRadlInput(input);
  const system = radl.getSystemByName(vm.systemName);
  if (!system || system.reference) throw errors.badRequest(`Incorrect RADL no system with name ${vm.systemName} provided.`);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const current = cloudAuth ? await mutateInfrastructure(services.store, infId, () => ({ cloudAuth })) : inf;
  const item = cloudAuthOf(effectiveCloudItems(services, current, caller), vm.cloudId);
  let update;
  try {
    update = await connectorFor(services, vm.cloudType).alterVm(vmHandle(vm), system, item);
  } catch (err) {
    const e = toImError(err);
    if (e.code === 'INTERNAL') throw err;
    throw errors.badRequest(`Error modifying the information about the VM ${vm.vmId}: ${e.message}`);
  }
  const altered = await mutateVm(services.store, infId, vm.vmId, (cur) => {
    const r = vmRadl(cur);
    r.systems = [update.system];
    return { info: radlToJsonString(r, 0), state: update.state, ...(update.cloudData ? { cloudData: update.cloudData } : {}) };
  });
  const fresh = await refreshVm(services, current, altered, { force: true });
  return currentVmRadl(fresh);
}
