/** GetVersion: the version string of the service (no auth). */
import type { Services } from '#core/types';

export function getVersion(services: Pick<Services, 'config'>): string {
  return services.config.IM_VERSION;
}
