/**
 * Finalizing VMs in batches, for the destroy and remove flows (statemachines/destroy.asl.json,
 * remove.asl.json).
 *
 * VMs are finalized in reverse id order; the last VM of each cloud (its lowest id among the VMs to
 * finalize, when no other VM of that cloud stays) is finalized with `last=true` after all the others,
 * so that the connector can delete the resources they shared. One batch reads its VM records with one
 * Query, finalizes them with at most `concurrency` cloud calls in flight and records the destroyed ones
 * with one batched write. Every step is idempotent: destroyed VMs are skipped, so re-running a flow
 * after a partial failure (a retry, a resumed execution) completes it.
 */
import { authForCloud } from '#core/cloud-auth';
import { mapLimit } from '#core/concurrency';
import { ImError } from '#core/errors';
import { mutateVms } from '#core/mutate';
import type { Config } from '#core/config';
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { infraContext, vmHandle } from '#core/vm-refresh';
import { batchVms, planBatches } from '#orchestration/launch-support';
import { causeMessage, clip, errorMessage, flag, int, intList, str, type TaskPayload } from '#orchestration/task-support';

/** Which VMs a flow finalizes, in batches, and how many cloud calls run at once. */
export interface FinalizePlan {
  /** Batches of VM ids (reverse id order), finalized first with last=false; `maxConcurrency` batches at a time. */
  batches: number[][];
  /** Reverse id order, finalized afterwards (one task) with last=true. */
  lastVmIds: number[];
  maxConcurrency: number;
  /** Cloud calls in flight within one batch (maxConcurrency × this ≤ MAX_SIMULTANEOUS_LAUNCHES). */
  concurrency: number;
}

/** A batch's outcome as the flow carries it: `{vmIds, failed}` from the task, `{vmIds, error}` from its Catch. */
export interface BatchResult {
  vmIds?: number[];
  failed?: { vmId: number; error: string }[];
  error?: string;
}

/**
 * Splits VMs to finalize into the ordinary ones and, per cloud, the last one (lowest id) when no
 * VM of that cloud stays. Only launched VMs (with a provider id) count as holding cloud resources.
 */
export function finalizeOrder(toFinalize: VmRecord[], staying: VmRecord[]): { vmIds: number[]; lastVmIds: number[] } {
  const stayingClouds = new Set(staying.filter((v) => v.providerId).map((v) => v.cloudId));
  const lastOfCloud = new Map<string, number>();
  for (const vm of toFinalize) {
    if (!vm.providerId || stayingClouds.has(vm.cloudId)) continue;
    const cur = lastOfCloud.get(vm.cloudId);
    if (cur === undefined || vm.vmId < cur) lastOfCloud.set(vm.cloudId, vm.vmId);
  }
  const last = new Set(lastOfCloud.values());
  const desc = toFinalize.map((v) => v.vmId).sort((a, b) => b - a);
  return { vmIds: desc.filter((id) => !last.has(id)), lastVmIds: desc.filter((id) => last.has(id)) };
}

/** The plan for finalizing `toFinalize` while `staying` stay. */
export function finalizePlan(toFinalize: VmRecord[], staying: VmRecord[], config: Pick<Config, 'LAUNCH_BATCH_SIZE' | 'MAX_SIMULTANEOUS_LAUNCHES'>): FinalizePlan {
  const { vmIds, lastVmIds } = finalizeOrder(toFinalize, staying);
  const { batches, maxConcurrency, launchConcurrency } = planBatches(vmIds, config);
  return { batches, lastVmIds, maxConcurrency, concurrency: launchConcurrency };
}

/** Whether the whole plan fits one task (one batch): then the flow's first task does it all. */
export function fitsOneTask(plan: FinalizePlan, config: Pick<Config, 'LAUNCH_BATCH_SIZE'>): boolean {
  return plan.batches.flat().length + plan.lastVmIds.length <= config.LAUNCH_BATCH_SIZE;
}

/** What finalizing a set of VMs left: the failures by VM id, and whether one of them may pass on a retry. */
export interface FinalizeOutcome {
  failed: Map<number, string>;
  retryable: boolean;
}

/**
 * Finalizes the VMs of `vms` in `order` (ordinary ones first, then those of `lastIds` with last=true),
 * at most `concurrency` at once, and records the ones that succeeded (state off, destroyed) in one
 * batched write. VMs that never launched are only recorded.
 *
 * `wholeDestroy`: every live VM of an infrastructure that is marked deleted right after. Then the VM
 * records are written only when some finalize failed (the infrastructure may stay, and must show what is
 * gone): a deleted infrastructure's VMs are gone with it, and a re-run after a crash finalizes them again
 * (finalize is idempotent), so the 50-VM write is saved on the usual path.
 */
export async function finalizeVms(
  services: Services,
  inf: InfraRecord,
  vms: VmRecord[],
  lastIds: ReadonlySet<number>,
  concurrency: number,
  wholeDestroy = false,
): Promise<FinalizeOutcome> {
  const live = vms.filter((v) => !v.destroyed);
  const errs = new Map<number, unknown>();
  const one = async (vm: VmRecord, last: boolean): Promise<void> => {
    if (!vm.providerId) return;
    try {
      const connector = services.connectors.get(vm.cloudType);
      if (!connector) throw new ImError('BAD_REQUEST', `Cloud type ${vm.cloudType} not supported`);
      await connector.finalize(vmHandle(vm), last, authForCloud(infraContext(services, inf).auth, vm.cloudId));
    } catch (err) {
      errs.set(vm.vmId, err);
    }
  };
  await mapLimit(live.filter((v) => !lastIds.has(v.vmId)), concurrency, (vm) => one(vm, false));
  await mapLimit(live.filter((v) => lastIds.has(v.vmId)), concurrency, (vm) => one(vm, true));
  const ok = live.filter((v) => !errs.has(v.vmId));
  if (!wholeDestroy || errs.size > 0)
    await mutateVms(services.store, ok, (v) => (v.destroyed ? undefined : { state: 'off', destroyed: true, deleting: false, creating: false }));
  const failed = new Map<number, string>();
  let retryable = false;
  for (const [vmId, err] of errs) {
    failed.set(vmId, clip(errorMessage(err)));
    if (err instanceof ImError && err.code === 'CLOUD_RETRYABLE') retryable = true;
  }
  return { failed, retryable };
}

/** `VM <id>: <message>` lines, in the order of the ids. */
export function joinFailures(failed: Map<number, string>): string {
  return [...failed].map(([id, msg]) => `VM ${id}: ${msg}`).join('\n');
}

/** A retryable failure becomes the flow's CloudRetryable (the successes are already recorded). */
export function throwIfRetryable(outcome: FinalizeOutcome): void {
  if (outcome.retryable) throw new ImError('CLOUD_RETRYABLE', joinFailures(outcome.failed));
}

/**
 * Task `finalizeBatch` {infId, vmIds, last, concurrency}: one Map item of the destroy or remove flow
 * (or its last VMs, with last=true). Answers `{vmIds, failed}`; throws CloudRetryable when a failure
 * may pass on a retry.
 */
export async function finalizeBatch(services: Services, p: TaskPayload): Promise<Required<Omit<BatchResult, 'error'>>> {
  const infId = str(p, 'infId');
  const vmIds = (intList(p, 'vmIds') ?? []).reverse(); // reverse id order
  if (vmIds.length === 0) return { vmIds, failed: [] };
  const [inf, all] = await Promise.all([services.store.getInfrastructure(infId), services.store.listVms(infId)]);
  const vms = batchVms(all, vmIds);
  if (vms.length === 0) return { vmIds, failed: [] };
  if (!inf) throw new ImError('INF_NOT_FOUND', 'Invalid infrastructure ID or access not granted.');
  const last = flag(p, 'last');
  const outcome = await finalizeVms(services, inf, vms, new Set(last ? vmIds : []), Math.max(1, int(p, 'concurrency', 1)));
  throwIfRetryable(outcome);
  return { vmIds, failed: [...outcome.failed].map(([vmId, error]) => ({ vmId, error })) };
}

/**
 * The failures among the batches' results, as VM id → message: a task's `failed` entries, and for a
 * batch whose task failed (its Catch), every VM of the batch that is not destroyed.
 */
export function collectFailures(results: BatchResult[], vms: VmRecord[]): Map<number, string> {
  const live = new Set(vms.filter((v) => !v.destroyed).map((v) => v.vmId));
  const failed = new Map<number, string>();
  for (const r of results) {
    if (!r || typeof r !== 'object') continue;
    for (const f of r.failed ?? []) if (live.has(f.vmId)) failed.set(f.vmId, f.error);
    if (typeof r.error === 'string') {
      const message = clip(causeMessage(r.error));
      for (const id of r.vmIds ?? []) if (live.has(id) && !failed.has(id)) failed.set(id, message);
    }
  }
  return new Map([...failed].sort((a, b) => b[0] - a[0]));
}

/** The batches' results of the payload (`results`: the Map's, `lastResults`: the last VMs' task). */
export function batchResults(p: TaskPayload): BatchResult[] {
  const a = Array.isArray(p.results) ? (p.results as BatchResult[]) : [];
  const b = p.lastResults && typeof p.lastResults === 'object' ? [p.lastResults as BatchResult] : [];
  return [...a, ...b];
}
