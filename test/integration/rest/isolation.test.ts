/**
 * A user never sees, changes or deletes another user's infrastructure: user B gets 403 (or 404)
 * on every endpoint for user A's infrastructure, and A's infrastructure is unchanged afterwards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { authHeader, client, create, radl, type Call } from './client';

let srv: TestServer;
let call: Call;
let infId: string;
const A = authHeader('alice', 'a-pass');
const B = authHeader('bob', 'b-pass');
const B_SAME_NAME = authHeader('alice', 'not-her-password');

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.baseUrl);
  infId = await create(call, 2, { auth: A });
});

afterAll(async () => {
  await srv?.stop();
});

async function snapshot() {
  const get = async (path: string, accept?: string) => (await call('GET', path, { auth: A, ...(accept ? { accept } : {}) })).text;
  return {
    info: await get(`/infrastructures/${infId}`),
    owners: await get(`/infrastructures/${infId}/authorization`),
    radl: await get(`/infrastructures/${infId}/radl`),
    state: await get(`/infrastructures/${infId}/state`),
    vm0: await get(`/infrastructures/${infId}/vms/0`),
    vm1: await get(`/infrastructures/${infId}/vms/1`),
    list: await get('/infrastructures'),
  };
}

const endpoints: [string, string, { body?: string; contentType?: string; query?: Record<string, string> }?][] = [
  ['GET', '/infrastructures/{id}'],
  ['POST', '/infrastructures/{id}', { body: 'system front\ndeploy front 1' }],
  ['DELETE', '/infrastructures/{id}'],
  ['DELETE', '/infrastructures/{id}', { query: { force: 'yes', async: 'yes' } }],
  ['GET', '/infrastructures/{id}/contmsg'],
  ['GET', '/infrastructures/{id}/radl'],
  ['GET', '/infrastructures/{id}/tosca'],
  ['GET', '/infrastructures/{id}/state'],
  ['GET', '/infrastructures/{id}/outputs'],
  ['GET', '/infrastructures/{id}/data'],
  ['GET', '/infrastructures/{id}/data', { query: { delete: 'true' } }],
  ['GET', '/infrastructures/{id}/authorization'],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "bob", "password": "b-pass"}', contentType: 'application/json' }],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "bob", "password": "b-pass"}', contentType: 'application/json', query: { overwrite: 'yes' } }],
  ['PUT', '/infrastructures/{id}/reconfigure'],
  ['PUT', '/infrastructures/{id}/stop'],
  ['PUT', '/infrastructures/{id}/start'],
  ['GET', '/infrastructures/{id}/vms/0'],
  ['PUT', '/infrastructures/{id}/vms/0', { body: 'system front ( cpu.count >= 8 )' }],
  ['DELETE', '/infrastructures/{id}/vms/0'],
  ['DELETE', '/infrastructures/{id}/vms/0,1'],
  ['GET', '/infrastructures/{id}/vms/0/memory.size'],
  ['GET', '/infrastructures/{id}/vms/0/contmsg'],
  ['GET', '/infrastructures/{id}/vms/0/command'],
  ['GET', '/infrastructures/{id}/vms/0/command', { query: { step: '2' } }],
  ['PUT', '/infrastructures/{id}/vms/0/stop'],
  ['PUT', '/infrastructures/{id}/vms/0/start'],
  ['PUT', '/infrastructures/{id}/vms/0/reboot'],
  ['PUT', '/infrastructures/{id}/vms/0/disks/0/snapshot', { query: { image_name: 'stolen' } }],
];

describe("isolation of another user's infrastructure", () => {
  it.each([
    ['another user', B],
    ['the same username with another password', B_SAME_NAME],
  ])('%s gets 403 / 404 everywhere and changes nothing', async (_name, other) => {
    const before = await snapshot();
    for (const [method, template, opts] of endpoints) {
      const r = await call(method, template.replace('{id}', infId), { auth: other, ...(opts ?? {}) });
      expect([403, 404], `${method} ${template} → ${r.status} ${r.text}`).toContain(r.status);
      expect(r.text).not.toContain('a-pass');
    }
    // Listing and stats do not show it.
    expect((await call('GET', '/infrastructures', { auth: other })).text).not.toContain(infId);
    expect((await call('GET', '/stats', { auth: other })).text).not.toContain(infId);
    // Importing over its id is refused.
    const data = (await call('GET', `/infrastructures/${infId}/data`, { auth: A })).json<{ data: string }>().data;
    const imp = await call('PUT', '/infrastructures', { auth: other, body: data, contentType: 'application/json' });
    expect(imp.status).toBe(400);
    expect(await snapshot()).toEqual(before);
  });

  it('a deleted infrastructure answers "Invalid infrastructure ID" to others (no existence leak)', async () => {
    const id = await create(call, 1, { auth: A, body: radl(1) });
    expect((await call('DELETE', `/infrastructures/${id}`, { auth: A })).status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}`, { auth: A })).text).toBe('Error Getting Inf. info: Deleted infrastructure.');
    expect((await call('GET', `/infrastructures/${id}`, { auth: B })).text).toBe('Error Getting Inf. info: Invalid infrastructure ID or access not granted.');
  });

  it('admins (ADMIN_USER) are the exception', async () => {
    const admin = await startTestServer({ env: { ADMIN_USER: JSON.stringify({ username: 'root', password: 'r00t' }) } });
    try {
      const c = client(admin.baseUrl);
      const id = await create(c, 1, { auth: A });
      expect((await c('GET', `/infrastructures/${id}`, { auth: authHeader('root', 'r00t') })).status).toBe(200);
      expect((await c('GET', '/infrastructures', { auth: authHeader('root', 'r00t') })).text).toContain(id);
      expect((await c('GET', `/infrastructures/${id}`, { auth: B })).status).toBe(403);
    } finally {
      await admin.stop();
    }
  }, 60_000);
});
