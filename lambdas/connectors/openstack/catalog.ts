/**
 * Service endpoints (openstack.md §1.4–1.5): catalog lookup by type, name, `public` interface and
 * `service_region`, and the item's URL overrides (`base_url`, `network_url`, `image_url`, `volume_url`).
 */
import { OpenStackAuthError } from '#connectors/openstack/errors';
import type { OstAuth } from '#connectors/openstack/auth-item';
import type { CatalogService } from '#connectors/openstack/keystone';

export type ServiceKind = 'compute' | 'network' | 'image' | 'volume';

/** Catalog type / default name pairs tried in order. */
const CANDIDATES: Record<ServiceKind, [string, string][]> = {
  compute: [['compute', 'nova']],
  network: [['network', 'neutron']],
  image: [['image', 'glance']],
  volume: [
    ['volumev3', 'cinderv3'],
    ['volumev2', 'cinderv2'],
  ],
};

export interface ResolvedEndpoint {
  url: string;
  /** The catalog type it came from (microversion headers go to types starting with the named service). */
  type: string;
}

function lookup(catalog: CatalogService[], type: string, name: string | undefined, region: string | undefined): string {
  const matches: string[] = [];
  for (const s of catalog) {
    if (s.type !== type || (name !== undefined && s.name !== name)) continue;
    for (const e of s.endpoints) {
      if (e.interface !== 'public' && e.interface !== 'publicURL') continue;
      if (region !== undefined && e.region !== region) continue;
      matches.push(e.url);
    }
  }
  if (matches.length === 0) throw new OpenStackAuthError('Could not find specified endpoint');
  if (matches.length > 1) throw new OpenStackAuthError('Found more than 1 matching endpoint');
  return matches[0];
}

const trim = (url: string) => url.replace(/\/+$/, '');

/** The base URL of an API (requests append their paths to it). */
export function endpointFor(kind: ServiceKind, catalog: CatalogService[], a: OstAuth): ResolvedEndpoint {
  const override = kind === 'compute' ? a.baseUrl : (kind === 'network' ? a.networkUrl : kind === 'image' ? a.imageUrl : a.volumeUrl) ?? a.baseUrl;
  const [defaultType] = CANDIDATES[kind][0];
  if (override) return { url: trim(override), type: defaultType };
  const region = a.serviceRegion;
  let lastError: unknown;
  for (const [type, defaultName] of CANDIDATES[kind]) {
    const name = a.serviceName === 'None' ? (kind === 'compute' ? undefined : defaultName) : (a.serviceName ?? defaultName);
    try {
      return { url: trim(lookup(catalog, type, name, region)), type };
    } catch (err) {
      lastError = err;
      // volumev3 → volumev2 only when v3 is absent; several matches is an error as it is.
      if (err instanceof OpenStackAuthError && err.message.startsWith('Found more')) throw err;
    }
  }
  throw lastError;
}

/** The `OpenStack-API-Version` header value for an API, from the item's `microversion` (§1.5). */
export function microversionHeader(microversion: string | undefined, catalogType: string): string | undefined {
  if (!microversion) return undefined;
  const m = /^\s*(?:([A-Za-z-]+)\s+)?(\d+\.\d+|latest)\s*$/.exec(microversion);
  if (!m) return undefined;
  const svc = m[1];
  if (!svc) return catalogType === 'compute' ? `compute ${m[2]}` : undefined;
  return catalogType.startsWith(svc) ? `${svc} ${m[2]}` : undefined;
}
