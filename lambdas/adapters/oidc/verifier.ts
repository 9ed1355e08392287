/**
 * The TokenVerifier port on OpenID issuers (auth.md §5), safer than IM, which decodes the JWT
 * without checking its signature and trusts whatever userinfo answers:
 *
 *  1. a token that is not a JWT goes to the issuer's introspection endpoint when OIDC_CLIENT_ID and
 *     OIDC_CLIENT_SECRET are set and OIDC_ISSUERS names one issuer (as IM); otherwise it cannot be
 *     decoded (400 `Error trying to decode OIDC auth token: …`);
 *  2. a JWT must carry `exp` in the future (`… OIDC auth Token expired.`) and an `iss` of
 *     OIDC_ISSUERS (`… Issuer not accepted.`) before anything is fetched (no request ever goes to a
 *     host the token names unless the configuration accepts it);
 *  3. its signature is checked with jose against the issuer's JWKS (found through
 *     `<iss>/.well-known/openid-configuration`), with asymmetric algorithms only: a forged
 *     signature, `alg: none`, an HMAC algorithm, an unknown key or a `nbf` in the future are
 *     refused, whatever userinfo would say.
 *
 * Verified tokens are cached (by sha256) until they expire, so a known token costs no HTTP round
 * trip; refusals that do not depend on the issuer's keys are remembered for a minute. Userinfo is
 * asked only by the core, when it needs a claim the token lacks, and cached for the token's life.
 */
import { createHash } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { ImError, errors } from '#core/errors';
import type { TokenVerifier, VerifiedToken } from '#core/auth-ports';
import { HttpFailure, jsonObject, type HttpClient } from '#adapters/http/client';
import { IssuerDirectory, IssuerKeys } from '#adapters/oidc/issuers';

/** Signature algorithms accepted for access tokens (asymmetric only: no `none`, no HMAC). */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];

export interface OidcVerifierOptions {
  /** OIDC_ISSUERS */
  issuers: string[];
  /** OIDC_CLIENT_ID / OIDC_CLIENT_SECRET: introspection of opaque tokens. */
  clientId?: string;
  clientSecret?: string;
  http: HttpClient;
  /** Least time between two key refetches caused by unknown key ids (OIDC_JWKS_COOLDOWN). */
  jwksCooldownMs?: number;
  /** How long an introspection answer is reused (default 5 min, never past the token's expiry). */
  introspectionTtlMs?: number;
  /** Clock skew allowed on `nbf` / `exp` by the signature check (default 30 s). */
  clockToleranceSeconds?: number;
  cacheMax?: number;
  now?: () => number;
}

interface Entry<T> {
  value?: T;
  error?: ImError;
  until: number;
}

const FAILURE_TTL_MS = 60_000;
const MAX_UNEXPIRING_MS = 3_600_000;

const trimSlash = (s: string) => s.replace(/\/+$/, '');
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const oidcAuth = (msg: string) => errors.invalidCredentials(`OIDC auth ${msg}.`);
const decodeError = (msg: string) => errors.badRequest(`Error trying to decode OIDC auth token: ${msg}`);

/** Form encoding of the client credentials for HTTP Basic (RFC 6749 §2.3.1). */
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export class OidcTokenVerifier implements TokenVerifier {
  private readonly directory: IssuerDirectory;
  private readonly keys: IssuerKeys;
  private readonly verified = new Map<string, Entry<VerifiedToken>>();
  private readonly userinfos = new Map<string, Entry<Record<string, unknown>>>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly now: () => number;

  constructor(private readonly opts: OidcVerifierOptions) {
    this.now = opts.now ?? Date.now;
    this.directory = new IssuerDirectory(opts.http, { now: this.now });
    this.keys = new IssuerKeys(opts.http, { now: this.now, ...(opts.jwksCooldownMs !== undefined ? { cooldownMs: opts.jwksCooldownMs } : {}) });
  }

  async verify(token: string): Promise<VerifiedToken> {
    const key = sha256(token);
    const hit = this.lookup(this.verified, key);
    if (hit) return hit;
    return this.once(`v:${key}`, async () => {
      try {
        const v = await this.check(token);
        const until = Math.min(v.expiresAt ?? Infinity, this.now() + (v.method === 'introspection' ? this.opts.introspectionTtlMs ?? 300_000 : MAX_UNEXPIRING_MS));
        this.store(this.verified, key, { value: v, until });
        return v;
      } catch (err) {
        if (err instanceof ImError && !(err as ImError & { transient?: boolean }).transient) {
          this.store(this.verified, key, { error: err, until: this.now() + FAILURE_TTL_MS });
        }
        throw err;
      }
    });
  }

  async userinfo(token: string, verified: VerifiedToken): Promise<Record<string, unknown>> {
    const key = sha256(token);
    const hit = this.lookup(this.userinfos, key);
    if (hit) return hit;
    return this.once(`u:${key}`, async () => {
      const info = await this.fetchUserinfo(token, verified);
      this.store(this.userinfos, key, { value: info, until: Math.min(verified.expiresAt ?? Infinity, this.now() + MAX_UNEXPIRING_MS) });
      return info;
    });
  }

  // ------------------------------------------------------------------------------------------

  private accepted(iss: string): string | undefined {
    return this.opts.issuers.find((i) => trimSlash(i) === trimSlash(iss));
  }

  private async check(token: string): Promise<VerifiedToken> {
    let header: ReturnType<typeof decodeProtectedHeader> | undefined;
    try {
      header = token.split('.').length === 3 ? decodeProtectedHeader(token) : undefined;
    } catch {
      header = undefined;
    }
    if (!header) {
      if (this.opts.clientId && this.opts.clientSecret && this.opts.issuers.length === 1) return this.introspect(token, this.opts.issuers[0]);
      throw decodeError('the token is not a JWT');
    }
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwt(token);
    } catch (e) {
      throw decodeError((e as Error).message);
    }
    const exp = claims.exp;
    if (typeof exp !== 'number') throw oidcAuth('Error getting token info');
    if (exp * 1000 <= this.now()) throw oidcAuth('Token expired');
    const iss = typeof claims.iss === 'string' ? claims.iss : '';
    if (!this.accepted(iss)) throw errors.invalidCredentials('Issuer not accepted.');
    const meta = await this.metadata(iss);
    if (!meta.jwks_uri) throw transient(oidcAuth('The issuer publishes no keys'));
    try {
      const { payload } = await jwtVerify(token, this.keys.getKey(meta.jwks_uri), {
        algorithms: ACCEPTED_ALGORITHMS,
        clockTolerance: this.opts.clockToleranceSeconds ?? 30,
        currentDate: new Date(this.now()),
      });
      return { issuer: iss, claims: payload as Record<string, unknown>, method: 'jwt', expiresAt: exp * 1000 };
    } catch (err) {
      throw this.signatureError(err);
    }
  }

  private signatureError(err: unknown): ImError {
    if (err instanceof ImError) return err;
    if (err instanceof HttpFailure) return transient(oidcAuth(`Error getting the issuer keys: ${err.message}`));
    if (err instanceof joseErrors.JWKSNoMatchingKey) return transient(oidcAuth('Token signed with an unknown key'));
    if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
      return oidcAuth('Token signing algorithm not accepted');
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) return oidcAuth('Token signature not valid');
    if (err instanceof joseErrors.JWTExpired) return oidcAuth('Token expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      return err.claim === 'nbf' ? oidcAuth('Token not yet valid') : oidcAuth(`Token claim ${err.claim} not valid`);
    }
    if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return transient(oidcAuth('Token key ambiguous'));
    if (err instanceof joseErrors.JOSEError) return decodeError(err.message);
    return transient(errors.internal(`OIDC token check failed: ${(err as Error).message}`, err));
  }

  private async metadata(iss: string) {
    try {
      return await this.directory.get(iss);
    } catch (err) {
      throw transient(oidcAuth(`Error getting the issuer configuration: ${(err as Error).message}`));
    }
  }

  /** IM's introspection (token_type_hint=access_token, client credentials in HTTP Basic). */
  private async introspect(token: string, issuer: string): Promise<VerifiedToken> {
    const meta = await this.metadata(issuer);
    const invalid = () => errors.invalidCredentials('Invalid token or Client credentials.');
    if (!meta.introspection_endpoint) throw transient(invalid());
    let claims: Record<string, unknown>;
    try {
      const answer = await this.opts.http(meta.introspection_endpoint, {
        method: 'POST',
        headers: {
          authorization: basic(this.opts.clientId as string, this.opts.clientSecret as string),
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      });
      if (answer.status !== 200) throw invalid();
      claims = jsonObject(answer, 'introspection');
    } catch (err) {
      if (err instanceof ImError) throw err;
      throw transient(invalid());
    }
    if (claims.active !== true) throw invalid();
    if (typeof claims.exp === 'number' && claims.exp * 1000 <= this.now()) throw oidcAuth('Token expired');
    if (typeof claims.iss === 'string' && !this.accepted(claims.iss)) throw errors.invalidCredentials('Issuer not accepted.');
    return {
      issuer,
      claims,
      method: 'introspection',
      ...(typeof claims.exp === 'number' ? { expiresAt: claims.exp * 1000 } : {}),
    };
  }

  /** GET userinfo with the token (IM's `Code: <status>. Message: <body>.` on a refusal). */
  private async fetchUserinfo(token: string, verified: VerifiedToken): Promise<Record<string, unknown>> {
    const meta = await this.metadata(verified.issuer);
    const url = meta.userinfo_endpoint ?? `${trimSlash(verified.issuer)}/userinfo`;
    let info: Record<string, unknown>;
    try {
      const answer = await this.opts.http(url, { headers: { authorization: `Bearer ${token}` } });
      if (answer.status !== 200) {
        const body = answer.text.slice(0, 300).replaceAll(token, '[token]');
        throw errors.invalidCredentials(`Code: ${answer.status}. Message: ${body}.`);
      }
      info = jsonObject(answer, 'userinfo');
    } catch (err) {
      if (err instanceof ImError) throw err;
      throw transient(errors.invalidCredentials(`${(err as Error).message}.`));
    }
    if (typeof info.sub === 'string' && typeof verified.claims.sub === 'string' && info.sub !== verified.claims.sub) {
      throw oidcAuth('Userinfo subject does not match the token');
    }
    return info;
  }

  // ------------------------------------------------------------------------------------------

  private lookup<T>(map: Map<string, Entry<T>>, key: string): T | undefined {
    const e = map.get(key);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      map.delete(key);
      return undefined;
    }
    if (e.error) throw e.error;
    return e.value;
  }

  private store<T>(map: Map<string, Entry<T>>, key: string, entry: Entry<T>): void {
    const max = this.opts.cacheMax ?? 10_000;
    while (map.size >= max) map.delete(map.keys().next().value as string);
    map.set(key, entry);
  }

  /** One check at a time per token. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}

/** Marks a refusal that depends on the issuer's state (not remembered: a retry may succeed). */
function transient(err: ImError): ImError {
  (err as ImError & { transient?: boolean }).transient = true;
  return err;
}
