/**
 * Tasks of the contextualize flow (statemachines/contextualize.asl.json), before the
 * contextualization agent exists: VMs ready for contextualization (SSH answered: ctxtState
 * pending) with no configure recipes end configured; the others stay running with ctxtState
 * pending and an infrastructure log line says contextualization is pending.
 *
 * The infrastructure's `configured` flag is set once the outcome is final: false when a VM's
 * contextualization failed (its SSH never answered), true when every live VM is configured;
 * it stays unset ("not run yet") while VMs wait for the agent.
 */
import type { Services, VmRecord } from '#core/types';
import { infraContext } from '#core/vm-refresh';
import { mutateInfrastructure, mutateVm } from '#store/mutate';
import { hasConfigureRecipes, isInfraCtxtDisabled } from '#orchestration/ctxt-rules';
import { caughtMessage, clip, executionInput, intList, logLine, statePatch, type TaskPayload } from '#orchestration/task-support';

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

/**
 * Marks ready VMs without recipes configured (ctxtState ok), sets the infrastructure flag when
 * final, and returns how many VMs wait for the contextualization agent.
 */
export async function prepareContextualization(services: Services, p: TaskPayload): Promise<{ pending: number }> {
  const input = executionInput(p);
  const { store } = services;
  const infId = input.infId;
  const inf = await store.getInfrastructure(infId);
  if (!inf || inf.status !== 'active') return { pending: 0 };
  const radl = infraContext(services, inf).radl;
  const only = intList(input, 'vmIds');
  const vms = await store.listVms(infId);
  const targets = launchedVms(vms).filter((v) => !only || only.includes(v.vmId));
  if (isInfraCtxtDisabled(radl)) {
    await logLine(services, infId, 'inf', 'Contextualization disabled by the RADL/TOSCA template.');
  }
  let pending = 0;
  const updated = new Map<number, VmRecord>();
  for (const vm of targets) {
    if (vm.ctxtState !== 'pending') continue;
    if (hasConfigureRecipes(radl, vm.systemName)) {
      pending++;
      continue;
    }
    const next = await mutateVm(store, infId, vm.vmId, (v) =>
      v.ctxtState === 'pending' && !v.destroyed ? statePatch(v, v.state, 'ok', inf.configured) : undefined,
    );
    updated.set(vm.vmId, next);
  }
  const flag = configuredFlag(vms.map((v) => updated.get(v.vmId) ?? v));
  if (flag !== undefined && flag !== inf.configured) {
    await mutateInfrastructure(store, infId, (i) => (i.configured === flag ? undefined : { configured: flag }));
  }
  return { pending };
}

/** Placeholder of the contextualization agent: says in the infrastructure log that contextualization is pending. */
export async function reportContextualizationPending(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const input = executionInput(p);
  const only = intList(input, 'vmIds');
  const vms = (await services.store.listVms(input.infId)).filter(
    (v) => !v.destroyed && v.ctxtState === 'pending' && (!only || only.includes(v.vmId)),
  );
  await logLine(
    services,
    input.infId,
    'inf',
    `Contextualization pending: VMs ${vms.map((v) => v.vmId).join(', ')} wait for the contextualization agent, which is not available yet.`,
  );
  return {};
}

/** VMs still waiting for contextualization end unconfigured; the infrastructure's flag becomes false. */
export async function markContextualizationFailed(services: Services, p: TaskPayload): Promise<Record<string, never>> {
  const input = executionInput(p);
  const { store } = services;
  const infId = input.infId;
  const message = clip(caughtMessage(p.error));
  const only = intList(input, 'vmIds');
  const inf = await store.getInfrastructure(infId);
  if (!inf) return {};
  for (const vm of await store.listVms(infId)) {
    if (vm.destroyed || (only && !only.includes(vm.vmId))) continue;
    if (vm.ctxtState !== 'pending' && vm.ctxtState !== 'running') continue;
    await mutateVm(store, infId, vm.vmId, (v) =>
      v.ctxtState === 'pending' || v.ctxtState === 'running' ? statePatch(v, v.state, 'failed', false) : undefined,
    );
  }
  await mutateInfrastructure(store, infId, (i) => (i.configured === false ? undefined : { configured: false }));
  await logLine(services, infId, 'inf', `Contextualization Error: ${message}`);
  return {};
}
