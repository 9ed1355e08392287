/**
 * What the OpenID issuers publish, cached per instance:
 *  - {@link IssuerDirectory}: `<iss>/.well-known/openid-configuration` (an hour; a failure is
 *    remembered a few seconds so that a flood of tokens does not hammer a broken issuer);
 *  - {@link IssuerKeys}: the JWKS of each `jwks_uri`, refetched when older than `maxAgeMs`, or when
 *    a token names a key it lacks — at most once per `cooldownMs` per key set, so that a rotation
 *    is picked up without a restart and a flood of unknown key ids costs the issuer one request.
 */
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { HttpFailure, jsonObject, type HttpClient } from '#adapters/http/client';

export interface IssuerMetadata {
  issuer: string;
  jwks_uri?: string;
  userinfo_endpoint?: string;
  introspection_endpoint?: string;
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

interface Cached<T> {
  value?: T;
  error?: Error;
  until: number;
}

export class IssuerDirectory {
  private readonly entries = new Map<string, Cached<IssuerMetadata>>();
  private readonly inflight = new Map<string, Promise<IssuerMetadata>>();

  constructor(
    private readonly http: HttpClient,
    private readonly opts: { ttlMs?: number; failureTtlMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The issuer's metadata; throws HttpFailure when it cannot be had. */
  async get(issuer: string): Promise<IssuerMetadata> {
    const key = trimSlash(issuer);
    const hit = this.entries.get(key);
    if (hit && hit.until > this.now()) {
      if (hit.error) throw hit.error;
      return hit.value as IssuerMetadata;
    }
    let p = this.inflight.get(key);
    if (!p) {
      p = this.fetch(key).then(
        (value) => {
          this.entries.set(key, { value, until: this.now() + (this.opts.ttlMs ?? 3_600_000) });
          return value;
        },
        (error: Error) => {
          this.entries.set(key, { error, until: this.now() + (this.opts.failureTtlMs ?? 5_000) });
          throw error;
        },
      );
      p.catch(() => undefined).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  private async fetch(issuer: string): Promise<IssuerMetadata> {
    const url = `${issuer}/.well-known/openid-configuration`;
    const answer = await this.http(url);
    if (answer.status !== 200) throw new HttpFailure(`${url} answered ${answer.status}`);
    const meta = jsonObject(answer, url);
    if (typeof meta.issuer !== 'string' || trimSlash(meta.issuer) !== issuer) {
      throw new HttpFailure(`${url} names another issuer`);
    }
    const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
    return {
      issuer: meta.issuer,
      ...(str(meta.jwks_uri) ? { jwks_uri: str(meta.jwks_uri) } : {}),
      ...(str(meta.userinfo_endpoint) ? { userinfo_endpoint: str(meta.userinfo_endpoint) } : {}),
      ...(str(meta.introspection_endpoint) ? { introspection_endpoint: str(meta.introspection_endpoint) } : {}),
    };
  }
}

interface KeySet {
  resolve?: ReturnType<typeof createLocalJWKSet>;
  fetchedAt: number;
  /** Last fetch attempt (successful or not): the cooldown counts from it. */
  attemptAt: number;
  /** Why the last fetch failed (given again, without a fetch, within the cooldown). */
  error?: Error;
  inflight?: Promise<void>;
}

export interface IssuerKeysOptions {
  /** Least time between two fetches of one key set triggered by unknown keys (default 10 s). */
  cooldownMs?: number;
  /** Age after which a key set is fetched again before use (default 10 min). */
  maxAgeMs?: number;
  now?: () => number;
}

export class IssuerKeys {
  private readonly sets = new Map<string, KeySet>();

  constructor(
    private readonly http: HttpClient,
    private readonly opts: IssuerKeysOptions = {},
  ) {}

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** The key function of jwtVerify for this key set. */
  getKey(jwksUri: string): JWTVerifyGetKey {
    return async (header, token) => {
      let set = this.sets.get(jwksUri);
      if (!set) {
        set = { fetchedAt: 0, attemptAt: 0 };
        this.sets.set(jwksUri, set);
      }
      const now = this.now();
      const cooldown = this.opts.cooldownMs ?? 10_000;
      if (!set.resolve) {
        if (set.error && now - set.attemptAt < cooldown) throw set.error;
        await this.refresh(jwksUri, set, true);
      }
      else if (now - set.fetchedAt > (this.opts.maxAgeMs ?? 600_000)) await this.refresh(jwksUri, set, false);
      try {
        return await (set.resolve as NonNullable<KeySet['resolve']>)(header, token);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
        if (this.now() - set.attemptAt < cooldown) throw err;
        await this.refresh(jwksUri, set, false);
        return (set.resolve as NonNullable<KeySet['resolve']>)(header, token);
      }
    };
  }

  /** One fetch at a time per set; `required`: without keys yet, a failure is the caller's error. */
  private async refresh(jwksUri: string, set: KeySet, required: boolean): Promise<void> {
    set.inflight ??= this.fetch(jwksUri, set).finally(() => (set.inflight = undefined));
    try {
      await set.inflight;
    } catch (err) {
      if (required || !set.resolve) throw err;
      // Keep using the keys we have when the issuer cannot be reached.
    }
  }

  private async fetch(jwksUri: string, set: KeySet): Promise<void> {
    set.attemptAt = this.now();
    try {
      await this.load(jwksUri, set);
      set.error = undefined;
    } catch (err) {
      set.error = err as Error;
      throw err;
    }
  }

  private async load(jwksUri: string, set: KeySet): Promise<void> {
    const answer = await this.http(jwksUri);
    if (answer.status !== 200) throw new HttpFailure(`${jwksUri} answered ${answer.status}`);
    const jwks = jsonObject(answer, jwksUri);
    if (!Array.isArray(jwks.keys)) throw new HttpFailure(`${jwksUri}: no "keys" list`);
    set.resolve = createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    set.fetchedAt = this.now();
  }
}
