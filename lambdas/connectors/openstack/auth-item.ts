/**
 * The OpenStack auth item (auth.md §3, openstack.md §1.1–1.2): its `host` (Keystone URL, `{server}` of the
 * image URLs), the checked fields, and the identity a VM remembers so that later calls use a compatible item.
 * Pure: no network. Small and SDK-free: the registry's concreteSystem uses it.
 */
import { ImError } from '#core/errors';
import type { AuthItem } from '#core/types';

export type AuthVersion = '2.0_password' | '2.0_voms' | '3.x_password' | '3.x_appcred' | '3.x_oidc_access_token';
const AUTH_VERSIONS: readonly string[] = ['2.0_password', '2.0_voms', '3.x_password', '3.x_appcred', '3.x_oidc_access_token'];

/** The parts of the item's `host`. */
export interface OstHost {
  scheme: 'http' | 'https';
  /** Host name without port (the `{server}` of `ost://{server}/…`). */
  server: string;
  port: number;
  /** The port was written in `host`. */
  explicitPort: boolean;
  /** Path as given ('' when none). */
  path: string;
  /** `<scheme>://<server>:<port><path>` with the path dropped when it is `/`, `/v3` or `/v3/`. */
  keystoneBase: string;
}

/** Parses `host` (`https://server:5000/v3`, `server:5000`, …); undefined when it cannot be read. */
export function parseHost(host: string | undefined): OstHost | undefined {
  if (!host || !host.trim()) return undefined;
  const text = host.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return undefined;
  }
  const scheme = url.protocol === 'https:' ? 'https' : url.protocol === 'http:' ? 'http' : undefined;
  if (!scheme || !url.hostname) return undefined;
  const explicitPort = url.port !== '';
  const port = explicitPort ? Number(url.port) : scheme === 'https' ? 443 : 80;
  const rawPath = /^[a-z][a-z0-9+.-]*:\/\/[^/]*(\/.*)?$/i.exec(withScheme)?.[1] ?? '';
  const path = rawPath.replace(/[?#].*$/, '');
  const kept = path === '/' || path === '/v3' || path === '/v3/' ? '' : path.replace(/\/+$/, '');
  const server = url.hostname.replace(/^\[|\]$/g, '');
  const hostPart = url.hostname.includes(':') ? `[${server}]` : url.hostname;
  return { scheme, server, port, explicitPort, path, keystoneBase: `${scheme}://${hostPart}:${port}${kept}` };
}

/** The checked item. */
export interface OstAuth {
  item: AuthItem;
  host: OstHost;
  authVersion: AuthVersion;
  username?: string;
  password?: string;
  tenant?: string;
  domain?: string;
  tenantDomainId: string;
  serviceRegion?: string;
  serviceName?: string;
  baseUrl?: string;
  networkUrl?: string;
  imageUrl?: string;
  volumeUrl?: string;
  authToken?: string;
  microversion?: string;
  vo?: string;
  tenantId?: string;
  proxy?: string;
}

const v = (item: AuthItem, k: string): string | undefined => {
  const x = item[k];
  return typeof x === 'string' && x.trim() !== '' ? x.trim() : undefined;
};

/** The secret values of an item (never logged, scrubbed from every message). */
export function itemSecrets(item: AuthItem): string[] {
  return ['password', 'auth_token', 'proxy', 'token', 'secret'].map((k) => item[k]).filter((s): s is string => typeof s === 'string' && s.length > 0);
}

/** Validates the item (§1.1 texts). */
export function parseAuthItem(item: AuthItem): OstAuth {
  const host = parseHost(item.host);
  if (!host) throw new ImError('BAD_REQUEST', 'No auth data has been specified to OpenStack.');
  const proxy = v(item, 'proxy');
  const authToken = v(item, 'auth_token');
  const given = v(item, 'auth_version');
  const authVersion = (given ?? (proxy ? '2.0_voms' : '2.0_password')) as AuthVersion;
  if (!AUTH_VERSIONS.includes(authVersion)) {
    throw new ImError('BAD_REQUEST', `Unrecognized auth_version: ${given}. Valid values: ${AUTH_VERSIONS.join(', ')}`);
  }
  const apiVersion = v(item, 'api_version') ?? '2.0';
  if (!['2.0', '2.1', '2.2'].includes(apiVersion)) throw new ImError('BAD_REQUEST', `No OpenStackNodeDriver found for API version ${apiVersion}`);
  const username = v(item, 'username');
  const password = typeof item.password === 'string' && item.password !== '' ? item.password : undefined;
  const tenant = v(item, 'tenant');
  // A static token needs no credentials (a deliberate relaxation of IM, which asks for them anyway).
  if (!authToken && !proxy && !(username && password && tenant)) {
    throw new ImError('BAD_REQUEST', 'No correct auth data has been specified to OpenStack.: username, password and tenant or proxy');
  }
  const baseUrl = v(item, 'base_url');
  if (authToken && !baseUrl) throw new ImError('BAD_REQUEST', 'Must also provide ex_force_base_url when specifying ex_force_auth_token.');
  const out: OstAuth = { item, host, authVersion, tenantDomainId: v(item, 'tenant_domain_id') ?? 'default' };
  const opt = {
    username,
    password,
    tenant,
    domain: v(item, 'domain'),
    serviceRegion: v(item, 'service_region'),
    serviceName: v(item, 'service_name'),
    baseUrl,
    networkUrl: v(item, 'network_url'),
    imageUrl: v(item, 'image_url'),
    volumeUrl: v(item, 'volume_url'),
    authToken,
    microversion: v(item, 'microversion'),
    vo: v(item, 'vo'),
    tenantId: v(item, 'tenant_id'),
    proxy,
  };
  for (const [k, x] of Object.entries(opt)) if (x !== undefined) (out as unknown as Record<string, string>)[k] = x;
  return out;
}

/** What a VM remembers of the item it was created with (§1.2; IM's `cloud.extra`). */
export interface RememberedAuth {
  auth_version: string;
  tenant?: string;
  username?: string;
  domain?: string;
}

export function rememberAuth(item: AuthItem): RememberedAuth {
  const version = v(item, 'auth_version') ?? (v(item, 'proxy') ? '2.0_voms' : '2.0_password');
  if (version === '2.0_password' || version === '3.x_password') {
    const tenant = v(item, 'tenant');
    return { auth_version: version, ...(tenant ? { tenant } : {}) };
  }
  if (version === '3.x_oidc_access_token') {
    const username = v(item, 'username');
    const domain = v(item, 'domain');
    return { auth_version: version, ...(username ? { username } : {}), ...(domain ? { domain } : {}) };
  }
  return { auth_version: version };
}

/** Throws IM's `No compatible auth data…` when the item is not the one the VM was created with. */
export function checkCompatible(remembered: RememberedAuth | undefined, item: AuthItem): void {
  if (!remembered) return;
  const now = rememberAuth(item);
  for (const k of ['auth_version', 'tenant', 'username', 'domain'] as const) {
    if ((remembered[k] ?? undefined) !== (now[k] ?? undefined)) {
      throw new ImError('BAD_REQUEST', 'No compatible auth data has been specified to OpenStack.');
    }
  }
}
