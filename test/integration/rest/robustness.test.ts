/**
 * Bad input never answers 500 and never loses data: after each bad request the existing
 * infrastructure is still intact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { client, create, radl, type Call } from './client';

let srv: TestServer;
let call: Call;
let infId: string;

beforeAll(async () => {
  srv = await startTestServer({ env: { MAX_BODY_SIZE: '4096' } });
  call = client(srv.baseUrl);
  infId = await create(call, 2);
});

afterAll(async () => {
  await srv?.stop();
});

async function intact(): Promise<void> {
  const info = await call('GET', `/infrastructures/${infId}`);
  expect(info.status).toBe(200);
  expect(info.text.split('\n')).toHaveLength(2);
  const state = await call('GET', `/infrastructures/${infId}/state`);
  expect(state.json()).toEqual({ state: { state: 'configured', vm_states: { '0': 'configured', '1': 'configured' } } });
  expect((await call('GET', `/infrastructures/${infId}/radl`)).text).toContain('deploy front 2');
}

const big = 'x'.repeat(10_000);

const cases: [string, string, string, Parameters<Call>[2], number][] = [
  ['invalid RADL (create)', 'POST', '/infrastructures', { body: 'system a ( cpu.count >= )' }, 400],
  ['invalid RADL (add)', 'POST', '/infrastructures/{id}', { body: 'system front (\n memory.size >= 1G and\n memory.size <= 1M\n)\ndeploy front 1' }, 400],
  ['invalid RADL-JSON (add)', 'POST', '/infrastructures/{id}', { body: '[{"class": "system"', contentType: 'application/json' }, 400],
  ['invalid RADL (alter)', 'PUT', '/infrastructures/{id}/vms/0', { body: 'system front ( cpu.count >= 1 and )' }, 400],
  ['invalid recipe YAML (reconfigure)', 'PUT', '/infrastructures/{id}/reconfigure', { body: 'configure front (\n@begin\n: : :\n  - [\n@end\n)' }, 400],
  ['unknown infrastructure id', 'GET', '/infrastructures/00000000-0000-0000-0000-000000000000', {}, 404],
  ['unknown VM id', 'GET', '/infrastructures/{id}/vms/42', {}, 404],
  ['negative VM id', 'DELETE', '/infrastructures/{id}/vms/-1', {}, 404],
  ['percent garbage in the path', 'GET', '/infrastructures/%E0%A4%A', {}, 404],
  ['wrong content type (add)', 'POST', '/infrastructures/{id}', { body: radl(1), contentType: 'application/x-www-form-urlencoded' }, 415],
  ['wrong content type (import)', 'PUT', '/infrastructures', { body: '{}', contentType: 'text/plain' }, 415],
  ['oversized body (add)', 'POST', '/infrastructures/{id}', { body: big }, 413],
  ['oversized body (create)', 'POST', '/infrastructures', { body: big }, 413],
  ['garbage auth header (list)', 'GET', '/infrastructures', { auth: '}}}{{{garbage' }, 401],
  ['garbage auth header (create)', 'POST', '/infrastructures', { auth: '\\n\\n;;==', body: radl(1) }, 401],
  ['bad auth item id', 'GET', '/infrastructures/{id}', { auth: 'id = 9bad; type = Dummy' }, 401],
  ['bearer without vault', 'GET', '/infrastructures', { auth: 'Bearer abc.def.ghi' }, 401],
  ['OIDC token item', 'GET', '/infrastructures', { auth: 'type = InfrastructureManager; token = eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4IiwiaXNzIjoiaHR0cHM6Ly9pIn0.x' }, 401],
  ['garbage auth header (infra endpoint)', 'GET', '/infrastructures/{id}', { auth: 'garbage' }, 400],
  ['bad boolean (destroy)', 'DELETE', '/infrastructures/{id}', { query: { force: 'sure' } }, 400],
  ['bad boolean (add)', 'POST', '/infrastructures/{id}', { body: radl(1), query: { context: 'nope' } }, 400],
  ['bad boolean (contmsg)', 'GET', '/infrastructures/{id}/contmsg', { query: { headeronly: '2' } }, 400],
  ['bad boolean (remove)', 'DELETE', '/infrastructures/{id}/vms/0', { query: { context: 'y e s' } }, 400],
  ['bad boolean (data delete)', 'GET', '/infrastructures/{id}/data', { query: { delete: 'please' } }, 400],
  ['bad step', 'GET', '/infrastructures/{id}/vms/0/command', { query: { step: 'one' } }, 400],
  ['bad disk number', 'PUT', '/infrastructures/{id}/vms/0/disks/x/snapshot', { query: { image_name: 'i' } }, 400],
  ['bad import data', 'PUT', '/infrastructures', { body: '{"id": "../../etc", "vm_list": 3}', contentType: 'application/json' }, 400],
  ['unknown property', 'GET', '/infrastructures/{id}/secrets', {}, 404],
  ['unsupported Accept', 'GET', '/infrastructures/{id}', { accept: 'image/png' }, 415],
];

describe('bad input', () => {
  it.each(cases)('%s → %s %s → %i, infrastructure intact', async (_name, method, path, opts, status) => {
    const r = await call(method, path.replace('{id}', infId), opts);
    expect(r.status, r.text).toBe(status);
    expect(r.status).toBeLessThan(500);
    expect(r.text).not.toMatch(/\n\s+at .+:\d+:\d+/);
    await intact();
  });

  it('invalid RADL reports the line and column', async () => {
    const r = await call('POST', '/infrastructures', { body: 'network n ( )\nsystem a (\n  cpu.count >= 1 and\n  memory.size = ??\n)' });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/line 4, column \d+/);
  });
});
