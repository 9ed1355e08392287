/**
 * Every REST operation over real HTTP against local mode (Dummy clouds, `contextualize ()`),
 * with success and error cases: status codes, headers and bodies.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { AUTH, authHeader, client, create, failingConnector, idOf, radl, slowConnector, type Call } from './client';

let srv: TestServer;
let call: Call;
let base: string;
let infId: string;

beforeAll(async () => {
  srv = await startTestServer({ connectors: [failingConnector(), slowConnector(1500)] });
  base = srv.baseUrl;
  call = client(base);
  infId = await create(call, 2);
});

afterAll(async () => {
  await srv?.stop();
});

describe('1 GET /version', () => {
  it('text and JSON, no auth needed', async () => {
    const t = await call('GET', '/version', { auth: null });
    expect(t.status).toBe(200);
    expect(t.headers.get('content-type')).toBe('text/plain');
    expect(t.text).toBe('2.0.0');
    const j = await call('GET', '/version', { auth: null, accept: 'application/json' });
    expect(j.json()).toEqual({ version: '2.0.0' });
  });

  it('415 for an Accept it cannot serve', async () => {
    const r = await call('GET', '/version', { accept: 'image/png' });
    expect(r.status).toBe(415);
    expect(r.text).toBe('Unsupported Accept Media Types: image/png');
  });
});

describe('2 GET /infrastructures', () => {
  it('lists the caller infrastructures as absolute URIs (text and JSON)', async () => {
    const t = await call('GET', '/infrastructures');
    expect(t.status).toBe(200);
    expect(t.headers.get('content-type')).toBe('text/uri-list');
    expect(t.text.split('\n')).toContain(`${base}/infrastructures/${infId}`);
    const j = await call('GET', '/infrastructures', { accept: 'application/json' });
    expect(j.json<{ 'uri-list': { uri: string }[] }>()['uri-list']).toContainEqual({ uri: `${base}/infrastructures/${infId}` });
  });

  it('filter is a regex on the RADL', async () => {
    const other = await create(call, 1, { body: radl(1, 'filtered_sys') });
    const hit = await call('GET', '/infrastructures', { query: { filter: 'filtered_s.s' } });
    expect(hit.text.split('\n')).toEqual([`${base}/infrastructures/${other}`]);
    const miss = await call('GET', '/infrastructures', { query: { filter: 'nothing-like-this' } });
    expect(miss.status).toBe(200);
    expect(miss.text).toBe('');
    const bad = await call('GET', '/infrastructures', { query: { filter: '(' } });
    expect(bad.status).toBe(400);
  });

  it('401 without auth and with bad credentials; other users see nothing', async () => {
    expect((await call('GET', '/infrastructures', { auth: null })).status).toBe(401);
    const bad = await call('GET', '/infrastructures', { auth: 'id = one; type = Dummy' });
    expect(bad.status).toBe(401);
    expect(bad.text).toBe('Error Getting Inf. List: No credentials provided for the InfrastructureManager.');
    const other = await call('GET', '/infrastructures', { auth: authHeader('nobody', 'x') });
    expect(other.text).toBe('');
  });
});

describe('3 POST /infrastructures', () => {
  it('sync create: URI, InfID header, VMs ready', async () => {
    const r = await call('POST', '/infrastructures', { body: radl(1) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/uri-list');
    const id = idOf(r.text);
    expect(r.text).toBe(`${base}/infrastructures/${id}`);
    expect(r.headers.get('infid')).toBe(id);
    const state = await call('GET', `/infrastructures/${id}/state`);
    expect(state.json()).toEqual({ state: { state: 'configured', vm_states: { '0': 'configured' } } });
  });

  it('JSON body (RADL-JSON) and JSON answer {"uri"}', async () => {
    const body = JSON.stringify([
      { class: 'system', id: 'j', 'cpu.count_min': 1 },
      { class: 'contextualize', items: [] },
      { class: 'deploy', system: 'j', vm_number: 1 },
    ]);
    const r = await call('POST', '/infrastructures', { body, contentType: 'application/json', accept: 'application/json' });
    expect(r.status).toBe(200);
    expect(r.json<{ uri: string }>().uri).toMatch(new RegExp(`^${base}/infrastructures/`));
  });

  it('async returns at once; the VMs come later', async () => {
    const r = await call('POST', '/infrastructures', { body: radl(1), query: { async: 'yes' } });
    expect(r.status).toBe(200);
    const id = idOf(r.text);
    const info = await call('GET', `/infrastructures/${id}`);
    expect(info.text).toBe(`${base}/infrastructures/${id}/vms/0`);
  });

  it('dry_run estimates without creating', async () => {
    const before = (await call('GET', '/infrastructures')).text;
    const r = await call('POST', '/infrastructures', {
      body: radl(2, 'est', " and disk.0.size >= 20G and disk.1.size = 10G and disk.1.type = 'ssd'"),
      query: { dry_run: 'true' },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json');
    const est = r.json<Record<string, { cloudType: string; compute: unknown[]; storage: unknown[] }>>();
    expect(est.one.cloudType).toBe('Dummy');
    expect(est.one.compute).toHaveLength(2);
    expect(est.one.compute[0]).toEqual({ cpuCores: 1, memoryInMegabytes: 512, diskSizeInGigabytes: 20, publicIP: 1 });
    expect(est.one.storage).toEqual([
      { sizeInGigabytes: 10, type: 'ssd' },
      { sizeInGigabytes: 10, type: 'ssd' },
    ]);
    expect((await call('GET', '/infrastructures')).text).toBe(before);
    const empty = await call('POST', '/infrastructures', { body: 'system a ( cpu.count = 1 )', query: { dry_run: '1' } });
    expect(empty.json()).toEqual({});
  });

  it('400 on invalid RADL with line and column', async () => {
    const r = await call('POST', '/infrastructures', { body: 'system front (\n cpu.count >= 1 and\n memory.size >= \n)\ndeploy front 1' });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^Error Creating Inf\.: line \d+, column \d+: /);
    const check = await call('POST', '/infrastructures', { body: 'deploy ghost 1' });
    expect(check.status).toBe(400);
    expect(check.text).toContain('Invalid system id in the deploy');
  });

  it('415 for unsupported and TOSCA bodies', async () => {
    const r = await call('POST', '/infrastructures', { body: radl(1), contentType: 'application/xml' });
    expect(r.status).toBe(415);
    expect(r.text).toBe('Unsupported Media Type application/xml');
    const t = await call('POST', '/infrastructures', { body: 'tosca_definitions_version: x', contentType: 'text/yaml' });
    // A YAML body is TOSCA (test/integration/rest/tosca.test.ts): a bad one is a 400 that lists its problems.
    expect(t.status).toBe(400);
    expect(t.text).toMatch(/^Error Creating Inf\.: Error parsing TOSCA template: line 1: The template version "x" is invalid\./);
  });

  it('400 for a deploy pinned to an unknown cloud; 401 for bad credentials; 400 for bad flags', async () => {
    const r = await call('POST', '/infrastructures', { body: radl(1).replace('deploy front 1', 'deploy front 1 nope') });
    expect(r.status).toBe(400);
    expect(r.text).toBe('Error Creating Inf.: No auth data for cloud with ID: nope');
    expect((await call('POST', '/infrastructures', { body: radl(1), auth: 'type = Dummy' })).status).toBe(401);
    expect((await call('POST', '/infrastructures', { body: radl(1), auth: null })).status).toBe(401);
    const flag = await call('POST', '/infrastructures', { body: radl(1), query: { async: 'perhaps' } });
    expect(flag).toMatchObject({ status: 400, text: 'Incorrect value in async parameter' });
  });

  it('sync create where every VM fails → 400 and the infrastructure is gone', async () => {
    const before = (await call('GET', '/infrastructures')).text;
    const auth = authHeader('user', 'pass', 'id = bad; type = Failing');
    const r = await call('POST', '/infrastructures', { body: radl(2), auth });
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/^Error Creating Inf\.: Error adding VMs: /);
    expect(r.text).toContain('Not enough quota in the cloud');
    expect((await call('GET', '/infrastructures')).text).toBe(before);
    // DeployedNode without an IP: no concrete system at all.
    const dn = await call('POST', '/infrastructures', { body: radl(1), auth: authHeader('user', 'pass', 'id = dn; type = DeployedNode') });
    expect(dn.status).toBe(400);
    expect(dn.text).toContain('Error, no concrete system to deploy: front in cloud: dn. Check if a correct image is being used');
    expect((await call('GET', '/infrastructures')).text).toBe(before);
  });
});

describe('4 PUT /infrastructures (import)', () => {
  it('imports exported data under its id, owned by the caller', async () => {
    const data = (await call('GET', `/infrastructures/${infId}/data`)).json<{ data: string }>().data;
    const exported = JSON.parse(data) as { id: string };
    const newId = randomUUID();
    const r = await call('PUT', '/infrastructures', { body: JSON.stringify({ ...exported, id: newId }), contentType: 'application/json', auth: authHeader('importer', 'pw') });
    expect(r.status).toBe(200);
    expect(r.text).toBe(`${base}/infrastructures/${newId}`);
    expect(r.headers.get('infid')).toBeNull();
    const info = await call('GET', `/infrastructures/${newId}`, { auth: authHeader('importer', 'pw') });
    expect(info.text.split('\n')).toHaveLength(2);
    const owners = await call('GET', `/infrastructures/${newId}/authorization`, { auth: authHeader('importer', 'pw') });
    expect(owners.text).toBe('importer');
    // The original owner has no access to the copy.
    expect((await call('GET', `/infrastructures/${newId}`)).status).toBe(403);
  });

  it('400 for bad data or an existing id; 415; 401', async () => {
    const bad = await call('PUT', '/infrastructures', { body: '{"nope": 1', contentType: 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Error Importing Inf\.: Error importing the infrastructure, incorrect data: /);
    const data = (await call('GET', `/infrastructures/${infId}/data`)).json<{ data: string }>().data;
    const dup = await call('PUT', '/infrastructures', { body: data, contentType: 'application/json' });
    expect(dup.status).toBe(400);
    expect(dup.text).toContain('already exists');
    expect((await call('PUT', '/infrastructures', { body: data, contentType: 'text/plain' })).status).toBe(415);
    expect((await call('PUT', '/infrastructures', { body: data, contentType: 'application/json', auth: 'type = Dummy' })).status).toBe(401);
  });
});

describe('5 GET /infrastructures/{id}', () => {
  it('VM URIs (text and JSON)', async () => {
    const t = await call('GET', `/infrastructures/${infId}`);
    expect(t.status).toBe(200);
    expect(t.text).toBe(`${base}/infrastructures/${infId}/vms/0\n${base}/infrastructures/${infId}/vms/1`);
    const j = await call('GET', `/infrastructures/${infId}`, { accept: 'application/json' });
    expect(j.json()).toEqual({ 'uri-list': [{ uri: `${base}/infrastructures/${infId}/vms/0` }, { uri: `${base}/infrastructures/${infId}/vms/1` }] });
  });

  it('404 for an unknown id, in the Accept format', async () => {
    const r = await call('GET', '/infrastructures/nope', { accept: 'application/json' });
    expect(r.status).toBe(404);
    expect(r.json()).toEqual({ message: 'Error Getting Inf. info: Invalid infrastructure ID or access not granted.', code: 404 });
    const h = await call('GET', '/infrastructures/nope', { accept: 'text/html, text/uri-list' });
    expect(h.headers.get('content-type')).toBe('text/html');
    expect(h.text).toContain('<h1>Code: 404.</h1>');
  });
});

describe('6 POST /infrastructures/{id} (add resources)', () => {
  it('adds VMs by reference, with InfID when context', async () => {
    const id = await create(call, 1);
    const r = await call('POST', `/infrastructures/${id}`, { body: 'system front\ndeploy front 2' });
    expect(r.status).toBe(200);
    expect(r.headers.get('infid')).toBe(id);
    expect(r.text).toBe(`${base}/infrastructures/${id}/vms/1\n${base}/infrastructures/${id}/vms/2`);
    const noCtx = await call('POST', `/infrastructures/${id}`, { body: 'system front\ndeploy front 1', query: { context: 'no' }, accept: 'application/json' });
    expect(noCtx.headers.get('infid')).toBeNull();
    expect(noCtx.json()).toEqual({ 'uri-list': [{ uri: `${base}/infrastructures/${id}/vms/3` }] });
  });

  it('no deploy: definitions updated, empty list, log line', async () => {
    const id = await create(call, 1);
    const r = await call('POST', `/infrastructures/${id}`, { body: "system extra ( cpu.count = 2 )" });
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect((await call('GET', `/infrastructures/${id}/radl`)).text).toContain('system extra');
    expect((await call('GET', `/infrastructures/${id}/contmsg`)).text).toContain('Infrastructure without any deploy. Exiting.');
  });

  it('400 for unknown references and when every new VM fails; 404 unknown id; 415', async () => {
    const id = await create(call, 1);
    const r = await call('POST', `/infrastructures/${id}`, { body: 'system ghost\ndeploy ghost 1' });
    expect(r.status).toBe(400);
    expect(r.text).toBe("Error Adding resources: Unknown reference in RADL to system 'ghost'");
    const failing = await call('POST', `/infrastructures/${id}`, {
      body: 'system front\ndeploy front 1 bad',
      auth: `${AUTH}\\nid = bad; type = Failing`,
    });
    expect(failing.status).toBe(400);
    expect(failing.text).toMatch(/^Error Adding resources: Error adding VMs: /);
    expect((await call('GET', `/infrastructures/${id}`)).text).toBe(`${base}/infrastructures/${id}/vms/0`);
    expect((await call('POST', '/infrastructures/nope', { body: radl(1) })).status).toBe(404);
    expect((await call('POST', `/infrastructures/${id}`, { body: radl(1), contentType: 'image/png' })).status).toBe(415);
    expect((await call('POST', `/infrastructures/${id}`, { body: radl(1), query: { context: 'x' } })).text).toBe('Incorrect value in context parameter');
  });
});

describe('7 DELETE /infrastructures/{id}', () => {
  it('destroys; then 404 Deleted infrastructure', async () => {
    const id = await create(call, 2);
    const r = await call('DELETE', `/infrastructures/${id}`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    const after = await call('GET', `/infrastructures/${id}`);
    expect(after).toMatchObject({ status: 404, text: 'Error Getting Inf. info: Deleted infrastructure.' });
    expect((await call('GET', '/infrastructures')).text).not.toContain(id);
    expect((await call('DELETE', `/infrastructures/${id}`)).status).toBe(404);
  });

  it('async and force flags; 400 for bad flags; 404 unknown', async () => {
    const id = await create(call, 1);
    const r = await call('DELETE', `/infrastructures/${id}`, { query: { async: 'true', force: '1' } });
    expect(r.status).toBe(200);
    expect((await call('DELETE', `/infrastructures/${id}`, { query: { force: 'x' } })).status).toBe(400);
    expect((await call('DELETE', '/infrastructures/nope')).status).toBe(404);
  });

  it('409 while resources are being added', async () => {
    const auth = authHeader('user', 'pass', 'id = slow; type = Slow');
    const created = await call('POST', '/infrastructures', { body: radl(1), auth, query: { async: 'yes' } });
    const id = idOf(created.text);
    const r = await call('DELETE', `/infrastructures/${id}`, { auth });
    expect(r.status).toBe(409);
    expect(r.text).toBe('Error Destroying Inf: Invalid State to perform this operation.');
    for (let i = 0; i < 100; i++) {
      const d = await call('DELETE', `/infrastructures/${id}`, { auth });
      if (d.status === 200) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error('the add never finished');
  });
});

describe('8 GET /infrastructures/{id}/{prop}', () => {
  it('contmsg (text, JSON, headeronly)', async () => {
    const t = await call('GET', `/infrastructures/${infId}/contmsg`);
    expect(t.status).toBe(200);
    expect(t.text).toContain('Contextualization disabled by the RADL/TOSCA template.');
    const j = await call('GET', `/infrastructures/${infId}/contmsg`, { accept: 'application/json', query: { headeronly: 'yes' } });
    expect(typeof j.json<{ contmsg: string }>().contmsg).toBe('string');
  });

  it('radl (text and JSON)', async () => {
    const t = await call('GET', `/infrastructures/${infId}/radl`);
    expect(t.text).toContain('system front (');
    expect(t.text).toContain('deploy front 2');
    const j = await call('GET', `/infrastructures/${infId}/radl`, { accept: 'application/json' });
    expect(j.json<{ radl: string }>().radl).toBe(t.text);
  });

  it('state is JSON only', async () => {
    const r = await call('GET', `/infrastructures/${infId}/state`);
    expect(r.headers.get('content-type')).toBe('application/json');
    expect(r.json()).toEqual({ state: { state: 'configured', vm_states: { '0': 'configured', '1': 'configured' } } });
    expect((await call('GET', `/infrastructures/${infId}/state`, { accept: 'text/plain' })).status).toBe(415);
  });

  it('tosca / outputs: 403 for a RADL infrastructure', async () => {
    const t = await call('GET', `/infrastructures/${infId}/tosca`);
    expect(t).toMatchObject({ status: 403, text: "Error Getting Inf. prop: 'tosca' infrastructure property is not valid in this infrastructure" });
    expect((await call('GET', `/infrastructures/${infId}/outputs`)).status).toBe(403);
  });

  it('data (export) and data?delete=true', async () => {
    const r = await call('GET', `/infrastructures/${infId}/data`);
    const data = JSON.parse(r.json<{ data: string }>().data) as Record<string, unknown>;
    expect(data.id).toBe(infId);
    expect(data.vm_list).toHaveLength(2);
    expect(JSON.stringify(data)).not.toContain('"pass"');
    const id = await create(call, 1);
    const del = await call('GET', `/infrastructures/${id}/data`, { query: { delete: 'true' } });
    expect(del.status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}`)).status).toBe(404);
    // Export with delete, then import the same data: the infrastructure comes back under its id.
    const moved = del.json<{ data: string }>().data;
    const back = await call('PUT', '/infrastructures', { body: moved, contentType: 'application/json' });
    expect(back.status).toBe(200);
    expect(back.text).toMatch(new RegExp(`/infrastructures/${id}$`));
    expect((await call('GET', `/infrastructures/${id}`)).status).toBe(200);
    // An active id is "already exists" for everybody: the answer does not say whose it is.
    const mine = await call('PUT', '/infrastructures', { body: moved, contentType: 'application/json' });
    const stranger = await call('PUT', '/infrastructures', { body: moved, contentType: 'application/json', auth: authHeader('mallory', 'pw') });
    expect(stranger.status).toBe(400);
    expect(stranger.text).toBe(mine.text);
    expect(stranger.text).toContain('already exists');
  });

  it('authorization lists owners; unknown prop → 404', async () => {
    expect((await call('GET', `/infrastructures/${infId}/authorization`)).text).toBe('user');
    expect((await call('GET', `/infrastructures/${infId}/authorization`, { accept: 'application/json' })).json()).toEqual({ authorization: ['user'] });
    expect(await call('GET', `/infrastructures/${infId}/nothing`)).toMatchObject({ status: 404, text: 'Incorrect infrastructure property' });
  });
});

describe('9 POST /infrastructures/{id}/authorization', () => {
  it('appends (default) or overwrites owners', async () => {
    const id = await create(call, 1);
    const add = await call('POST', `/infrastructures/${id}/authorization`, { body: '{"username": "u2", "password": "p2"}', contentType: 'application/json' });
    expect(add.status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}/authorization`)).text).toBe('user\nu2');
    expect((await call('GET', `/infrastructures/${id}`, { auth: authHeader('u2', 'p2') })).status).toBe(200);
    const over = await call('POST', `/infrastructures/${id}/authorization`, { body: '{"username": "u3", "password": "p3"}', contentType: 'application/json', query: { overwrite: 'yes' } });
    expect(over.status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}/authorization`, { auth: authHeader('u3', 'p3') })).text).toBe('u3');
    expect((await call('GET', `/infrastructures/${id}`)).status).toBe(403);
  });

  it('400 bad JSON / bad credentials, 415 other types', async () => {
    const bad = await call('POST', `/infrastructures/${infId}/authorization`, { body: '{nope', contentType: 'application/json' });
    expect(bad.status).toBe(400);
    expect(bad.text).toMatch(/^Error modifying infrastructure owner: Error parsing auth data: /);
    const creds = await call('POST', `/infrastructures/${infId}/authorization`, { body: '{"username": "__OPENID__x", "password": "p"}', contentType: 'application/json' });
    expect(creds.status).toBe(400);
    expect(creds.text).toContain('Invalid new infrastructure data provided: Invalid username used for the InfrastructureManager.');
    expect((await call('POST', `/infrastructures/${infId}/authorization`, { body: '{}', contentType: 'text/plain' })).status).toBe(415);
  });
});

describe('10 PUT /infrastructures/{id}/reconfigure', () => {
  it('200 empty with InfID; vm_list checked', async () => {
    const r = await call('PUT', `/infrastructures/${infId}/reconfigure`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('');
    expect(r.headers.get('infid')).toBe(infId);
    const withBody = await call('PUT', `/infrastructures/${infId}/reconfigure`, {
      body: 'configure front (\n@begin\n- hosts: all\n  tasks: []\n@end\n)\ncontextualize ()',
      query: { vm_list: '0,1' },
    });
    expect(withBody.status).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}/radl`)).text).toContain('configure front (');
    expect(await call('PUT', `/infrastructures/${infId}/reconfigure`, { query: { vm_list: '0,a' } })).toMatchObject({
      status: 400,
      text: 'Incorrect vm_list format.',
    });
    const yaml = await call('PUT', `/infrastructures/${infId}/reconfigure`, { body: 'configure front (\n@begin\n- a: [\n@end\n)' });
    expect(yaml.status).toBe(400);
  });
});

describe('11-12 PUT /infrastructures/{id}/start|stop', () => {
  it('stops and starts every VM; unknown op → 404', async () => {
    const id = await create(call, 2);
    expect((await call('PUT', `/infrastructures/${id}/stop`)).status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}/state`)).json<{ state: { state: string } }>().state.state).toBe('stopped');
    expect((await call('PUT', `/infrastructures/${id}/start`)).status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}/vms/0/state`)).text).not.toBe('stopped');
    expect(await call('PUT', `/infrastructures/${id}/jump`)).toMatchObject({ status: 404 });
    expect((await call('PUT', '/infrastructures/nope/stop')).status).toBe(404);
  });
});

describe('13 GET /infrastructures/{id}/vms/{vmId}', () => {
  it('RADL text and JSON array', async () => {
    const t = await call('GET', `/infrastructures/${infId}/vms/0`);
    expect(t.status).toBe(200);
    expect(t.headers.get('content-type')).toBe('text/plain');
    expect(t.text).toContain("provider.type = 'Dummy'");
    expect(t.text).toContain("state = 'configured'");
    const j = await call('GET', `/infrastructures/${infId}/vms/0`, { accept: 'application/json' });
    const items = j.json<{ radl: { class: string; id: string }[] }>().radl;
    expect(Array.isArray(items)).toBe(true);
    expect(items.find((i) => i.class === 'system')?.id).toBe('front');
  });

  it('404 for unknown or non-integer VM ids', async () => {
    expect(await call('GET', `/infrastructures/${infId}/vms/99`)).toMatchObject({ status: 404, text: 'Error Getting VM. info: Invalid VM ID' });
    expect((await call('GET', `/infrastructures/${infId}/vms/abc`)).status).toBe(404);
  });
});

describe('14 PUT /infrastructures/{id}/vms/{vmId} (alter)', () => {
  it('resizes the VM', async () => {
    const id = await create(call, 1);
    const r = await call('PUT', `/infrastructures/${id}/vms/0`, { body: 'system front ( cpu.count >= 4 and memory.size >= 4096M )' });
    expect(r.status).toBe(200);
    expect(r.text).toMatch(/cpu\.count (=|>=) 4/);
    expect((await call('GET', `/infrastructures/${id}/vms/0/cpu.count`)).text).toBe('4');
  });

  it('400 when the RADL has no system of that name', async () => {
    const r = await call('PUT', `/infrastructures/${infId}/vms/0`, { body: 'system other ( cpu.count >= 4 )' });
    expect(r).toMatchObject({ status: 400, text: 'Error modifying resources: Incorrect RADL no system with name front provided.' });
  });
});

describe('15 DELETE /infrastructures/{id}/vms/{vmId}', () => {
  it('removes one or several VMs; Deleted VM afterwards', async () => {
    const id = await create(call, 3);
    expect((await call('DELETE', `/infrastructures/${id}/vms/0`)).status).toBe(200);
    expect(await call('GET', `/infrastructures/${id}/vms/0`)).toMatchObject({ status: 404, text: 'Error Getting VM. info: Deleted VM.' });
    expect((await call('DELETE', `/infrastructures/${id}/vms/1,2`, { query: { context: 'false' } })).status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}`)).text).toBe('');
    expect((await call('DELETE', `/infrastructures/${id}/vms/1`)).status).toBe(404);
    expect((await call('DELETE', `/infrastructures/${id}/vms/9`)).status).toBe(404);
  });
});

describe('16 GET /infrastructures/{id}/vms/{vmId}/{prop}', () => {
  it('features in base units, JSON wrapper, lists', async () => {
    expect((await call('GET', `/infrastructures/${infId}/vms/0/memory.size`)).text).toBe('512000000');
    expect((await call('GET', `/infrastructures/${infId}/vms/0/net_interface.0.ip`)).text).toBe('10.0.0.1');
    expect((await call('GET', `/infrastructures/${infId}/vms/0/cpu.count`, { accept: 'application/json' })).json()).toEqual({ 'cpu.count': 1 });
  });

  it('404 for an absent feature; contmsg; command steps', async () => {
    expect(await call('GET', `/infrastructures/${infId}/vms/0/nothing.here`)).toMatchObject({ status: 404, text: 'Incorrect property nothing.here for VM ID 0' });
    expect((await call('GET', `/infrastructures/${infId}/vms/0/contmsg`)).status).toBe(200);
    const step1 = await call('GET', `/infrastructures/${infId}/vms/1/command`);
    expect(step1.status).toBe(200);
    expect(step1.text).toContain(`${base}/infrastructures/${infId}/vms/1/command?step=2`);
    expect(step1.text).toContain('username = user; password = pass');
    expect((await call('GET', `/infrastructures/${infId}/vms/1/command`, { query: { step: '2' } })).text).toBe('wait');
    expect((await call('GET', `/infrastructures/${infId}/vms/1/command`, { query: { step: '3' } })).status).toBe(404);
    expect((await call('GET', `/infrastructures/${infId}/vms/7/memory.size`)).status).toBe(404);
  });
});

describe('17-19 PUT /infrastructures/{id}/vms/{vmId}/start|stop|reboot', () => {
  it('VM operations', async () => {
    const id = await create(call, 1);
    expect((await call('PUT', `/infrastructures/${id}/vms/0/stop`)).status).toBe(200);
    expect((await call('GET', `/infrastructures/${id}/vms/0/state`)).text).toBe('stopped');
    expect((await call('PUT', `/infrastructures/${id}/vms/0/start`)).status).toBe(200);
    expect((await call('PUT', `/infrastructures/${id}/vms/0/reboot`)).status).toBe(200);
    expect((await call('PUT', `/infrastructures/${id}/vms/0/dance`)).status).toBe(404);
    expect((await call('PUT', `/infrastructures/${id}/vms/5/stop`)).status).toBe(404);
  });
});

describe('20 PUT …/vms/{vmId}/disks/{diskNum}/snapshot', () => {
  it('returns the image URL; image_name required', async () => {
    const r = await call('PUT', `/infrastructures/${infId}/vms/0/disks/0/snapshot`, { query: { image_name: 'snap1', auto_delete: 'yes' } });
    expect(r).toMatchObject({ status: 200, text: 'mock0://linux.for.ev.er/snap1' });
    expect(r.headers.get('content-type')).toBe('text/plain');
    expect(await call('PUT', `/infrastructures/${infId}/vms/0/disks/0/snapshot`)).toMatchObject({ status: 400, text: 'Parameter image_name required.' });
    expect((await call('PUT', `/infrastructures/${infId}/vms/0/disks/0/snapshot`, { query: { image_name: 'x', auto_delete: 'maybe' } })).status).toBe(400);
  });
});

describe('21-22 GET /clouds/{cloudId}/images|quotas', () => {
  it('images and quotas as JSON', async () => {
    const images = await call('GET', '/clouds/one/images');
    expect(images.status).toBe(200);
    expect(images.headers.get('content-type')).toBe('application/json');
    expect(images.json<{ images: { uri: string; name: string }[] }>().images[0].uri).toMatch(/^mock0:\/\//);
    const filtered = await call('GET', '/clouds/one/images', { query: { filters: 'region=r1,distribution=ubuntu' } });
    expect(filtered.status).toBe(200);
    const quotas = await call('GET', '/clouds/one/quotas');
    expect(quotas.json<{ quotas: Record<string, unknown> }>().quotas.cores).toEqual({ used: 1, limit: 10 });
  });

  it('errors: bad filters, unknown cloud, bad credentials, unknown param', async () => {
    expect(await call('GET', '/clouds/one/images', { query: { filters: 'region' } })).toMatchObject({ status: 400, text: 'Invalid format in filters parameter.' });
    expect(await call('GET', '/clouds/zzz/quotas')).toMatchObject({ status: 400, text: 'Error getting cloud info: Cloud ID zzz not found.' });
    expect((await call('GET', '/clouds/one/images', { auth: 'id = one; type = Dummy' })).status).toBe(401);
    expect((await call('GET', '/clouds/one/flavours')).status).toBe(404);
  });
});

describe('23 GET /stats', () => {
  it('JSON and CSV, date filters', async () => {
    const j = await call('GET', '/stats');
    expect(j.status).toBe(200);
    const stats = j.json<{ stats: Record<string, unknown>[] }>().stats;
    const mine = stats.find((s) => s.inf_id === infId);
    expect(mine).toMatchObject({ vm_count: 2, cpu_count: 2, memory_size: 1024, cloud_type: 'Dummy', deleted: false, im_user: 'user' });
    expect(Object.keys(mine as object)).toEqual([
      'creation_date',
      'tosca_name',
      'vm_count',
      'cpu_count',
      'memory_size',
      'cloud_type',
      'cloud_host',
      'hybrid',
      'deleted',
      'im_user',
      'inf_id',
      'last_date',
    ]);
    expect(stats.some((s) => s.deleted === true)).toBe(true);
    const csv = await call('GET', '/stats', { accept: 'text/csv' });
    expect(csv.headers.get('content-type')).toBe('text/csv');
    expect(csv.text.split('\n')[0]).toBe('creation_date,tosca_name,vm_count,cpu_count,memory_size,cloud_type,cloud_host,hybrid,deleted,im_user,inf_id,last_date');
    const future = await call('GET', '/stats', { query: { init_date: '2999/01/01' } });
    expect(future.json()).toEqual({ stats: [] });
    const range = await call('GET', '/stats', { query: { init_date: '2000-01-01', end_date: '2999-01-01' } });
    expect(range.json<{ stats: unknown[] }>().stats.length).toBe(stats.length);
  });

  it('400 for bad dates, 415 for other types', async () => {
    expect(await call('GET', '/stats', { query: { init_date: '2020-13-01' } })).toMatchObject({
      status: 400,
      text: 'Incorrect format in init_date parameter: YYYY/MM/dd',
    });
    expect((await call('GET', '/stats', { query: { end_date: 'yesterday' } })).status).toBe(400);
    expect((await call('GET', '/stats', { accept: 'text/plain' })).status).toBe(415);
  });
});

describe('24-26 /oai, /static, routing', () => {
  it('OAI-PMH is not enabled; static files are not enabled', async () => {
    expect(await call('GET', '/oai', { auth: null })).toMatchObject({ status: 400, text: 'OAI-PMH not enabled.' });
    expect((await call('POST', '/oai', { auth: null, body: 'verb=Identify' })).status).toBe(400);
    expect(await call('GET', '/static/index.html', { auth: null })).toMatchObject({ status: 404, text: 'Static files not enabled.' });
  });

  it('unknown route 404, wrong method 405, OPTIONS 200', async () => {
    expect((await call('GET', '/nothing/here')).status).toBe(404);
    const m = await call('PATCH', `/infrastructures/${infId}`, { accept: 'application/json' });
    expect(m.status).toBe(405);
    expect(m.json<{ code: number }>().code).toBe(405);
    expect((await call('OPTIONS', '/infrastructures')).status).toBe(200);
    expect((await call('GET', '/', { auth: null })).status).toBe(200);
  });
});
