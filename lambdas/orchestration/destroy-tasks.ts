/**
 * Tasks of the destroy and remove flows (statemachines/destroy.asl.json, remove.asl.json).
 *
 * VMs are finalized in reverse id order; the last VM of each cloud (its lowest id among the VMs to
 * finalize, when no other VM of that cloud stays) is finalized with `last=true` after all the
 * others, so that the connector can delete the resources they shared. Every step is idempotent:
 * destroyed VMs are skipped, so re-running a flow after a partial failure completes it.
 */
import { authForCloud } from '#core/cloud-auth';
import { ImError } from '#core/errors';
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { infraContext, vmHandle } from '#core/vm-refresh';
import { System } from '#radl/index';
import { mutateInfrastructure, mutateVm } from '#core/mutate';
import { wantsContext } from '#orchestration/launch-tasks';
import {
  caughtMessage,
  causeMessage,
  clip,
  errorMessage,
  executionInput,
  flag,
  int,
  intList,
  logLine,
  str,
  updateVmFrom,
  type TaskPayload,
} from '#orchestration/task-support';

/** Which VMs a flow finalizes, and how many at a time. */
export interface FinalizePlan {
  /** Reverse id order, finalized first with last=false. */
  vmIds: number[];
  /** Reverse id order, finalized afterwards with last=true. */
  lastVmIds: number[];
  maxConcurrency: number;
}

/** One Map item's result: `{vmId}` or `{vmId, error}` (the Catch's Cause). */
interface FinalizeResult {
  vmId?: number;
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

/** Marks the infrastructure deleting and plans the finalization of every live VM. */
export async function prepareDestroy(services: Services, p: TaskPayload): Promise<FinalizePlan & { force: boolean }> {
  const input = executionInput(p);
  const { store, config } = services;
  const force = flag(input, 'force');
  const inf = await store.getInfrastructure(input.infId);
  if (!inf || inf.status === 'deleted') return { vmIds: [], lastVmIds: [], maxConcurrency: config.MAX_SIMULTANEOUS_LAUNCHES, force };
  if (inf.status === 'active') await mutateInfrastructure(store, inf.id, (i) => (i.status === 'active' ? { status: 'deleting' } : undefined));
  const live = (await store.listVms(inf.id)).filter((v) => !v.destroyed);
  return { ...finalizeOrder(live, []), maxConcurrency: config.MAX_SIMULTANEOUS_LAUNCHES, force };
}

/**
 * Plans the removal of the given VMs (unknown or already destroyed ids are skipped);
 * `contextualize` unless the input says `context: false`.
 */
export async function prepareRemove(services: Services, p: TaskPayload): Promise<FinalizePlan & { contextualize: boolean }> {
  const input = executionInput(p);
  const ids = new Set(intList(input, 'vmIds') ?? []);
  const live = (await services.store.listVms(input.infId)).filter((v) => !v.destroyed);
  const toRemove = live.filter((v) => ids.has(v.vmId));
  const staying = live.filter((v) => !ids.has(v.vmId));
  return { ...finalizeOrder(toRemove, staying), maxConcurrency: services.config.MAX_SIMULTANEOUS_LAUNCHES, contextualize: wantsContext(input) };
}

/**
 * Finalizes one VM at its provider (skipped when it never launched) and marks it destroyed (state
 * off). Connector errors propagate (CloudRetryable is retried by the flow); the VM keeps
 * `deleting` until the check step resets it.
 */
export async function finalizeVm(services: Services, p: TaskPayload): Promise<{ vmId: number }> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const last = flag(p, 'last');
  const { store } = services;
  const [inf, vm] = await Promise.all([store.getInfrastructure(infId), store.getVm(infId, vmId)]);
  if (!vm || vm.destroyed) return { vmId };
  let current = vm;
  if (vm.providerId) {
    if (!inf) throw new ImError('INF_NOT_FOUND', 'Invalid infrastructure ID or access not granted.');
    const connector = services.connectors.get(vm.cloudType);
    if (!connector) throw new ImError('BAD_REQUEST', `Cloud type ${vm.cloudType} not supported`);
    const ctx = infraContext(services, inf);
    const auth = authForCloud(ctx.auth, vm.cloudId);
    current = await updateVmFrom(store, vm, (v) => (v.deleting ? undefined : { deleting: true }));
    await connector.finalize(vmHandle(current), last, auth);
  }
  await updateVmFrom(store, current, (v) => (v.destroyed ? undefined : { state: 'off', destroyed: true, deleting: false, creating: false }));
  return { vmId };
}

/** The failures among Map results, as `VM <id>: <message>` lines, and the ids that succeeded. */
function collect(results: unknown[]): { failed: Map<number, string>; ok: number[] } {
  const failed = new Map<number, string>();
  const ok: number[] = [];
  for (const r of results as FinalizeResult[]) {
    if (typeof r?.vmId !== 'number') continue;
    if (typeof r.error === 'string') failed.set(r.vmId, clip(causeMessage(r.error)));
    else ok.push(r.vmId);
  }
  return { failed, ok };
}

function resultLists(p: TaskPayload): unknown[] {
  const a = Array.isArray(p.results) ? p.results : [];
  const b = Array.isArray(p.lastResults) ? p.lastResults : [];
  return [...a, ...b];
}

/** VMs left `deleting` by a failed finalize go back to their state. */
async function resetDeleting(services: Services, infId: string, vmIds: Iterable<number>): Promise<void> {
  for (const vmId of vmIds) {
    const vm = await services.store.getVm(infId, vmId);
    if (vm && vm.deleting && !vm.destroyed) await mutateVm(services.store, infId, vmId, (v) => (v.deleting && !v.destroyed ? { deleting: false } : undefined));
  }
}

function joinFailures(failed: Map<number, string>): string {
  return [...failed].map(([id, msg]) => `VM ${id}: ${msg}`).join('\n');
}

/**
 * After the finalize Maps of a destroy. Errors without force: the infrastructure goes back to
 * active with `Error destroying the infrastructure: …` in its log (ok false). With force the
 * errors are logged and the destroy goes on.
 */
export async function checkDestroy(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const infId = str(p, 'infId');
  const { failed } = collect(resultLists(p));
  if (failed.size === 0) return { ok: true, error: '' };
  await resetDeleting(services, infId, failed.keys());
  const error = `Error destroying the infrastructure: ${joinFailures(failed)}`;
  if (flag(p, 'force')) {
    await logLine(services, infId, 'inf', `${error}\n(ignored: force)`);
    return { ok: true, error: '' };
  }
  await mutateInfrastructure(services.store, infId, (i) => (i.status === 'deleting' ? { status: 'active' } : undefined));
  await logLine(services, infId, 'inf', error);
  return { ok: false, error };
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

/** Deletes the auto_delete snapshots; errors go to the infrastructure log and keep the URL listed. */
export async function deleteSnapshots(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const infId = str(p, 'infId');
  const inf = await services.store.getInfrastructure(infId);
  if (!inf || inf.snapshots.length === 0) return {};
  const kept: string[] = [];
  for (const url of inf.snapshots) {
    const owner = imageOwner(services, inf, url);
    try {
      if (!owner) throw new Error('no cloud of the infrastructure accepts this image');
      await owner.connector.deleteImage(url, owner.auth);
    } catch (err) {
      kept.push(url);
      await logLine(services, infId, 'inf', `Error deleting the snapshot ${url}: ${clip(errorMessage(err))}`);
    }
  }
  await mutateInfrastructure(services.store, infId, () => ({ snapshots: kept }));
  return {};
}

/** status deleted, deletedAt = now, expiresAt (TTL, epoch s) = now + DELETED_RETENTION_DAYS. */
export async function markDeleted(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const infId = str(p, 'infId');
  const inf = await services.store.getInfrastructure(infId);
  if (!inf || inf.status === 'deleted') return {};
  const now = services.now();
  const expiresAt = Math.floor(now / 1000 + services.config.DELETED_RETENTION_DAYS * 86_400);
  await mutateInfrastructure(services.store, infId, (i) => (i.status === 'deleted' ? undefined : { status: 'deleted', deletedAt: now, expiresAt }));
  return {};
}

/** Catch of the destroy flow: back to active, VMs' deleting flags reset, the error in the log. */
export async function restoreInfrastructure(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const infId = str(p, 'infId');
  const error = `Error destroying the infrastructure: ${clip(caughtMessage(p.error))}`;
  const inf = await services.store.getInfrastructure(infId);
  if (inf) {
    await mutateInfrastructure(services.store, infId, (i) => (i.status === 'deleting' ? { status: 'active' } : undefined));
    const stuck = (await services.store.listVms(infId)).filter((v) => v.deleting && !v.destroyed).map((v) => v.vmId);
    await resetDeleting(services, infId, stuck);
    await logLine(services, infId, 'inf', error);
  }
  return { ok: false, error };
}

/** After the finalize Maps of a remove: errors → `Error removing resources: …` in the log (ok false). */
export async function checkRemove(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string; removed: number }> {
  const infId = str(p, 'infId');
  const { failed, ok } = collect(resultLists(p));
  if (failed.size === 0) return { ok: true, error: '', removed: ok.length };
  await resetDeleting(services, infId, failed.keys());
  const error = `Error removing resources: ${joinFailures(failed)}`;
  await logLine(services, infId, 'inf', error);
  return { ok: false, error, removed: ok.length };
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
