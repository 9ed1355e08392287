/**
 * The step plan of a contextualization (pure; lifecycle.md §3), with the disabling rules of
 * #core/ctxt-rules.
 *
 * - Disabled entirely by `contextualize ()`, by contextualize items none of which uses Ansible, or when
 *   every VM's system has an empty `configure <system> ()`; then VMs count as configured.
 * - A VM whose system has an empty configure is configured without running anything ("Contextualization
 *   disabled").
 * - The other VMs run the basic play, then the user configures: every contextualize item
 *   `system S configure C [step n]` (n defaults to 0, as in IM) becomes task `C_S` at step n on the VMs of S;
 *   without items, each configure named like a system runs at step 1 on that system's VMs.
 * - Steps run in ascending order, tasks of a step in item order. `vmIds` (Reconfigure's vm_list) limits the
 *   user configure tasks to those VMs; the basic play still runs on every VM.
 */
import { isAnsibleTool, isEmptyRecipe, isInfraCtxtDisabled, isSystemCtxtDisabled } from '#core/ctxt-rules';
import type { Radl } from '#radl/index';

export interface PlanTask {
  /** `<configure>_<system>`, the task name IM logs (`Launch task: …`). */
  name: string;
  configure: string;
  system: string;
  step: number;
  vmIds: number[];
}

export interface PlanStep {
  step: number;
  tasks: PlanTask[];
}

export interface CtxtPlan {
  /** The whole contextualization is disabled (nothing runs; VMs count as configured). */
  disabled: boolean;
  /** VMs configured without running anything (their system has an empty configure). */
  disabledVms: number[];
  /** VMs that run the basic play (and their configure tasks). */
  ctxtVms: number[];
  steps: PlanStep[];
  /** Lines for the infrastructure log. */
  warnings: string[];
}

export interface PlanVm {
  vmId: number;
  systemName: string;
}

export function planContextualization(radl: Radl, vms: PlanVm[], vmIds?: number[]): CtxtPlan {
  const warnings: string[] = [];
  const ctx = radl.contextualize;
  const empty = (): CtxtPlan => ({ disabled: true, disabledVms: vms.map((v) => v.vmId), ctxtVms: [], steps: [], warnings });

  if (isInfraCtxtDisabled(radl)) return empty();

  const systemDisabled = (system: string) => isSystemCtxtDisabled(radl, system);
  const disabledVms = vms.filter((v) => systemDisabled(v.systemName)).map((v) => v.vmId);
  if (vms.length > 0 && disabledVms.length === vms.length) return empty();
  const ctxtVms = vms.filter((v) => !systemDisabled(v.systemName)).map((v) => v.vmId);
  const ctxtSet = new Set(ctxtVms);
  const only = vmIds ? new Set(vmIds) : undefined;

  const vmsOf = (system: string) =>
    vms.filter((v) => v.systemName === system && ctxtSet.has(v.vmId) && (!only || only.has(v.vmId))).map((v) => v.vmId);

  const items =
    ctx && ctx.items.length > 0
      ? ctx.items.map((i) => ({ system: i.systemId, configure: i.configureId, step: i.step ?? 0, tool: i.ctxtTool }))
      : [...new Set(vms.map((v) => v.systemName))]
          .filter((s) => radl.getConfigureByName(s) !== undefined)
          .map((s) => ({ system: s, configure: s, step: 1, tool: undefined as string | undefined }));

  const byStep = new Map<number, PlanTask[]>();
  for (const it of items) {
    if (!isAnsibleTool(it.tool)) continue;
    const conf = radl.getConfigureByName(it.configure);
    if (!conf) {
      warnings.push(`WARNING: configure '${it.configure}' of system '${it.system}' not found. Ignoring it.`);
      continue;
    }
    if (isEmptyRecipe(conf.recipes)) continue;
    const ids = vmsOf(it.system);
    if (ids.length === 0) continue;
    const task: PlanTask = { name: `${it.configure}_${it.system}`, configure: it.configure, system: it.system, step: it.step, vmIds: ids };
    const list = byStep.get(it.step) ?? [];
    list.push(task);
    byStep.set(it.step, list);
  }
  const steps = [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, tasks]) => ({ step, tasks }));
  return { disabled: false, disabledVms, ctxtVms, steps, warnings };
}
