/**
 * What the launch flow's tasks share: the plan of batches, the per-VM patches that end a launch phase,
 * and the one rule that decides a batch's next step from its VM records (the flow loops on it, so a
 * task run twice — a retry, a resumed execution — does only what is left).
 */
import type { Config } from '#core/config';
import type { InfraRecord, Services, VmRecord, VmState } from '#core/types';
import { infraContext } from '#core/vm-refresh';
import { isSystemCtxtDisabled, isVmCtxtDisabled } from '#core/ctxt-rules';
import { clip, logLine, statePatch } from '#orchestration/task-support';

/** What a batch does next: relaunch after DELAY_BETWEEN_VM_RETRIES, poll the provider, wait for SSH, or nothing. */
export type BatchNext = 'retry' | 'poll' | 'ssh' | 'done';

export interface BatchStep {
  next: BatchNext;
  /** Epoch ms until which the current wait (running, SSH) may go on; 0 when unused. */
  deadline: number;
}

/** Longest SSH wait inside one task call (the flow loops for longer waits). */
export const SSH_WINDOW_MS = 60_000;
/** Upper bound of WaitUntilRunning iterations (keeps each execution's history small). */
export const MAX_RUNNING_POLLS = 2000;

/** Contextualization is on unless `context` is false (a missing flag means true, as in IM). */
export function wantsContext(p: Record<string, unknown>): boolean {
  const v = p.context ?? p.contextualize;
  return !(v === false || v === 'false' || v === 0 || v === '0' || v === 'no');
}

/** The message of a VM whose launch failed (IM's text). */
export function launchErrorHeader(vm: Pick<VmRecord, 'systemName' | 'cloudId' | 'cloudType'>): string {
  return `Error launching the VMs of type ${vm.systemName} to cloud ID ${vm.cloudId} of type ${vm.cloudType}.`;
}

/**
 * The VM ids in batches of at most LAUNCH_BATCH_SIZE, and how many batches run at once and how many
 * cloud launch calls each makes at once, so that at most MAX_SIMULTANEOUS_LAUNCHES calls are in flight.
 */
export function planBatches(vmIds: number[], config: Pick<Config, 'LAUNCH_BATCH_SIZE' | 'MAX_SIMULTANEOUS_LAUNCHES'>): {
  batches: number[][];
  maxConcurrency: number;
  launchConcurrency: number;
} {
  const size = config.LAUNCH_BATCH_SIZE;
  const batches: number[][] = [];
  for (let i = 0; i < vmIds.length; i += size) batches.push(vmIds.slice(i, i + size));
  const max = config.MAX_SIMULTANEOUS_LAUNCHES;
  const maxConcurrency = Math.max(1, Math.min(batches.length, max));
  return { batches, maxConcurrency, launchConcurrency: Math.max(1, Math.floor(max / maxConcurrency)) };
}

/** Being launched: created, no provider id yet, not failed (a retryable failure keeps it so). */
export const needsLaunch = (vm: VmRecord) => vm.creating && !vm.providerId && vm.state !== 'failed' && !vm.destroyed && !vm.deleting;
/** Launched, not running yet. */
export const needsPoll = (vm: VmRecord) => vm.creating && !!vm.providerId && !vm.destroyed && !vm.deleting;
/** Running, waiting for its SSH answer before contextualization. */
export const needsSsh = (vm: VmRecord, contextualize: boolean) =>
  contextualize && !vm.creating && !!vm.providerId && vm.state === 'running' && vm.ctxtState === 'none' && !vm.destroyed && !vm.deleting;

/** The batch's next step, from its records: relaunches first, then polls, then SSH waits. */
export function nextStep(services: Services, vms: VmRecord[], contextualize: boolean, deadline: number, phase: BatchNext): BatchStep {
  const now = services.now();
  const c = services.config;
  const keep = (next: BatchNext, timeoutS: number) => ({ next, deadline: phase === next && deadline > 0 ? deadline : now + timeoutS * 1000 });
  if (vms.some(needsLaunch)) return { next: 'retry', deadline: 0 };
  if (vms.some(needsPoll)) return keep('poll', c.WAIT_RUNNING_VM_TIMEOUT);
  if (vms.some((v) => needsSsh(v, contextualize))) return keep('ssh', c.WAIT_SSH_ACCCESS_TIMEOUT);
  return { next: 'done', deadline: 0 };
}

/** The patch that ends a VM's launch phase in `failed` (no provider id) or, when it exists, failed/unconfigured. */
export function failurePatch(vm: VmRecord, message: string, infConfigured: boolean | undefined): Partial<VmRecord> {
  if (!vm.providerId) return { state: 'failed', creating: false, errorMsg: clip(`${launchErrorHeader(vm)} ${message}`, 8000) };
  const providerState: VmState = vm.state === 'pending' || vm.state === 'unknown' ? 'failed' : vm.state;
  return { ...statePatch(vm, providerState, 'failed', infConfigured), creating: false };
}

/**
 * The patch of a VM that now runs: configured at once when its contextualization is disabled (or
 * none was asked), else running and waiting for SSH (ctxtState stays `none`).
 */
export function runningPatch(services: Services, inf: InfraRecord, vm: VmRecord, contextualize: boolean): Partial<VmRecord> {
  if (!contextualize) return { creating: false };
  if (isVmCtxtDisabled(infraContext(services, inf).radl, vm.systemName)) return { ...statePatch(vm, 'running', 'disabled', inf.configured), creating: false };
  return { creating: false };
}

/** Logs `Contextualization disabled` for the VMs whose empty `configure <system> ()` disabled it. */
export async function logCtxtDisabled(services: Services, inf: InfraRecord, vms: VmRecord[]): Promise<void> {
  const radl = infraContext(services, inf).radl;
  await Promise.all(vms.filter((v) => isSystemCtxtDisabled(radl, v.systemName)).map((v) => logLine(services, v.infId, v.vmId, 'Contextualization disabled')));
}

/** The VMs of `ids` among an infrastructure's records (live ones), in the order of `ids`. */
export function batchVms(all: VmRecord[], ids: number[]): VmRecord[] {
  const byId = new Map(all.map((v) => [v.vmId, v]));
  return ids.map((id) => byId.get(id)).filter((v): v is VmRecord => v !== undefined && !v.destroyed);
}
