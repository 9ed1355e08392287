/** GetCloudQuotas: `{cores|ram|instances|floating_ips|security_groups|…: {used, limit}}` of a cloud (limit -1 = unlimited). */
import type { AuthItem, Quotas, Services } from '#core/types';
import { authenticate } from '#core/auth';
import { connectorFor } from '#core/usecases/common';
import { cloudItemById } from '#core/usecases/cloud-images';

export async function getCloudQuotas(services: Services, auth: AuthItem[], cloudId: string): Promise<Quotas> {
  const caller = await authenticate(services, auth);
  const item = cloudItemById(caller.items, cloudId);
  return connectorFor(services, item.type).getQuotas(item);
}
