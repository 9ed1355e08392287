/**
 * Cloud credentials from Vault (auth.md §6): a `Vault` item (`host`, `token`, `path`?,
 * `mount_point`?, `role`?) is replaced by the cloud items of the user's secret.
 *
 *  1. log in with the token (`auth/jwt/login`, role): a refusal is the request's error;
 *  2. read the secret at `path` (default: the Vault entity id; `#USER_SUB#` → the token's subject)
 *     under `mount_point` (default `credentials/`), KV version 1 as IM, or version 2;
 *  3. every value is the JSON text of one auth item: `"enabled": false` ones are skipped, `enabled`
 *     is dropped; `fedcloud` becomes an OpenStack item on EGI's federation (the token as password);
 *     `EGI` items get the token; OpenStack `3.x_oidc_access_token` items get the token as password;
 *     Vault items are ignored;
 *  4. those items come first, the Vault item goes. Failures reading the secret are logged (without
 *     any secret) and give no items, as in IM.
 */
import type { Logger } from '#core/types';
import type { CredentialVault } from '#core/auth-ports';

export const DEFAULT_VAULT_MOUNT = 'credentials/';
const OIDC_AUTH_VERSION = '3.x_oidc_access_token';

/** The JWT payload's `sub`, without any check (Vault checks the token itself at login). */
function unverifiedSub(token: string): string | undefined {
  try {
    const payload: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    const sub = (payload as Record<string, unknown> | null)?.sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}

function asItem(value: unknown): Record<string, unknown> | undefined {
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

const disabled = (v: unknown) => v === false || (typeof v === 'string' && v.trim().toLowerCase() === 'false');

/** One stored value → the auth item it stands for (undefined: skipped). */
export function translateVaultItem(value: unknown, token: string): Record<string, string> | undefined {
  const obj = asItem(value);
  if (!obj || disabled(obj.enabled)) return undefined;
  const item: Record<string, string> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'enabled' || v === null || v === undefined) continue;
    item[k] = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
  if (item.type === 'Vault' || !item.type) return undefined;
  if (item.type === 'fedcloud') {
    const { project_id: project, vo: _vo, ...rest } = item;
    return {
      ...rest,
      type: 'OpenStack',
      username: 'egi.eu',
      tenant: 'openid',
      auth_version: OIDC_AUTH_VERSION,
      password: token,
      ...(project !== undefined ? { domain: project } : {}),
    };
  }
  if (item.type === 'EGI') return { ...item, token };
  if (item.type === 'OpenStack' && item.auth_version === OIDC_AUTH_VERSION) return { ...item, password: token };
  return item;
}

export interface VaultDeps {
  vault: CredentialVault;
  logger: Logger;
}

/**
 * The items with every usable Vault item replaced by what its secret holds (raw maps: the caller
 * normalises ids). `subjects` maps a token to its verified subject (for `#USER_SUB#`).
 */
export async function expandVaultItems(
  deps: VaultDeps,
  items: Record<string, string>[],
  subjects: ReadonlyMap<string, string>,
): Promise<Record<string, string>[]> {
  const fromVault: Record<string, string>[] = [];
  const rest: Record<string, string>[] = [];
  for (const item of items) {
    if (item.type !== 'Vault') {
      rest.push(item);
      continue;
    }
    if (!item.host || !item.token) continue;
    const token = item.token;
    const login = await deps.vault.login(item.host, token, item.role || undefined);
    const mount = item.mount_point || DEFAULT_VAULT_MOUNT;
    let path = item.path || login.entityId;
    if (path.includes('#USER_SUB#')) path = path.replaceAll('#USER_SUB#', subjects.get(token) ?? unverifiedSub(token) ?? '');
    let secret: Record<string, unknown> | undefined;
    try {
      secret = await deps.vault.readSecret(item.host, login.clientToken, mount, path);
    } catch (err) {
      deps.logger.warn('Error reading the cloud credentials from Vault', { host: item.host, mount, error: (err as Error).message });
      continue;
    }
    for (const value of Object.values(secret ?? {})) {
      const translated = translateVaultItem(value, token);
      if (translated) fromVault.push(translated);
    }
  }
  return [...fromVault, ...rest];
}
