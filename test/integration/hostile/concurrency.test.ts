/**
 * Hostile client, probe 2: parallel writers. 50 AddResource calls at once on one infrastructure
 * (all succeed, 50 VMs with distinct ids), then 30 mixed writers at once over REST and XML-RPC
 * (add, remove, reconfigure, stop/start, VM reboot, destroy of other infrastructures): no 5xx, and
 * the final state is what the successful answers say it is.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authHeader,
  client,
  create,
  idOf,
  radl,
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

const AUTH = authHeader('writer', 'writer-pass');
const RPC_AUTH = rpcAuth('writer', 'writer-pass');
const VM_STATES = new Set(['pending', 'running', 'configured', 'stopped', 'unconfigured', 'off', 'failed', 'unknown']);

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

const vmList = async (infId: string) =>
  (await call('GET', `/infrastructures/${infId}`, { auth: AUTH })).text.split('\n').filter(Boolean).map((u) => Number(idOf(u)));

const vmStates = async (infId: string) =>
  (await call('GET', `/infrastructures/${infId}/state`, { auth: AUTH })).json<{ state: { state: string; vm_states: Record<string, string> } }>().state;

describe('parallel writers', () => {
  it('50 parallel AddResource calls on one infrastructure: all succeed, 50 VMs with distinct ids', async () => {
    const infId = await create(call, 0, { auth: AUTH, accept: 'text/uri-list' });
    const [adds, ms] = await timed(() =>
      Promise.all(Array.from({ length: 50 }, () => call('POST', `/infrastructures/${infId}`, { auth: AUTH, body: 'system front\ndeploy front 1', accept: 'text/uri-list' }))),
    );
    const failed = adds.filter((r) => r.status !== 200);
    const fiveXX = adds.filter((r) => r.status >= 500).length;
    const newIds = adds.filter((r) => r.status === 200).flatMap((r) => r.text.split('\n').filter(Boolean).map((u) => Number(idOf(u))));
    const listed = await vmList(infId);
    const states = await vmStates(infId);
    summary('parallel-adds', { calls: 50, ok: 50 - failed.length, fiveXX, vmsListed: listed.length, distinctIds: new Set(listed).size, ms });
    expect(failed.map((r) => `${r.status} ${r.text}`)).toEqual([]);
    expect(newIds).toHaveLength(50);
    expect(new Set(newIds).size).toBe(50);
    expect([...listed].sort((a, b) => a - b)).toEqual([...newIds].sort((a, b) => a - b));
    expect(Object.keys(states.vm_states).map(Number).sort((a, b) => a - b)).toEqual([...listed].sort((a, b) => a - b));
  }, 120_000);

  it('30 mixed parallel writers (REST and XML-RPC): no 5xx, final state consistent', async () => {
    const main = await create(call, 6, { auth: AUTH, body: radl(6) });
    const others = await Promise.all(Array.from({ length: 6 }, () => create(call, 1, { auth: AUTH })));
    const doomed = others.slice(0, 5);
    const control = others[5];

    type Outcome = { kind: string; ok: boolean; serverError: boolean; detail: string; added?: number[]; removed?: number };
    const rest = (kind: string, method: string, path: string, opts: Parameters<Call>[2] = {}) => async (): Promise<Outcome> => {
      const r = await call(method, path, { auth: AUTH, accept: 'text/uri-list', ...opts });
      const added = kind === 'add' && r.status === 200 ? r.text.split('\n').filter(Boolean).map((u) => Number(idOf(u))) : undefined;
      return { kind, ok: r.status === 200, serverError: r.status >= 500, detail: `${method} ${path} → ${r.status} ${r.text.slice(0, 200)}`, ...(added ? { added } : {}) };
    };
    const rpc = (kind: string, method: string, params: Parameters<typeof rpcCall>[2]) => async (): Promise<Outcome> => {
      const a = await rpcCall(rpcUrl, method, params);
      const ok = rpcOk(a);
      const result = ok ? (a.value as [boolean, unknown])[1] : undefined;
      return {
        kind,
        ok,
        serverError: rpcServerError(a),
        detail: `${method} → ${a.status} ${a.fault ? `fault ${a.fault.faultCode} ${a.fault.faultString}` : JSON.stringify(a.value)}`,
        ...(kind === 'add' && ok ? { added: result as number[] } : {}),
        ...(kind === 'remove' && ok ? { removed: result as number } : {}),
      };
    };
    const M = `/infrastructures/${main}`;
    const writers: (() => Promise<Outcome>)[] = [
      ...Array.from({ length: 4 }, () => rest('add', 'POST', M, { body: 'system front\ndeploy front 1' })),
      ...Array.from({ length: 2 }, () => rest('add', 'POST', M, { body: 'system front\ndeploy front 1', query: { context: 'no' } })),
      ...Array.from({ length: 2 }, () => rpc('add', 'AddResource', [main, 'system front\ndeploy front 1', RPC_AUTH])),
      ...[0, 1, 2].map((vm) => rest('remove', 'DELETE', `${M}/vms/${vm}`)),
      ...[3, 4].map((vm) => rpc('remove', 'RemoveResource', [main, String(vm), RPC_AUTH, false])),
      ...Array.from({ length: 2 }, () => rest('reconfigure', 'PUT', `${M}/reconfigure`)),
      rpc('reconfigure', 'Reconfigure', [main, '', RPC_AUTH]),
      rest('stop', 'PUT', `${M}/stop`),
      rest('start', 'PUT', `${M}/start`),
      rpc('stop', 'StopInfrastructure', [main, RPC_AUTH]),
      rpc('start', 'StartInfrastructure', [main, RPC_AUTH]),
      rest('vm-op', 'PUT', `${M}/vms/5/reboot`),
      rest('vm-op', 'PUT', `${M}/vms/5/stop`),
      rpc('vm-op', 'StartVM', [main, '5', RPC_AUTH]),
      ...doomed.slice(0, 3).map((id) => rest('destroy', 'DELETE', `/infrastructures/${id}`)),
      ...doomed.slice(3).map((id) => rpc('destroy', 'DestroyInfrastructure', [id, RPC_AUTH])),
      rest('read', 'GET', `${M}/state`, { accept: 'application/json' }),
      rpc('read', 'GetInfrastructureInfo', [main, RPC_AUTH]),
    ];
    expect(writers).toHaveLength(30);

    const [outcomes, ms] = await timed(() => Promise.all(writers.map((w) => w())));
    const serverErrors = outcomes.filter((o) => o.serverError);
    // Writers with a target of their own must succeed; the others may be refused, but never with a 5xx.
    const mustSucceed = outcomes.filter((o) => ['add', 'remove', 'destroy', 'read'].includes(o.kind) && !o.ok);

    // Final state: what the successful answers say.
    const added = outcomes.flatMap((o) => o.added ?? []);
    const expected = [5, ...added].sort((a, b) => a - b);
    const listed = (await vmList(main)).sort((a, b) => a - b);
    const state = await vmStates(main);
    const rpcInfo = await rpcCall(rpcUrl, 'GetInfrastructureInfo', [main, RPC_AUTH]);
    const vmReads = await Promise.all(listed.map((vm) => call('GET', `${M}/vms/${vm}`, { auth: AUTH })));
    const doomedAnswers = await Promise.all(doomed.map((id) => call('GET', `/infrastructures/${id}`, { auth: AUTH })));
    const list = (await call('GET', '/infrastructures', { auth: AUTH })).text;
    const inconsistencies: string[] = [];
    if (JSON.stringify(listed) !== JSON.stringify(expected)) inconsistencies.push(`VM list ${JSON.stringify(listed)} ≠ expected ${JSON.stringify(expected)}`);
    if (new Set(added).size !== added.length || added.some((id) => id < 6)) inconsistencies.push(`added ids not fresh: ${JSON.stringify(added)}`);
    const stateIds = Object.keys(state.vm_states).map(Number).sort((a, b) => a - b);
    if (JSON.stringify(stateIds) !== JSON.stringify(listed)) inconsistencies.push(`state vm ids ${JSON.stringify(stateIds)} ≠ listed`);
    for (const [vm, s] of Object.entries(state.vm_states)) if (!VM_STATES.has(s)) inconsistencies.push(`VM ${vm} in state ${s}`);
    if (JSON.stringify(rpcInfo.value) !== JSON.stringify([true, listed.map(String)])) inconsistencies.push(`XML-RPC info ${JSON.stringify(rpcInfo.value)}`);
    vmReads.forEach((r, i) => r.status !== 200 && inconsistencies.push(`VM ${listed[i]} → ${r.status} ${r.text}`));
    doomedAnswers.forEach((r, i) => r.text !== 'Error Getting Inf. info: Deleted infrastructure.' && inconsistencies.push(`destroyed ${doomed[i]} → ${r.status} ${r.text}`));
    for (const id of doomed) if (list.includes(id)) inconsistencies.push(`destroyed ${id} still listed`);
    if (!list.includes(main) || !list.includes(control)) inconsistencies.push('main or control infrastructure missing from the list');
    if ((await vmList(control)).length !== 1) inconsistencies.push('control infrastructure changed');

    const byKind: Record<string, string> = {};
    for (const o of outcomes) {
      const [ok, all] = (byKind[o.kind] ?? '0/0').split('/').map(Number);
      byKind[o.kind] = `${ok + (o.ok ? 1 : 0)}/${all + 1}`;
    }
    summary('mixed-writers', { writers: outcomes.length, fiveXX: serverErrors.length, okByKind: byKind, vmsAtEnd: listed.length, inconsistencies: inconsistencies.length, ms });
    expect(serverErrors.map((o) => o.detail)).toEqual([]);
    expect(mustSucceed.map((o) => o.detail)).toEqual([]);
    expect(inconsistencies).toEqual([]);
  }, 120_000);
});
