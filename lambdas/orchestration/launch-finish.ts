/**
 * The end of a launch (statemachines/launch.asl.json): after the batches, nothing of the launch stays
 * being created; its add operation is released; when the RADL disables contextualization, its one
 * step runs here too (no contextualize execution to start). The Catch paths: a batch whose task failed
 * unexpectedly (markBatchFailed), and the whole flow (markLaunchFailed).
 */
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { infraContext } from '#core/vm-refresh';
import { mutateInfrastructure, mutateVms } from '#core/mutate';
import { isInfraCtxtDisabled } from '#core/ctxt-rules';
import { configureWithoutAnsible } from '#orchestration/contextualize-tasks';
import { batchVms, failurePatch, wantsContext } from '#orchestration/launch-support';
import { caughtMessage, clip, executionInput, intList, logLine, str, type TaskPayload } from '#orchestration/task-support';

/** Still in its launch phase: being created, or running without an SSH outcome (when one is due). */
function unfinished(vm: VmRecord, contextualize: boolean): boolean {
  if (vm.destroyed) return false;
  return vm.creating || (contextualize && vm.ctxtState === 'none' && vm.providerId !== undefined && vm.state === 'running');
}

/** An unexpected error in a batch's tasks: its VMs still in their launch phase end in a final state, with the error. */
export async function markBatchFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const infId = str(p, 'infId');
  const message = clip(caughtMessage(p.error));
  const contextualize = wantsContext(p);
  const [inf, all] = await Promise.all([services.store.getInfrastructure(infId), services.store.listVms(infId)]);
  const vms = batchVms(all, intList(p, 'vmIds') ?? []).filter((v) => unfinished(v, contextualize));
  await mutateVms(services.store, vms, (v) => (unfinished(v, contextualize) ? failurePatch(v, message, inf?.configured) : undefined));
  await Promise.all(vms.filter((v) => v.providerId).map((v) => logLine(services, infId, v.vmId, `Error launching the VM: ${message}`)));
  return {};
}

/**
 * After the batches: VMs of the launch still being created end failed; the add operation of the input
 * (`addOp`) is released; when no VM launched, IM's `All VMs failed. No contextualize.` goes to the log.
 * With `contextualize ()` the disabled contextualization's step runs here (ctxtDisabled: the flow ends).
 */
export async function finishLaunch(services: Services, p: TaskPayload): Promise<{ launched: number; failed: number; ctxtDisabled: boolean }> {
  return closeLaunch(services, executionInput(p), 'The launch was interrupted.');
}

/** Catch of the launch flow: the same as finishLaunch with the error as the reason, logged. */
export async function markLaunchFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const input = executionInput(p);
  const message = clip(caughtMessage(p.error));
  await logLine(services, input.infId, 'inf', `Error launching the VMs: ${message}`);
  await closeLaunch(services, input, message, false);
  return {};
}

async function closeLaunch(
  services: Services,
  input: Record<string, unknown> & { infId: string },
  reason: string,
  runDisabledStep = true,
): Promise<{ launched: number; failed: number; ctxtDisabled: boolean }> {
  const { store } = services;
  const infId = input.infId;
  const ids = new Set(intList(input, 'vmIds') ?? []);
  const contextualize = wantsContext(input);
  const [inf, all] = await Promise.all([store.getInfrastructure(infId), store.listVms(infId)]);
  if (!inf) return { launched: 0, failed: 0, ctxtDisabled: false };
  let ctxtDisabled = false;
  try {
    ctxtDisabled = contextualize && isInfraCtxtDisabled(infraContext(services, inf).radl);
  } catch {
    ctxtDisabled = false; // an unreadable RADL leaves the decision to the contextualize flow
  }
  const mine = all.filter((v) => ids.has(v.vmId) && !v.destroyed);
  const closed = await mutateVms(store, mine.filter((v) => unfinished(v, contextualize)), (v) => (unfinished(v, contextualize) ? failurePatch(v, reason, inf.configured) : undefined));
  const byId = new Map(closed.map((v) => [v.vmId, v]));
  const current = mine.map((v) => byId.get(v.vmId) ?? v);
  const failed = current.filter((v) => v.state === 'failed' && !v.providerId);
  const launched = current.length - failed.length;
  let configured: boolean | undefined;
  const logs: Promise<void>[] = [];
  if (launched === 0 && current.length > 0) {
    logs.push(logLine(services, infId, 'inf', ['All VMs failed. No contextualize.', ...failed.map((v) => v.errorMsg).filter(Boolean)].join('\n')));
  } else if (ctxtDisabled && runDisabledStep && inf.status === 'active') {
    const withClosed = all.map((v) => byId.get(v.vmId) ?? v);
    configured = (await configureWithoutAnsible(services, inf, withClosed, { vmIds: [...ids] }, (log) => logs.push(log))).configured;
  }
  // One write of the record: this launch's add operation ends (idempotent: a re-run after a crash releases
  // nothing else) and, with contextualization disabled, the flag the VMs imply.
  await Promise.all([releaseAndFlag(services, inf, typeof input.addOp === 'string' ? input.addOp : undefined, configured), ...logs]);
  // `failed`: this launch's VMs in state failed (the sync caller reads the VMs only when some are).
  return { launched, failed: current.filter((v) => v.state === 'failed').length, ctxtDisabled };
}

async function releaseAndFlag(services: Services, inf: InfraRecord, op: string | undefined, configured: boolean | undefined): Promise<void> {
  const patch = (i: InfraRecord): Partial<InfraRecord> | undefined => {
    const out: Partial<InfraRecord> = {};
    if (op !== undefined && (i.addingOps ?? []).includes(op)) out.addingOps = i.addingOps.filter((x) => x !== op);
    if (configured !== undefined && i.configured !== configured) out.configured = configured;
    return Object.keys(out).length > 0 ? out : undefined;
  };
  const first = patch(inf);
  if (!first) return;
  try {
    await services.store.updateInfrastructure(inf.id, inf.version, first);
  } catch {
    await mutateInfrastructure(services.store, inf.id, patch);
  }
}
