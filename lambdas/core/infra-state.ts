/**
 * Infrastructure state aggregation (lifecycle.md §1.2, GetInfrastructureState).
 *
 * Order-dependent by design, as in IM: VMs are scanned in id order and e.g. [configured, stopped]
 * gives `configured` while [stopped, configured] gives `stopped`.
 */
import type { VmState } from '#core/types';

export type InfraState = VmState;

export interface InfraStateInput {
  /** States of the live (non-destroyed) VMs, in VM id order. */
  vmStates: { vmId: number; state: VmState }[];
  /** Infra-level contextualization flag: undefined = not run yet, false = failed. */
  configured?: boolean;
  /** The infrastructure is being destroyed. */
  deleting: boolean;
}

export interface InfraStateResult {
  state: InfraState;
  vm_states: Record<string, VmState>;
}

export function aggregateInfraState(input: InfraStateInput): InfraStateResult {
  const vm_states: Record<string, VmState> = {};
  for (const { vmId, state } of input.vmStates) vm_states[String(vmId)] = state;

  let s: InfraState | undefined;
  for (const { state } of input.vmStates) {
    if (state === 'failed' || state === 'unknown') {
      s = state;
      break;
    }
    if (state === 'pending') s = 'pending';
    else if (state === 'running') {
      if (s !== 'pending') s = 'running';
    } else if (state === 'stopped' || state === 'off' || state === 'configured') {
      if (s === undefined) s = state;
    } else if (state === 'unconfigured') {
      if (s === undefined || s === 'configured') s = 'unconfigured';
    }
  }
  if (s === undefined) {
    if (input.configured === false) s = 'failed';
    else if (input.vmStates.length === 0 && input.configured === undefined) s = 'pending';
    else s = 'unknown';
  }
  if (input.deleting) s = 'deleting';
  return { state: s, vm_states };
}
