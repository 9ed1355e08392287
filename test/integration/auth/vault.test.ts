/**
 * Cloud credentials from Vault (auth.md §6), against the Vault-compatible server of the test
 * helpers and the real OpenID provider: `Authorization: Bearer <token>` with VAULT_URL, VAULT_PATH
 * (`#USER_SUB#`), VAULT_MOUNT_POINT and VAULT_ROLE; Vault items in the auth lines; KV v1 (as IM)
 * and KV v2, with and without a describable mount; the `fedcloud`, `EGI` and OpenStack OIDC
 * translations; disabled entries; Vault refusals with IM's texts; unreadable secrets swallowed;
 * logins reused; and no token in any log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DummyConnector } from '#connectors/dummy';
import type { AuthItem } from '#core/types';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidc-provider.ts';
import { startFakeVault, type FakeVault } from '../../helpers/vault-server.ts';
import { client, dummyLike, type Call } from '../rest/client.ts';
import { captureOutput, leaks } from './support.ts';

let idp: TestIssuer;
let vault: FakeVault;
let srv: TestServer;
let call: Call;
const capture = captureOutput();
const used = new Set<string>();
/** Every launch the workflows made: the cloud item they were given. */
const launches: AuthItem[] = [];

const recording = (type: string) => {
  const d = new DummyConnector();
  return dummyLike(type, { launch: async (r) => (launches.push(r.auth), d.launch(r)) });
};

const item = (o: Record<string, unknown>) => JSON.stringify(o);
const radlOn = (cloud: string) => `network publica (outbound = 'yes')
system front ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'publica' and disk.0.os.name = 'linux' )
contextualize ()
deploy front 1 ${cloud}
`;

async function token(account: string): Promise<string> {
  const t = await idp.token({ account, scope: 'openid profile', extra: { preferred_username: account } });
  used.add(t);
  return t;
}

beforeAll(async () => {
  idp = await startTestIssuer({ accounts: { alice: {}, bob: {} } });
  used.add(idp.clientSecret);
  vault = await startFakeVault({
    issuer: idp.issuer,
    jwksUrl: `${idp.issuer}/jwks`,
    roles: { im: { bound_audiences: ['im-api'] }, strict: { bound_audiences: ['vault-only'] } },
    mounts: {
      credentials: {
        version: 1,
        secrets: {
          'users/alice': {
            fed: item({ id: 'fed', type: 'fedcloud', host: 'https://keystone.site.example:5000', project_id: 'p-123', vo: 'vo.access.egi.eu' }),
            off: item({ id: 'off', type: 'Dummy', enabled: false }),
            on: item({ id: 'on', type: 'Dummy', enabled: true }),
            egi: item({ id: 'egi', type: 'EGI', host: 'CESGA', vo: 'vo.access.egi.eu' }),
            ostx: item({ id: 'ostx', type: 'OpenStack', host: 'https://k.example:5000', username: 'egi.eu', tenant: 'openid', auth_version: '3.x_oidc_access_token', password: 'stale', domain: 'd' }),
            nested: item({ id: 'nested-vault', type: 'Vault', host: 'https://elsewhere', token: 'x' }),
          },
        },
      },
      kv2: { version: 2, secrets: { 'users/alice': { k: item({ id: 'k2', type: 'Dummy' }) } } },
      hiddenkv: { version: 2, hidden: true, secrets: { 'users/alice': { h: item({ id: 'h2', type: 'Dummy' }) } } },
    },
  });
  // The default path (no VAULT_PATH, no item path) is the user's Vault entity id.
  vault.mounts.credentials.secrets[vault.entityId('alice')] = { e: item({ id: 'by-entity', type: 'Dummy' }) };
  srv = await startTestServer({
    env: {
      LOG_LEVEL: 'DEBUG',
      OIDC_ISSUERS: idp.issuer,
      OIDC_AUDIENCE: 'im-api',
      VAULT_URL: vault.url,
      VAULT_PATH: 'users/#USER_SUB#',
      VAULT_MOUNT_POINT: 'credentials/',
      VAULT_ROLE: 'im',
    },
    connectors: [recording('OpenStack'), recording('EGI'), recording('Dummy')],
  });
  call = client(srv.baseUrl);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  await vault?.stop();
  await idp?.stop();
  capture.restore();
});

const bearer = (t: string) => `Bearer ${t}`;
const vaultLines = (t: string, extra: string) =>
  `type = InfrastructureManager; token = ${t}\\ntype = Vault; host = ${vault.url}; token = ${t}; role = im; ${extra}`;

async function launched(auth: string, cloud: string): Promise<AuthItem> {
  const n = launches.length;
  const r = await call('POST', '/infrastructures', { auth, body: radlOn(cloud) });
  expect(r.status, r.text).toBe(200);
  const got = launches.slice(n).find((a) => a.id === cloud);
  expect(got, `no launch on ${cloud}`).toBeDefined();
  return got as AuthItem;
}

describe('Bearer with VAULT_URL (KV v1 at VAULT_MOUNT_POINT / VAULT_PATH with #USER_SUB#)', () => {
  let alice: string;
  beforeAll(async () => {
    alice = await token('alice');
  });

  it('signs in as the token user', async () => {
    const r = await call('POST', '/infrastructures', { auth: bearer(alice), body: radlOn('on') });
    expect(r.status, r.text).toBe(200);
    const id = r.text.trim().split('/').pop() as string;
    expect((await call('GET', `/infrastructures/${id}/authorization`, { auth: bearer(alice) })).text).toBe('__OPENID__alice');
  });

  it('fedcloud → an OpenStack item on EGI federation with the token as password', async () => {
    expect(await launched(bearer(alice), 'fed')).toEqual({
      id: 'fed',
      type: 'OpenStack',
      host: 'https://keystone.site.example:5000',
      username: 'egi.eu',
      tenant: 'openid',
      auth_version: '3.x_oidc_access_token',
      password: alice,
      domain: 'p-123',
    });
  });

  it('disabled entries are skipped; `enabled` is dropped from the others', async () => {
    const r = await call('POST', '/infrastructures', { auth: bearer(alice), body: radlOn('off') });
    expect(r.status).toBe(400);
    expect(r.text).toContain('No auth data for cloud with ID: off');
    expect(await launched(bearer(alice), 'on')).toEqual({ id: 'on', type: 'Dummy' });
  });

  it('EGI items get the token; OpenStack OIDC items get it as password', async () => {
    expect(await launched(bearer(alice), 'egi')).toMatchObject({ id: 'egi', type: 'EGI', host: 'CESGA', token: alice });
    expect((await launched(bearer(alice), 'ostx')).password).toBe(alice);
  });

  it('Vault items inside the secret are ignored', async () => {
    const r = await call('POST', '/infrastructures', { auth: bearer(alice), body: radlOn('nested-vault') });
    expect(r.status).toBe(400);
    expect(r.text).toContain('No auth data for cloud with ID: nested-vault');
  });

  it('the Vault login is reused: repeated requests do not log in again', async () => {
    const t = await token('alice');
    await call('GET', '/infrastructures', { auth: bearer(t) });
    const logins = vault.hits['/v1/auth/jwt/login'];
    for (let i = 0; i < 5; i++) expect((await call('GET', '/infrastructures', { auth: bearer(t) })).status).toBe(200);
    expect(vault.hits['/v1/auth/jwt/login']).toBe(logins);
  });

  it('no secret at the path: no cloud items, sign-in still works', async () => {
    const bob = await token('bob');
    expect((await call('GET', '/infrastructures', { auth: bearer(bob) })).status).toBe(200);
    const r = await call('POST', '/infrastructures', { auth: bearer(bob), body: radlOn('fed') });
    expect(r.status).toBe(400);
    expect(r.text).toBe('Error Creating Inf.: No cloud provider available');
  });
});

describe('Vault items in the auth lines', () => {
  it('KV v2 (mount described by sys/internal/ui/mounts)', async () => {
    const t = await token('alice');
    expect(await launched(vaultLines(t, 'mount_point = kv2/; path = users/#USER_SUB#'), 'k2')).toEqual({ id: 'k2', type: 'Dummy' });
  });

  it('KV v2 on a mount Vault will not describe: v1 read, "versioned K/V" warning, then v2', async () => {
    const t = await token('alice');
    expect(await launched(vaultLines(t, 'mount_point = hiddenkv; path = users/alice'), 'h2')).toEqual({ id: 'h2', type: 'Dummy' });
  });

  it('no path: the Vault entity id (KV v1 under credentials/)', async () => {
    const t = await token('alice');
    expect(await launched(vaultLines(t, 'mount_point = credentials/'), 'by-entity')).toEqual({ id: 'by-entity', type: 'Dummy' });
  });

  it("a path the policy does not grant (another user's): swallowed, logged without secrets", async () => {
    const bob = await token('bob');
    const r = await call('POST', '/infrastructures', { auth: vaultLines(bob, 'path = users/alice'), body: radlOn('fed') });
    expect(r.status).toBe(400);
    expect(r.text).toBe('Error Creating Inf.: No cloud provider available');
    expect(vault.hits['/v1/credentials/users/alice']).toBeGreaterThan(0);
    expect(capture.lines.some((l) => l.includes('Error reading the cloud credentials from Vault'))).toBe(true);
  });
});

describe('Vault refusals, with IM texts', () => {
  it('an unknown role', async () => {
    const t = await token('alice');
    const r = await call('GET', '/infrastructures', { auth: `type = InfrastructureManager; token = ${t}\\ntype = Vault; host = ${vault.url}; token = ${t}; role = nope` });
    expect(r.status).toBe(400);
    expect(r.text).toBe('Error Getting Inf. List: Error getting Vault token: 400 - {"errors":["role \\"nope\\" could not be found"]}');
  });

  it('a token Vault refuses (audience not bound to the role)', async () => {
    const t = await token('alice');
    const r = await call('GET', '/infrastructures', { auth: `type = InfrastructureManager; token = ${t}\\ntype = Vault; host = ${vault.url}; token = ${t}; role = strict` });
    expect(r.status).toBe(400);
    expect(r.text).toContain('Error getting Vault token: 400 - {"errors":["error validating claims: aud claim does not match any bound audience"]}');
  });

  it('a Vault token that is not a valid JWT: refused by Vault, and the text does not echo it', async () => {
    const t = await token('alice');
    const junk = 'not-a-jwt-but-a-secret-looking-string';
    used.add(junk);
    const r = await call('GET', '/infrastructures', { auth: `type = InfrastructureManager; token = ${t}\\ntype = Vault; host = ${vault.url}; token = ${junk}; role = im` });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^Error Getting Inf\. List: Error getting Vault token: 400 - /);
    expect(r.text).not.toContain(junk);
  });

  it('plain http to a host that is not loopback is refused before any request', async () => {
    const t = await token('alice');
    const r = await call('GET', '/infrastructures', { auth: `type = InfrastructureManager; token = ${t}\\ntype = Vault; host = http://vault.example.org:8200; token = ${t}` });
    expect(r.status).toBe(400);
    expect(r.text).toContain('Error getting Vault token: only https URLs are accepted');
  });
});

describe('logs', () => {
  it('no log line holds a token, a Vault client token or a secret the suite used', () => {
    for (const t of vault.issuedTokens) used.add(t);
    expect(vault.issuedTokens.length).toBeGreaterThan(0);
    expect(capture.lines.filter((l) => l.startsWith('{')).length).toBeGreaterThan(5);
    expect(leaks(capture.lines, used)).toEqual([]);
  });
});
