/** GetInfrastructureRADL: the current RADL text of the infrastructure (internal fake systems removed). */
import type { AuthItem, Services } from '#core/types';
import { radlToText } from '#radl/index';
import { callerAndInfra, infraRadl } from '#core/usecases/common';

/** Name prefix of the internal systems that pin private networks to a cloud (never shown). */
export const FAKE_SYSTEM_PREFIX = 'F0000__FAKE_SYSTEM__';

export async function getInfrastructureRadl(services: Services, auth: AuthItem[], infId: string): Promise<string> {
  const { inf } = await callerAndInfra(services, auth, infId);
  const radl = infraRadl(inf);
  radl.systems = radl.systems.filter((s) => !s.name.startsWith(FAKE_SYSTEM_PREFIX));
  radl.deploys = radl.deploys.filter((d) => !d.systemId.startsWith(FAKE_SYSTEM_PREFIX));
  return radlToText(radl);
}
