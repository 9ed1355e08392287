/**
 * The IM dashboard's own call sequence with the auth lines it sends (app/im.py, app/utils.py):
 * `type = InfrastructureManager; token = <t>` plus an EGI OpenStack line whose password is the
 * token — list, create (RADL, async), state, VM info, VM and infrastructure stop/start, add an
 * owner by token (POST …/authorization `{"token": …}` without a Content-Type), contmsg, delete —
 * over REST; ChangeInfrastructureAuth with token items over REST and XML-RPC.
 *
 * Also: the caller's token reaches the asynchronous work sealed (the cloud connector of the
 * workflows sees it; a later token of the user replaces it in the stored OpenStack item), and is
 * never returned by …/data or …/authorization nor written in a log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DummyConnector } from '#connectors/dummy';
import { openAccessToken } from '#core/cloud-auth';
import type { AuthItem } from '#core/types';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';
import { startTestIssuer, type TestIssuer } from '../../helpers/oidc-provider.ts';
import { client, dummyLike, type Call } from '../rest/client.ts';
import { captureOutput, dashboardAuth, egiOpenStackLine, leaks, postWithoutContentType, Rpc } from './support.ts';

let idp: TestIssuer;
let srv: TestServer;
let call: Call;
let rpc: Rpc;
const capture = captureOutput();
const used = new Set<string>();
/** What the OpenStack connector was given by the workflows: [operation, password]. */
const seen: [string, string | undefined][] = [];

function recordingOpenStack() {
  const d = new DummyConnector();
  const note = (op: string, auth: AuthItem) => seen.push([op, auth.password]);
  return dummyLike('OpenStack', {
    launch: async (r) => (note('launch', r.auth), d.launch(r)),
    stop: async (v, a) => (note('stop', a), d.stop(v, a)),
    start: async (v, a) => (note('start', a), d.start(v, a)),
    finalize: async (v, l, a) => (note('finalize', a), d.finalize(v, l, a)),
  });
}

const RADL = `network publica (outbound = 'yes')
system front (
  cpu.count >= 1 and
  memory.size >= 512m and
  net_interface.0.connection = 'publica' and
  disk.0.os.name = 'linux'
)
contextualize ()
deploy front 1
`;

async function token(account: string): Promise<string> {
  const t = await idp.token({ account, scope: 'openid profile', extra: { preferred_username: account } });
  used.add(t);
  return t;
}

beforeAll(async () => {
  idp = await startTestIssuer({ accounts: { alice: {}, bob: {}, carol: {} } });
  used.add(idp.clientSecret);
  srv = await startTestServer({
    env: { LOG_LEVEL: 'DEBUG', OIDC_ISSUERS: idp.issuer, OIDC_AUDIENCE: 'im-api' },
    connectors: [recordingOpenStack()],
  });
  call = client(srv.baseUrl);
  rpc = new Rpc(srv.xmlrpcUrl);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  await idp?.stop();
  capture.restore();
});

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("the dashboard's session over REST", () => {
  let alice: string;
  let infId: string;
  const auth = () => dashboardAuth(alice, [egiOpenStackLine(alice)]);

  beforeAll(async () => {
    alice = await token('alice');
  });

  it('list (JSON) is empty at first', async () => {
    const r = await call('GET', '/infrastructures', { auth: auth(), accept: 'application/json' });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ 'uri-list': [] });
  });

  it('create (RADL, async=1) on the EGI OpenStack site; the launch gets the token as password', async () => {
    const r = await call('POST', '/infrastructures', { auth: auth(), body: RADL, query: { async: '1' } });
    expect(r.status, r.text).toBe(200);
    infId = r.text.trim().split('/').pop() as string;
    const list = await call('GET', '/infrastructures', { auth: auth(), accept: 'application/json' });
    expect(list.json<{ 'uri-list': { uri: string }[] }>()['uri-list'].map((u) => u.uri.split('/').pop())).toEqual([infId]);
    const state = await until(
      async () => (await call('GET', `/infrastructures/${infId}/state`, { auth: auth(), accept: 'application/json' })).json<{ state: { state: string } }>(),
      (s) => ['running', 'configured'].includes(s.state.state),
    );
    expect(['running', 'configured']).toContain(state.state.state);
    expect(seen).toContainEqual(['launch', alice]);
  });

  it('VM info (JSON)', async () => {
    const r = await call('GET', `/infrastructures/${infId}/vms/0`, { auth: auth(), accept: 'application/json' });
    expect(r.status, r.text).toBe(200);
    expect(JSON.stringify(r.json())).toContain('front');
  });

  it('VM stop / start and infrastructure stop / start', async () => {
    for (const path of ['vms/0/stop', 'vms/0/start', 'stop', 'start']) {
      const r = await call('PUT', `/infrastructures/${infId}/${path}`, { auth: auth() });
      expect(r.status, `${path}: ${r.text}`).toBe(200);
    }
  });

  it('a later token of the user, without cloud lines: the stored OpenStack item carries it to the workflows', async () => {
    const later = await token('alice');
    expect(later).not.toBe(alice);
    const r = await call('PUT', `/infrastructures/${infId}/vms/0/stop`, { auth: dashboardAuth(later, []) });
    expect(r.status, r.text).toBe(200);
    expect(seen.at(-1)).toEqual(['stop', later]);
    // Sealed in the record, in clear nowhere.
    const inf = await srv.instance.services.store.getInfrastructure(infId);
    expect(inf?.cloudAuth).toBeTruthy();
    expect(inf?.cloudAuth).not.toContain(later);
    expect(inf?.cloudAuth).not.toContain(alice);
    expect(openAccessToken(srv.instance.services, inf!)).toBe(later);
    alice = later;
    expect((await call('PUT', `/infrastructures/${infId}/vms/0/start`, { auth: auth() })).status).toBe(200);
  });

  it('…/data and …/authorization never return the token', async () => {
    const data = await call('GET', `/infrastructures/${infId}/data`, { auth: auth() });
    expect(data.status).toBe(200);
    const owners = await call('GET', `/infrastructures/${infId}/authorization`, { auth: auth() });
    for (const t of used) {
      expect(data.text).not.toContain(t);
      expect(owners.text).not.toContain(t);
    }
    expect(owners.text).toBe('__OPENID__alice');
  });

  it('add an owner by token ({"token": …}, no Content-Type, as change_user sends it)', async () => {
    const bob = await token('bob');
    expect((await call('GET', `/infrastructures/${infId}`, { auth: dashboardAuth(bob) })).status).toBe(403);
    const r = await postWithoutContentType(`${srv.baseUrl}/infrastructures/${infId}/authorization`, { Authorization: auth() }, `{"token":"${bob}"}`);
    expect(r.status, r.text).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}`, { auth: dashboardAuth(bob) })).status).toBe(200);
    expect((await call('GET', '/infrastructures', { auth: dashboardAuth(bob) })).text).toContain(infId);
    expect((await call('GET', `/infrastructures/${infId}/authorization`, { auth: auth() })).text).toBe('__OPENID__alice\n__OPENID__bob');
    // A later token of bob works too (the owner is iss + sub, not the token).
    expect((await call('GET', `/infrastructures/${infId}/state`, { auth: dashboardAuth(await token('bob')) })).status).toBe(200);
  });

  it('a bad token as the new owner: IM text', async () => {
    const r = await call('POST', `/infrastructures/${infId}/authorization`, { auth: auth(), body: '{"token":"x.y.z"}', contentType: 'application/json' });
    expect(r.status).toBe(400);
    expect(r.text).toContain('Invalid new infrastructure data provided: ');
  });

  it('contmsg (infrastructure and VM)', async () => {
    expect((await call('GET', `/infrastructures/${infId}/contmsg`, { auth: auth() })).status).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}/vms/0/contmsg`, { auth: auth() })).status).toBe(200);
  });

  it('delete (async=1&force=1): the VM is finalized with the token, the list is empty again', async () => {
    const r = await call('DELETE', `/infrastructures/${infId}`, { auth: auth(), query: { async: '1', force: '1' } });
    expect(r.status, r.text).toBe(200);
    const list = await until(
      async () => (await call('GET', '/infrastructures', { auth: auth(), accept: 'application/json' })).json<{ 'uri-list': unknown[] }>(),
      (l) => l['uri-list'].length === 0,
    );
    expect(list).toEqual({ 'uri-list': [] });
    await until(async () => seen, (s) => s.some(([op]) => op === 'finalize'));
    expect(seen.filter(([op]) => op === 'finalize').map(([, p]) => p)).toEqual([alice]);
  });
});

describe('ChangeInfrastructureAuth with tokens', () => {
  it('REST overwrite=1: the new token owner replaces the old one', async () => {
    const alice = await token('alice');
    const carol = await token('carol');
    const id = (await call('POST', '/infrastructures', { auth: dashboardAuth(alice), body: RADL })).text.trim().split('/').pop() as string;
    const r = await call('POST', `/infrastructures/${id}/authorization`, { auth: dashboardAuth(alice), body: `{"token":"${carol}"}`, contentType: 'application/json', query: { overwrite: '1' } });
    expect(r.status, r.text).toBe(200);
    expect((await call('GET', `/infrastructures/${id}`, { auth: dashboardAuth(alice) })).status).toBe(403);
    expect((await call('GET', `/infrastructures/${id}/authorization`, { auth: dashboardAuth(carol) })).text).toBe('__OPENID__carol');
  });

  it('XML-RPC: add by token, list owners, overwrite, refuse a bad token', async () => {
    const im = (t: string) => ({ type: 'InfrastructureManager', token: t });
    const alice = [im(await token('alice')), { id: 'one', type: 'Dummy' }];
    const bobToken = await token('bob');
    const carolToken = await token('carol');
    const [ok, id] = await rpc.call('CreateInfrastructure', [RADL, alice]);
    expect(ok, String(id)).toBe(true);
    expect(await rpc.call('GetInfrastructureInfo', [id, [im(bobToken)]])).toEqual([false, 'Access to this infrastructure not granted.']);
    expect(await rpc.call('ChangeInfrastructureAuth', [id, [im(bobToken)], false, alice])).toEqual([true, '']);
    expect((await rpc.call('GetInfrastructureInfo', [id, [im(bobToken)]]))[0]).toBe(true);
    expect(await rpc.call('GetInfrastructureOwners', [id, alice])).toEqual([true, ['__OPENID__alice', '__OPENID__bob']]);
    const bad = await rpc.call('ChangeInfrastructureAuth', [id, [im('not.a.token')], false, alice]);
    expect(bad[0]).toBe(false);
    expect(String(bad[1])).toMatch(/^Invalid new infrastructure data provided: /);
    expect(await rpc.call('ChangeInfrastructureAuth', [id, [im(carolToken)], true, [im(bobToken)]])).toEqual([true, '']);
    expect(await rpc.call('GetInfrastructureInfo', [id, alice])).toEqual([false, 'Access to this infrastructure not granted.']);
    expect(await rpc.call('GetInfrastructureOwners', [id, [im(carolToken)]])).toEqual([true, ['__OPENID__carol']]);
  });
});

describe('logs', () => {
  it('no log line written during the suite holds a token or secret it used', () => {
    expect(capture.lines.filter((l) => l.startsWith('{')).length).toBeGreaterThan(5);
    expect(leaks(capture.lines, used)).toEqual([]);
  });
});
