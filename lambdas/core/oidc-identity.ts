/**
 * IM's rules for an OIDC access token once its origin is checked (auth.md §5 steps 4-7): audience,
 * scopes, groups, the derived identity (`__OPENID__<name>`, `<iss/>` + `<sub>`) and the admin
 * groups. The verification itself (signature, issuer, expiry, introspection) and userinfo are the
 * {@link TokenVerifier} port's (lambdas/adapters/oidc/).
 *
 * Userinfo is asked only when the configuration needs a group claim (OIDC_GROUPS, or
 * OIDC_ADMIN_GROUPS of the token's issuer) that the token lacks; the verifier caches its answer for
 * the token's lifetime. The user name comes from the verified claims alone (preferred_username,
 * name, username, sub), so that it does not change with the configuration.
 */
import { errors } from '#core/errors';
import type { Config } from '#core/config';
import type { Identity } from '#core/types';
import type { TokenVerifier, VerifiedToken } from '#core/auth-ports';

export const OPENID_PREFIX = '__OPENID__';

/** `https://iss` and `https://iss/` name the same issuer here. */
export const withSlash = (iss: string) => (iss.endsWith('/') ? iss : `${iss}/`);
export const sameIssuer = (a: string, b: string) => withSlash(a) === withSlash(b);

/** `aud` as a list: a JSON array, or a string whose comma-separated values all count (as IM). */
function audiences(aud: unknown): string[] {
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  if (typeof aud === 'string') return aud.split(',').map((a) => a.trim());
  return [];
}

/** A group claim as a list (a JSON array, or one string); undefined when the claim is absent. */
function groupList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === 'string') return [value];
  return undefined;
}

const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);

function scopeOf(claims: Record<string, unknown>): string {
  if (typeof claims.scope === 'string') return claims.scope;
  if (Array.isArray(claims.scp)) return claims.scp.map(String).join(' ');
  return '';
}

/** A token identity: the IM identity plus what Vault needs (the verified subject). */
export interface TokenIdentity {
  identity: Identity;
  subject: string;
  verified: VerifiedToken;
}

type OidcOptions = Pick<
  Config,
  'OIDC_AUDIENCE' | 'OIDC_SCOPES' | 'OIDC_GROUPS' | 'OIDC_GROUPS_CLAIM' | 'OIDC_ADMIN_GROUPS'
>;

/**
 * The identity of an access token, or an ImError with IM's text. `admin` covers OIDC_ADMIN_GROUPS
 * only (ADMIN_USER is checked by the caller, as for passwords).
 */
export async function tokenIdentity(config: OidcOptions, tokens: TokenVerifier, token: string): Promise<TokenIdentity> {
  const verified = await tokens.verify(token);
  const claims = verified.claims;
  if (config.OIDC_AUDIENCE && !audiences(claims.aud).includes(config.OIDC_AUDIENCE)) {
    throw errors.invalidCredentials('Audience not accepted.');
  }
  if (config.OIDC_SCOPES.length > 0) {
    const scope = scopeOf(claims);
    if (scope === '') throw errors.invalidCredentials('No scope obtained from introspection.');
    const have = scope.split(' ');
    if (!config.OIDC_SCOPES.every((s) => have.includes(s))) {
      throw errors.invalidCredentials(`Scopes ${config.OIDC_SCOPES.join(' ')} not in introspection scopes: ${scope}`);
    }
  }
  const adminGroups = config.OIDC_ADMIN_GROUPS.filter((g) => sameIssuer(g.issuer, verified.issuer));
  let groups: string[] = [];
  if (config.OIDC_GROUPS.length > 0 || adminGroups.length > 0) {
    const claim = config.OIDC_GROUPS_CLAIM;
    groups = groupList(claims[claim]) ?? groupList((await tokens.userinfo(token, verified))[claim]) ?? [];
  }
  if (!config.OIDC_GROUPS.every((g) => groups.includes(g))) {
    throw errors.invalidCredentials('User not in configured groups.');
  }
  const subject = text(claims.sub);
  if (subject === undefined) throw errors.invalidCredentials('OIDC auth Token without subject.');
  const name = text(claims.preferred_username) ?? text(claims.name) ?? text(claims.username) ?? subject;
  return {
    identity: {
      username: `${OPENID_PREFIX}${name}`,
      password: `${withSlash(verified.issuer)}${subject}`,
      usedToken: true,
      admin: adminGroups.some((g) => groups.includes(g.group)),
    },
    subject,
    verified,
  };
}
