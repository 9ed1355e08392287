/**
 * AddResource with a TOSCA body (rest-api.md §6.6, tosca.md §6): the stored template is deep-merged
 * with the posted one and translated against the current VMs; VMs to drop (removal_list, else the
 * oldest of the system) are removed first, then the missing ones are added; the merged template
 * replaces the stored one. Nothing added nor removed and `context` → a full reconfigure.
 */
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { authenticate } from '#core/auth';
import { checkRadl } from '#radl/index';
import { addResourceToInfra, addVmsError, type AddResourceOptions } from '#core/usecases/add-resource';
import { getInfraForCaller, liveVms, requireWriteMode, updateInfFrom, waitSync } from '#core/usecases/common';
import { removeResource } from '#core/usecases/remove-resource';
import { reconfigure } from '#core/usecases/reconfigure';
import { addResourcesRadl } from '#core/usecases/tosca';

export async function addToscaResources(services: Services, auth: AuthItem[], infId: string, text: string, opts: AddResourceOptions = {}): Promise<number[]> {
  requireWriteMode(services);
  const context = opts.context ?? true;
  const caller = await authenticate(services, auth);
  let inf = await getInfraForCaller(services, caller, infId);
  const vms = await liveVms(services, infId);
  const { radl, stored, removeVmIds } = await addResourcesRadl(services, inf, vms, text, caller);
  checkRadl(radl);
  const adding = radl.deploys.some((d) => d.vmNumber > 0);
  let removed = 0;
  if (removeVmIds.length > 0) {
    // Removed first; the contextualization runs once, after the add (or now when nothing is added).
    removed = await removeResource(services, auth, infId, removeVmIds, { context: context && !adding });
  }
  inf = await updateInfFrom(services, (await services.store.getInfrastructure(infId)) ?? inf, () => ({ tosca: stored }));
  if (!adding) {
    if (removed < removeVmIds.length) throw errors.notFound(`Error deleting resources ${JSON.stringify(removeVmIds)} (removed ${removed})`);
    // Only the definitions change (configures, contextualize, systems).
    await addResourceToInfra(services, caller, inf, radl, { context: false, wait: true });
    if (removeVmIds.length === 0 && context) await reconfigure(services, auth, infId);
    return [];
  }
  const outcome = await addResourceToInfra(services, caller, inf, radl, { context, wait: true });
  if (outcome.allFailed && outcome.vmIds.length > 0) {
    const execution = await services.orchestrator.start('remove', { infId, vmIds: outcome.vmIds, context: false });
    await waitSync(services, execution);
    throw addVmsError(outcome.messages);
  }
  return outcome.vmIds;
}
