/**
 * A real OpenID provider for the tests, on loopback: npm `oidc-provider` 8.x (a certified
 * implementation; 8.x is the line that supports Node 20, 9.x needs Node 22). It publishes its
 * discovery document and JWKS, signs JWT access tokens with its own keys (RS256, `kid`), keeps
 * opaque access tokens, and serves introspection and userinfo as it does in production.
 *
 * Tokens come from a test grant (`urn:im:test:issue`, registered on the provider's token endpoint
 * with client authentication) so that a test can ask for a token of an account with a given scope,
 * audience, lifetime, format and extra claims without driving a browser login:
 *
 *   const idp = await startTestIssuer({ accounts: { alice: { preferred_username: 'alice' } } });
 *   const token = await idp.token({ account: 'alice', scope: 'openid profile', audience: 'im' });
 *
 * `rotateKeys()` replaces the signing key behind the same issuer URL (a new provider instance with
 * a new keystore, no restart of anything else); `hits` counts the requests per path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type ResourceServer } from 'oidc-provider';

export type AccountClaims = Record<string, unknown>;

export interface TestIssuerOptions {
  accounts: Record<string, AccountClaims>;
  clientId?: string;
  clientSecret?: string;
}

export interface TokenRequest {
  account: string;
  /** Space-separated scopes (default `openid`). */
  scope?: string;
  /** `jwt` (default, needs an audience) or `opaque`. */
  format?: 'jwt' | 'opaque';
  /** The JWT's `aud` (default `im-api`). */
  audience?: string;
  /** Lifetime in seconds (default 600). */
  ttl?: number;
  /** Claims added to the token (JWT payload; introspection answer for opaque tokens). */
  extra?: Record<string, unknown>;
}

export interface TestIssuer {
  /** `http://127.0.0.1:<port>` */
  issuer: string;
  clientId: string;
  clientSecret: string;
  token(req: TokenRequest): Promise<string>;
  /** A new signing key (new `kid`); `keepOld` keeps publishing the previous one too. */
  rotateKeys(opts?: { keepOld?: boolean }): Promise<void>;
  /** The current private signing key as a JWK (tests craft tokens with it). */
  signingKey(): JWK;
  /** Requests served, by path. */
  hits: Record<string, number>;
  stop(): Promise<void>;
}

const GRANT = 'urn:im:test:issue';
const extras = new WeakMap<object, Record<string, unknown>>();

async function newKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `k-${Math.random().toString(36).slice(2, 10)}`, alg: 'RS256', use: 'sig' };
}

function buildProvider(issuer: string, keys: JWK[], opts: Required<TestIssuerOptions>): Provider {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: opts.clientId,
        client_secret: opts.clientSecret,
        grant_types: [GRANT],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: keys as never[] },
    findAccount: async (_ctx, id) =>
      opts.accounts[id] ? { accountId: id, claims: async () => ({ sub: id, ...opts.accounts[id] }) } : undefined,
    claims: {
      openid: ['sub'],
      profile: ['preferred_username', 'name'],
      groups: ['groups'],
      entitlements: ['eduperson_entitlement'],
    },
    scopes: ['openid', 'profile', 'groups', 'entitlements', 'im', 'offline_access'],
    // The test grant's extra claims (oidc-provider puts this function's answer into every token).
    extraTokenClaims: async (_ctx, token) => extras.get(token as object),
    cookies: { keys: ['test-cookie-key-not-secret'] },
    ttl: { Grant: 3600, AccessToken: 600 },
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: async () => true },
      userinfo: { enabled: true },
    },
  });
  provider.registerGrantType(
    GRANT,
    async (ctx, next) => {
      const p = ctx.oidc.params as Record<string, string | undefined>;
      const client = ctx.oidc.client;
      if (!client || !p.account) throw new Error('account required');
      const scope = p.scope ?? 'openid';
      const grant = new ctx.oidc.provider.Grant({ accountId: p.account, clientId: client.clientId });
      grant.addOIDCScope(scope);
      const grantId = await grant.save();
      const ttl = Number(p.ttl ?? 600);
      const extra = p.extra ? (JSON.parse(p.extra) as Record<string, unknown>) : undefined;
      const audience = p.audience ?? 'im-api';
      const at = new ctx.oidc.provider.AccessToken({
        accountId: p.account,
        client,
        grantId,
        scope,
        gty: GRANT,
        expiresIn: ttl,
        ...(p.format === 'opaque'
          ? {}
          : {
              // The provider's own ResourceServer class (a runtime getter the type package omits).
              resourceServer: new (ctx.oidc.provider as unknown as { ResourceServer: new (id: string, info: object) => ResourceServer }).ResourceServer(audience, {
                audience,
                scope,
                accessTokenFormat: 'jwt',
                accessTokenTTL: ttl,
                jwt: { sign: { alg: 'RS256' } },
              }),
            }),
      });
      if (extra) extras.set(at, extra);
      ctx.body = { access_token: await at.save(), token_type: 'Bearer', expires_in: ttl, scope };
      await next();
    },
    ['account', 'scope', 'format', 'audience', 'ttl', 'extra'],
  );
  return provider;
}

export async function startTestIssuer(options: TestIssuerOptions): Promise<TestIssuer> {
  const opts: Required<TestIssuerOptions> = { clientId: 'im-client', clientSecret: 'im-client-secret-0123456789', ...options };
  const hits: Record<string, number> = {};
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits[path] = (hits[path] ?? 0) + 1;
    handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let keys = [await newKey()];
  const install = () => {
    handle = buildProvider(issuer, keys, opts).callback() as typeof handle;
  };
  install();

  return {
    issuer,
    clientId: opts.clientId,
    clientSecret: opts.clientSecret,
    hits,
    signingKey: () => keys[0],
    async rotateKeys({ keepOld = false } = {}) {
      const key = await newKey();
      keys = keepOld ? [key, ...keys] : [key];
      install();
    },
    async token(req) {
      const form = new URLSearchParams({ grant_type: GRANT, account: req.account, scope: req.scope ?? 'openid' });
      if (req.format) form.set('format', req.format);
      if (req.audience) form.set('audience', req.audience);
      if (req.ttl !== undefined) form.set('ttl', String(req.ttl));
      if (req.extra) form.set('extra', JSON.stringify(req.extra));
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`${opts.clientId}:${opts.clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: form.toString(),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!res.ok || !body.access_token) throw new Error(`token request failed: ${res.status} ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
