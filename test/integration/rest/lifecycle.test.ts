/**
 * The VM state machine where it used to differ from IM (lifecycle.md §1), tried as a user would, over
 * REST and XML-RPC, with `contextualize ()` (contextualization disabled: every step is immediate):
 *  - a VM added with context=0 stays running; a later Reconfigure (with or without vm_list) brings every
 *    VM it covers to configured, as IM reports them;
 *  - after StopInfrastructure / StartInfrastructure (and VM stop/start, reboot, alter) previously
 *    configured VMs are configured again once running;
 *  - add and remove with context re-run the contextualization: every VM ends configured.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMethodResponse, encodeMethodCall, type XmlRpcValue } from '#api/xmlrpc/codec';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { client, idOf, radl, type Call } from './client';

let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer();
  call = client(srv.baseUrl);
});
afterAll(async () => {
  await srv?.stop();
});

const AUTH_ITEMS: XmlRpcValue[] = [
  { type: 'InfrastructureManager', username: 'user', password: 'pass' },
  { id: 'one', type: 'Dummy' },
];

async function rpc(method: string, params: XmlRpcValue[]): Promise<[boolean, unknown]> {
  const res = await fetch(srv.xmlrpcUrl, { method: 'POST', body: encodeMethodCall(method, params) });
  return decodeMethodResponse(await res.text()).value as [boolean, unknown];
}

async function vmStates(infId: string): Promise<Record<string, string>> {
  await srv.instance.orchestrator.idle();
  const r = await call('GET', `/infrastructures/${infId}/state`, { accept: 'application/json' });
  return r.json<{ state: { vm_states: Record<string, string> } }>().state.vm_states;
}

async function infState(infId: string): Promise<string> {
  await srv.instance.orchestrator.idle();
  return (await call('GET', `/infrastructures/${infId}/state`, { accept: 'application/json' })).json<{ state: { state: string } }>().state.state;
}

async function createConfigured(n: number): Promise<string> {
  const r = await call('POST', '/infrastructures', { body: radl(n), accept: 'text/uri-list' });
  expect(r.status, r.text).toBe(200);
  const infId = idOf(r.text);
  expect(Object.values(await vmStates(infId)).every((s) => s === 'configured')).toBe(true);
  return infId;
}

/** Adds one VM with context=0 (REST ?context=no). */
async function addWithoutContext(infId: string): Promise<void> {
  const r = await call('POST', `/infrastructures/${infId}`, { body: 'deploy front 1', query: { context: 'no' }, accept: 'text/uri-list' });
  expect(r.status, r.text).toBe(200);
}

describe('Reconfigure brings every VM it covers to its final state (contextualize ())', () => {
  it('REST: a VM added with context=0 stays running; Reconfigure without vm_list configures it', async () => {
    const infId = await createConfigured(1);
    await addWithoutContext(infId);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '1': 'running' });
    const r = await call('PUT', `/infrastructures/${infId}/reconfigure`);
    expect(r.status, r.text).toBe(200);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '1': 'configured' });
    expect(await infState(infId)).toBe('configured');
  });

  it('REST: Reconfigure with vm_list configures the listed VMs', async () => {
    const infId = await createConfigured(1);
    await addWithoutContext(infId);
    await addWithoutContext(infId);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '1': 'running', '2': 'running' });
    const r = await call('PUT', `/infrastructures/${infId}/reconfigure`, { query: { vm_list: '1' } });
    expect(r.status, r.text).toBe(200);
    const states = await vmStates(infId);
    expect(states['0']).toBe('configured');
    expect(states['1']).toBe('configured');
  });

  it('XML-RPC: AddResource(context=false) then Reconfigure / Reconfigure(vm_list)', async () => {
    const [ok, infId] = await rpc('CreateInfrastructure', [radl(1), AUTH_ITEMS]);
    expect(ok, String(infId)).toBe(true);
    const id = infId as string;
    expect((await rpc('AddResource', [id, 'deploy front 1', AUTH_ITEMS, false]))[0]).toBe(true);
    expect((await rpc('AddResource', [id, 'deploy front 1', AUTH_ITEMS, false]))[0]).toBe(true);
    expect(await vmStates(id)).toEqual({ '0': 'configured', '1': 'running', '2': 'running' });
    const [okList] = await rpc('Reconfigure', [id, '', AUTH_ITEMS, [2]]);
    expect(okList).toBe(true);
    expect((await vmStates(id))['2']).toBe('configured');
    const [okAll] = await rpc('Reconfigure', [id, '', AUTH_ITEMS]);
    expect(okAll).toBe(true);
    expect(await vmStates(id)).toEqual({ '0': 'configured', '1': 'configured', '2': 'configured' });
    const [okState, st] = await rpc('GetInfrastructureState', [id, AUTH_ITEMS]);
    expect(okState).toBe(true);
    expect((st as { state: string }).state).toBe('configured');
  });
});

describe('configured survives power operations (lifecycle.md §1)', () => {
  it('REST: StopInfrastructure → stopped; StartInfrastructure → configured again', async () => {
    const infId = await createConfigured(2);
    expect((await call('PUT', `/infrastructures/${infId}/stop`)).status).toBe(200);
    expect(await vmStates(infId)).toEqual({ '0': 'stopped', '1': 'stopped' });
    expect(await infState(infId)).toBe('stopped');
    expect((await call('PUT', `/infrastructures/${infId}/start`)).status).toBe(200);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '1': 'configured' });
    expect(await infState(infId)).toBe('configured');
  });

  it('REST: VM stop/start, reboot and alter keep configured', async () => {
    const infId = await createConfigured(1);
    expect((await call('PUT', `/infrastructures/${infId}/vms/0/stop`)).status).toBe(200);
    expect((await vmStates(infId))['0']).toBe('stopped');
    expect((await call('PUT', `/infrastructures/${infId}/vms/0/start`)).status).toBe(200);
    expect((await vmStates(infId))['0']).toBe('configured');
    expect((await call('PUT', `/infrastructures/${infId}/vms/0/reboot`)).status).toBe(200);
    expect((await vmStates(infId))['0']).toBe('configured');
    const alter = await call('PUT', `/infrastructures/${infId}/vms/0`, { body: 'system front ( cpu.count >= 2 and memory.size >= 1024m )' });
    expect(alter.status, alter.text).toBe(200);
    expect((await vmStates(infId))['0']).toBe('configured');
  });

  it('XML-RPC: StopInfrastructure / StartInfrastructure', async () => {
    const [, infId] = await rpc('CreateInfrastructure', [radl(2), AUTH_ITEMS]);
    const id = infId as string;
    expect((await rpc('StopInfrastructure', [id, AUTH_ITEMS]))[0]).toBe(true);
    expect(await vmStates(id)).toEqual({ '0': 'stopped', '1': 'stopped' });
    expect((await rpc('StartInfrastructure', [id, AUTH_ITEMS]))[0]).toBe(true);
    expect(await vmStates(id)).toEqual({ '0': 'configured', '1': 'configured' });
  });
});

describe('add and remove with context re-contextualize every VM', () => {
  it('REST: add with context → every VM configured; remove with context → the rest configured', async () => {
    const infId = await createConfigured(2);
    const add = await call('POST', `/infrastructures/${infId}`, { body: 'deploy front 1', accept: 'text/uri-list' });
    expect(add.status, add.text).toBe(200);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '1': 'configured', '2': 'configured' });
    const rm = await call('DELETE', `/infrastructures/${infId}/vms/1`);
    expect(rm.status, rm.text).toBe(200);
    expect(await vmStates(infId)).toEqual({ '0': 'configured', '2': 'configured' });
  });
});
