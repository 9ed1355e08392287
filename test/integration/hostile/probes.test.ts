/**
 * Hostile client, probe 4: cheap requests that could cost a lot, each timed, over REST and XML-RPC.
 *   - ReDoS: the filter `(a+)+$` against a RADL with 28+ `a` in a row;
 *   - huge deploy: `deploy node 1000000` (with `?dry_run=yes`, and without): a 400 at once;
 *   - huge auth: 200 IM items with wrong passwords, answered at once, while a good user's
 *     requests in parallel are not starved;
 *   - YAML alias bombs ("billion laughs") posted as TOSCA to add / reconfigure / create;
 *   - an infrastructure id of 5,000 characters (an unknown id, not a server error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XmlRpcValue } from '#api/xmlrpc/codec';
import {
  authHeader,
  client,
  create,
  rpcAuth,
  rpcCall,
  rpcOk,
  rpcServerError,
  startTestServer,
  summary,
  timed,
  type Call,
  type TestServer,
} from './support';

const GOOD = authHeader('good-user', 'good-pass');
const GOOD_RPC = rpcAuth('good-user', 'good-pass');
/** What a fast answer is on a shared 2-core machine. */
const FAST_MS = 1000;

let srv: TestServer;
let call: Call;
let rpcUrl: string;

beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.baseUrl);
  rpcUrl = `${srv.xmlrpcUrl}/RPC2`;
});

afterAll(async () => {
  await srv?.stop();
});

const rpcText = (v: unknown) => JSON.stringify(v).slice(0, 200);

describe('expensive-looking requests', () => {
  it('ReDoS: filter (a+)+$ against a RADL with 28+ a in a row answers at once, over REST and XML-RPC', async () => {
    for (const n of [28, 40]) {
      const r = await call('POST', '/infrastructures', {
        auth: GOOD,
        body: `system node ( cpu.count >= 1 and disk.0.os.flavour = '${'a'.repeat(n)}b' )\ncontextualize ()\ndeploy node 0`,
      });
      expect(r.status, r.text).toBe(200);
    }
    const [rest, restMs] = await timed(() => call('GET', '/infrastructures?filter=(a%2B)%2B%24', { auth: GOOD }));
    const [rpc, rpcMs] = await timed(() => rpcCall(rpcUrl, 'GetInfrastructureList', [GOOD_RPC, '(a+)+$']));
    const [longer, longerMs] = await timed(() => call('GET', '/infrastructures', { auth: GOOD, query: { filter: `(a+)+${'a'.repeat(40)}$` } }));
    // Meanwhile the service answers others at once.
    const [, parallelMs] = await timed(() =>
      Promise.all([call('GET', '/infrastructures?filter=(a%2B)%2B%24', { auth: GOOD }), call('GET', '/version', { auth: null })]),
    );
    summary('redos-filter', { restStatus: rest.status, restMs, rpcOk: rpcOk(rpc), rpcMs, longerStatus: longer.status, longerMs, parallelMs });
    expect(rest.status, rest.text).toBe(200);
    expect(rpcOk(rpc), rpcText(rpc.value)).toBe(true);
    expect(longer.status).toBe(200);
    expect(restMs).toBeLessThan(FAST_MS);
    expect(rpcMs).toBeLessThan(FAST_MS);
    expect(longerMs).toBeLessThan(FAST_MS);
    expect(parallelMs).toBeLessThan(2 * FAST_MS);
  });

  it('huge deploy (deploy node 1000000): a 400 at once, dry run or not, RADL, RADL-JSON or XML-RPC', async () => {
    const body = 'system node ( cpu.count >= 1 )\ndeploy node 1000000';
    const json = JSON.stringify([{ class: 'system', id: 'node', 'cpu.count_min': 1 }, { class: 'deploy', system: 'node', vm_number: 1000000 }]);
    const cases: [string, () => Promise<{ status: number; text: string }>][] = [
      ['rest dry_run', () => call('POST', '/infrastructures', { auth: GOOD, body, query: { dry_run: 'yes' } })],
      ['rest create', () => call('POST', '/infrastructures', { auth: GOOD, body })],
      ['rest create async', () => call('POST', '/infrastructures', { auth: GOOD, body, query: { async: 'yes' } })],
      ['rest json dry_run', () => call('POST', '/infrastructures', { auth: GOOD, body: json, contentType: 'application/json', query: { dry_run: 'yes' } })],
      ['rpc estimate', async () => { const a = await rpcCall(rpcUrl, 'EstimateResources', [body, GOOD_RPC]); return { status: rpcOk(a) ? 200 : 400, text: rpcText(a.value ?? a.fault) }; }],
      ['rpc create', async () => { const a = await rpcCall(rpcUrl, 'CreateInfrastructure', [body, GOOD_RPC]); return { status: rpcOk(a) ? 200 : 400, text: rpcText(a.value ?? a.fault) }; }],
    ];
    const id = await create(call, 1, { auth: GOOD });
    cases.push(['rest add', () => call('POST', `/infrastructures/${id}`, { auth: GOOD, body: 'system front\ndeploy front 1000000' })]);
    const results: Record<string, { status: number; ms: number }> = {};
    for (const [name, run] of cases) {
      const [r, ms] = await timed(run);
      results[name] = { status: r.status, ms };
      expect(r.status, `${name}: ${r.text}`).toBe(400);
      expect(r.text, name).toContain('MAX_VMS_PER_REQUEST');
      expect(ms, name).toBeLessThan(FAST_MS);
    }
    summary('huge-deploy', results);
    expect((await call('GET', `/infrastructures/${id}`, { auth: GOOD })).text.split('\n')).toHaveLength(1);
  });

  it('huge auth header (200 IM items, wrong passwords) answers at once and does not starve a good user in parallel', async () => {
    const id = await create(call, 1, { auth: GOOD });
    const bad = Array.from({ length: 200 }, (_, i) => `type = InfrastructureManager; username = good-user; password = wrong-${i}`).join('\\n');
    const badRpc: XmlRpcValue[] = Array.from({ length: 200 }, (_, i) => ({ type: 'InfrastructureManager', username: 'good-user', password: `wrong-${i}` }));
    const [one, oneMs] = await timed(() => call('GET', `/infrastructures/${id}`, { auth: bad }));
    const [oneRpc, oneRpcMs] = await timed(() => rpcCall(rpcUrl, 'GetInfrastructureInfo', [id, badRpc]));
    // Also within the item cap: 10 IM items with wrong passwords, the most a request may carry.
    const ten = Array.from({ length: 10 }, (_, i) => `type = InfrastructureManager; username = good-user; password = ten-${i}`).join('\\n');
    const [tenAnswer, tenMs] = await timed(() => call('GET', `/infrastructures/${id}`, { auth: ten }));

    // A flood of bad headers (REST and XML-RPC) while the good user works.
    const goodLatencies: number[] = [];
    const good = async () => {
      for (let i = 0; i < 10; i++) {
        const [r, ms] = await timed(() => call('GET', `/infrastructures/${id}/state`, { auth: GOOD }));
        expect(r.status, r.text).toBe(200);
        goodLatencies.push(ms);
      }
    };
    const flood = async () => {
      const out: number[] = [];
      for (let i = 0; i < 5; i++) {
        if (i % 2) out.push((await call('GET', `/infrastructures/${id}`, { auth: i % 4 === 1 ? bad : ten })).status);
        else out.push(rpcServerError(await rpcCall(rpcUrl, 'GetInfrastructureInfo', [id, badRpc])) ? 500 : 200);
      }
      return out;
    };
    const [[floodStatuses], floodMs] = await timed(() => Promise.all([Promise.all(Array.from({ length: 8 }, flood)), good(), good()]));
    const sorted = [...goodLatencies].sort((a, b) => a - b);
    const p95 = sorted[Math.floor(sorted.length * 0.95) - 1];
    const flat = floodStatuses.flat();
    summary('huge-auth', {
      rest200Items: { status: one.status, ms: oneMs },
      rpc200Items: { ok: rpcOk(oneRpc), ms: oneRpcMs },
      rest10WrongItems: { status: tenAnswer.status, ms: tenMs },
      flood: { badRequests: flat.length, fiveXX: flat.filter((s) => s >= 500).length, ms: floodMs },
      goodUser: { requests: goodLatencies.length, maxMs: sorted[sorted.length - 1], p95Ms: p95, medianMs: sorted[Math.floor(sorted.length / 2)] },
    });
    expect([400, 401]).toContain(one.status);
    expect(oneMs).toBeLessThan(2 * FAST_MS);
    expect(rpcOk(oneRpc)).toBe(false);
    expect(oneRpcMs).toBeLessThan(2 * FAST_MS);
    expect([400, 401, 403]).toContain(tenAnswer.status);
    expect(tenMs).toBeLessThan(2 * FAST_MS);
    expect(flat.filter((s) => s >= 500)).toEqual([]);
    expect(goodLatencies).toHaveLength(20);
    expect(sorted[sorted.length - 1]).toBeLessThan(2 * FAST_MS);
  }, 60_000);

  it('YAML alias bombs posted as TOSCA (create, add, reconfigure, alter) are refused at once and starve nobody', async () => {
    const id = await create(call, 1, { auth: GOOD });
    let bomb = 'a0: &a0 ["x","x","x","x","x","x","x","x","x"]\n';
    for (let i = 1; i <= 7; i++) bomb += `a${i}: &a${i} [${Array.from({ length: 9 }, () => `*a${i - 1}`).join(',')}]\n`;
    const targets: [string, string, string][] = [
      ['create', 'POST', '/infrastructures'],
      ['dry_run', 'POST', '/infrastructures?dry_run=yes'],
      ['add', 'POST', `/infrastructures/${id}`],
      ['reconfigure', 'PUT', `/infrastructures/${id}/reconfigure`],
      ['alter', 'PUT', `/infrastructures/${id}/vms/0`],
    ];
    const results: Record<string, { status: number; ms: number }> = {};
    for (const [name, method, path] of targets) {
      const [[r, version], ms] = await timed(() =>
        Promise.all([call(method, path, { auth: GOOD, body: bomb, contentType: 'text/yaml' }), timed(() => call('GET', '/version', { auth: null }))]),
      );
      results[name] = { status: r.status, ms };
      results[`${name} (parallel /version)`] = { status: version[0].status, ms: version[1] };
      expect(r.status, `${name}: ${r.text}`).toBe(400);
      expect(ms, name).toBeLessThan(FAST_MS);
      expect(version[1], `${name}: /version waited`).toBeLessThan(FAST_MS);
    }
    summary('yaml-bomb', results);
    expect((await call('GET', `/infrastructures/${id}/state`, { auth: GOOD })).status).toBe(200);
  });

  it('a 5,000-character infrastructure id is an unknown id (404 / [false, …]), not a server error', async () => {
    const long = 'y'.repeat(5000);
    const results: Record<string, string> = {};
    for (const [method, path, body] of [
      ['GET', `/infrastructures/${long}`],
      ['POST', `/infrastructures/${long}`, 'system front\ndeploy front 1'],
      ['GET', `/infrastructures/${long}/vms/0`],
      ['DELETE', `/infrastructures/${long}`],
    ] as const) {
      const r = await call(method, path, { auth: GOOD, ...(body ? { body } : {}) });
      results[`${method} ${path.replace(long, '<5000 y>')}`] = `${r.status}`;
      expect(r.status, `${method}: ${r.text}`).toBe(404);
      expect(r.text).toContain('Invalid infrastructure ID or access not granted.');
    }
    const a = await rpcCall(rpcUrl, 'GetInfrastructureState', [long, GOOD_RPC]);
    results['XML-RPC GetInfrastructureState'] = rpcText(a.value ?? a.fault);
    expect(a.value).toEqual([false, 'Invalid infrastructure ID or access not granted.']);
    summary('long-id', results);
  });
});
