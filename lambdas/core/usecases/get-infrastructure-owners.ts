/** GetInfrastructureOwners: the owner usernames (OIDC owners as `__OPENID__<name>`). */
import type { AuthItem, Services } from '#core/types';
import { callerAndInfra } from '#core/usecases/common';

export async function getInfrastructureOwners(services: Services, auth: AuthItem[], infId: string): Promise<string[]> {
  const { inf } = await callerAndInfra(services, auth, infId);
  return inf.owners.map((o) => o.username);
}
