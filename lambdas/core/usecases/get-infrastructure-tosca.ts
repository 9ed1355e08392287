/**
 * The TOSCA document (and outputs) of an infrastructure created from TOSCA. TOSCA input is not
 * supported yet, so only imported infrastructures can have one; otherwise 403 as IM.
 */
import { ImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { callerAndInfra } from '#core/usecases/common';

const notValid = (prop: string) => new ImError('FORBIDDEN', `'${prop}' infrastructure property is not valid in this infrastructure`);

export async function getInfrastructureTosca(services: Services, auth: AuthItem[], infId: string): Promise<string> {
  const { inf } = await callerAndInfra(services, auth, infId);
  if (!inf.tosca) throw notValid('tosca');
  return inf.tosca;
}

export async function getInfrastructureOutputs(services: Services, auth: AuthItem[], infId: string): Promise<Record<string, unknown>> {
  const { inf } = await callerAndInfra(services, auth, infId);
  const outputs = inf.extra?.outputs;
  if (!inf.tosca || typeof outputs !== 'object' || outputs === null) throw notValid('outputs');
  return outputs as Record<string, unknown>;
}
