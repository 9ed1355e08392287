/**
 * StartVM / StopVM / RebootVM. Start and stop go through the `start` / `stop` workflows (one VM);
 * reboot calls the connector directly. The VM is refreshed afterwards (forced). Failure → 400
 * `Error starting|stopping|rebooting the VM: <msg>`.
 */
import { errors, toImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { refreshVm } from '#core/vm-refresh';
import { mutateInfrastructure } from '#core/mutate';
import {
  callerAndInfra,
  cloudAuthOf,
  connectorFor,
  effectiveCloudItems,
  getLiveVm,
  refreshedCloudAuth,
  requireWriteMode,
  waitSync,
} from '#core/usecases/common';
import { vmHandle } from '#core/vm-refresh';
import { executionError, loggedError } from '#core/usecases/workflow-errors';

export type VmOperation = 'start' | 'stop' | 'reboot';

const VERB: Record<VmOperation, string> = { start: 'starting', stop: 'stopping', reboot: 'rebooting' };

async function vmOperation(services: Services, auth: AuthItem[], infId: string, vmId: string | number, op: VmOperation): Promise<string> {
  requireWriteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const vm = await getLiveVm(services, infId, vmId);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const current = cloudAuth ? await mutateInfrastructure(services.store, infId, () => ({ cloudAuth })) : inf;
  const fail = (msg: string) => errors.badRequest(`Error ${VERB[op]} the VM: ${msg}`);
  if (op === 'reboot') {
    const item = cloudAuthOf(effectiveCloudItems(services, current, caller), vm.cloudId);
    try {
      await connectorFor(services, vm.cloudType).reboot(vmHandle(vm), item);
    } catch (err) {
      const e = toImError(err);
      if (e.code === 'INTERNAL') throw err;
      throw fail(e.message);
    }
  } else {
    const execution = await services.orchestrator.start(op, { infId, vmIds: [vm.vmId] });
    const status = await waitSync(services, execution);
    if (status !== 'SUCCEEDED' && status !== 'RUNNING') {
      const detail =
        (await loggedError(services, infId, vm.vmId, `Error ${VERB[op]} the VM: `)) ??
        (await executionError(services, execution, `Error ${VERB[op]} the infrastructure: `, { infId, scope: vm.vmId }));
      throw fail(detail ?? status);
    }
  }
  const fresh = await services.store.getVm(infId, vm.vmId);
  if (fresh) await refreshVm(services, current, fresh, { force: true }).catch(() => undefined);
  return '';
}

export const startVm = (s: Services, a: AuthItem[], infId: string, vmId: string | number) => vmOperation(s, a, infId, vmId, 'start');
export const stopVm = (s: Services, a: AuthItem[], infId: string, vmId: string | number) => vmOperation(s, a, infId, vmId, 'stop');
export const rebootVm = (s: Services, a: AuthItem[], infId: string, vmId: string | number) => vmOperation(s, a, infId, vmId, 'reboot');
