/**
 * The cloud credentials an infrastructure's asynchronous work needs (launch, destroy, stop…)
 * are stored sealed in the infrastructure record, never in executions and never in logs.
 *
 * The sealed text is the JSON of `{items, token?}`: the cloud items, and the caller's OIDC access
 * token when it signed in with one (TOSCA's `access_token()`, OpenStack `3.x_oidc_access_token`).
 * Records sealed before held the JSON array of the items alone; both read back.
 */
import type { AuthItem, InfraRecord, Services } from '#core/types';
import { errors } from '#core/errors';

const OIDC_AUTH_VERSION = '3.x_oidc_access_token';

/** Cloud items only: IM identities are stored as owners (hashed), never here. */
export function cloudItems(items: AuthItem[]): AuthItem[] {
  return items.filter((i) => !['InfrastructureManager', 'VMRC', 'EGIIS', 'Vault'].includes(i.type));
}

/** The request's OIDC access token: its first InfrastructureManager item with a token. */
export function requestToken(items: AuthItem[]): string | undefined {
  return items.find((i) => i.type === 'InfrastructureManager' && i.token)?.token;
}

interface Sealed {
  items: AuthItem[];
  token?: string;
}

function open(services: Pick<Services, 'secrets'>, inf: Pick<InfraRecord, 'cloudAuth'>): Sealed {
  if (!inf.cloudAuth) return { items: [] };
  const parsed = JSON.parse(services.secrets.open(inf.cloudAuth)) as AuthItem[] | Sealed;
  return Array.isArray(parsed) ? { items: parsed } : parsed;
}

/**
 * Seals the cloud items of `items` with the request's token (or `token` when given: the token to
 * keep when this request brought none).
 */
export function sealCloudAuth(services: Pick<Services, 'secrets'>, items: AuthItem[], token = requestToken(items)): string {
  const sealed: Sealed = { items: cloudItems(items), ...(token ? { token } : {}) };
  return services.secrets.seal(JSON.stringify(sealed));
}

export function openCloudAuth(services: Pick<Services, 'secrets'>, inf: Pick<InfraRecord, 'cloudAuth'>): AuthItem[] {
  return open(services, inf).items;
}

/** The OIDC access token of the last caller that signed in with one (undefined: none). */
export function openAccessToken(services: Pick<Services, 'secrets'>, inf: Pick<InfraRecord, 'cloudAuth'>): string | undefined {
  return open(services, inf).token;
}

/**
 * Stored items that carried the old token carry the new one: OpenStack `3.x_oidc_access_token`
 * items (the token is their password) and EGI items (their `token`).
 */
export function withFreshToken(items: AuthItem[], oldToken: string | undefined, newToken: string | undefined): AuthItem[] {
  if (!oldToken || !newToken || oldToken === newToken) return items;
  return items.map((i) => {
    if (i.type === 'OpenStack' && i.auth_version === OIDC_AUTH_VERSION && i.password === oldToken) return { ...i, password: newToken };
    if (i.type === 'EGI' && i.token === oldToken) return { ...i, token: newToken };
    return i;
  });
}

/**
 * The cloud items for work on this infrastructure now: the caller's items, then the stored ones
 * of other ids (their old token replaced by the caller's), and the token to use.
 */
export function currentCloudAuth(
  services: Pick<Services, 'secrets'>,
  inf: Pick<InfraRecord, 'cloudAuth'>,
  callerItems: AuthItem[],
): { items: AuthItem[]; token?: string; changed: boolean } {
  const stored = open(services, inf);
  const fresh = cloudItems(callerItems);
  const token = requestToken(callerItems) ?? stored.token;
  const ids = new Set(fresh.map((i) => i.id));
  const kept = withFreshToken(
    stored.items.filter((i) => !ids.has(i.id)),
    stored.token,
    token,
  );
  const items = [...fresh, ...kept];
  const byId = new Map(stored.items.map((i) => [i.id, JSON.stringify(i)]));
  const changed =
    token !== stored.token || items.length !== stored.items.length || items.some((i) => byId.get(i.id) !== JSON.stringify(i));
  return { items, ...(token ? { token } : {}), changed };
}

/** The auth item with this cloud id, or a 400 with IM's text. */
export function authForCloud(items: AuthItem[], cloudId: string): AuthItem {
  const item = items.find((i) => i.id === cloudId);
  if (!item) throw errors.badRequest(`No auth data for cloud with ID: ${cloudId}`);
  return item;
}
