/**
 * Which VMs contextualization concerns (lifecycle.md §3): the one rule that the contextualize flow
 * (lambdas/orchestration/contextualize-tasks.ts: what to count, what to mark failed), the launch flow
 * (a VM whose contextualization is disabled needs no SSH wait) and the contextualization runner
 * (lambdas/runner: which VMs Ansible takes) all use.
 *
 * Disabled for the whole infrastructure: `contextualize ()` (no items, no options), or contextualize
 * items none of which uses Ansible. Disabled for the VMs of one system: an empty `configure <system> ()`
 * (no recipe text, or only blanks).
 *
 * The runner takes every live VM of the infrastructure whose state is running, configured or
 * unconfigured and that is not simulated (a Dummy VM's address is a placeholder that nothing may
 * connect to). After a launch (`vmIds` = the VMs just launched, no `reconfigure`), a new VM whose SSH
 * wait failed (ctxtState `failed`) or never happened (`none`) is left out with the state the launch gave
 * it. With `reconfigure`, `vmIds` (Reconfigure's vm_list) only limits the user configure steps: every VM
 * the runner takes still runs the basic play.
 */
import type { Radl } from '#radl/index';
import type { VmRecord } from '#core/types';

/** A contextualize item's tool is Ansible: no tool, an empty one, or `ansible` in any case. */
export function isAnsibleTool(tool: string | undefined): boolean {
  return tool === undefined || tool === '' || tool.toLowerCase() === 'ansible';
}

/** A configure without recipe text (`configure x ()`), or with blanks only. */
export function isEmptyRecipe(recipes: string | null | undefined): boolean {
  return recipes === null || recipes === undefined || recipes.trim() === '';
}

/** `contextualize ()`, or contextualize items none of which uses Ansible. */
export function isInfraCtxtDisabled(radl: Radl): boolean {
  const c = radl.contextualize;
  if (!c) return false;
  if (c.isEmpty()) return true;
  return c.items.length > 0 && !c.items.some((i) => isAnsibleTool(i.ctxtTool));
}

/** The system has an empty `configure <system> ()` (a definition, not a reference). */
export function isSystemCtxtDisabled(radl: Radl, systemName: string): boolean {
  const conf = radl.getConfigureByName(systemName);
  return conf !== undefined && !conf.reference && isEmptyRecipe(conf.recipes);
}

/** The infrastructure rule, or the VM's system has an empty configure. */
export function isVmCtxtDisabled(radl: Radl, systemName: string): boolean {
  return isInfraCtxtDisabled(radl) || isSystemCtxtDisabled(radl, systemName);
}

/** What a contextualization run covers: the workflow input. */
export interface CtxtScope {
  vmIds?: number[];
  reconfigure?: boolean;
}

/** VM states the runner works on (IM's NOT_RUNNING_STATES and failed launches take no part). */
export const CTXT_VM_STATES: ReadonlySet<string> = new Set(['running', 'configured', 'unconfigured']);

/**
 * How a VM record takes part in a contextualization run:
 *  - `takes`: the runner contextualizes it;
 *  - `not-running`: a live VM that is not running (pending, stopped, off, unknown…): left out, and the
 *    runner says so in the infrastructure log;
 *  - `left-out`: gone (destroyed, being deleted, a launch that failed before any cloud VM existed), simulated,
 *    or a new VM whose SSH wait failed.
 */
export type CtxtParticipation = 'takes' | 'not-running' | 'left-out';

export function ctxtParticipation(vm: VmRecord, scope: CtxtScope, isSimulated: (cloudType: string) => boolean): CtxtParticipation {
  if (vm.destroyed || vm.deleting || (vm.state === 'failed' && !vm.providerId)) return 'left-out';
  const justLaunched = !scope.reconfigure && (scope.vmIds ?? []).includes(vm.vmId);
  if (justLaunched && (vm.ctxtState === 'failed' || vm.ctxtState === 'none')) return 'left-out';
  if (isSimulated(vm.cloudType)) return 'left-out';
  return CTXT_VM_STATES.has(vm.state) && vm.providerId ? 'takes' : 'not-running';
}

/** Whether the runner takes the VM ({@link ctxtParticipation} is `takes`). */
export function runnerTakes(vm: VmRecord, scope: CtxtScope, isSimulated: (cloudType: string) => boolean): boolean {
  return ctxtParticipation(vm, scope, isSimulated) === 'takes';
}
