/**
 * GetCloudImageList: the images of the cloud whose auth item has id `cloudId`
 * (`Cloud ID <id> not found.` otherwise), filtered by provider-specific `filters`.
 */
import { errors } from '#core/errors';
import type { AuthItem, CloudImage, Services } from '#core/types';
import { authenticate } from '#core/auth';
import { cloudItems } from '#core/cloud-auth';
import { connectorFor } from '#core/usecases/common';

/** `k1=v1,k2=v2` → map; anything else → 400 `Invalid format in filters parameter.` */
export function parseFilters(text: string): Record<string, string> {
  const filters: Record<string, string> = {};
  for (const elem of text.split(',')) {
    const kv = elem.split('=');
    if (kv.length !== 2) throw errors.badRequest('Invalid format in filters parameter.');
    filters[kv[0]] = kv[1];
  }
  return filters;
}

/** The caller's cloud item with this id, or 400 `Cloud ID <id> not found.` */
export function cloudItemById(items: AuthItem[], cloudId: string): AuthItem {
  const item = cloudItems(items).find((i) => i.id === cloudId);
  if (!item) throw errors.badRequest(`Cloud ID ${cloudId} not found.`);
  return item;
}

export async function getCloudImageList(
  services: Services,
  auth: AuthItem[],
  cloudId: string,
  filters: Record<string, string> = {},
): Promise<CloudImage[]> {
  const caller = await authenticate(services, auth);
  const item = cloudItemById(caller.items, cloudId);
  return connectorFor(services, item.type).listImages(item, filters);
}
