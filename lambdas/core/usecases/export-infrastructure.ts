/**
 * ExportInfrastructure: the infrastructure as a JSON string with IM's export keys
 * (lifecycle.md §7) plus lossless RADL-JSON copies (`radl_json`, `info_json`). Owners are
 * exported as their salted hashes only; cloud credentials are never exported. `delete` also marks
 * the infrastructure deleted without touching its VMs (refused in BOOT_MODE 1).
 */
import { errors } from '#core/errors';
import type { AuthItem, Services, VmRecord } from '#core/types';
import { radlToText, type Radl } from '#radl/index';
import { mutateInfrastructure } from '#core/mutate';
import { callerAndInfra, deletedPatch, infraRadl, vmRadl } from '#core/usecases/common';

function safeText(make: () => Radl): string {
  try {
    return radlToText(make());
  } catch {
    return '';
  }
}

function exportVm(vm: VmRecord, log: string) {
  return {
    id: vm.providerId ?? null,
    im_id: vm.vmId,
    creation_im_id: vm.vmId,
    state: vm.state,
    destroy: vm.destroyed,
    deleting: vm.deleting,
    creating: vm.creating,
    info: safeText(() => vmRadl(vm)),
    info_json: vm.info,
    requested_radl: vm.requestedRadl ? safeText(() => vmRadl({ info: vm.requestedRadl as string })) : '',
    requested_radl_json: vm.requestedRadl ?? null,
    cloud: { id: vm.cloudId, type: vm.cloudType },
    cloud_data: vm.cloudData ?? {},
    system_name: vm.systemName,
    cont_out: log,
    ctxt_state: vm.ctxtState,
    configured: vm.ctxtState === 'ok' ? true : vm.ctxtState === 'failed' ? false : null,
    error_msg: vm.errorMsg ?? null,
    launch_attempts: vm.launchAttempts ?? 0,
    last_update: Math.floor(vm.lastUpdate / 1000),
    creation_date: vm.createdAt / 1000,
  };
}

export async function exportInfrastructure(services: Services, auth: AuthItem[], infId: string, del = false): Promise<string> {
  if (del && services.config.BOOT_MODE === 1) throw errors.badRequest('Function currently disabled.');
  const { inf } = await callerAndInfra(services, auth, infId);
  const [vms, contOut] = await Promise.all([services.store.listVms(infId), services.store.getLog(infId, 'inf')]);
  const vmLogs = await Promise.all(vms.map((vm) => services.store.getLog(infId, vm.vmId)));
  const data = {
    id: inf.id,
    auth: inf.owners.map((o) => ({ type: 'InfrastructureManager', username: o.username, password_hash: o.passwordHash, used_token: o.usedToken })),
    radl: safeText(() => infraRadl(inf)),
    radl_json: inf.radl,
    vm_list: vms.map((vm, i) => exportVm(vm, vmLogs[i])),
    vm_master: inf.vmMaster ?? null,
    vm_id: inf.vmCounter,
    private_networks: inf.privateNetworks ?? {},
    system_counter: 0,
    deleted: inf.status === 'deleted',
    cont_out: contOut,
    configured: inf.configured ?? null,
    extra_info: inf.tosca ? { TOSCA: inf.tosca, ...(inf.extra ?? {}) } : (inf.extra ?? {}),
    snapshots: inf.snapshots ?? [],
    creation_date: inf.createdAt / 1000,
  };
  if (del) await mutateInfrastructure(services.store, infId, (cur) => (cur.status === 'deleted' ? undefined : deletedPatch(services)));
  return JSON.stringify(data);
}
