/**
 * The auth services of one entry point (Services.auth): the OIDC token verifier, the Vault client,
 * the USER_DB reader and the owner-secret checker, each with its own caches. The composition roots
 * (lambdas/handlers/bootstrap.ts, lambdas/local/server.ts) build this once and share it between
 * the REST and XML-RPC handlers of the process.
 */
import type { Config } from '#core/config';
import type { AuthServices } from '#core/auth-ports';
import { OwnerSecrets, type OwnerSecretsOptions } from '#core/owner-secrets';
import { createHttpClient, type HttpClient } from '#adapters/http/client';
import { OidcTokenVerifier } from '#adapters/oidc/verifier';
import { HttpCredentialVault } from '#adapters/vault/client';
import { UserDbFile } from '#adapters/user-db-file';

export interface AuthServicesOptions {
  config: Config;
  /** OIDC_CLIENT_SECRET when it comes from elsewhere than the config (AWS: Secrets Manager). */
  oidcClientSecret?: string;
  /** Another HTTP client (tests). */
  http?: HttpClient;
  owners?: OwnerSecretsOptions;
  now?: () => number;
}

export function createAuthServices(opts: AuthServicesOptions): AuthServices {
  const { config } = opts;
  const now = opts.now ?? Date.now;
  const http = opts.http ?? createHttpClient({ verifyTls: config.VERIFI_SSL });
  const clientSecret = opts.oidcClientSecret ?? config.OIDC_CLIENT_SECRET;
  return {
    tokens: new OidcTokenVerifier({
      issuers: config.OIDC_ISSUERS,
      ...(config.OIDC_CLIENT_ID ? { clientId: config.OIDC_CLIENT_ID } : {}),
      ...(clientSecret ? { clientSecret } : {}),
      http,
      jwksCooldownMs: config.OIDC_JWKS_COOLDOWN * 1000,
      now,
    }),
    vault: new HttpCredentialVault({ http, now }),
    userDb: new UserDbFile(now),
    owners: new OwnerSecrets({ ...(opts.owners ?? {}), now }),
  };
}
