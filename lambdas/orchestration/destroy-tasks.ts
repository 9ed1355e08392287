/**
 * Tasks of the destroy and remove flows (statemachines/destroy.asl.json, remove.asl.json).
 *
 * The first task plans the finalization (lambdas/orchestration/finalize-batch.ts). When every VM fits
 * one batch (LAUNCH_BATCH_SIZE, the common case) it does the whole work itself: one read of the record
 * and its VMs, the cloud calls, and one batched write of the results (plus the record's own write). A
 * bigger infrastructure goes through the flow's Map of batches, its last VMs, and a completing task.
 */
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { infraContext } from '#core/vm-refresh';
import { System } from '#radl/index';
import { mutateInfrastructure, mutateInfrastructureFrom, mutateVms } from '#core/mutate';
import { deletedPatch } from '#core/usecases/common';
import { batchVms, wantsContext } from '#orchestration/launch-support';
import {
  batchResults,
  collectFailures,
  finalizePlan,
  finalizeVms,
  fitsOneTask,
  joinFailures,
  throwIfRetryable,
  type FinalizePlan,
} from '#orchestration/finalize-batch';
import { caughtMessage, clip, errorMessage, executionInput, flag, intList, logLine, str, type TaskPayload } from '#orchestration/task-support';

export { finalizeOrder } from '#orchestration/finalize-batch';

/** A flow's first answer: the plan, or (done) the outcome of the work it did itself. */
type Prepared<T> = FinalizePlan & { done: boolean; ok: boolean; error: string } & T;

const NOTHING: FinalizePlan = { batches: [], lastVmIds: [], maxConcurrency: 1, concurrency: 1 };

/** The plan's VMs in finalize order (batches, then the last ones) and the set of the last ones. */
function planned(plan: FinalizePlan, vms: VmRecord[]): { ordered: VmRecord[]; last: Set<number> } {
  return { ordered: batchVms(vms, [...plan.batches.flat(), ...plan.lastVmIds]), last: new Set(plan.lastVmIds) };
}

/**
 * Marks the infrastructure deleting (when the caller has not) and plans the finalization of every live
 * VM; a destroy that fits one batch is done here, to the end (done: true).
 */
export async function prepareDestroy(services: Services, p: TaskPayload): Promise<Prepared<{ force: boolean }>> {
  const input = executionInput(p);
  const { store, config } = services;
  const force = flag(input, 'force');
  const [found, all] = await Promise.all([store.getInfrastructure(input.infId), store.listVms(input.infId)]);
  if (!found || found.status === 'deleted') return { ...NOTHING, done: true, ok: true, error: '', force };
  const inf = found.status === 'active' ? await mutateInfrastructureFrom(store, found, (i) => (i.status === 'active' ? { status: 'deleting' } : undefined)) : found;
  const live = all.filter((v) => !v.destroyed);
  const plan = finalizePlan(live, [], config);
  if (!fitsOneTask(plan, config)) return { ...plan, done: false, ok: true, error: '', force };
  const { ordered, last } = planned(plan, live);
  const outcome = await finalizeVms(services, inf, ordered, last, config.MAX_SIMULTANEOUS_LAUNCHES, true);
  throwIfRetryable(outcome);
  return { ...NOTHING, done: true, force, ...(await endDestroy(services, inf, outcome.failed, force)) };
}

/**
 * Task `completeDestroy`, after the Map of batches and the last VMs: the outcome of the finalizations
 * (see endDestroy).
 */
export async function completeDestroy(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const infId = str(p, 'infId');
  const [inf, vms] = await Promise.all([services.store.getInfrastructure(infId), services.store.listVms(infId)]);
  if (!inf || inf.status === 'deleted') return { ok: true, error: '' };
  return endDestroy(services, inf, collectFailures(batchResults(p), vms), flag(p, 'force'));
}

/**
 * The end of a destroy. Finalize errors without force: the infrastructure goes back to active with
 * `Error destroying the infrastructure: …` in its log (ok false). With force the errors are logged and
 * the destroy goes on. Then the auto_delete snapshots go, and the record is marked deleted
 * (deletedAt = now, expiresAt = the TTL, epoch s, now + DELETED_RETENTION_DAYS).
 */
async function endDestroy(services: Services, inf: InfraRecord, failed: Map<number, string>, force: boolean): Promise<{ ok: boolean; error: string }> {
  const { store } = services;
  if (failed.size > 0) {
    const error = `Error destroying the infrastructure: ${joinFailures(failed)}`;
    if (!force) {
      await Promise.all([
        mutateInfrastructureFrom(store, inf, (i) => (i.status === 'deleting' ? { status: 'active' } : undefined)),
        resetDeleting(services, inf.id, failed.keys()),
        logLine(services, inf.id, 'inf', error),
      ]);
      return { ok: false, error };
    }
    await logLine(services, inf.id, 'inf', `${error}\n(ignored: force)`);
  }
  const snapshots = inf.snapshots.length > 0 ? await deleteSnapshotsOf(services, inf) : inf.snapshots;
  const deleted = { ...deletedPatch(services), snapshots };
  await mutateInfrastructureFrom(store, inf, (i) => (i.status === 'deleted' ? undefined : deleted));
  return { ok: true, error: '' };
}

/**
 * Plans the removal of the given VMs (unknown or already destroyed ids are skipped) and marks them
 * deleting (one batched write), so that a launch in flight finalizes what it creates for them;
 * `contextualize` unless the input says `context: false`. A removal that fits one batch is done here.
 */
export async function prepareRemove(services: Services, p: TaskPayload): Promise<Prepared<{ contextualize: boolean; removed: number }>> {
  const input = executionInput(p);
  const { store, config } = services;
  const ids = new Set(intList(input, 'vmIds') ?? []);
  const contextualize = wantsContext(input);
  const [inf, all] = await Promise.all([store.getInfrastructure(input.infId), store.listVms(input.infId)]);
  const live = all.filter((v) => !v.destroyed);
  const staying = live.filter((v) => !ids.has(v.vmId));
  const toRemove = await mutateVms(store, live.filter((v) => ids.has(v.vmId)), (v) => (v.destroyed || v.deleting ? undefined : { deleting: true }));
  const plan = finalizePlan(toRemove, staying, config);
  if (!inf || !fitsOneTask(plan, config)) return { ...plan, done: !inf, ok: true, error: '', contextualize, removed: 0 };
  const { ordered, last } = planned(plan, toRemove);
  const outcome = await finalizeVms(services, inf, ordered, last, config.MAX_SIMULTANEOUS_LAUNCHES);
  throwIfRetryable(outcome);
  return { ...NOTHING, done: true, contextualize, ...(await endRemove(services, inf.id, outcome.failed, toRemove.length)) };
}

/** VMs left `deleting` by a failed finalize go back to their state. */
async function resetDeleting(services: Services, infId: string, vmIds: Iterable<number>): Promise<void> {
  const ids = new Set(vmIds);
  if (ids.size === 0) return;
  const vms = (await services.store.listVms(infId)).filter((v) => ids.has(v.vmId) && v.deleting && !v.destroyed);
  await mutateVms(services.store, vms, (v) => (v.deleting && !v.destroyed ? { deleting: false } : undefined));
}

/** The cloud (auth item and connector) an image URL belongs to: the first whose connector accepts it. */
function imageOwner(services: Services, inf: InfraRecord, url: string) {
  const probe = new System('snapshot');
  probe.setValue('disk.0.image.url', url);
  for (const auth of infraContext(services, inf).auth) {
    const connector = services.connectors.get(auth.type);
    try {
      if (connector && connector.concreteSystem(probe, auth).length > 0) return { connector, auth };
    } catch {
      // Not this cloud.
    }
  }
  return undefined;
}

/** Deletes the auto_delete snapshots of `inf`; errors go to the infrastructure log. Returns the URLs kept. */
async function deleteSnapshotsOf(services: Services, inf: InfraRecord): Promise<string[]> {
  const kept: string[] = [];
  for (const url of inf.snapshots) {
    const owner = imageOwner(services, inf, url);
    try {
      if (!owner) throw new Error('no cloud of the infrastructure accepts this image');
      await owner.connector.deleteImage(url, owner.auth);
    } catch (err) {
      kept.push(url);
      await logLine(services, inf.id, 'inf', `Error deleting the snapshot ${url}: ${clip(errorMessage(err))}`);
    }
  }
  return kept;
}

/**
 * Catch of the destroy flow (and the close of an interrupted destroy): without force, back to active with
 * the VMs' deleting flags reset and the error in the log; with force, the error is logged and the
 * infrastructure is marked deleted all the same (force always deletes).
 */
export async function restoreInfrastructure(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const infId = str(p, 'infId');
  const error = `Error destroying the infrastructure: ${clip(caughtMessage(p.error))}`;
  const inf = await services.store.getInfrastructure(infId);
  if (!inf || inf.status === 'deleted') return { ok: false, error };
  const input = p.input && typeof p.input === 'object' ? (p.input as Record<string, unknown>) : {};
  if (flag(p, 'force') || flag(input, 'force')) {
    await logLine(services, infId, 'inf', `${error}\n(ignored: force)`);
    const deleted = deletedPatch(services);
    await mutateInfrastructure(services.store, infId, (i) => (i.status === 'deleted' ? undefined : deleted));
    return { ok: true, error: '' };
  }
  await mutateInfrastructure(services.store, infId, (i) => (i.status === 'deleting' ? { status: 'active' } : undefined));
  const stuck = (await services.store.listVms(infId)).filter((v) => v.deleting && !v.destroyed).map((v) => v.vmId);
  await resetDeleting(services, infId, stuck);
  await logLine(services, infId, 'inf', error);
  return { ok: false, error };
}

/** Task `completeRemove`, after the Map of batches and the last VMs of a remove (see endRemove). */
export async function completeRemove(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string; removed: number }> {
  const infId = str(p, 'infId');
  const results = batchResults(p);
  const planned = new Set(results.flatMap((r) => r?.vmIds ?? []));
  return endRemove(services, infId, collectFailures(results, await services.store.listVms(infId)), planned.size);
}

/** The end of a remove: errors → `Error removing resources: …` in the log and the VMs' deleting flags reset (ok false). */
async function endRemove(services: Services, infId: string, failed: Map<number, string>, planned: number): Promise<{ ok: boolean; error: string; removed: number }> {
  const removed = planned - failed.size;
  if (failed.size === 0) return { ok: true, error: '', removed };
  const error = `Error removing resources: ${joinFailures(failed)}`;
  await Promise.all([resetDeleting(services, infId, failed.keys()), logLine(services, infId, 'inf', error)]);
  return { ok: false, error, removed };
}

/** Catch of the remove flow: VMs not removed lose their deleting flag; the error goes to the log. */
export async function recordRemoveFailure(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string; removed: number }> {
  const input = executionInput(p);
  const error = `Error removing resources: ${clip(caughtMessage(p.error))}`;
  const ids = new Set(intList(input, 'vmIds') ?? []);
  const vms = await services.store.listVms(input.infId);
  await resetDeleting(
    services,
    input.infId,
    vms.filter((v) => ids.has(v.vmId) && v.deleting && !v.destroyed).map((v) => v.vmId),
  );
  await logLine(services, input.infId, 'inf', error);
  return { ok: false, error, removed: vms.filter((v) => ids.has(v.vmId) && v.destroyed).length };
}
