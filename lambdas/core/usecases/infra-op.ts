/**
 * StartInfrastructure / StopInfrastructure: the `start` / `stop` workflow over every live VM
 * (MAX_SIMULTANEOUS_LAUNCHES at a time). Any VM failure → 400
 * `Error starting|stopping the infrastructure: <msgs>`.
 */
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { mutateInfrastructure } from '#core/mutate';
import { callerAndInfra, liveVms, refreshedCloudAuth, requireWriteMode, waitSync } from '#core/usecases/common';
import { executionError } from '#core/usecases/workflow-errors';

async function powerInfrastructure(services: Services, auth: AuthItem[], infId: string, op: 'start' | 'stop'): Promise<string> {
  requireWriteMode(services);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  const cloudAuth = refreshedCloudAuth(services, inf, caller);
  if (cloudAuth) await mutateInfrastructure(services.store, infId, () => ({ cloudAuth }));
  const vms = await liveVms(services, infId);
  if (vms.length === 0) return '';
  const execution = await services.orchestrator.start(op, { infId, vmIds: vms.map((vm) => vm.vmId) });
  const status = await waitSync(services, execution);
  if (status === 'SUCCEEDED' || status === 'RUNNING') return '';
  const verb = op === 'start' ? 'starting' : 'stopping';
  const prefix = `Error ${verb} the infrastructure: `;
  const detail = await executionError(services, execution, prefix, { infId, scope: 'inf' });
  throw errors.badRequest(`${prefix}${detail ?? status}`);
}

export const startInfrastructure = (services: Services, auth: AuthItem[], infId: string) => powerInfrastructure(services, auth, infId, 'start');
export const stopInfrastructure = (services: Services, auth: AuthItem[], infId: string) => powerInfrastructure(services, auth, infId, 'stop');
