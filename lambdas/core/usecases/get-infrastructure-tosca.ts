/**
 * The TOSCA template of an infrastructure created from TOSCA, with each node's current number of VMs
 * as its count; and its outputs evaluated against the live VMs. Otherwise 403 as IM.
 */
import { ImError } from '#core/errors';
import type { AuthItem, InfraRecord, Services } from '#core/types';
import { callerInfraAnd } from '#core/usecases/common';
import { infrastructureOutputs, toscaWithCounts } from '#core/usecases/tosca';

const notValid = (prop: string) => new ImError('FORBIDDEN', `'${prop}' infrastructure property is not valid in this infrastructure`);

function withTosca(inf: InfraRecord, prop: string): InfraRecord & { tosca: string } {
  if (!inf.tosca) throw notValid(prop);
  return inf as InfraRecord & { tosca: string };
}

export async function getInfrastructureTosca(services: Services, auth: AuthItem[], infId: string): Promise<string> {
  const { inf, value: vms } = await callerInfraAnd(services, auth, infId, () => services.store.listVms(infId));
  return toscaWithCounts(withTosca(inf, 'tosca'), vms);
}

export async function getInfrastructureOutputs(services: Services, auth: AuthItem[], infId: string): Promise<Record<string, unknown>> {
  const { inf, value: vms } = await callerInfraAnd(services, auth, infId, () => services.store.listVms(infId));
  return infrastructureOutputs(services, withTosca(inf, 'outputs'), vms);
}
