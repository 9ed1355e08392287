/**
 * The holes a hostile or unlucky user found (issue "Hardening"), one test each, on local mode over
 * HTTP. Each of these failed on the code before the fix.
 */
import { createConnection } from 'node:net';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeMethodResponse, encodeMethodCall, type XmlRpcValue } from '#api/xmlrpc/codec';
import { localDynamoClient } from '#local/dynamodb-local';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { authHeader, client, idOf, radl, type Call } from './client';

let srv: TestServer;
let call: Call;
const lines: string[] = [];
let write: { mockRestore(): void } | undefined;

beforeAll(async () => {
  srv = await startTestServer({ env: { LOG_LEVEL: 'INFO', MAX_VMS_PER_REQUEST: '500' } });
  call = client(srv.baseUrl);
  const original = process.stdout.write.bind(process.stdout);
  write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (original as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write);
});
afterAll(async () => {
  write?.mockRestore();
  await srv?.stop();
});

const SECRET_RADL = `network pub (outbound = 'yes')
system node (
  cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' and
  disk.0.os.credentials.username = 'cloudadm' and
  disk.0.os.credentials.password = 'VmPw-AtRest-4242' and
  disk.0.os.credentials.private_key = '-----BEGIN RSA PRIVATE KEY-----
MIIKeyAtRest4242
-----END RSA PRIVATE KEY-----'
)
contextualize ()
deploy node 1
`;

describe('VM secrets are sealed at rest', () => {
  it('no item of the table holds the RADL password or private key; the owner still reads them in the VM info and the export', async () => {
    const created = await call('POST', '/infrastructures', { body: SECRET_RADL, accept: 'text/uri-list' });
    expect(created.status, created.text).toBe(200);
    const infId = idOf(created.text);
    const raw = localDynamoClient(srv.instance.dynamo().socketPath);
    try {
      const items = await raw.send(new ScanCommand({ TableName: srv.instance.config.TABLE_NAME }));
      const text = JSON.stringify(items.Items);
      expect(text).toContain(infId);
      expect(text).not.toContain('VmPw-AtRest-4242');
      expect(text).not.toContain('MIIKeyAtRest4242');
      expect(text).toContain('sealed:v1.');
    } finally {
      raw.destroy();
    }
    const vm = await call('GET', `/infrastructures/${infId}/vms/0`, { accept: 'text/plain' });
    expect(vm.text).toContain('VmPw-AtRest-4242');
    const data = await call('GET', `/infrastructures/${infId}/data`);
    expect(data.text).toContain('VmPw-AtRest-4242');
    // Another user sees nothing of it.
    const other = await call('GET', `/infrastructures/${infId}/vms/0`, { auth: authHeader('eve', 'eve-pass') });
    expect(other.status).toBe(403);
  });
});

describe('work that never ends', () => {
  it('DELETE ?force=yes deletes an infrastructure left with an add in flight or a destroy half done', async () => {
    const infId = idOf((await call('POST', '/infrastructures', { body: radl(2), accept: 'text/uri-list' })).text);
    const store = srv.instance.services.store;
    const inf = (await store.getInfrastructure(infId))!;
    // What an interrupted add leaves behind.
    await store.updateInfrastructure(infId, inf.version, { addingOps: ['interrupted-add'] });
    expect((await call('DELETE', `/infrastructures/${infId}`)).status).toBe(409);
    const forced = await call('DELETE', `/infrastructures/${infId}`, { query: { force: 'yes' } });
    expect(forced.status, forced.text).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}/state`)).status).toBe(404);

    const stuck = idOf((await call('POST', '/infrastructures', { body: radl(1), accept: 'text/uri-list' })).text);
    const s = (await store.getInfrastructure(stuck))!;
    await store.updateInfrastructure(stuck, s.version, { status: 'deleting', addingOps: ['a', 'b'] });
    const again = await call('DELETE', `/infrastructures/${stuck}`, { query: { force: 'yes' } });
    expect(again.status, again.text).toBe(200);
    expect((await store.getInfrastructure(stuck))?.status).toBe('deleted');
  });

  it('an infrastructure with no VMs reads `failed`, as IM reports it, not `pending` for ever', async () => {
    const r = await call('POST', '/infrastructures', { body: "network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 )", accept: 'text/uri-list' });
    expect(r.status, r.text).toBe(200);
    const st = await call('GET', `/infrastructures/${idOf(r.text)}/state`, { accept: 'application/json' });
    expect(st.json()).toEqual({ state: { state: 'failed', vm_states: {} } });
  });
});

describe('cheap requests that cost a lot', () => {
  it('ReDoS: (a+)+$ against a RADL with 28 a in a row answers at once; invalid or unsupported filters are 400', async () => {
    const a28 = 'a'.repeat(28);
    await call('POST', '/infrastructures', { body: `system node ( cpu.count >= 1 and description = '${a28}b' )\ncontextualize ()\ndeploy node 0`, accept: 'text/uri-list' });
    const t0 = Date.now();
    const r = await call('GET', '/infrastructures', { query: { filter: '(a+)+$' } });
    expect(r.status, r.text).toBe(200);
    expect(Date.now() - t0).toBeLessThan(1000);
    // Meanwhile nothing else waited either.
    const v0 = Date.now();
    await Promise.all([call('GET', '/infrastructures', { query: { filter: `(a+)+${'a'.repeat(40)}$` } }), call('GET', '/version', { auth: null })]);
    expect(Date.now() - v0).toBeLessThan(2000);
    for (const bad of ['(', '(?=x)', '(a)\\1']) {
      const b = await call('GET', '/infrastructures', { query: { filter: bad } });
      expect(b.status, bad).toBe(400);
      expect(b.text).toContain('Invalid regular expression in filter parameter');
    }
  });

  it('a dry_run of deploy node 1000000 is refused at once, before any planning', async () => {
    const t0 = Date.now();
    const r = await call('POST', '/infrastructures', { body: 'system node ( cpu.count >= 1 )\ndeploy node 1000000', query: { dry_run: 'yes' } });
    expect(r.status).toBe(400);
    expect(r.text).toContain('at most 500 may be deployed in one request (MAX_VMS_PER_REQUEST)');
    expect(r.text.length).toBeLessThan(500);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('store trouble is never a 500', () => {
  it('50 parallel AddResource calls all succeed', async () => {
    const infId = idOf((await call('POST', '/infrastructures', { body: radl(0), accept: 'text/uri-list' })).text);
    const adds = await Promise.all(Array.from({ length: 50 }, () => call('POST', `/infrastructures/${infId}`, { body: 'system front\ndeploy front 1', accept: 'text/uri-list' })));
    expect(adds.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.text}`)).toEqual([]);
    const vms = (await call('GET', `/infrastructures/${infId}`, { accept: 'text/uri-list' })).text.trim().split('\n');
    expect(vms).toHaveLength(50);
  }, 180_000);
});

describe('small leaks', () => {
  it('import: ids must be UUIDs (`..` is refused); another user deleted id is answered as an unknown one', async () => {
    const dotdot = await call('PUT', '/infrastructures', { body: JSON.stringify({ id: '..', radl: '' }), contentType: 'application/json' });
    expect(dotdot.status).toBe(400);
    expect(dotdot.text).toContain('invalid id');
    // Alice exports (and deletes) hers; Bob imports that id: the same answer as for a fresh id.
    const alice = authHeader('alice', 'alice-pass');
    const bob = authHeader('bob', 'bob-pass');
    const id = idOf((await call('POST', '/infrastructures', { body: radl(1), auth: alice, accept: 'text/uri-list' })).text);
    const exported = (await call('GET', `/infrastructures/${id}/data`, { auth: alice, query: { delete: 'yes' } })).json<{ data: string }>().data;
    const fresh = JSON.stringify({ ...(JSON.parse(exported) as object), id: '00000000-0000-4000-8000-000000000001' });
    const known = await call('PUT', '/infrastructures', { body: exported, contentType: 'application/json', auth: bob, accept: 'text/uri-list' });
    const unknown = await call('PUT', '/infrastructures', { body: fresh, contentType: 'application/json', auth: bob, accept: 'text/uri-list' });
    expect(known.status).toBe(unknown.status);
    expect(known.text.replace(id, 'ID')).toBe(unknown.text.replace('00000000-0000-4000-8000-000000000001', 'ID'));
  });

  it('a VM password in an XML-RPC auth item, unquoted and odd, never reaches a log line', async () => {
    const mark = "''VmPwMARK9999'";
    lines.length = 0;
    const items: XmlRpcValue[] = [
      { type: 'InfrastructureManager', username: 'user', password: 'pass' },
      { id: 'dn', type: 'DeployedNode', password: mark },
      { id: 'x', type: 'Dummy', token: `multi\nline ${mark}` },
    ];
    const body = encodeMethodCall('CreateInfrastructure', [`system node ( disk.0.os.credentials.password = ${mark} )`, items]);
    const res = decodeMethodResponse(await (await fetch(srv.xmlrpcUrl, { method: 'POST', body })).text()).value as [boolean, string];
    expect(res[0]).toBe(false);
    await call('POST', '/infrastructures', { body: `system node ( disk.0.os.credentials.password = ${mark} )\ndeploy node 1`, auth: `${authHeader()}\\nid = dn; type = DeployedNode; password = ${mark}` });
    const logged = lines.join('');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged).not.toContain('MARK9999');
  });

  it('a client that goes away before its answer is no ERROR of the service', async () => {
    lines.length = 0;
    const port = Number(new URL(srv.baseUrl).port);
    await new Promise<void>((resolve) => {
      const sock = createConnection({ host: '127.0.0.1', port }, () => {
        sock.write(`POST /infrastructures?async=no HTTP/1.1\r\nHost: x\r\nAuthorization: ${authHeader().replace(/\\n/g, '\\n')}\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n${radl(1)}`);
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200);
      });
    });
    await new Promise((r) => setTimeout(r, 500));
    const errorsLogged = lines.filter((l) => l.includes('"level":"ERROR"'));
    expect(errorsLogged).toEqual([]);
  });
});
