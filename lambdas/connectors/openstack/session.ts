/**
 * An authenticated OpenStack session (openstack.md §1.5–1.6): lazy Keystone sign-in, a token cache shared by
 * the connector's calls (keyed by the Keystone URL and every field of the item), renewal before expiry, one
 * re-authentication and retry after a 401, the microversion header, JSON in and out.
 *
 * Tokens and the item's secrets never appear in an error text (they are scrubbed) and are never logged.
 */
import { createHash } from 'node:crypto';
import type { HttpResponse, HttpTransport } from '#connectors/openstack/http';
import { HttpTransportError } from '#connectors/openstack/http';
import { errorBodyText, OpenStackApiError, OpenStackAuthError, scrubSecrets } from '#connectors/openstack/errors';
import { itemSecrets, type OstAuth } from '#connectors/openstack/auth-item';
import { authenticate, type KeystoneToken } from '#connectors/openstack/keystone';
import { endpointFor, microversionHeader, type ResolvedEndpoint, type ServiceKind } from '#connectors/openstack/catalog';

/** Renew this long before the token expires (at most half its lifetime). */
const RENEW_MARGIN_MS = 60_000;

interface CachedToken {
  token: KeystoneToken;
  obtainedAt: number;
}

/** Tokens of every item this connector signed in with (in memory only). */
export class TokenCache {
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<KeystoneToken>>();
  private readonly maxEntries: number;

  constructor(maxEntries = 500) {
    this.maxEntries = maxEntries;
  }

  /** A valid token for `key`, signing in once for concurrent callers. */
  async get(key: string, signIn: () => Promise<KeystoneToken>, now: () => number): Promise<KeystoneToken> {
    const hit = this.tokens.get(key);
    if (hit && fresh(hit, now())) return hit.token;
    const running = this.pending.get(key);
    if (running) return running;
    const p = signIn().then(
      (token) => {
        this.pending.delete(key);
        if (this.tokens.size >= this.maxEntries) this.tokens.delete(this.tokens.keys().next().value as string);
        this.tokens.set(key, { token, obtainedAt: now() });
        return token;
      },
      (err: unknown) => {
        this.pending.delete(key);
        throw err;
      },
    );
    this.pending.set(key, p);
    return p;
  }

  /** Drops a token the cloud rejected (only if it is still the cached one). */
  drop(key: string, tokenId: string): void {
    if (this.tokens.get(key)?.token.id === tokenId) this.tokens.delete(key);
  }
}

function fresh(c: CachedToken, now: number): boolean {
  if (c.token.expiresAt === undefined) return true;
  const margin = Math.min(RENEW_MARGIN_MS, Math.max(0, (c.token.expiresAt - c.obtainedAt) / 2));
  return now < c.token.expiresAt - margin;
}

/** Cache key: the Keystone URL and every field of the item but `id`, hashed (secrets are part of it). */
export function cacheKey(a: OstAuth): string {
  const entries = Object.entries(a.item)
    .filter(([k]) => k !== 'id')
    .sort(([x], [y]) => x.localeCompare(y));
  return createHash('sha256').update(a.host.keystoneBase).update('\0').update(JSON.stringify(entries)).digest('hex');
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | string[] | undefined>;
  /** Extra headers (e.g. a microversion for one call). */
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  /** Parsed JSON body ({} when empty or not JSON). */
  json: Record<string, unknown>;
}

/** One item's view of the cloud. */
export class OstSession {
  readonly auth: OstAuth;
  private readonly http: HttpTransport;
  private readonly cache: TokenCache;
  private readonly key: string;
  private readonly now: () => number;
  private token?: KeystoneToken;
  private readonly endpoints = new Map<ServiceKind, ResolvedEndpoint>();
  private readonly secrets: string[];

  constructor(http: HttpTransport, auth: OstAuth, cache: TokenCache, now: () => number = Date.now) {
    this.http = http;
    this.auth = auth;
    this.cache = cache;
    this.key = cacheKey(auth);
    this.now = now;
    this.secrets = itemSecrets(auth.item);
  }

  /** Every secret a message must not show: the item's and the tokens in use. */
  secretValues(): string[] {
    return this.token ? [...this.secrets, this.token.id] : this.secrets;
  }

  /** Text without secrets. */
  scrub(text: string): string {
    return scrubSecrets(text, this.secretValues());
  }

  private async currentToken(): Promise<KeystoneToken> {
    if (this.auth.authToken) {
      this.token ??= { id: this.auth.authToken, catalog: [] };
      return this.token;
    }
    if (this.token && (this.token.expiresAt === undefined || this.now() < this.token.expiresAt - 5000)) return this.token;
    this.token = await this.cache.get(this.key, () => authenticate(this.http, this.auth), this.now);
    return this.token;
  }

  /** Keystone user and project of the token (signing in if needed). */
  async identity(): Promise<{ userId?: string; projectId?: string }> {
    const t = await this.currentToken();
    return { ...(t.userId ? { userId: t.userId } : {}), ...(t.projectId ? { projectId: t.projectId } : {}) };
  }

  async endpoint(kind: ServiceKind): Promise<ResolvedEndpoint> {
    const known = this.endpoints.get(kind);
    if (known) return known;
    const t = await this.currentToken();
    const ep = endpointFor(kind, t.catalog, this.auth);
    this.endpoints.set(kind, ep);
    return ep;
  }

  /** The compute microversion in use (2.1 when none is asked). */
  computeMicroversion(): number {
    const h = microversionHeader(this.auth.microversion, 'compute');
    const m = h ? /(\d+)\.(\d+)/.exec(h) : null;
    return m ? Number(m[1]) + Number(m[2]) / 1000 : 2.001;
  }

  /** Sends a request; non-2xx → OpenStackApiError; a 401 re-authenticates and retries once. */
  async request(kind: ServiceKind, method: string, path: string, opts: RequestOptions = {}): Promise<ApiResponse> {
    const ep = await this.endpoint(kind);
    let res = await this.send(ep, method, path, opts);
    if (res.status === 401 && !this.auth.authToken) {
      const stale = this.token;
      if (stale) this.cache.drop(this.key, stale.id);
      this.token = undefined;
      await this.currentToken();
      res = await this.send(ep, method, path, opts);
    }
    if (res.status < 200 || res.status >= 300) {
      const { detail, kind: errKind } = errorBodyText(res.body);
      throw new OpenStackApiError(res.status, res.reason, this.scrub(detail), errKind);
    }
    let json: Record<string, unknown> = {};
    if (res.body) {
      try {
        const parsed: unknown = JSON.parse(res.body);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Record<string, unknown>;
      } catch {
        json = {};
      }
    }
    return { status: res.status, headers: res.headers, json };
  }

  /** A URL given by the API itself (pagination `next` links): sent to the same service. */
  async requestUrl(kind: ServiceKind, url: string): Promise<ApiResponse> {
    const ep = await this.endpoint(kind);
    let path = url;
    if (url.startsWith(ep.url)) path = url.slice(ep.url.length);
    else if (/^https?:\/\//.test(url)) {
      const u = new URL(url);
      const base = new URL(ep.url);
      path = u.pathname.startsWith(base.pathname) ? u.pathname.slice(base.pathname.replace(/\/$/, '').length) + u.search : u.pathname + u.search;
    }
    return this.request(kind, 'GET', path);
  }

  private async send(ep: ResolvedEndpoint, method: string, path: string, opts: RequestOptions): Promise<HttpResponse> {
    const token = await this.currentToken();
    const headers: Record<string, string> = { 'X-Auth-Token': token.id, Accept: 'application/json', ...(opts.headers ?? {}) };
    const mv = microversionHeader(this.auth.microversion, ep.type);
    if (mv && !headers['OpenStack-API-Version']) headers['OpenStack-API-Version'] = mv;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['Content-Type'] = 'application/json; charset=UTF-8';
    } else if (method === 'POST' || method === 'PUT') {
      headers['Content-Type'] = 'application/json; charset=UTF-8';
    }
    const url = ep.url + path + queryString(opts.query, path.includes('?'));
    try {
      return await this.http({ method, url, headers, ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      if (err instanceof HttpTransportError) throw new HttpTransportError(this.scrub(err.message), err.code);
      throw err;
    }
  }
}

function queryString(q: RequestOptions['query'], hasQuery: boolean): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(x)}`);
  }
  if (!parts.length) return '';
  return (hasQuery ? '&' : '?') + parts.join('&');
}

export { OpenStackAuthError };
