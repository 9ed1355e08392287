/**
 * AddResource (lifecycle.md §2): merge the new RADL into the infrastructure, plan the new VMs
 * (defaults, deploy groups, cloud selection), record the intent (VM records `pending` with
 * `creating`, `adding` bumped on the infrastructure) and start the `launch` workflow, which does
 * the cloud work. Synchronous calls wait for the launches (SYNC_WAIT_SECONDS at most).
 */
import { errors } from '#core/errors';
import type { AuthItem, InfraRecord, Services, VmRecord } from '#core/types';
import { authenticate, type Caller } from '#core/auth';
import { mutateInfrastructure } from '#store/mutate';
import { checkRadl, radlToJsonString, systemRadl, type Radl } from '#radl/index';
import {
  addContMsg,
  effectiveCloudItems,
  getInfraForCaller,
  infraRadl,
  parseRadlInput,
  putVmRecords,
  refreshedCloudAuth,
  requireWriteMode,
  waitSync,
  type RadlInput,
} from '#core/usecases/common';
import { mergeRadl } from '#core/usecases/radl-merge';
import { planDeploys, type PlannedVm } from '#core/usecases/deploy-plan';

export interface AddResourceOptions {
  /** Contextualize after adding (default true). */
  context?: boolean;
}

/** What the internal add returns: the new VM ids, and whether every one of them failed. */
export interface AddOutcome {
  vmIds: number[];
  allFailed: boolean;
  /** Per-VM error messages of the failed VMs. */
  messages: string[];
}

const compact = (radl: Radl) => radlToJsonString(radl, 0);

function vmRecord(services: Services, infId: string, vmId: number, merged: Radl, p: PlannedVm): VmRecord {
  const now = services.now();
  const failed = p.error !== undefined || p.concrete === undefined;
  const system = (p.concrete ?? p.requested).clone();
  return {
    infId,
    vmId,
    version: 1,
    cloudId: p.cloud.id as string,
    cloudType: p.cloud.type,
    systemName: p.deploy.systemId,
    state: failed ? 'failed' : 'pending',
    creating: !failed,
    destroyed: false,
    deleting: false,
    info: compact(systemRadl(merged, system)),
    requestedRadl: compact(systemRadl(merged, p.requested)),
    ...(failed ? { errorMsg: p.error ?? 'No concrete system' } : {}),
    ctxtState: 'none',
    lastUpdate: 0,
    createdAt: now,
  };
}

const deletedInfra = () => errors.badRequest('Infrastructure deleted. Do not add resources.');

/**
 * The add itself, shared by CreateInfrastructure. `wait` = synchronous call. Returns the new ids
 * (also when all failed: the caller decides what to do then).
 */
export async function addResourceToInfra(
  services: Services,
  caller: Caller,
  inf: InfraRecord,
  radl: Radl,
  opts: { context: boolean; wait: boolean },
): Promise<AddOutcome> {
  const merged = mergeRadl(infraRadl(inf), radl);
  checkRadl(merged);
  const clouds = effectiveCloudItems(services, inf, caller);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  const mergedJson = compact(merged);

  if (radl.deploys.length === 0) {
    await mutateInfrastructure(services.store, inf.id, (cur) => {
      if (cur.status !== 'active') throw deletedInfra();
      return { radl: mergedJson, ...(cloudAuth ? { cloudAuth } : {}) };
    });
    await addContMsg(services, inf.id, 'Infrastructure without any deploy. Exiting.');
    services.logger.info('Infrastructure without any deploy. Exiting.', { infId: inf.id });
    return { vmIds: [], allFailed: false, messages: [] };
  }

  const plan = planDeploys({
    radl: merged,
    deploys: radl.deploys,
    clouds,
    connectors: services.connectors,
    config: services.config,
    privateNetworks: inf.privateNetworks ?? {},
  });

  // Record the intent: merged RADL, pins, one more add in flight (destroy answers 409 meanwhile).
  await mutateInfrastructure(services.store, inf.id, (cur) => {
    if (cur.status !== 'active') throw deletedInfra();
    return {
      radl: mergedJson,
      privateNetworks: plan.privateNetworks,
      adding: (cur.adding ?? 0) + 1,
      ...(cloudAuth ? { cloudAuth } : {}),
    };
  });
  // From here on the counter is released by the launch workflow (releaseAdding), or below when
  // no launch could be started.
  let released = false;
  try {
    const ids = await services.store.reserveVmIds(inf.id, plan.vms.length);
    const records = plan.vms.map((p, i) => vmRecord(services, inf.id, ids[i], merged, p));
    await putVmRecords(services, records);
    const launchable = records.filter((r) => r.state !== 'failed').map((r) => r.vmId);
    if (launchable.length === 0) {
      const messages = records.map((r) => r.errorMsg ?? `VM ${r.vmId} failed`);
      await addContMsg(services, inf.id, `All VMs failed. No contextualize.\n${messages.join('\n')}`);
      return { vmIds: ids, allFailed: true, messages };
    }
    const execution = await services.orchestrator.start('launch', {
      infId: inf.id,
      vmIds: launchable,
      releaseAdding: true,
      context: opts.context,
    });
    released = true;
    services.logger.info('Launch started', { infId: inf.id, vmIds: launchable, execution });
    if (!opts.wait || (await waitSync(services, execution)) === 'RUNNING') return { vmIds: ids, allFailed: false, messages: [] };

    const idSet = new Set(ids);
    const after = (await services.store.listVms(inf.id)).filter((vm) => idSet.has(vm.vmId));
    const failed = after.filter((vm) => vm.state === 'failed');
    const messages = failed.map((vm) => vm.errorMsg ?? `VM ${vm.vmId} failed`);
    return { vmIds: ids, allFailed: failed.length === ids.length, messages };
  } finally {
    if (!released) {
      await mutateInfrastructure(services.store, inf.id, (cur) => (cur.adding > 0 ? { adding: cur.adding - 1 } : undefined)).catch((err: unknown) =>
        services.logger.error('Could not release the adding counter', { infId: inf.id, err }),
      );
    }
  }
}

export const addVmsError = (messages: string[]) => errors.badRequest(`Error adding VMs: ${messages.join('\n')}`);

/** AddResource: returns the ids of the new VMs. */
export async function addResource(
  services: Services,
  auth: AuthItem[],
  infId: string,
  input: RadlInput,
  opts: AddResourceOptions = {},
): Promise<number[]> {
  requireWriteMode(services);
  const caller = await authenticate(services, auth);
  const inf = await getInfraForCaller(services, caller, infId);
  const radl = parseRadlInput(input);
  const outcome = await addResourceToInfra(services, caller, inf, radl, { context: opts.context ?? true, wait: true });
  if (outcome.allFailed && outcome.vmIds.length > 0) {
    // The failed VMs are finalized (they may have left cloud resources behind) and removed.
    const execution = await services.orchestrator.start('remove', { infId, vmIds: outcome.vmIds, context: false });
    await waitSync(services, execution);
    throw addVmsError(outcome.messages);
  }
  return outcome.vmIds;
}
