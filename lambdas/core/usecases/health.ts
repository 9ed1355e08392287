/**
 * GET /health (not an IM operation): whether the service can reach its store. No auth; says nothing
 * about infrastructures.
 */
import type { Services } from '#core/types';

export interface HealthReport {
  status: 'ok' | 'unavailable';
  store: 'ok' | 'unavailable';
  /** Why the store is unavailable. */
  message?: string;
}

export async function getHealth(services: Pick<Services, 'store'>): Promise<HealthReport> {
  const h = await services.store.health();
  return h.ok ? { status: 'ok', store: 'ok' } : { status: 'unavailable', store: 'unavailable', message: 'The infrastructure store is unavailable at the moment.' };
}
