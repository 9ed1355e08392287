/**
 * CreateDiskSnapshot: the connector snapshots disk `diskNum` of the VM into a new image and
 * returns its URL in IM form; `autoDelete` images are deleted when the infrastructure is destroyed.
 */
import { errors, toImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { mutateInfrastructure } from '#core/mutate';
import {
  callerAndInfra,
  cloudAuthOf,
  connectorFor,
  effectiveCloudItems,
  getLiveVm,
  refreshedCloudAuth,
  requireWriteMode,
} from '#core/usecases/common';
import { vmHandle } from '#core/vm-refresh';

export async function createDiskSnapshot(
  services: Services,
  auth: AuthItem[],
  infId: string,
  vmId: string | number,
  diskNum: number,
  imageName: string,
  autoDelete: boolean,
): Promise<string> {
  requireWriteMode(services);
  if (!imageName) throw errors.badRequest('Parameter image_name required.');
  if (!Number.isInteger(diskNum) || diskNum < 0) throw errors.badRequest(`Incorrect disk number: ${diskNum}`);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const vm = await getLiveVm(services, infId, vmId);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const item = cloudAuthOf(effectiveCloudItems(services, inf, caller), vm.cloudId);
  let url: string;
  try {
    url = await connectorFor(services, vm.cloudType).createSnapshot(vmHandle(vm), diskNum, imageName, autoDelete, item);
  } catch (err) {
    const e = toImError(err);
    if (e.code === 'INTERNAL') throw err;
    throw errors.badRequest(e.message);
  }
  if (autoDelete || cloudAuth) {
    await mutateInfrastructure(services.store, infId, (cur) => ({
      ...(autoDelete ? { snapshots: [...(cur.snapshots ?? []), url] } : {}),
      ...(cloudAuth ? { cloudAuth } : {}),
    }));
  }
  return url;
}
