/**
 * Tasks of the launch flow (statemachines/launch.asl.json), by batches of VMs:
 *
 *   prepareLaunch → Map over batches ( launchBatch → [retry: wait → launchBatch | poll: wait → refreshBatch |
 *   ssh: waitForSshBatch]* ) → finishLaunch → contextualization
 *
 * One Task (one Lambda invocation in AWS) launches a whole batch: at most `launchConcurrency` cloud
 * launch calls at a time (the batches running at once share MAX_SIMULTANEOUS_LAUNCHES), then every
 * result is recorded with one batched conditional write. Each task looks at its VMs' records and does
 * only what is left, so a retried or resumed task never launches a VM twice: a VM record exists (the
 * intent, written with the infrastructure) before its launch, and a launch repeated after a crash
 * carries the same client token (infrastructure, VM, attempt), which a connector uses to find the VM
 * the interrupted call created instead of creating another.
 */
import { authForCloud } from '#core/cloud-auth';
import { ImError } from '#core/errors';
import type { InfraRecord, LaunchedVm, Services, VmRecord } from '#core/types';
import { applyVmState, infraContext, parseVmInfo, vmHandle, vmInfoWith, vmSystem } from '#core/vm-refresh';
import { mutateVms } from '#core/mutate';
import { mapLimit } from '#core/concurrency';
import {
  batchVms,
  failurePatch,
  logCtxtDisabled,
  needsLaunch,
  nextStep,
  planBatches,
  runningPatch,
  wantsContext,
  MAX_RUNNING_POLLS,
  type BatchStep,
} from '#orchestration/launch-support';
import { clip, errorMessage, executionInput, int, intList, logLine, str, type TaskPayload } from '#orchestration/task-support';
import { vmTags } from '#orchestration/vm-tags';

export { wantsContext, launchErrorHeader } from '#orchestration/launch-support';
export { finishLaunch, markLaunchFailed, markBatchFailed } from '#orchestration/launch-finish';
export { refreshBatch, waitForSshBatch } from '#orchestration/launch-wait';

export interface LaunchPlan {
  batches: number[][];
  /** Batches running at once. */
  maxConcurrency: number;
  /** Cloud launch calls at once within one batch. */
  launchConcurrency: number;
  /** Seconds between launch attempts (DELAY_BETWEEN_VM_RETRIES, rounded up). */
  retryDelay: number;
  /** Seconds between provider polls while waiting for running. */
  pollSeconds: number;
  /** False when the input says `context: false`: no SSH wait, no contextualization. */
  contextualize: boolean;
}

/** Config → the plan of the flow. No store access. */
export async function prepareLaunch(services: Services, p: TaskPayload): Promise<LaunchPlan> {
  const input = executionInput(p);
  const c = services.config;
  const vmIds = [...new Set(intList(input, 'vmIds') ?? [])].sort((a, b) => a - b);
  return {
    ...planBatches(vmIds, c),
    retryDelay: Math.ceil(c.DELAY_BETWEEN_VM_RETRIES),
    pollSeconds: Math.max(1, Math.ceil(c.VM_INFO_UPDATE_FREQUENCY), Math.ceil(c.WAIT_RUNNING_VM_TIMEOUT / MAX_RUNNING_POLLS)),
    contextualize: wantsContext(input),
  };
}

type Attempt = { vm: VmRecord; launched?: LaunchedVm; error?: unknown };

/** The token of one launch attempt of one VM: the same when the attempt is repeated after a crash. */
export const launchToken = (vm: Pick<VmRecord, 'infId' | 'vmId'>, attempt: number) => `im-${vm.infId}-${vm.vmId}-${attempt}`;

/** One cloud launch call for a VM of the batch (errors are returned, not thrown). */
async function launchOne(services: Services, inf: InfraRecord, vm: VmRecord): Promise<Attempt> {
  const attempt = (vm.launchAttempts ?? 0) + 1;
  try {
    const connector = services.connectors.get(vm.cloudType);
    if (!connector) throw new ImError('BAD_REQUEST', `Cloud type ${vm.cloudType} not supported`);
    const ctx = infraContext(services, inf);
    const system = vmSystem(parseVmInfo(vm), vm);
    const launched = await connector.launch({
      infId: inf.id,
      vmId: vm.vmId,
      attempt,
      clientToken: launchToken(vm, attempt),
      radl: ctx.radl,
      system: system.clone(),
      auth: authForCloud(ctx.auth, vm.cloudId),
      tags: vmTags(services.config, inf, system),
    });
    return { vm, launched };
  } catch (error) {
    return { vm, error };
  }
}

/** What an attempt changes in its VM record (`v` may be newer than the record it was launched from). */
function attemptPatch(services: Services, inf: InfraRecord, a: Attempt, v: VmRecord, contextualize: boolean): Partial<VmRecord> | undefined {
  const attempt = (a.vm.launchAttempts ?? 0) + 1;
  if (v.destroyed || v.deleting) return undefined; // removed meanwhile: a launched VM is finalized below
  if (!a.launched) {
    const message = clip(errorMessage(a.error));
    const attempts = [v.errorMsg, `Attempt ${attempt}: ${message}`].filter(Boolean).join('\n');
    const retry = a.error instanceof ImError && a.error.code === 'CLOUD_RETRYABLE' && attempt < services.config.MAX_VM_FAILS;
    return retry ? { launchAttempts: attempt, errorMsg: attempts } : { ...failurePatch({ ...v, providerId: undefined }, attempts, inf.configured), launchAttempts: attempt };
  }
  const l = a.launched;
  const base: Partial<VmRecord> = { providerId: l.providerId, state: l.state, lastUpdate: services.now(), launchAttempts: attempt, errorMsg: undefined, cloudData: l.cloudData };
  const withBase = { ...v, ...base } as VmRecord;
  const vmRadl = parseVmInfo(v);
  let extra: Partial<VmRecord> = {};
  if (l.state === 'running') extra = runningPatch(services, inf, { ...withBase, info: vmInfoWith(vmRadl, l.system) }, contextualize);
  else if (l.state !== 'pending' && l.state !== 'unknown') extra = { creating: false, ctxtState: 'failed' };
  const finalState = extra.state ?? l.state;
  const sys = l.system.clone();
  applyVmState(sys, finalState, v.vmId);
  return { ...base, ...extra, state: finalState, info: extra.info ?? vmInfoWith(vmRadl, sys) };
}

/**
 * Launches the VMs of the batch that still need it (`launchConcurrency` at a time), records every
 * outcome in one batched write, and tells the flow what comes next.
 */
export async function launchBatch(services: Services, p: TaskPayload): Promise<BatchStep> {
  const infId = str(p, 'infId');
  const ids = intList(p, 'vmIds') ?? [];
  const contextualize = wantsContext(p);
  const { store, logger } = services;
  const [inf, all] = await Promise.all([store.getInfrastructure(infId), store.listVms(infId)]);
  let vms = batchVms(all, ids);
  if (!inf || inf.status !== 'active') {
    const message = 'Infrastructure deleted. Do not add resources.';
    await mutateVms(store, vms.filter(needsLaunch), (v) => (needsLaunch(v) ? failurePatch(v, message, inf?.configured) : undefined));
    return { next: 'done', deadline: 0 };
  }
  const toLaunch = vms.filter(needsLaunch);
  const attempts = await mapLimit(toLaunch, int(p, 'launchConcurrency', 1), (vm) => launchOne(services, inf, vm));
  for (const a of attempts) if (a.error) logger.info('Launch attempt failed', { infId, vmId: a.vm.vmId, error: clip(errorMessage(a.error)) });
  const byId = new Map(attempts.map((a) => [a.vm.vmId, a]));
  let recorded: VmRecord[];
  try {
    recorded = await mutateVms(store, toLaunch, (v) => {
      const a = byId.get(v.vmId);
      return a ? attemptPatch(services, inf, a, v, contextualize) : undefined;
    });
  } catch (err) {
    // The VMs exist at the provider but could not be recorded: do not leak them.
    logger.error('Launched VMs could not be recorded; finalizing them', { infId, error: err });
    await finalizeLaunched(services, inf, attempts);
    throw err;
  }
  // Removed or destroyed while they launched (a forced destroy): finalized at once.
  const orphans = attempts.filter((a, i) => a.launched && (recorded[i].destroyed || recorded[i].deleting || recorded[i].providerId !== a.launched.providerId));
  if (orphans.length > 0) await finalizeLaunched(services, inf, orphans);
  const fresh = new Map(recorded.map((v) => [v.vmId, v]));
  vms = vms.map((v) => fresh.get(v.vmId) ?? v);
  if (contextualize) await logCtxtDisabled(services, inf, recorded.filter((v) => v.ctxtState === 'disabled' && byId.get(v.vmId)?.launched));
  for (const v of recorded) {
    if (v.state === 'failed' && !v.providerId && !v.creating) logger.info('VM launch failed', { infId, vmId: v.vmId });
  }
  return nextStep(services, vms, contextualize, 0, 'retry');
}

/** Finalizes cloud VMs that have no record to belong to. */
async function finalizeLaunched(services: Services, inf: InfraRecord, attempts: Attempt[]): Promise<void> {
  const ctx = infraContext(services, inf);
  await Promise.all(
    attempts
      .filter((a) => a.launched)
      .map(async (a) => {
        const connector = services.connectors.get(a.vm.cloudType);
        const handle = vmHandle({ ...a.vm, providerId: a.launched!.providerId, cloudData: a.launched!.cloudData }, parseVmInfo(a.vm), a.launched!.system);
        try {
          await connector?.finalize(handle, false, authForCloud(ctx.auth, a.vm.cloudId));
        } catch (e) {
          services.logger.error('Finalize of an unrecorded VM failed', { infId: inf.id, vmId: a.vm.vmId, error: e });
          await logLine(services, inf.id, a.vm.vmId, `Error finalizing a VM the launch could not record (${a.launched!.providerId}): ${clip(errorMessage(e))}`);
        }
      }),
  );
}
