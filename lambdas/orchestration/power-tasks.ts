/**
 * Tasks of the stop and start flows (statemachines/stop.asl.json, start.asl.json): connector.stop /
 * connector.start per VM, the new state written (as the connector returns it, or refreshed from the
 * provider), errors collected into the VM logs and the execution's cause.
 */
import { authForCloud } from '#core/cloud-auth';
import { ImError } from '#core/errors';
import type { Services } from '#core/types';
import { applyVmState, infraContext, parseVmInfo, refineState, refreshVm, vmHandle, vmInfoWith } from '#core/vm-refresh';
import {
  caughtMessage,
  causeMessage,
  clip,
  executionInput,
  int,
  intList,
  logLine,
  str,
  updateVmFrom,
  type TaskPayload,
} from '#orchestration/task-support';

export type PowerOperation = 'stop' | 'start';

function operation(p: TaskPayload): PowerOperation {
  const op = p.operation;
  if (op !== 'stop' && op !== 'start') throw new ImError('BAD_REQUEST', `Invalid task payload: unknown operation '${String(op)}'`);
  return op;
}

const failureText = (op: PowerOperation) => (op === 'stop' ? 'Error stopping the infrastructure' : 'Error starting the infrastructure');

/** The VMs to act on: the given ids (or all) that are live and were launched. */
export async function preparePower(services: Services, p: TaskPayload): Promise<{ vmIds: number[]; maxConcurrency: number }> {
  operation(p);
  const input = executionInput(p);
  const only = intList(input, 'vmIds');
  const vms = (await services.store.listVms(input.infId)).filter(
    (v) => !v.destroyed && v.providerId !== undefined && (!only || only.includes(v.vmId)),
  );
  return { vmIds: vms.map((v) => v.vmId), maxConcurrency: services.config.MAX_SIMULTANEOUS_LAUNCHES };
}

async function powerVm(services: Services, p: TaskPayload, op: PowerOperation): Promise<{ vmId: number }> {
  const infId = str(p, 'infId');
  const vmId = int(p, 'vmId');
  const { store } = services;
  const [inf, vm] = await Promise.all([store.getInfrastructure(infId), store.getVm(infId, vmId)]);
  if (!inf) throw new ImError('INF_NOT_FOUND', 'Invalid infrastructure ID or access not granted.');
  if (!vm || vm.destroyed || !vm.providerId) return { vmId };
  const connector = services.connectors.get(vm.cloudType);
  if (!connector) throw new ImError('BAD_REQUEST', `Cloud type ${vm.cloudType} not supported`);
  const ctx = infraContext(services, inf);
  const auth = authForCloud(ctx.auth, vm.cloudId);
  const radl = parseVmInfo(vm);
  const handle = vmHandle(vm, radl);
  const update = op === 'stop' ? await connector.stop(handle, auth) : await connector.start(handle, auth);
  if (update) {
    const state = refineState(update.state, vm.ctxtState, inf.configured);
    const system = update.system.clone();
    applyVmState(system, state, vmId);
    const cloudData = update.cloudData ?? vm.cloudData;
    await updateVmFrom(store, vm, () => ({ state, info: vmInfoWith(radl, system), cloudData, lastUpdate: services.now() }));
  } else {
    await refreshVm(services, inf, vm, { force: true });
  }
  return { vmId };
}

/** connector.stop, then the VM's new state. */
export function stopVm(services: Services, p: TaskPayload): Promise<{ vmId: number }> {
  return powerVm(services, p, 'stop');
}

/** connector.start, then the VM's new state. */
export function startVm(services: Services, p: TaskPayload): Promise<{ vmId: number }> {
  return powerVm(services, p, 'start');
}

/** Writes each VM's error into its log; ok when there was none, else IM's summary as the error. */
export async function checkPower(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const op = operation(p);
  const infId = str(p, 'infId');
  const failures: string[] = [];
  for (const r of (Array.isArray(p.results) ? p.results : []) as { vmId?: number; error?: string }[]) {
    if (typeof r?.vmId !== 'number' || typeof r.error !== 'string') continue;
    const msg = clip(causeMessage(r.error));
    failures.push(`VM ${r.vmId}: ${msg}`);
    await logLine(services, infId, r.vmId, `Error ${op === 'stop' ? 'stopping' : 'starting'} the VM: ${msg}`);
  }
  if (failures.length === 0) return { ok: true, error: '' };
  return { ok: false, error: `${failureText(op)}: ${failures.join('\n')}` };
}

/** Catch of the stop/start flows: the error goes to the infrastructure log. */
export async function recordPowerFailure(services: Services, p: TaskPayload): Promise<{ ok: boolean; error: string }> {
  const op = operation(p);
  const input = executionInput(p);
  const error = `${failureText(op)}: ${clip(caughtMessage(p.error))}`;
  await logLine(services, input.infId, 'inf', error);
  return { ok: false, error };
}
