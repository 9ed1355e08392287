/**
 * RemoveResource (lifecycle.md §2): every id must be a live VM (404 `Invalid VM ID` /
 * `Deleted VM.`); the VMs are marked `deleting` and the `remove` workflow finalizes them (the
 * last VM of a cloud lets the connector delete shared resources) and re-contextualizes the rest
 * when `context`. Returns the number of VMs removed.
 */
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { executionError } from '#core/usecases/workflow-errors';
import { callerAndInfra, getLiveVm, parseVmId, refreshedCloudAuth, requireWriteMode, waitSync } from '#core/usecases/common';

/** `"1,2"`, `3`, `[1, 2]` → ids (404 `Invalid VM ID` on anything that is not a non-negative integer). */
export function parseVmIdList(vmIds: string | number | (string | number)[]): number[] {
  const list = Array.isArray(vmIds) ? vmIds : typeof vmIds === 'number' ? [vmIds] : vmIds.split(',');
  return [...new Set(list.map(parseVmId))];
}

export async function removeResource(
  services: Services,
  auth: AuthItem[],
  infId: string,
  vmIds: string | number | (string | number)[],
  opts: { context?: boolean } = {},
): Promise<number> {
  requireWriteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const ids = parseVmIdList(vmIds);
  await Promise.all(ids.map((id) => getLiveVm(services, infId, id)));
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  if (cloudAuth) await mutateInfrastructure(services.store, infId, () => ({ cloudAuth }));
  await Promise.all(ids.map((id) => mutateVm(services.store, infId, id, () => ({ deleting: true }))));
  const execution = await services.orchestrator.start('remove', { infId, vmIds: ids, context: opts.context ?? true });
  services.logger.info('Remove started', { infId, vmIds: ids, execution });
  const status = await waitSync(services, execution);
  if (status === 'RUNNING') return ids.length;
  const after = await Promise.all(ids.map((id) => services.store.getVm(infId, id)));
  const notRemoved = after.filter((vm) => vm && !vm.destroyed);
  if (notRemoved.length > 0) {
    const prefix = 'Error removing resources: ';
    const detail = await executionError(services, execution, prefix, { infId, scope: 'inf' });
    throw errors.badRequest(`${prefix}${detail ?? `[VMs ${notRemoved.map((vm) => vm?.vmId).join(', ')} not removed]`}`);
  }
  return ids.length;
}
