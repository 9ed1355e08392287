/**
 * The OIDC verifier adapter in detail, against a minimal issuer on loopback whose answers each test
 * controls (discovery, JWKS, userinfo, introspection; a userinfo that answers 200 to anything, as a
 * careless issuer would): what is refused before any request, what a forged token gets even where
 * userinfo would say yes, userinfo only for a missing claim and cached, timeouts and size caps,
 * the key-fetch cooldown, introspection's client authentication.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImError } from '#core/errors';
import { loadConfig } from '#core/config';
import { tokenIdentity } from '#core/oidc-identity';
import { allowedUrl, createHttpClient } from '#adapters/http/client';
import { OidcTokenVerifier } from '#adapters/oidc/verifier';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let issuer: string;
let key: CryptoKey;
let jwk: JWK;
const hits: Record<string, number> = {};
const requests: { path: string; headers: IncomingMessage['headers']; body: string }[] = [];
let overrides: Record<string, Handler> = {};

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

beforeAll(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey as CryptoKey;
  jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const body = Buffer.concat(chunks).toString('utf8');
      hits[path] = (hits[path] ?? 0) + 1;
      requests.push({ path, headers: req.headers, body });
      const o = overrides[path];
      if (o) return o(req, res, body);
      if (path === '/.well-known/openid-configuration') {
        return json(res, 200, { issuer, jwks_uri: `${issuer}/jwks`, userinfo_endpoint: `${issuer}/userinfo`, introspection_endpoint: `${issuer}/introspect` });
      }
      if (path === '/jwks') return json(res, 200, { keys: [jwk] });
      // A careless userinfo: 200 to any bearer, with groups.
      if (path === '/userinfo') return json(res, 200, { sub: 'alice', groups: ['vo:im'] });
      json(res, 404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

afterEach(() => {
  overrides = {};
  requests.length = 0;
  for (const k of Object.keys(hits)) delete hits[k];
});

const verifier = (extra: Partial<ConstructorParameters<typeof OidcTokenVerifier>[0]> = {}) =>
  new OidcTokenVerifier({ issuers: [issuer], http: createHttpClient({ verifyTls: false, timeoutMs: 500, maxBytes: 4096 }), jwksCooldownMs: 1000, ...extra });

async function sign(claims: Record<string, unknown>, header: Record<string, unknown> = {}, k: CryptoKey = key) {
  return new SignJWT({ iss: issuer, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'k1', ...header })
    .sign(k);
}

async function refusal(p: Promise<unknown>): Promise<ImError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ImError);
    return e as ImError;
  }
  throw new Error('expected a refusal');
}

const total = () => Object.values(hits).reduce((a, b) => a + b, 0);

describe('before any request', () => {
  it('a foreign issuer, an expired token, a token without exp: refused without contacting anybody', async () => {
    const v = verifier();
    expect((await refusal(v.verify(await sign({ iss: 'http://127.0.0.1:1/evil' })))).message).toBe('Invalid InfrastructureManager credentials. Issuer not accepted.');
    expect((await refusal(v.verify(await sign({ exp: 1000 })))).message).toBe('Invalid InfrastructureManager credentials. OIDC auth Token expired.');
    expect((await refusal(v.verify(await sign({ exp: undefined })))).message).toBe('Invalid InfrastructureManager credentials. OIDC auth Error getting token info.');
    expect(total()).toBe(0);
  });

  it('plain http is refused for hosts other than loopback', () => {
    expect(() => allowedUrl('http://issuer.example.org/')).toThrow(/only https/);
    expect(allowedUrl('http://localhost:8080/x').hostname).toBe('localhost');
    expect(allowedUrl('https://issuer.example.org/').protocol).toBe('https:');
  });
});

describe('signatures', () => {
  it('a forged token is refused although this issuer answers userinfo 200 to anything; userinfo is never asked', async () => {
    const good = await sign({});
    const [h, p, s] = good.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`;
    const config = loadConfig({ OIDC_ISSUERS: issuer, OIDC_GROUPS: 'vo:im' });
    const e = await refusal(tokenIdentity(config, verifier(), forged));
    expect(e.message).toBe('Invalid InfrastructureManager credentials. OIDC auth Token signature not valid.');
    expect(hits['/userinfo'] ?? 0).toBe(0);
  });

  it('nbf in the future: not yet valid', async () => {
    const e = await refusal(verifier().verify(await sign({ nbf: Math.floor(Date.now() / 1000) + 300 })));
    expect(e.message).toBe('Invalid InfrastructureManager credentials. OIDC auth Token not yet valid.');
  });

  it('a verified token is cached: no request the second time', async () => {
    const v = verifier();
    const t = await sign({});
    await v.verify(t);
    const n = total();
    const again = await v.verify(t);
    expect(again.claims.sub).toBe('alice');
    expect(total()).toBe(n);
  });

  it('keys unavailable: a fetch per cooldown at most, then the same refusal without a request', async () => {
    overrides['/jwks'] = (_q, res) => json(res, 503, {});
    const v = verifier();
    const e = await refusal(v.verify(await sign({})));
    expect(e.message).toMatch(/^Invalid InfrastructureManager credentials\. OIDC auth Error getting the issuer keys: .*503\.$/);
    for (let i = 0; i < 5; i++) await refusal(v.verify(await sign({ jti: String(i) })));
    expect(hits['/jwks']).toBe(1);
  });

  it('discovery naming another issuer is refused', async () => {
    overrides['/.well-known/openid-configuration'] = (_q, res) => json(res, 200, { issuer: 'https://other', jwks_uri: `${issuer}/jwks` });
    const e = await refusal(verifier().verify(await sign({})));
    expect(e.message).toMatch(/OIDC auth Error getting the issuer configuration: .*names another issuer\.$/);
  });

  it('an answer over the size cap, and an issuer that does not answer in time', async () => {
    overrides['/.well-known/openid-configuration'] = (_q, res) => json(res, 200, { issuer, pad: 'x'.repeat(10_000) });
    expect((await refusal(verifier().verify(await sign({})))).message).toMatch(/larger than 4096 bytes\.$/);
    overrides['/.well-known/openid-configuration'] = () => undefined; // never answers
    const t = Date.now();
    expect((await refusal(verifier().verify(await sign({})))).message).toMatch(/did not answer within 500 ms\.$/);
    expect(Date.now() - t).toBeLessThan(3000);
  });
});

describe('userinfo', () => {
  it('asked only for a missing group claim, once per token, and its subject must match', async () => {
    const config = loadConfig({ OIDC_ISSUERS: issuer, OIDC_GROUPS: 'vo:im' });
    const v = verifier();
    const withClaim = await sign({ groups: ['vo:im'] });
    await tokenIdentity(config, v, withClaim);
    expect(hits['/userinfo'] ?? 0).toBe(0);
    const without = await sign({});
    for (let i = 0; i < 3; i++) expect((await tokenIdentity(config, v, without)).identity.username).toBe('__OPENID__alice');
    expect(hits['/userinfo']).toBe(1);
    expect(requests.find((r) => r.path === '/userinfo')?.headers.authorization).toBe(`Bearer ${without}`);
    const other = await sign({ sub: 'bob' });
    expect((await refusal(tokenIdentity(config, v, other))).message).toBe('Invalid InfrastructureManager credentials. OIDC auth Userinfo subject does not match the token.');
  });

  it("a refusal gives IM's `Code: <status>. Message: <body>.`", async () => {
    overrides['/userinfo'] = (_q, res) => json(res, 401, { error: 'invalid_token' });
    const config = loadConfig({ OIDC_ISSUERS: issuer, OIDC_GROUPS: 'vo:im' });
    const e = await refusal(tokenIdentity(config, verifier(), await sign({})));
    expect(e.message).toBe('Invalid InfrastructureManager credentials. Code: 401. Message: {"error":"invalid_token"}.');
  });
});

describe('introspection (opaque tokens)', () => {
  it('POSTs the token with HTTP Basic client credentials (form-encoded) and uses the answer', async () => {
    overrides['/introspect'] = (_q, res) => json(res, 200, { active: true, sub: 'alice', username: 'alice', scope: 'openid', exp: Math.floor(Date.now() / 1000) + 60 });
    const v = verifier({ clientId: 'im client', clientSecret: 's:e/c' });
    const r = await v.verify('opaque-token');
    expect(r.method).toBe('introspection');
    const req = requests.find((x) => x.path === '/introspect');
    expect(req?.headers.authorization).toBe(`Basic ${Buffer.from('im%20client:s%3Ae%2Fc').toString('base64')}`);
    expect(new URLSearchParams(req?.body).get('token')).toBe('opaque-token');
    expect(new URLSearchParams(req?.body).get('token_type_hint')).toBe('access_token');
    await v.verify('opaque-token');
    expect(hits['/introspect']).toBe(1);
  });

  it("inactive or refused: IM's `Invalid token or Client credentials.`", async () => {
    overrides['/introspect'] = (_q, res) => json(res, 200, { active: false });
    const v = verifier({ clientId: 'c', clientSecret: 's' });
    expect((await refusal(v.verify('t1'))).message).toBe('Invalid InfrastructureManager credentials. Invalid token or Client credentials.');
    overrides['/introspect'] = (_q, res) => json(res, 401, { error: 'invalid_client' });
    expect((await refusal(v.verify('t2'))).message).toBe('Invalid InfrastructureManager credentials. Invalid token or Client credentials.');
  });

  it('without client credentials an opaque token cannot be decoded (400)', async () => {
    const e = await refusal(verifier().verify('opaque'));
    expect(e.code).toBe('BAD_REQUEST');
    expect(e.message).toBe('Error trying to decode OIDC auth token: the token is not a JWT');
  });
});
