/** Parallel add-resource calls on one infrastructure lose no VM: ids are unique and sequential. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

describe('concurrency', () => {
  it('20 parallel add-resource calls: 20 VMs, ids 0..19', async () => {
    const created = await call('POST', '/infrastructures', { body: radl(0) });
    expect(created.status).toBe(200);
    const id = idOf(created.text);
    const adds = await Promise.all(Array.from({ length: 20 }, () => call('POST', `/infrastructures/${id}`, { body: 'system front\ndeploy front 1' })));
    for (const r of adds) expect(r.status, r.text).toBe(200);
    const returned = adds.map((r) => Number(r.text.split('/').pop())).sort((a, b) => a - b);
    expect(returned).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const info = await call('GET', `/infrastructures/${id}`);
    const ids = info.text.split('\n').map((u) => Number(u.split('/').pop()));
    expect(ids).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const state = (await call('GET', `/infrastructures/${id}/state`)).json<{ state: { state: string; vm_states: Record<string, string> } }>();
    expect(Object.keys(state.state.vm_states)).toHaveLength(20);
    expect(state.state.state).toBe('configured');
    // Nothing is left "adding": destroy is allowed.
    expect((await call('DELETE', `/infrastructures/${id}`)).status).toBe(200);
  }, 120_000);

  it('parallel adds of different systems keep every definition', async () => {
    const id = idOf((await call('POST', '/infrastructures', { body: radl(0) })).text);
    const adds = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call('POST', `/infrastructures/${id}`, { body: `system s${i} ( cpu.count = 1 )\ndeploy s${i} 1` })),
    );
    for (const r of adds) expect(r.status, r.text).toBe(200);
    const text = (await call('GET', `/infrastructures/${id}/radl`)).text;
    for (let i = 0; i < 10; i++) expect(text).toContain(`system s${i} (`);
    expect((await call('GET', `/infrastructures/${id}`)).text.split('\n')).toHaveLength(10);
  }, 120_000);

  it('parallel creates and destroys do not interfere', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, async () => idOf((await call('POST', '/infrastructures', { body: radl(2) })).text)));
    expect(new Set(ids).size).toBe(8);
    const dels = await Promise.all(ids.map((id) => call('DELETE', `/infrastructures/${id}`)));
    for (const d of dels) expect(d.status).toBe(200);
    const list = (await call('GET', '/infrastructures')).text;
    for (const id of ids) expect(list).not.toContain(id);
  }, 120_000);
});
