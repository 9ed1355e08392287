/** Keystone sign-in, catalog, token reuse and renewal, 401 retry, secrets: the connector against the fake OpenStack. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImError } from '#core/errors';
import { FakeOpenStack } from '../../../helpers/fake-openstack/server.ts';
import { APP_CREDS, VO_PROJECT_ID } from '../../../helpers/fake-openstack/state.ts';
import { authItem, connector, logCapture, PASSWORD } from './helpers.ts';

let fake: FakeOpenStack;
beforeAll(async () => {
  fake = await FakeOpenStack.start();
});
afterAll(async () => fake.stop());
beforeEach(() => fake.reset());

const OIDC_TOKEN = 'oidc-access-token-0123456789';

describe('Keystone flows', () => {
  it('3.x_password: scoped token, catalog public endpoint, then Nova with X-Auth-Token', async () => {
    const con = connector(logCapture().logger);
    const q = await con.getQuotas(authItem(fake));
    expect(q.cores).toEqual({ used: 0, limit: 20 });
    const auth = fake.calls(/^\/v3\/auth\/tokens$/, 'POST');
    expect(auth).toHaveLength(1);
    expect(auth[0].body).toEqual({
      auth: {
        identity: { methods: ['password'], password: { user: { name: 'demo', password: PASSWORD, domain: { name: 'Default' } } } },
        scope: { project: { name: 'demo', domain: { id: 'default' } } },
      },
    });
    const nova = fake.calls(/os-quota-sets/)[0];
    expect(nova.path).toMatch(/^\/compute\/v2\.1\//);
    expect(nova.headers['x-auth-token']).toMatch(/^gAAAAA/);
    expect(nova.headers.accept).toBe('application/json');
  });

  it('2.0_password (the default auth_version) signs in through /v2.0/tokens', async () => {
    const con = connector(logCapture().logger);
    const item = authItem(fake);
    delete item.auth_version;
    await con.getQuotas(item);
    expect(fake.calls(/^\/v2\.0\/tokens$/, 'POST')[0].body).toEqual({ auth: { passwordCredentials: { username: 'demo', password: PASSWORD }, tenantName: 'demo' } });
  });

  it('3.x_appcred sends the application credential and no scope', async () => {
    const con = connector(logCapture().logger);
    await con.getQuotas(authItem(fake, { auth_version: '3.x_appcred', username: APP_CREDS[0].id, password: APP_CREDS[0].secret, tenant: 'ignored' }));
    expect(fake.calls(/^\/v3\/auth\/tokens$/)[0].body).toEqual({
      auth: { identity: { methods: ['application_credential'], application_credential: { id: APP_CREDS[0].id, secret: APP_CREDS[0].secret } } },
    });
  });

  it('3.x_oidc_access_token: the item password is the bearer token; project chosen by domain; scoped by id', async () => {
    const con = connector(logCapture().logger);
    const item = authItem(fake, { auth_version: '3.x_oidc_access_token', username: 'egi.eu', tenant: 'openid', password: OIDC_TOKEN, domain: 'vo.access.egi.eu' });
    await con.getQuotas(item);
    const fed = fake.calls(/OS-FEDERATION\/identity_providers\/egi\.eu\/protocols\/openid\/auth/)[0];
    expect(fed.headers.authorization).toBe(`Bearer ${OIDC_TOKEN}`);
    expect(fake.calls(/^\/v3\/auth\/projects$/)).toHaveLength(1);
    const scoped = fake.calls(/^\/v3\/auth\/tokens$/, 'POST')[0].body as { auth: { identity: { methods: string[] }; scope: { project: { id: string } } } };
    expect(scoped.auth.identity.methods).toEqual(['token']);
    expect(scoped.auth.scope.project.id).toBe(VO_PROJECT_ID);
    // A token the identity provider does not know: IM's text, never the token.
    const bad = await con.getQuotas({ ...item, password: 'wrong-token-value' }).catch((e: unknown) => e as ImError);
    expect(bad).toBeInstanceOf(ImError);
    expect((bad as ImError).message).toContain("'Invalid credentials with the provider'");
    expect((bad as ImError).message).not.toContain('wrong-token-value');
    const missing = await con.getQuotas({ ...item, domain: 'no-such-project' }).catch((e: unknown) => e as ImError);
    expect((missing as ImError).message).toContain('Project no-such-project not found');
  });

  it('rejected password: 400 with IM text, the password in no message and no log line', async () => {
    const { logger, lines } = logCapture();
    const con = connector(logger);
    const err = await con.getQuotas(authItem(fake, { password: 'Wrong-Pass-123456' })).catch((e: unknown) => e as ImError);
    expect(err).toBeInstanceOf(ImError);
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toContain("'Invalid credentials with the provider'");
    expect(err.message).not.toContain('Wrong-Pass-123456');
    expect(lines.join('\n')).not.toContain('Wrong-Pass-123456');
    expect(lines.join('\n')).not.toContain(PASSWORD);
  });

  it('reuses the token across calls, renews it before expiry and re-authenticates once after a 401', async () => {
    const con = connector(logCapture().logger);
    const item = authItem(fake);
    await con.getQuotas(item);
    await con.listImages(item, {});
    expect(fake.calls(/^\/v3\/auth\/tokens$/)).toHaveLength(1);
    fake.configure({ revoke_tokens: true }); // the next call gets a 401, signs in again and retries
    const images = await con.listImages(item, {});
    expect(images.length).toBeGreaterThan(0);
    expect(fake.calls(/^\/v3\/auth\/tokens$/)).toHaveLength(2);
    expect(fake.calls(/^\/image\/v2\/images$/).map((c) => c.status)).toEqual([200, 401, 200]);
    // Short-lived tokens are renewed before they expire.
    fake.configure({ token_ttl_s: 1 });
    const c2 = connector(logCapture().logger);
    await c2.getQuotas(item);
    await c2.getQuotas(item);
    expect(fake.calls(/^\/v3\/auth\/tokens$/).length).toBe(3);
    await new Promise((r) => setTimeout(r, 600));
    await c2.getQuotas(item);
    expect(fake.calls(/^\/v3\/auth\/tokens$/).length).toBe(4);
    expect(fake.calls(/^\/compute\//).every((c) => c.status === 200)).toBe(true);
  });

  it('catalog: no region filter by default, service_region picks one, duplicates are an error', async () => {
    fake.configure({ regions: ['RegionOne', 'RegionTwo'] });
    const con = connector(logCapture().logger);
    const dup = await con.getQuotas(authItem(fake)).catch((e: unknown) => e as ImError);
    expect(dup.message).toContain('Found more than 1 matching endpoint');
    await expect(con.getQuotas(authItem(fake, { service_region: 'RegionTwo' }))).resolves.toHaveProperty('cores');
    const none = await con.getQuotas(authItem(fake, { service_region: 'Nowhere' })).catch((e: unknown) => e as ImError);
    expect(none.message).toContain('Could not find specified endpoint');
  });

  it('microversion header on compute only, and auth_token + base_url skip Keystone', async () => {
    const con = connector(logCapture().logger);
    await con.getQuotas(authItem(fake, { microversion: '2.79' }));
    expect(fake.calls(/os-quota-sets\/[^/]+\/detail/)[0].headers['openstack-api-version']).toBe('compute 2.79');
    expect(fake.calls(/^\/network\//)[0]?.headers['openstack-api-version']).toBeUndefined();
    const token = fake.calls(/^\/compute\//)[0].headers['x-auth-token'] as string;
    fake.log.length = 0;
    await con.getQuotas({ id: 'x', type: 'OpenStack', host: fake.url, auth_token: token, base_url: `${fake.url}/compute/v2.1`, tenant_id: 'p' });
    expect(fake.calls(/^\/v3\//)).toHaveLength(0);
    const noBase = await con.getQuotas({ id: 'x', type: 'OpenStack', host: fake.url, auth_token: token }).catch((e: unknown) => e as ImError);
    expect(noBase.message).toBe('Must also provide ex_force_base_url when specifying ex_force_auth_token.');
  });

  it('incomplete items answer IM texts', async () => {
    const con = connector(logCapture().logger);
    const e = await con.getQuotas({ id: 'x', type: 'OpenStack', host: fake.url, username: 'demo' }).catch((x: unknown) => x as ImError);
    expect(e.message).toBe('No correct auth data has been specified to OpenStack.: username, password and tenant or proxy');
  });
});
