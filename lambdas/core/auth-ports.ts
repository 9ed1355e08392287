/**
 * The ports of sign-in (auth.md §4-§6). The core applies IM's rules; what talks to the outside —
 * the OpenID issuers, Vault, the USER_DB file — sits behind these interfaces, implemented in
 * lambdas/adapters/ and built once per entry point by the composition roots, with their caches.
 */
import type { OwnerSecrets } from '#core/owner-secrets';

/** An access token whose origin was checked (a signed JWT, or an introspection answer). */
export interface VerifiedToken {
  /** The issuer: the token's `iss`, one of OIDC_ISSUERS (for introspection: that issuer). */
  issuer: string;
  /** The JWT payload (signature checked) or the introspection answer. */
  claims: Record<string, unknown>;
  /** `jwt`: verified against the issuer's keys; `introspection`: answered `active` by the issuer. */
  method: 'jwt' | 'introspection';
  /** Epoch ms after which the token is no longer valid, when it says. */
  expiresAt?: number;
}

export interface TokenVerifier {
  /**
   * Checks an OIDC access token (OIDC_ISSUERS, signature, expiry, not-before; opaque tokens through
   * introspection). Throws an ImError with IM's texts (auth.md §5, §8). A token already verified
   * costs no HTTP round trip.
   */
  verify(token: string): Promise<VerifiedToken>;
  /**
   * The issuer's userinfo answer for this token (cached for the token's lifetime). Throws an
   * ImError with IM's text when the issuer refuses.
   */
  userinfo(token: string, verified: VerifiedToken): Promise<Record<string, unknown>>;
}

/** `auth/jwt/login` result. */
export interface VaultLogin {
  clientToken: string;
  entityId: string;
}

export interface CredentialVault {
  /**
   * POST `<host>/v1/auth/jwt/login` with the user's token. A refusal throws
   * `Error getting Vault token: <code> - <body>` (400).
   */
  login(host: string, jwt: string, role?: string): Promise<VaultLogin>;
  /**
   * The key/value map of the secret at `<mount>/<path>` (KV version 1 or 2, detected);
   * undefined when there is none. Other failures throw (the caller swallows them, as IM).
   */
  readSecret(host: string, clientToken: string, mountPoint: string, path: string): Promise<Record<string, unknown> | undefined>;
}

/** A USER_DB user (auth.md §4). */
export interface UserDbUser {
  username: string;
  password: string;
}

export interface UserDb {
  /** The users of the file at `path`; undefined when it is missing or unreadable (everybody is refused). */
  users(path: string): Promise<UserDbUser[] | undefined>;
}

/** Everything sign-in needs, built once per entry point (Services.auth). */
export interface AuthServices {
  tokens: TokenVerifier;
  vault: CredentialVault;
  userDb: UserDb;
  /** Owner password hashes and their verification (caches and scrypt scheduling). */
  owners: OwnerSecrets;
}
