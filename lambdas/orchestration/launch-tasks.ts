/**
 * Tasks of the launch flow (statemachines/launch.asl.json).
 *
 * Per VM: launchVm → (refreshVm)* → (waitForSsh)* ; markVmFailed on unexpected errors. Around the
 * Map: prepareLaunch (config → integers), finishLaunch / markLaunchFailed (nothing stays creating).
 * Each per-VM task returns `{outcome, deadline}` (epoch ms; 0 when unused): the only per-VM state
 * the execution keeps.
 */
import { authForCloud } from '#core/cloud-auth';
import { ImError } from '#core/errors';
import type { InfraRecord, Services, VmRecord, VmState } from '#core/types';
import { applyVmState, infraContext, parseVmInfo, refreshVm, refreshVms, vmHandle, vmInfoWith, vmSystem } from '#core/vm-refresh';
import { mutateVm, releaseAddingOp } from '#core/mutate';
import { isInfraCtxtDisabled, isSystemCtxtDisabled, isVmCtxtDisabled } from '#core/ctxt-rules';
import { probeFor, probeSsh, simulatedUnreachableProbe, sshTarget, type SshProbe } from '#orchestration/ssh-probe';
import {
  caughtMessage,
  clip,
  errorMessage,
  executionInput,
  int,
  intList,
  logLine,
  statePatch,
  str,
  updateVmFrom,
  type TaskPayload,
} from '#orchestration/task-support';
import { vmTags } from '#orchestration/vm-tags';

/** What a per-VM launch task tells the flow. */
export type LaunchOutcome = 'done' | 'running' | 'pending' | 'retry' | 'failed' | 'ready';

export interface StepResult {
  outcome: LaunchOutcome;
  /** Epoch ms until which the next wait may go on (0 when unused). */
  deadline: number;
}

export interface LaunchPlan {
  vmIds: number[];
  maxConcurrency: number;
  /** Seconds between launch attempts (DELAY_BETWEEN_VM_RETRIES, rounded up). */
  retryDelay: number;
  /** Seconds between provider polls while waiting for running. */
  pollSeconds: number;
  /** False when the input says `context: false`: no SSH wait, no contextualization. */
  contextualize: boolean;
}

/** Longest SSH wait inside one task call (the flow loops for longer waits). */
export const SSH_WINDOW_MS = 60_000;
/** Upper bound of WaitUntilRunning iterations per VM (keeps each child execution's history small). */
export const MAX_RUNNING_POLLS = 2000;

const done = (): StepResult => ({ outcome: 'done', deadline: 0 });

/** Contextualization is on unless `context` is false (a missing flag means true, as in IM). */
export function wantsContext(p: Record<string, unknown>): boolean {
  const v = p.context ?? p.contextualize;
  return !(v === false || v === 'false' || v === 0 || v === '0' || v === 'no');
}

/** The message of a VM whose launch failed (IM's text). */
export function launchErrorHeader(vm: Pick<VmRecord, 'systemName' | 'cloudId' | 'cloudType'>): string {
  return `Error launching the VMs of type ${vm.systemName} to cloud ID ${vm.cloudId} of type ${vm.cloudType}.`;
}

/** Config → the integers of the flow. No store access. */
export async function prepareLaunch(services: Services, p: TaskPayload): Promise<LaunchPlan> {
  const input = executionInput(p);
  const c = services.config;
  return {
    vmIds: intList(input, 'vmIds') ?? [],
    maxConcurrency: c.MAX_SIMULTANEOUS_LAUNCHES,
    retryDelay: Math.ceil(c.DELAY_BETWEEN_VM_RETRIES),
    pollSeconds: Math.max(1, Math.ceil(c.VM_INFO_UPDATE_FREQUENCY), Math.ceil(c.WAIT_RUNNING_VM_TIMEOUT / MAX_RUNNING_POLLS)),
    contextualize: wantsContext(input),
  };
}

/** The patch that ends a VM's launch phase in `failed` (no provider id) or, when it exists, failed/unconfigured. */
function failurePatch(vm: VmRecord, message: string, infConfigured: boolean | undefined): Partial<VmRecord> {
  if (!vm.providerId) {
    return { state: 'failed', creating: false, errorMsg: clip(`${launchErrorHeader(vm)} ${message}`, 8000) };
  }
  const providerState: VmState = vm.state === 'pending' || vm.state === 'unknown' ? 'failed' : vm.state;
  return { ...statePatch(vm, providerState, 'failed', infConfigured), creating: false };
}

/**
 * The state a freshly launched or refreshed VM ends its launch phase in, with the next outcome:
 * configured (contextualization disabled), running for the SSH wait, or simply running (no
 * contextualization asked).
 */
function afterRunning(
  services: Services,
  inf: InfraRecord,
  vm: VmRecord,
  contextualize: boolean,
): { patch: Partial<VmRecord>; result: StepResult; ctxtDisabled: boolean } {
  if (!contextualize) return { patch: { creating: false }, result: done(), ctxtDisabled: false };
  const ctxtDisabled = isVmCtxtDisabled(infraContext(services, inf).radl, vm.systemName);
  if (ctxtDisabled) {
    return { patch: { ...statePatch(vm, 'running', 'disabled', inf.configured), creating: false }, result: done(), ctxtDisabled };
  }
  const deadline = services.now() + services.config.WAIT_SSH_ACCCESS_TIMEOUT * 1000;
  return { patch: { creating: false }, result: { outcome: 'running', deadline }, ctxtDisabled };
}

/** Logs the per-VM "Contextualization disabled" line when an empty `configure <system> ()` disabled it. */
async function logCtxtDisabled(services: Services, inf: InfraRecord, vm: VmRecord): Promise<void> {
  if (isSystemCtxtDisabled(infraContext(services, inf).radl, vm.systemName)) await logLine(services, vm.infId, vm.vmId, 'Contextualization disabled');
}

/**
 * One launch attempt. Success: provider id, RADL, state written in one conditional write;
 * `done` when the VM already runs and needs no contextualization (configured), `running` (SSH
 * wait next) or `pending` (running wait next). Failure: `retry` for CloudRetryable with attempts
 * left (after DELAY_BETWEEN_VM_RETRIES), else `failed` with IM's "Attempt n: …" message.
 */
export async function launchVm(services: Services, p: TaskPayload): Promise<StepResult> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const { store, config, logger } = services;
  const [inf, vm] = await Promise.all([store.getInfrastructure(infId), store.getVm(infId, vmId)]);
  if (!vm || vm.destroyed || vm.deleting) return done();
  if (vm.providerId) {
    // Re-delivered after a successful launch: let the running wait sort it out.
    return { outcome: 'pending', deadline: services.now() + config.WAIT_RUNNING_VM_TIMEOUT * 1000 };
  }
  if (!vm.creating) return done();
  if (!inf || inf.status !== 'active') {
    await updateVmFrom(store, vm, (v) => (v.destroyed ? undefined : failurePatch(v, 'Infrastructure deleted. Do not add resources.', inf?.configured)));
    return { outcome: 'failed', deadline: 0 };
  }

  const attempt = (vm.launchAttempts ?? 0) + 1;
  const vmRadl = parseVmInfo(vm);
  const system = vmSystem(vmRadl, vm);
  let launched;
  let connector;
  let auth;
  try {
    connector = services.connectors.get(vm.cloudType);
    if (!connector) throw new ImError('BAD_REQUEST', `Cloud type ${vm.cloudType} not supported`);
    const ctx = infraContext(services, inf);
    auth = authForCloud(ctx.auth, vm.cloudId);
    launched = await connector.launch({
      infId,
      vmId,
      radl: ctx.radl,
      system: system.clone(),
      auth,
      tags: vmTags(config, inf, system),
    });
  } catch (err) {
    const message = clip(errorMessage(err));
    logger.info('Launch attempt failed', { infId, vmId, attempt, error: message });
    const attempts = [vm.errorMsg, `Attempt ${attempt}: ${message}`].filter(Boolean).join('\n');
    const retry = err instanceof ImError && err.code === 'CLOUD_RETRYABLE' && attempt < config.MAX_VM_FAILS;
    await updateVmFrom(store, vm, (v) =>
      retry
        ? { launchAttempts: attempt, errorMsg: attempts }
        : { state: 'failed', creating: false, launchAttempts: attempt, errorMsg: clip(`${launchErrorHeader(v)} ${attempts}`, 8000) },
    );
    return { outcome: retry ? 'retry' : 'failed', deadline: 0 };
  }

  const now = services.now();
  const base: Partial<VmRecord> = {
    providerId: launched.providerId,
    state: launched.state,
    lastUpdate: now,
    launchAttempts: attempt,
    errorMsg: undefined,
    cloudData: launched.cloudData,
  };
  let result: StepResult;
  let ctxtPatch: Partial<VmRecord> = {};
  let ctxtDisabled = false;
  if (launched.state === 'running') {
    const next = afterRunning(services, inf, { ...vm, ...base } as VmRecord, wantsContext(p));
    ctxtDisabled = next.ctxtDisabled;
    result = next.result;
    ctxtPatch = next.patch;
  } else if (launched.state === 'pending' || launched.state === 'unknown') {
    result = { outcome: 'pending', deadline: now + config.WAIT_RUNNING_VM_TIMEOUT * 1000 };
  } else {
    ctxtPatch = { creating: false, ctxtState: 'failed' };
    result = { outcome: 'failed', deadline: 0 };
  }
  const finalState = (ctxtPatch.state ?? launched.state) as VmState;
  const sys = launched.system.clone();
  applyVmState(sys, finalState, vmId);
  const patch: Partial<VmRecord> = { ...base, ...ctxtPatch, state: finalState, info: vmInfoWith(vmRadl, sys) };
  const handle = () => vmHandle({ ...vm, providerId: launched.providerId, cloudData: launched.cloudData }, vmRadl, launched.system);
  let recorded: VmRecord;
  try {
    // A VM removed or destroyed while it launched (a forced destroy) is not recorded as running.
    recorded = await updateVmFrom(store, vm, (v) => (v.destroyed || v.deleting ? undefined : patch));
  } catch (err) {
    // The VM exists at the provider but could not be recorded: do not leak it.
    logger.error('Launched VM could not be recorded; finalizing it', { infId, vmId, error: err });
    await connector.finalize(handle(), false, auth).catch((e: unknown) => logger.error('Finalize after a failed write failed', { infId, vmId, error: e }));
    throw err;
  }
  if (recorded.destroyed || recorded.deleting) {
    logger.info('VM destroyed while it launched; finalizing it', { infId, vmId });
    await connector.finalize(handle(), false, auth);
    return done();
  }
  if (ctxtDisabled) await logCtxtDisabled(services, inf, vm);
  return result;
}

/**
 * One poll of the running wait: refreshes the VM from the provider. `running` (SSH wait next) or
 * `done` (configured: no contextualization) once it runs; `pending` while it does not and the
 * deadline (WAIT_RUNNING_VM_TIMEOUT) is ahead; `failed` after it (state failed, ctxt failed, message
 * in the VM log) or when the provider reports a final state.
 */
export async function refreshVmTask(services: Services, p: TaskPayload): Promise<StepResult> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const deadline = int(p, 'deadline');
  const { store, config } = services;
  const [inf, vm] = await Promise.all([store.getInfrastructure(infId), store.getVm(infId, vmId)]);
  if (!vm || vm.destroyed || vm.deleting || !inf || inf.status !== 'active') return done();
  // Other VMs of this launch on the same cloud are refreshed with it in one batch (one server list), so their
  // own polls find them fresh instead of each asking the provider; a VM launching alone is asked every time.
  const batching = services.connectors.get(vm.cloudType)?.updateVmsInfo !== undefined;
  const siblings = batching
    ? (await store.listVms(infId)).filter((v) => v.vmId !== vmId && v.creating && v.providerId && !v.destroyed && !v.deleting && v.cloudId === vm.cloudId)
    : [];
  const fresh = siblings.length ? (await refreshVms(services, inf, [vm, ...siblings]))[0] : await refreshVm(services, inf, vm, { force: true });
  const now = services.now();
  if (fresh.state === 'running') {
    const next = afterRunning(services, inf, fresh, wantsContext(p));
    await updateVmFrom(store, fresh, () => next.patch);
    if (next.ctxtDisabled) await logCtxtDisabled(services, inf, fresh);
    return next.result;
  }
  if (fresh.state === 'pending' || fresh.state === 'unknown') {
    if (now < deadline) return { outcome: 'pending', deadline };
    await updateVmFrom(store, fresh, (v) => ({ ...statePatch(v, 'failed', 'failed', inf.configured), creating: false }));
    await logLine(
      services,
      infId,
      vmId,
      `Error waiting the VM to be running: timeout of ${config.WAIT_RUNNING_VM_TIMEOUT} s exceeded (last state: ${fresh.state}).`,
    );
    return { outcome: 'failed', deadline: 0 };
  }
  await updateVmFrom(store, fresh, () => ({ creating: false }));
  return done();
}

/**
 * Up to SSH_WINDOW_MS of login attempts to the running VM. `ready` (ctxtState pending: ready for
 * contextualization), `retry` while the deadline (WAIT_SSH_ACCCESS_TIMEOUT) is ahead, `failed` after
 * it (unconfigured, the reason appended to the VM log).
 */
export async function waitForSsh(services: Services, p: TaskPayload, probe: SshProbe): Promise<StepResult> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const deadline = int(p, 'deadline');
  const { store, config } = services;
  let vm = await store.getVm(infId, vmId);
  if (!vm || vm.destroyed || vm.deleting || vm.ctxtState !== 'none') return done();
  let radl = parseVmInfo(vm);
  let found = sshTarget(radl, vmSystem(radl, vm));
  let inf: InfraRecord | undefined;
  if (!found.target) {
    // IPs may show up after the VM runs: ask the provider again.
    inf = await store.getInfrastructure(infId);
    if (inf) {
      vm = await refreshVm(services, inf, vm, { force: true });
      radl = parseVmInfo(vm);
      found = sshTarget(radl, vmSystem(radl, vm));
    }
  }
  const budget = Math.min(SSH_WINDOW_MS, deadline - services.now());
  let reason = found.reason ?? 'no attempt made';
  // Never connect to the placeholder address of a simulated (Dummy) VM.
  const effectiveProbe = probe === probeSsh && services.connectors.get(vm.cloudType)?.simulated ? simulatedUnreachableProbe : probe;
  if (found.target && budget > 0) {
    const failure = await probeFor(effectiveProbe, found.target, budget);
    if (failure === undefined) {
      await updateVmFrom(store, vm, (v) => ({ ...statePatch(v, v.state, 'pending', inf?.configured), creating: false }));
      return { outcome: 'ready', deadline: 0 };
    }
    reason = failure;
  } else if (budget > 0) {
    await new Promise((r) => setTimeout(r, Math.min(budget, 1000)));
  }
  if (services.now() < deadline) return { outcome: 'retry', deadline };
  inf ??= await store.getInfrastructure(infId);
  await updateVmFrom(store, vm, (v) => ({ ...statePatch(v, v.state, 'failed', inf?.configured), creating: false }));
  const where = found.target ? ` (${found.target.host}:${found.target.port})` : '';
  await logLine(
    services,
    infId,
    vmId,
    `Error waiting the VM to have the SSH access active${where}: ${reason}. Timeout of ${config.WAIT_SSH_ACCCESS_TIMEOUT} s exceeded.`,
  );
  return { outcome: 'failed', deadline: 0 };
}

/** Gives a VM a final state after an unexpected error in its launch (Catch of the per-VM states). */
export async function markVmFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const message = clip(caughtMessage(p.error));
  const inf = await services.store.getInfrastructure(infId);
  const vm = await services.store.getVm(infId, vmId);
  if (!vm || vm.destroyed) return {};
  await updateVmFrom(services.store, vm, (v) => (v.creating || v.ctxtState === 'none' ? failurePatch(v, message, inf?.configured) : undefined));
  if (vm.providerId) await logLine(services, infId, vmId, `Error launching the VM: ${message}`);
  return {};
}

/**
 * After the Map: VMs of the launch still being created end failed; the add-resources counter is
 * operation of the input (`addOp`) is released; when no VM launched, IM's
 * `All VMs failed. No contextualize.` goes to the infrastructure log. `ctxtDisabled`: the RADL
 * disables contextualization (the flow then runs prepareContextualization itself, no nested flow).
 */
export async function finishLaunch(services: Services, p: TaskPayload): Promise<{ launched: number; ctxtDisabled: boolean }> {
  return closeLaunch(services, executionInput(p), 'The launch was interrupted.');
}

/** Catch of the launch flow: the same as finishLaunch with the error as the reason, logged. */
export async function markLaunchFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const input = executionInput(p);
  const message = clip(caughtMessage(p.error));
  await logLine(services, input.infId, 'inf', `Error launching the VMs: ${message}`);
  await closeLaunch(services, input, message);
  return {};
}

/** Still in its launch phase: being created, or running without an SSH outcome (when one is due). */
function unfinished(vm: VmRecord, contextualize: boolean): boolean {
  if (vm.destroyed) return false;
  return vm.creating || (contextualize && vm.ctxtState === 'none' && vm.providerId !== undefined && vm.state === 'running');
}

async function closeLaunch(
  services: Services,
  input: Record<string, unknown> & { infId: string },
  reason: string,
): Promise<{ launched: number; ctxtDisabled: boolean }> {
  const { store } = services;
  const infId = input.infId;
  const ids = new Set(intList(input, 'vmIds') ?? []);
  const contextualize = wantsContext(input);
  const inf = await store.getInfrastructure(infId);
  if (!inf) return { launched: 0, ctxtDisabled: false };
  // `contextualize ()`: the flow runs the contextualize flow's first step directly (no runner to start).
  // An unreadable RADL leaves the decision to the contextualize flow.
  let ctxtDisabled = false;
  try {
    ctxtDisabled = contextualize && isInfraCtxtDisabled(infraContext(services, inf).radl);
  } catch {
    ctxtDisabled = false;
  }
  const vms = (await store.listVms(infId)).filter((v) => ids.has(v.vmId) && !v.destroyed);
  const messages: string[] = [];
  let launched = 0;
  for (const vm of vms) {
    let current = vm;
    if (unfinished(vm, contextualize)) {
      current = await mutateVm(store, infId, vm.vmId, (v) => (unfinished(v, contextualize) ? failurePatch(v, reason, inf.configured) : undefined));
    }
    if (current.state === 'failed' && !current.providerId) {
      if (current.errorMsg) messages.push(current.errorMsg);
    } else {
      launched++;
    }
  }
  // This launch's add operation ends (idempotent: a re-run after a crash releases nothing else).
  const op = input.addOp;
  if (typeof op === 'string') await releaseAddingOp(store, infId, op);
  if (launched === 0 && vms.length > 0) {
    await logLine(services, infId, 'inf', ['All VMs failed. No contextualize.', ...messages].join('\n'));
  }
  return { launched, ctxtDisabled };
}
