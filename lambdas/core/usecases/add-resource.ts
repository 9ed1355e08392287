/**
 * AddResource (lifecycle.md §2): merge the new RADL into the infrastructure, plan the new VMs
 * (defaults, deploy groups, cloud selection), record the intent (VM records `pending` with
 * `creating`, the add operation recorded on the infrastructure) and start the `launch` workflow, which does
 * the cloud work. Synchronous calls wait for the launches (SYNC_WAIT_SECONDS at most).
 */
import { errors } from '#core/errors';
import type { AuthItem, InfraRecord, Services, VmRecord } from '#core/types';
import { authenticate, type Caller } from '#core/auth';
import { randomUUID } from 'node:crypto';
import { releaseAddingOp as releaseOp } from '#core/mutate';
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
  updateInfFrom,
  waitSync,
  type RadlInput,
} from '#core/usecases/common';
import { mergeRadl } from '#core/usecases/radl-merge';
import { planDeploys, type DeployPlan, type PlannedVm } from '#core/usecases/deploy-plan';
import { addToscaResources } from '#core/usecases/add-tosca-resources';

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

/** Step 1-3 of AddResource, without side effects: the merged RADL and the VMs to create. */
export interface AddPlan {
  merged: Radl;
  mergedJson: string;
  plan: DeployPlan;
  /** New sealed cloud credentials when the caller brought new ones. */
  cloudAuth?: string;
  /** The new RADL has no deploy: only the definitions are updated. */
  noDeploy: boolean;
}

export function planAdd(services: Services, caller: Caller, inf: InfraRecord, radl: Radl): AddPlan {
  const merged = mergeRadl(infraRadl(inf), radl);
  checkRadl(merged);
  const noDeploy = radl.deploys.length === 0;
  const plan = noDeploy
    ? { vms: [], privateNetworks: inf.privateNetworks ?? {} }
    : planDeploys({
        radl: merged,
        deploys: radl.deploys,
        clouds: effectiveCloudItems(services, inf, caller),
        connectors: services.connectors,
        config: services.config,
        privateNetworks: inf.privateNetworks ?? {},
      });
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  return { merged, mergedJson: compact(merged), plan, noDeploy, ...(cloudAuth ? { cloudAuth } : {}) };
}

export const NO_DEPLOY_MSG = 'Infrastructure without any deploy. Exiting.';

/** The VM records of a plan (state pending / creating, or failed when no cloud could take the VM). */
export function plannedVmRecords(services: Services, infId: string, add: AddPlan, ids: number[]): VmRecord[] {
  return add.plan.vms.map((p, i) => vmRecord(services, infId, ids[i], add.merged, p));
}

/**
 * Writes the VM records of a plan (ids reserved, the add operation `op` recorded on the infrastructure)
 * unless `written` says they are stored already, and starts the launch; the launch workflow
 * releases `op` (released here when no launch starts). `wait` = synchronous call.
 */

export async function launchPlanned(
  services: Services,
  infId: string,
  add: AddPlan,
  ids: number[],
  opts: { op: string; context: boolean; wait: boolean; written?: VmRecord[] },
): Promise<AddOutcome> {
  let released = false;
  try {
    // `written`: the caller already stored them (with the infrastructure record, on creation).
    const records = opts.written ?? plannedVmRecords(services, infId, add, ids);
    if (!opts.written) await putVmRecords(services, records);
    const launchable = records.filter((r) => r.state !== 'failed').map((r) => r.vmId);
    if (launchable.length === 0) {
      const messages = records.map((r) => r.errorMsg ?? `VM ${r.vmId} failed`);
      await addContMsg(services, infId, `All VMs failed. No contextualize.\n${messages.join('\n')}`);
      return { vmIds: ids, allFailed: ids.length > 0, messages };
    }
    const execution = await services.orchestrator.start('launch', { infId, vmIds: launchable, addOp: opts.op, context: opts.context });
    released = true;
    services.logger.info('Launch started', { infId, vmIds: launchable, execution });
    if (!opts.wait) return { vmIds: ids, allFailed: false, messages: [] };
    const status = await waitSync(services, execution);
    if (status === 'RUNNING') return { vmIds: ids, allFailed: false, messages: [] };
    // The flow's output counts the failed VMs (both orchestrators keep a finished execution's result):
    // the VMs are read only when some failed.
    if (status === 'SUCCEEDED' && launchable.length === ids.length) {
      const out = (await services.orchestrator.describe?.(execution))?.output as { finish?: { failed?: unknown } } | undefined;
      if (out?.finish?.failed === 0) return { vmIds: ids, allFailed: false, messages: [] };
    }

    const idSet = new Set(ids);
    const after = (await services.store.listVms(infId)).filter((vm) => idSet.has(vm.vmId));
    const failed = after.filter((vm) => vm.state === 'failed');
    const messages = failed.map((vm) => vm.errorMsg ?? `VM ${vm.vmId} failed`);
    return { vmIds: ids, allFailed: failed.length === ids.length, messages };
  } finally {
    if (!released) {
      await releaseOp(services.store, infId, opts.op).catch((err: unknown) => services.logger.error('Could not release the add operation', { infId, err }));
    }
  }
}

/**
 * The add on an existing infrastructure: plan, record the intent (merged RADL, pins, the add operation
 * conditionally on the infrastructure still being active), reserve the ids, launch.
 */
export async function addResourceToInfra(
  services: Services,
  caller: Caller,
  inf: InfraRecord,
  radl: Radl,
  opts: { context: boolean; wait: boolean },
): Promise<AddOutcome> {
  // Planned on the record read; re-planned on the current one when a concurrent writer changed it
  // (the update is conditional on the version, so nobody's RADL changes are lost).
  let add = planAdd(services, caller, inf, radl);
  const replan = (cur: InfraRecord) => {
    if (cur.status !== 'active') throw deletedInfra();
    if (cur.version !== inf.version) add = planAdd(services, caller, cur, radl);
    return add.cloudAuth ? { cloudAuth: add.cloudAuth } : {};
  };
  if (add.noDeploy) {
    // As IM: an infrastructure that never got a deploy ends `failed` (its flag false), not `pending` for ever.
    await updateInfFrom(services, inf, (cur) => ({ ...replan(cur), radl: add.mergedJson, ...(cur.configured === undefined ? { configured: false } : {}) }));
    await addContMsg(services, inf.id, NO_DEPLOY_MSG);
    services.logger.info(NO_DEPLOY_MSG, { infId: inf.id });
    return { vmIds: [], allFailed: false, messages: [] };
  }
  const op = randomUUID();
  await updateInfFrom(services, inf, (cur) => {
    const extra = replan(cur);
    return { radl: add.mergedJson, privateNetworks: add.plan.privateNetworks, addingOps: [...(cur.addingOps ?? []), op], ...extra };
  });
  let ids: number[];
  try {
    ids = await services.store.reserveVmIds(inf.id, add.plan.vms.length);
  } catch (err) {
    await releaseOp(services.store, inf.id, op).catch(() => undefined);
    throw err;
  }
  return launchPlanned(services, inf.id, add, ids, { ...opts, op });
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
  if (input.format === 'tosca') {
    return addToscaResources(services, auth, infId, input.text, opts);
  }
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
