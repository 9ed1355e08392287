/**
 * The cloud credentials an infrastructure's asynchronous work needs (launch, destroy, stop…)
 * are stored sealed in the infrastructure record, never in executions and never in logs.
 */
import type { AuthItem, InfraRecord, Services } from '#core/types';
import { errors } from '#core/errors';

/** Cloud items only: IM identities are stored as owners (hashed), never here. */
export function cloudItems(items: AuthItem[]): AuthItem[] {
  return items.filter((i) => !['InfrastructureManager', 'VMRC', 'EGIIS', 'Vault'].includes(i.type));
}

export function sealCloudAuth(services: Pick<Services, 'secrets'>, items: AuthItem[]): string {
  return services.secrets.seal(JSON.stringify(cloudItems(items)));
}

export function openCloudAuth(services: Pick<Services, 'secrets'>, inf: Pick<InfraRecord, 'cloudAuth'>): AuthItem[] {
  if (!inf.cloudAuth) return [];
  return JSON.parse(services.secrets.open(inf.cloudAuth)) as AuthItem[];
}

/** The auth item with this cloud id, or a 400 with IM's text. */
export function authForCloud(items: AuthItem[], cloudId: string): AuthItem {
  const item = items.find((i) => i.id === cloudId);
  if (!item) throw errors.badRequest(`No auth data for cloud with ID: ${cloudId}`);
  return item;
}
