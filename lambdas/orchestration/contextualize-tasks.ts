/**
 * Tasks of the contextualize flow (statemachines/contextualize.asl.json). With contextualization
 * disabled, VMs ready for it (SSH answered: ctxtState pending) end configured here. Otherwise the
 * contextualization runner (lambdas/runner, an ECS task) takes the VMs that the one rule of
 * #core/ctxt-rules names and writes their final states; prepareContextualization only counts them.
 *
 * The infrastructure's `configured` flag is set here once the outcome is final when contextualization
 * is disabled (true when every live VM is configured); the runner sets it otherwise.
 */
import type { InfraRecord, Services, VmRecord } from '#core/types';
import { infraContext } from '#core/vm-refresh';
import { mutateInfrastructure, mutateVm, mutateVms } from '#core/mutate';
import { isInfraCtxtDisabled, runnerTakes, CTXT_VM_STATES } from '#core/ctxt-rules';
import { caughtMessage, clip, executionInput, flag, intList, logLine, statePatch, type TaskPayload } from '#orchestration/task-support';

/** Live VMs that were launched (not destroyed, not failed at launch). */
function launchedVms(vms: VmRecord[]): VmRecord[] {
  return vms.filter((v) => !v.destroyed && !(v.state === 'failed' && !v.providerId));
}

/** The infrastructure flag the VMs' contextualization outcome implies (undefined: not final). */
export function configuredFlag(vms: VmRecord[]): boolean | undefined {
  const live = launchedVms(vms);
  if (live.some((v) => v.ctxtState === 'failed')) return false;
  if (live.length > 0 && live.every((v) => v.ctxtState === 'ok' || v.ctxtState === 'disabled')) return true;
  return undefined;
}

/** Whether a VM's cloud is simulated (Dummy): its address is a placeholder that nothing may contact. */
const simulatedIn = (services: Services) => (cloudType: string) => !!services.connectors.get(cloudType)?.simulated;

/**
 * Disabled contextualization: marks the ready VMs configured (ctxtState ok) and sets the infrastructure
 * flag when final. Enabled: returns how many VMs the contextualization runner will take (0 = nothing to do).
 */
export async function prepareContextualization(services: Services, p: TaskPayload): Promise<{ pending: number }> {
  const input = executionInput(p);
  const { store } = services;
  const infId = input.infId;
  const inf = await store.getInfrastructure(infId);
  if (!inf || inf.status !== 'active') return { pending: 0 };
  const radl = infraContext(services, inf).radl;
  const only = intList(input, 'vmIds');
  const reconfigure = flag(input, 'reconfigure');
  const vms = await store.listVms(infId);
  if (!isInfraCtxtDisabled(radl)) {
    const live = launchedVms(vms);
    // Simulated VMs that passed an SSH wait (tests) can never be contextualized: unconfigured, as IM's Dummy.
    for (const vm of live) {
      if (vm.ctxtState !== 'pending' || !services.connectors.get(vm.cloudType)?.simulated) continue;
      await mutateVm(store, infId, vm.vmId, (v) => (v.ctxtState === 'pending' ? statePatch(v, v.state, 'failed', inf.configured) : undefined));
      await logLine(services, infId, vm.vmId, 'Contextualization Error: a simulated VM cannot be contextualized.');
    }
    const scope = { vmIds: only, reconfigure };
    const pending = live.filter((v) => runnerTakes(v, scope, simulatedIn(services))).length;
    if (pending === 0) await setConfiguredFlag(services, inf, await store.listVms(infId));
    return { pending };
  }
  const { configured } = await configureWithoutAnsible(services, inf, vms, { vmIds: only, reconfigure });
  if (configured !== undefined && configured !== inf.configured) {
    await mutateInfrastructure(store, inf.id, (i) => (i.configured === configured ? undefined : { configured }));
  }
  return { pending: 0 };
}

/**
 * The one step of a disabled contextualization (`contextualize ()`): the VMs it covers end configured —
 * after a launch those whose SSH answered (pending); on Reconfigure, as IM, every running VM it covers,
 * whatever it was (a VM added with context=0 has not been contextualized at all) — written in one
 * batch, and the log line. Returns the VM records after it and the infrastructure flag they imply
 * (undefined: not final); the caller writes the flag (with its own infrastructure write, if it has one).
 */
export async function configureWithoutAnsible(
  services: Services,
  inf: InfraRecord,
  vms: VmRecord[],
  scope: { vmIds?: number[]; reconfigure?: boolean },
  /** Hands over the log write instead of waiting for it (the caller awaits it with its own writes). */
  deferLog?: (log: Promise<void>) => void,
): Promise<{ vms: VmRecord[]; configured: boolean | undefined }> {
  const only = scope.vmIds;
  const due = (v: VmRecord) =>
    !v.destroyed && (!only || only.includes(v.vmId)) && (v.ctxtState === 'pending' || (scope.reconfigure === true && CTXT_VM_STATES.has(v.state) && v.ctxtState !== 'ok'));
  const targets = launchedVms(vms).filter(due);
  const log = logLine(services, inf.id, 'inf', 'Contextualization disabled by the RADL/TOSCA template.');
  if (deferLog) {
    log.catch(() => undefined); // handled by the caller, which awaits it with its own writes
    deferLog(log);
  }
  const [updated] = await Promise.all([
    mutateVms(services.store, targets, (v) => (due(v) ? statePatch(v, v.state, 'ok', inf.configured) : undefined)),
    deferLog ? undefined : log,
  ]);
  const byId = new Map(updated.map((v) => [v.vmId, v]));
  const after = vms.map((v) => byId.get(v.vmId) ?? v);
  return { vms: after, configured: configuredFlag(after) };
}

/** Sets the infrastructure flag the VMs' outcome implies, when it is final. */
async function setConfiguredFlag(services: Services, inf: InfraRecord, vms: VmRecord[]): Promise<void> {
  const configured = configuredFlag(vms);
  if (configured !== undefined && configured !== inf.configured) {
    await mutateInfrastructure(services.store, inf.id, (i) => (i.configured === configured ? undefined : { configured }));
  }
}

/**
 * VMs still waiting for contextualization end unconfigured; the infrastructure's flag becomes false. That is
 * every VM of `vmIds` and every VM the runner takes (the one rule of #core/ctxt-rules: after a launch the runner
 * works on the whole infrastructure, and a Reconfigure's basic play on every VM), when still pending or running.
 */
export async function markContextualizationFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const input = executionInput(p);
  const { store } = services;
  const infId = input.infId;
  const message = clip(caughtMessage(p.error));
  const only = intList(input, 'vmIds');
  const scope = { vmIds: only, reconfigure: flag(input, 'reconfigure') };
  const inf = await store.getInfrastructure(infId);
  if (!inf) return {};
  for (const vm of await store.listVms(infId)) {
    if (vm.destroyed || (only && !only.includes(vm.vmId) && !runnerTakes(vm, scope, simulatedIn(services)))) continue;
    if (vm.ctxtState !== 'pending' && vm.ctxtState !== 'running') continue;
    await mutateVm(store, infId, vm.vmId, (v) =>
      v.ctxtState === 'pending' || v.ctxtState === 'running' ? statePatch(v, v.state, 'failed', false) : undefined,
    );
  }
  await mutateInfrastructure(store, infId, (i) => (i.configured === false ? undefined : { configured: false }));
  await logLine(services, infId, 'inf', `Contextualization Error: ${message}`);
  return {};
}
