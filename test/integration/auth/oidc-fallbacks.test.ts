/**
 * Introspection and userinfo against the real OpenID provider:
 *  - opaque access tokens go to the issuer's introspection endpoint (OIDC_CLIENT_ID / SECRET, one
 *    issuer), as IM; revoked or unknown ones answer `… Invalid token or Client credentials.`;
 *  - the group claim (OIDC_GROUPS_CLAIM = eduperson_entitlement) missing from the verified claims
 *    is asked from userinfo, once per token (cached for the token's life), and a userinfo refusal
 *    gives IM's `Code: <status>. Message: <body>.` text;
 *  - a JWT that carries the claim costs no userinfo call, and a known token no call at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidc-provider.ts';
import { client, type Call } from '../rest/client.ts';
import { captureOutput, dashboardAuth, leaks } from './support.ts';

const PREFIX = 'Invalid InfrastructureManager credentials.';
let idp: TestIssuer;
let srv: TestServer;
let call: Call;
const capture = captureOutput();
const used = new Set<string>();

beforeAll(async () => {
  idp = await startTestIssuer({
    accounts: {
      alice: { preferred_username: 'alice', eduperson_entitlement: ['vo:im', 'vo:x'] },
      mallory: { preferred_username: 'mallory', eduperson_entitlement: ['vo:other'] },
    },
  });
  used.add(idp.clientSecret);
  srv = await startTestServer({
    env: {
      LOG_LEVEL: 'DEBUG',
      OIDC_ISSUERS: idp.issuer,
      OIDC_CLIENT_ID: idp.clientId,
      OIDC_CLIENT_SECRET: idp.clientSecret,
      OIDC_GROUPS: 'vo:im',
      OIDC_GROUPS_CLAIM: 'eduperson_entitlement',
    },
  });
  call = client(srv.baseUrl);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  await idp?.stop();
  capture.restore();
});

async function opaque(account: string, ttl?: number): Promise<string> {
  const t = await idp.token({ account, scope: 'openid profile entitlements', format: 'opaque', ...(ttl ? { ttl } : {}) });
  used.add(t);
  return t;
}

const hits = (path: string) => idp.hits[path] ?? 0;

describe('opaque tokens: introspection, then userinfo for the group claim', () => {
  it('accepted once introspected; the groups come from userinfo; later requests cost no call', async () => {
    const t = await opaque('alice');
    expect(t.split('.')).toHaveLength(1);
    const [intro, info] = [hits('/token/introspection'), hits('/me')];
    const r = await call('POST', '/infrastructures', { auth: dashboardAuth(t), body: '' });
    expect(r.status, r.text).toBe(200);
    const id = r.text.trim().split('/').pop() as string;
    expect(hits('/token/introspection')).toBe(intro + 1);
    expect(hits('/me')).toBe(info + 1);
    for (let i = 0; i < 10; i++) expect((await call('GET', `/infrastructures/${id}`, { auth: dashboardAuth(t) })).status).toBe(200);
    expect(hits('/token/introspection')).toBe(intro + 1);
    expect(hits('/me')).toBe(info + 1);
    expect((await call('GET', `/infrastructures/${id}/authorization`, { auth: dashboardAuth(t) })).text).toBe('__OPENID__alice');
  });

  it('a user outside OIDC_GROUPS (per userinfo) is refused', async () => {
    const r = await call('GET', '/infrastructures', { auth: dashboardAuth(await opaque('mallory')) });
    expect(r.status).toBe(401);
    expect(r.text).toBe(`Error Getting Inf. List: ${PREFIX} User not in configured groups.`);
  });

  it('an unknown token and an expired one: the issuer says inactive', async () => {
    const unknown = 'n0t-a-real-opaque-token-0123456789abcdef';
    used.add(unknown);
    const r = await call('GET', '/infrastructures', { auth: dashboardAuth(unknown) });
    expect(r.status).toBe(401);
    expect(r.text).toBe(`Error Getting Inf. List: ${PREFIX} Invalid token or Client credentials.`);
    const short = await opaque('alice', 1);
    await new Promise((res) => setTimeout(res, 1200));
    const e = await call('GET', '/infrastructures', { auth: dashboardAuth(short) });
    expect(e.status).toBe(401);
    expect(e.text).toBe(`Error Getting Inf. List: ${PREFIX} Invalid token or Client credentials.`);
  });
});

describe('JWT tokens', () => {
  it('a JWT carrying the group claim is accepted without any userinfo call', async () => {
    const t = await idp.token({ account: 'alice', extra: { preferred_username: 'alice', eduperson_entitlement: ['vo:im'] } });
    used.add(t);
    const info = hits('/me');
    const intro = hits('/token/introspection');
    expect((await call('GET', '/infrastructures', { auth: dashboardAuth(t) })).status).toBe(200);
    expect(hits('/me')).toBe(info);
    expect(hits('/token/introspection')).toBe(intro);
  });

  it('a JWT without the claim asks userinfo; the issuer refuses it there (IM text), once per token', async () => {
    // oidc-provider serves userinfo for its opaque tokens only: JWT access tokens name a resource server.
    const t = await idp.token({ account: 'alice', extra: { preferred_username: 'alice' } });
    used.add(t);
    const info = hits('/me');
    const r = await call('GET', '/infrastructures', { auth: dashboardAuth(t) });
    expect(r.status).toBe(401);
    expect(r.text).toMatch(new RegExp(`^Error Getting Inf\\. List: ${PREFIX.replaceAll('.', '\\.')} Code: 401\\. Message: \\{.*invalid_token.*\\}\\.$`));
    expect(hits('/me')).toBe(info + 1);
  });
});

describe('logs', () => {
  it('no log line holds a token or the client secret', () => {
    expect(capture.lines.filter((l) => l.startsWith('{')).length).toBeGreaterThan(3);
    expect(leaks(capture.lines, used)).toEqual([]);
  });
});
