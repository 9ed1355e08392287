/**
 * OpenStack through REST in local mode: the real connector (short waits) against the fake OpenStack on
 * loopback. The whole life of a 3-VM infrastructure with a public and a private network (create, state, VM
 * info, stop, start, alter, snapshot, add, remove, destroy) with nothing left behind; the same under a fault at
 * every step of launch and finalize (leak count 0); an OIDC-token item; and the call counts of the report.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { OpenStackConnector } from '#connectors/openstack/connector';
import { startTestServer, TEST_ENV, type TestServer } from '../../helpers/local-server.ts';
import { FakeOpenStack } from '../../helpers/fake-openstack/server.ts';
import type { FailRule } from '../../helpers/fake-openstack/state.ts';
import { client, idOf, type Call } from '../rest/client.ts';

const PASSWORD = 'demo-secret-pass';
const OIDC_TOKEN = 'oidc-access-token-0123456789';
const FAST = { volumePollMs: 5, volumeWaitMs: 3000, sgRetryMs: 25, sgWaitMs: 5000, serverPollMs: 10, serverGoneWaitMs: 3000, resizeWaitMs: 2000, rollbackRetryMs: 5 };

let srv: TestServer;
let fake: FakeOpenStack;
let call: Call;
const logLines: string[] = [];

const authLine = (extra = '') =>
  `type = InfrastructureManager; username = osuser; password = ospass\\nid = ost; type = OpenStack; host = ${fake.url}; username = demo; password = ${PASSWORD}; tenant = demo; auth_version = 3.x_password${extra}`;

const RADL = (wn = 2) => `
network publica (outbound = 'yes' and outports = '8080')
network privada ()
system front (
  cpu.count >= 1 and memory.size >= 1024m and
  net_interface.0.connection = 'publica' and net_interface.1.connection = 'privada' and
  disk.0.image.url = 'ost://127.0.0.1/img-ubuntu-2204' and disk.0.os.name = 'linux'
)
system wn (
  cpu.count >= 1 and memory.size >= 512m and
  net_interface.0.connection = 'privada' and
  disk.0.image.url = 'ost://127.0.0.1/img-ubuntu-2204' and disk.0.os.name = 'linux'
)
contextualize ()
deploy front 1
${wn ? `deploy wn ${wn}` : ''}
`;

async function req(method: string, path: string, body?: string, auth = authLine()) {
  const r = await call(method, path, { auth, accept: 'application/json', ...(body !== undefined ? { body } : {}) });
  expect(r.text).not.toContain(PASSWORD);
  expect(r.text).not.toContain(OIDC_TOKEN);
  return r;
}

async function state(infId: string, auth?: string): Promise<{ state: string; vm_states: Record<string, string> }> {
  const r = await req('GET', `/infrastructures/${infId}/state`, undefined, auth);
  expect(r.status, r.text).toBe(200);
  return r.json<{ state: { state: string; vm_states: Record<string, string> } }>().state;
}

async function waitFor(infId: string, ok: (s: { state: string; vm_states: Record<string, string> }) => boolean, ms = 30_000, auth?: string) {
  const end = Date.now() + ms;
  let last = await state(infId, auth);
  while (!ok(last) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 150));
    last = await state(infId, auth);
  }
  if (!ok(last)) throw new Error(`unexpected state ${JSON.stringify(last)}`);
  return last;
}

async function leaksAfter(ms = 3000): Promise<Record<string, string[]>> {
  const end = Date.now() + ms;
  while (fake.state.leakCount() > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return fake.state.leftovers();
}

beforeAll(async () => {
  fake = await FakeOpenStack.start();
  const config = loadConfig({ ...TEST_ENV });
  const logger = {
    debug: (m: string, f?: Record<string, unknown>) => logLines.push(JSON.stringify({ m, f })),
    info: (m: string, f?: Record<string, unknown>) => logLines.push(JSON.stringify({ m, f })),
    warn: (m: string, f?: Record<string, unknown>) => logLines.push(JSON.stringify({ m, f })),
    error: (m: string, f?: Record<string, unknown>) => logLines.push(JSON.stringify({ m, f })),
  };
  srv = await startTestServer({ connectors: [new OpenStackConnector({ config, logger, timing: FAST, requestTimeoutMs: 5000 })] });
  call = client(srv.baseUrl);
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  await fake?.stop();
});

beforeEach(() => fake.reset());

describe('OpenStack over REST (local mode, fake OpenStack)', () => {
  it('lives a 3-VM infrastructure through create, state, info, stop, start, alter, snapshot, add, remove and destroy, leaving nothing', async () => {
    const created = await req('POST', '/infrastructures', RADL());
    expect(created.status, created.text).toBe(200);
    const infId = idOf(created.json<{ uri: string }>().uri);
    const launchCalls = fake.apiCalls().length;
    const st = await waitFor(infId, (s) => s.state === 'configured');
    expect(st.vm_states).toEqual({ 0: 'configured', 1: 'configured', 2: 'configured' });
    expect(fake.state.servers.size).toBe(3);

    // The front gets its floating IP (refresh); its VM info shows it, the flavor and the provider id.
    const front = await waitInfo(infId, 0, (t) => /203\.0\.113\./.test(t));
    expect(front).toMatch(/"instance_type":\s*"m1.small"/);
    expect(front).toMatch(/"provider.type":\s*"OpenStack"/);
    expect(front).toMatch(/"net_interface\.1\.ip":\s*"10\.0\.0\.\d+"/);
    const wn = await waitInfo(infId, 1, (t) => /10\.0\.0\./.test(t));
    expect(wn).toMatch(/"instance_id":\s*"[0-9a-f-]{36}"/);
    expect(wn).toMatch(/"provider_id":\s*"private"/);

    // Steady state: one server list per refresh round for the whole infrastructure.
    fake.log.length = 0;
    await new Promise((r) => setTimeout(r, 1100));
    await state(infId);
    const round = fake.apiCalls().map((c) => `${c.method} ${c.path}`);
    expect(round).toEqual(['GET /compute/v2.1/servers/detail']);

    // Stop / start VM 1.
    expect((await req('PUT', `/infrastructures/${infId}/vms/1/stop`)).status).toBe(200);
    await waitFor(infId, (s) => s.vm_states['1'] === 'stopped');
    expect((await req('PUT', `/infrastructures/${infId}/vms/1/start`)).status).toBe(200);
    await waitFor(infId, (s) => s.vm_states['1'] === 'configured');

    // Alter VM 2 (resize + confirm).
    const alt = await req('PUT', `/infrastructures/${infId}/vms/2`, "system wn ( cpu.count >= 2 and memory.size >= 4096m )");
    expect(alt.status, alt.text).toBe(200);
    expect(alt.text).toMatch(/"instance_type":\s*"m1.ephemeral"/);
    expect(fake.calls(/\/action$/, 'POST').map((c) => Object.keys(c.body as object)[0])).toEqual(expect.arrayContaining(['resize', 'confirmResize']));

    // Snapshot of VM 0 (auto_delete: removed with the infrastructure).
    const snap = await call('PUT', `/infrastructures/${infId}/vms/0/disks/0/snapshot`, { auth: authLine(), query: { image_name: 'mysnap', auto_delete: 'true' } });
    expect(snap.status, snap.text).toBe(200);
    const snapId = snap.text.trim().split('/').pop() as string;
    expect(fake.state.images.has(snapId)).toBe(true);

    // Add one wn, then remove it.
    const added = await req('POST', `/infrastructures/${infId}`, RADL(0).replace('deploy front 1', 'deploy wn 1'));
    expect(added.status, added.text).toBe(200);
    await waitFor(infId, (s) => s.vm_states['3'] === 'configured');
    expect(fake.state.servers.size).toBe(4);
    const removed = await req('DELETE', `/infrastructures/${infId}/vms/3`);
    expect(removed.status, removed.text).toBe(200);
    await waitFor(infId, (s) => !('3' in s.vm_states));

    // Destroy: nothing the connector created is left, the snapshot is gone too.
    fake.log.length = 0;
    const destroyed = await req('DELETE', `/infrastructures/${infId}`);
    expect(destroyed.status, destroyed.text).toBe(200);
    expect(await leaksAfter()).toEqual({});
    expect(fake.state.images.has(snapId)).toBe(false);
    expect((await req('GET', `/infrastructures/${infId}/state`)).status).toBe(404);
    expect(logLines.join('\n')).not.toContain(PASSWORD);
    expect(launchCalls).toBeGreaterThan(0);
  });

  it('an OIDC access token item (3.x_oidc_access_token) signs in with the token as password', async () => {
    const auth = `type = InfrastructureManager; username = oidcuser; password = p\\nid = egi; type = OpenStack; host = ${fake.url}; username = egi.eu; tenant = openid; auth_version = 3.x_oidc_access_token; domain = vo.access.egi.eu; password = ${OIDC_TOKEN}`;
    const radl = RADL(0).replace(/ost:\/\/127\.0\.0\.1/g, 'ost://127.0.0.1');
    const created = await req('POST', '/infrastructures', radl, auth);
    expect(created.status, created.text).toBe(200);
    const infId = idOf(created.json<{ uri: string }>().uri);
    await waitFor(infId, (s) => s.state === 'configured', 30_000, auth);
    const fed = fake.calls(/OS-FEDERATION\/identity_providers\/egi\.eu\/protocols\/openid\/auth/);
    expect(fed.length).toBeGreaterThan(0);
    expect(fed[0].headers.authorization).toBe(`Bearer ${OIDC_TOKEN}`);
    expect((await req('DELETE', `/infrastructures/${infId}`, undefined, auth)).status).toBe(200);
    expect(await leaksAfter()).toEqual({});
    expect(logLines.join('\n')).not.toContain(OIDC_TOKEN);
  });

  it('dry_run estimates the flavor the launch would take, creating nothing', async () => {
    const r = await call('POST', '/infrastructures', { auth: authLine(), body: RADL(2), query: { dry_run: 'yes' }, accept: 'application/json' });
    expect(r.status, r.text).toBe(200);
    const est = r.json<Record<string, { cloudType: string; cloudEndpoint: string; compute: Record<string, number>[] }>>().ost;
    expect(est.cloudType).toBe('OpenStack');
    expect(est.cloudEndpoint).toBe(`${fake.url}:80`.replace(/:(\d+):80$/, ':$1'));
    expect(est.compute).toEqual([
      { cpuCores: 1, memoryInMegabytes: 2048, diskSizeInGigabytes: 20, publicIP: 1 },
      // m1.tiny (disk 1) fails IM's 5 GB root disk rule: the wn nodes get m1.small too.
      { cpuCores: 1, memoryInMegabytes: 2048, diskSizeInGigabytes: 20 },
      { cpuCores: 1, memoryInMegabytes: 2048, diskSizeInGigabytes: 20 },
    ]);
    expect(fake.state.servers.size).toBe(0);
    expect(fake.calls(/\/servers$/, 'POST')).toHaveLength(0);
  });

  const FAULTS: [string, Partial<FailRule> & { path: string }, boolean?][] = [
    ['Keystone 503', { method: 'POST', path: '^/v3/auth/tokens$', status: 503 }],
    ['image GET 500', { method: 'GET', path: '^/image/v2/images/', status: 500 }],
    ['flavor list 500', { method: 'GET', path: '/flavors/detail$', status: 500 }],
    ['network list 500', { method: 'GET', path: '^/network/v2.0/networks$', status: 500 }],
    ['subnet list 500', { method: 'GET', path: '^/network/v2.0/subnets$', status: 500 }],
    ['security group create 500', { method: 'POST', path: '^/network/v2.0/security-groups$', status: 500 }],
    ['security group rule 500', { method: 'POST', path: '^/network/v2.0/security-group-rules$', status: 500 }],
    ['server create 500', { method: 'POST', path: '^/compute/v2.1/servers$', status: 500 }],
    ['server create quota 403', { method: 'POST', path: '^/compute/v2.1/servers$', status: 403, body: { forbidden: { code: 403, message: 'Quota exceeded for cores: Requested 1, but already used 20 of 20 cores' } } }],
    ['server list 500 (refresh)', { method: 'GET', path: '/servers/detail$', status: 500 }],
    ['floating IP create 500', { method: 'POST', path: '^/network/v2.0/floatingips$', status: 500 }],
    ['floating IP attach 500', { method: 'PUT', path: '^/network/v2.0/floatingips/', status: 500 }],
    ['finalize: floating IP list 500', { method: 'GET', path: '^/network/v2.0/floatingips$', status: 500 }, true],
    ['finalize: server GET 500', { method: 'GET', path: '^/compute/v2.1/servers/[^/]+$', status: 500 }, true],
    ['finalize: server DELETE 500', { method: 'DELETE', path: '^/compute/v2.1/servers/', status: 500 }, true],
    ['finalize: security group DELETE 500', { method: 'DELETE', path: '^/network/v2.0/security-groups/', status: 500 }, true],
    ['finalize: security group list 500', { method: 'GET', path: '^/network/v2.0/security-groups$', status: 500 }, true],
  ];

  it('leaks nothing under a fault at every step of launch and finalize', async () => {
    const leaks: Record<string, number> = {};
    for (const [name, rule, atDestroy] of FAULTS) {
      fake.reset();
      if (!atDestroy) fake.configure({ fail: [{ nth: 1, ...rule } as FailRule] });
      const created = await req('POST', '/infrastructures', RADL(1));
      expect(created.status, `${name}: ${created.text}`).toBe(200);
      const infId = idOf(created.json<{ uri: string }>().uri);
      await waitFor(infId, (s) => s.state === 'configured', 30_000);
      if (atDestroy) fake.configure({ fail: [{ nth: 1, ...rule } as FailRule] });
      let destroyed = await req('DELETE', `/infrastructures/${infId}`);
      // The destroy flow retries retryable finalize errors; a second destroy completes what a failed one left.
      if (destroyed.status !== 200) destroyed = await req('DELETE', `/infrastructures/${infId}`);
      expect(destroyed.status, `${name}: ${destroyed.text}`).toBe(200);
      const left = await leaksAfter();
      leaks[name] = Object.values(left).reduce((n, ids) => n + ids.length, 0);
    }
    console.info(`OpenStack leak count under faults: ${JSON.stringify(leaks)}`);
    expect(Object.values(leaks).reduce((a, b) => a + b, 0)).toBe(0);
  }, 240_000);

  it('counts OpenStack API calls per VM launched / destroyed and per refresh round', async () => {
    const n = 3;
    const created = await req('POST', '/infrastructures', RADL(n - 1));
    expect(created.status).toBe(200);
    const infId = idOf(created.json<{ uri: string }>().uri);
    await waitFor(infId, (s) => s.state === 'configured');
    await waitInfo(infId, 0, (t) => /203\.0\.113\./.test(t));
    const launch = fake.apiCalls().filter((c) => !/servers\/detail$|\/servers\/[^/]+$/.test(c.path) || c.method !== 'GET');
    const refreshDuringLaunch = fake.apiCalls().length - launch.length;
    const byCall: Record<string, number> = {};
    for (const c of launch) {
      const k = `${c.method} ${c.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32}/g, '{id}')}`;
      byCall[k] = (byCall[k] ?? 0) + 1;
    }
    console.info(`OpenStack launch calls: ${JSON.stringify(byCall)}`);
    fake.log.length = 0;
    const rounds = 3;
    for (let i = 0; i < rounds; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      await state(infId);
    }
    const perRound = fake.apiCalls().length / rounds;
    fake.log.length = 0;
    expect((await req('DELETE', `/infrastructures/${infId}`)).status).toBe(200);
    const destroy = fake.apiCalls().length;
    const byDestroyCall: Record<string, number> = {};
    for (const c of fake.apiCalls()) {
      const k = `${c.method} ${c.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}|[0-9a-f]{32}/g, '{id}')}`;
      byDestroyCall[k] = (byDestroyCall[k] ?? 0) + 1;
    }
    console.info(`OpenStack destroy calls: ${JSON.stringify(byDestroyCall)}`);
    expect(await leaksAfter()).toEqual({});
    const figures = {
      vms: n,
      launchCallsPerVm: +(launch.length / n).toFixed(2),
      refreshCallsDuringLaunch: refreshDuringLaunch,
      refreshCallsPerRound: perRound,
      refreshCallsPerVmPerMinuteAt10s: +((perRound / n) * 6).toFixed(2),
      destroyCallsPerVm: +(destroy / n).toFixed(2),
    };
    console.info(`OpenStack call counts: ${JSON.stringify(figures)}`);
    expect(perRound).toBe(1);
  }, 120_000);
});

async function waitInfo(infId: string, vmId: number, ok: (text: string) => boolean, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await req('GET', `/infrastructures/${infId}/vms/${vmId}`);
    expect(r.status, r.text).toBe(200);
    if (ok(r.text) || Date.now() > end) return r.text;
    await new Promise((res) => setTimeout(res, 200));
  }
}
