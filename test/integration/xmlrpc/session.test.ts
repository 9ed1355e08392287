/**
 * A whole IM session over XML-RPC, driven with the npm `xmlrpc` client library (not our codec)
 * against local mode (DynamoDB Local, in-process workflows, Dummy cloud), at both `/` and `/RPC2`:
 * create, info/state/RADL/contmsg, VM info and properties, add/remove resources, stop/start/reboot,
 * alter, reconfigure, snapshot, clouds, estimate, stats, export/import, change auth, destroy — plus
 * the failures: bad credentials, unknown ids, another user's infrastructure, unknown methods, wrong
 * arity/types, DOCTYPE, oversize and truncated bodies.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import xmlrpc from 'xmlrpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';

// ---------------------------------------------------------------------------------------------
// The npm xmlrpc library: a client, and its deserializer for hand-made requests
// ---------------------------------------------------------------------------------------------

type Fault = Error & { faultCode: number; faultString: string };
type DeserializerCtor = new () => {
  deserializeMethodResponse(stream: Readable, cb: (err: Fault | null, value: unknown) => void): void;
};
const require = createRequire(import.meta.url);
const Deserializer = require('xmlrpc/lib/deserializer.js') as DeserializerCtor;

/** `[ok, result]` as IM answers. */
type Answer = [boolean, unknown];

class Rpc {
  private readonly client: xmlrpc.Client;
  constructor(readonly url: string) {
    this.client = xmlrpc.createClient({ url });
  }

  call(method: string, params: unknown[] = []): Promise<unknown> {
    return new Promise((resolve, reject) => this.client.methodCall(method, params, (err, value) => (err ? reject(err) : resolve(value))));
  }

  /** A call that must answer `[true, result]`; returns the result. */
  async ok<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const answer = (await this.call(method, params)) as Answer;
    expect(answer, `${method} → ${JSON.stringify(answer)}`).toHaveLength(2);
    expect(answer[0], `${method} → ${JSON.stringify(answer)}`).toBe(true);
    return answer[1] as T;
  }

  /** A call that must fault; returns the fault. */
  async fault(method: string, params: unknown[] = []): Promise<Fault> {
    try {
      const v = await this.call(method, params);
      throw new Error(`expected a fault from ${method}, got ${JSON.stringify(v)}`);
    } catch (err) {
      const f = err as Fault;
      if (typeof f.faultCode !== 'number') throw err;
      return f;
    }
  }
}

/** POSTs raw bytes and decodes the answer with the npm library's deserializer. */
async function rawCall(url: string, body: string | Buffer): Promise<{ status: number; value?: unknown; fault?: Fault }> {
  const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status };
  return new Promise((resolve) =>
    new Deserializer().deserializeMethodResponse(Readable.from([text]), (err, value) =>
      resolve(err ? { status: res.status, fault: err } : { status: res.status, value }),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------------------------

const MAX_BODY_SIZE = 64 * 1024;
const USERS = [
  { username: 'alice', password: 'alice-pw' },
  { username: 'bob', password: 'bob-pw' },
  // auth values are native strings: real newlines are fine
  { username: 'carol', password: 'line one\nline two' },
];
const cloud = { id: 'dummy', type: 'Dummy' };
const im = (username: string, password: string) => ({ type: 'InfrastructureManager', username, password });
const ALICE = [im('alice', 'alice-pw'), cloud];
const BOB = [im('bob', 'bob-pw'), cloud];
const CAROL = [im('carol', 'line one\nline two'), cloud];

const RADL = [
  "network publica ( outbound = 'yes' )",
  'system front (',
  '  cpu.count >= 1 and',
  '  memory.size >= 512m and',
  "  net_interface.0.connection = 'publica' and",
  "  disk.0.os.name = 'linux'",
  ')',
  'deploy front 1',
  'contextualize ()',
].join('\n');

let srv: TestServer;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'im-xmlrpc-'));
  const userDb = join(dir, 'users.json');
  writeFileSync(userDb, JSON.stringify({ users: USERS }));
  srv = await startTestServer({ env: { USER_DB: userDb, MAX_BODY_SIZE: String(MAX_BODY_SIZE) } });
});

afterAll(async () => {
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The session, at both paths
// ---------------------------------------------------------------------------------------------

describe.each(['/RPC2', '/'])('a whole session at %s', (path) => {
  let rpc: Rpc;
  let infId: string;

  beforeAll(() => {
    rpc = new Rpc(`${srv.xmlrpcUrl}${path}`);
  });

  it('GetVersion', async () => {
    expect(await rpc.ok('GetVersion')).toBe(srv.instance.config.IM_VERSION);
  });

  it('CreateInfrastructure (Dummy cloud, contextualize ()) and GetInfrastructureList', async () => {
    const before = await rpc.ok<string[]>('GetInfrastructureList', [ALICE]);
    infId = await rpc.ok<string>('CreateInfrastructure', [RADL, ALICE]);
    expect(infId).toMatch(/^[0-9a-f-]{36}$/);
    const after = await rpc.ok<string[]>('GetInfrastructureList', [ALICE]);
    expect(after).toEqual([infId, ...before]);
    expect(await rpc.ok('GetInfrastructureList', [ALICE, 'front'])).toContain(infId);
    expect(await rpc.ok('GetInfrastructureList', [ALICE, 'no-such-text'])).toEqual([]);
  });

  it('GetInfrastructureInfo, GetInfrastructureState, GetInfrastructureRADL, GetInfrastructureContMsg', async () => {
    expect(await rpc.ok('GetInfrastructureInfo', [infId, ALICE])).toEqual(['0']);
    const state = await rpc.ok<{ state: string; vm_states: Record<string, string> }>('GetInfrastructureState', [infId, ALICE]);
    expect(['running', 'configured']).toContain(state.state);
    expect(Object.keys(state.vm_states)).toEqual(['0']);
    const radl = await rpc.ok<string>('GetInfrastructureRADL', [infId, ALICE]);
    expect(radl).toContain('system front');
    expect(radl).toContain('network publica');
    expect(typeof (await rpc.ok('GetInfrastructureContMsg', [infId, ALICE]))).toBe('string');
    expect(typeof (await rpc.ok('GetInfrastructureContMsg', [infId, ALICE, true]))).toBe('string');
  });

  it('GetVMInfo, GetVMProperty, GetVMContMsg (VM id as string or int)', async () => {
    const info = await rpc.ok<string>('GetVMInfo', [infId, '0', ALICE]);
    expect(info).toContain('system front');
    expect(info).toContain("provider.type = 'Dummy'");
    expect(await rpc.ok('GetVMInfo', [infId, 0, ALICE])).toBe(info);
    expect(await rpc.ok('GetVMProperty', [infId, 0, 'net_interface.0.ip', ALICE])).toBe('10.0.0.1');
    expect(await rpc.ok('GetVMProperty', [infId, '0', 'provider.type', ALICE])).toBe('Dummy');
    expect(await rpc.ok('GetVMProperty', [infId, '0', 'cpu.count', ALICE])).toBe(1);
    expect(await rpc.call('GetVMProperty', [infId, '0', 'no.such.feature', ALICE])).toEqual([
      false,
      'Incorrect property no.such.feature for VM ID 0',
    ]);
    expect(typeof (await rpc.ok('GetVMContMsg', [infId, '0', ALICE]))).toBe('string');
    expect(await rpc.call('GetVMInfo', [infId, '7', ALICE])).toEqual([false, 'Invalid VM ID']);
    expect(await rpc.call('GetVMInfo', [infId, 'abc', ALICE])).toEqual([false, 'Invalid VM ID']);
  });

  it('AddResource → new VM ids as ints; RemoveResource → count', async () => {
    const added = await rpc.ok<number[]>('AddResource', [infId, 'system front\ndeploy front 2', ALICE]);
    expect(added).toEqual([1, 2]);
    expect(await rpc.ok('GetInfrastructureInfo', [infId, ALICE])).toEqual(['0', '1', '2']);
    expect(await rpc.ok('RemoveResource', [infId, '1,2', ALICE, false])).toBe(2);
    expect(await rpc.ok('GetInfrastructureInfo', [infId, ALICE])).toEqual(['0']);
    expect(await rpc.call('RemoveResource', [infId, '1', ALICE])).toEqual([false, 'Deleted VM.']);
    // a body without deploy only updates the definitions
    expect(await rpc.ok('AddResource', [infId, "system front ( disk.0.os.flavour = 'ubuntu' )", ALICE])).toEqual([]);
  });

  it('StopInfrastructure / StartInfrastructure, StopVM / StartVM / RebootVM', async () => {
    expect(await rpc.ok('StopInfrastructure', [infId, ALICE])).toBe('');
    expect(await rpc.ok('GetVMProperty', [infId, '0', 'state', ALICE])).toBe('stopped');
    expect(await rpc.ok('StartInfrastructure', [infId, ALICE])).toBe('');
    expect(await rpc.ok('GetVMProperty', [infId, '0', 'state', ALICE])).not.toBe('stopped');
    expect(await rpc.ok('StopVM', [infId, '0', ALICE])).toBe('');
    expect((await rpc.ok<{ state: string }>('GetInfrastructureState', [infId, ALICE])).state).toBe('stopped');
    expect(await rpc.ok('StartVM', [infId, 0, ALICE])).toBe('');
    expect(await rpc.ok('RebootVM', [infId, '0', ALICE])).toBe('');
    expect((await rpc.ok<{ state: string }>('GetInfrastructureState', [infId, ALICE])).state).not.toBe('stopped');
  });

  it('AlterVM → the VM RADL text; Reconfigure → ""', async () => {
    const altered = await rpc.ok<string>('AlterVM', [infId, '0', 'system front ( cpu.count >= 2 and memory.size >= 2048m )', ALICE]);
    expect(altered).toContain('system front');
    expect(altered).toMatch(/cpu\.count = 2\b/);
    expect(await rpc.ok('GetVMProperty', [infId, '0', 'cpu.count', ALICE])).toBe(2);
    expect(await rpc.call('AlterVM', [infId, '0', 'system other ( cpu.count >= 2 )', ALICE])).toEqual([
      false,
      'Incorrect RADL no system with name front provided.',
    ]);
    expect(await rpc.ok('Reconfigure', [infId, '', ALICE])).toBe('');
    expect(await rpc.ok('Reconfigure', [infId, '', ALICE, [0]])).toBe('');
  });

  it('CreateDiskSnapshot, GetCloudImageList, GetCloudQuotas, EstimateResources', async () => {
    expect(await rpc.ok('CreateDiskSnapshot', [infId, '0', 0, 'snap', false, ALICE])).toBe('mock0://linux.for.ev.er/snap');
    const images = await rpc.ok<{ uri: string; name: string }[]>('GetCloudImageList', ['dummy', ALICE]);
    expect(images.length).toBeGreaterThan(0);
    for (const i of images) expect(Object.keys(i).sort()).toEqual(['name', 'uri']);
    expect(await rpc.ok('GetCloudImageList', ['dummy', ALICE, { region: 'any' }])).toEqual(images);
    expect(await rpc.call('GetCloudImageList', ['nope', ALICE])).toEqual([false, 'Cloud ID nope not found.']);
    const quotas = await rpc.ok<Record<string, { used: number; limit: number }>>('GetCloudQuotas', ['dummy', ALICE]);
    expect(quotas.cores).toEqual({ used: expect.any(Number), limit: expect.any(Number) });
    const estimate = await rpc.ok<Record<string, { cloudType: string; compute: unknown[] }>>('EstimateResources', [RADL, ALICE]);
    expect(estimate.dummy.cloudType).toBe('Dummy');
    expect(estimate.dummy.compute).toHaveLength(1);
  });

  it('GetStats and GetInfrastructureOwners', async () => {
    const stats = await rpc.ok<{ inf_id: string; im_user: string; vm_count: number }[]>('GetStats', ['', '', ALICE]);
    const mine = stats.find((s) => s.inf_id === infId);
    expect(mine).toMatchObject({ im_user: 'alice', vm_count: expect.any(Number), deleted: false });
    expect(await rpc.ok('GetStats', ['2000-01-01', '2001-01-01', ALICE])).toEqual([]);
    expect(await rpc.ok('GetInfrastructureOwners', [infId, ALICE])).toEqual(['alice']);
  });

  it('ExportInfrastructure then ImportInfrastructure (as another id)', async () => {
    const data = await rpc.ok<string>('ExportInfrastructure', [infId, false, ALICE]);
    const exported = JSON.parse(data) as { id: string; vm_list: unknown[] };
    expect(exported.id).toBe(infId);
    // the same id is still there: refused
    expect(await rpc.call('ImportInfrastructure', [data, ALICE])).toEqual([false, expect.stringContaining('already exists')]);
    const copyId = `${infId.slice(0, -4)}beef`;
    const imported = await rpc.ok<string>('ImportInfrastructure', [JSON.stringify({ ...exported, id: copyId }), CAROL]);
    expect(imported).toBe(copyId);
    // the importer owns the copy
    expect(await rpc.ok('GetInfrastructureInfo', [copyId, CAROL])).toEqual(['0']);
    expect(await rpc.ok('GetInfrastructureOwners', [copyId, CAROL])).toEqual(['carol']);
    expect(await rpc.call('GetInfrastructureInfo', [copyId, ALICE])).toEqual([false, 'Access to this infrastructure not granted.']);
    expect(await rpc.ok('ExportInfrastructure', [copyId, true, CAROL])).toContain(copyId);
    expect(await rpc.call('GetInfrastructureInfo', [copyId, CAROL])).toEqual([false, 'Deleted infrastructure.']);
  });

  it("another user cannot touch the infrastructure; ChangeInfrastructureAuth grants it", async () => {
    const denied = [false, 'Access to this infrastructure not granted.'];
    expect(await rpc.call('GetInfrastructureInfo', [infId, BOB])).toEqual(denied);
    expect(await rpc.call('GetInfrastructureState', [infId, BOB])).toEqual(denied);
    expect(await rpc.call('GetVMInfo', [infId, '0', BOB])).toEqual(denied);
    expect(await rpc.call('AddResource', [infId, 'system front\ndeploy front 1', BOB])).toEqual(denied);
    expect(await rpc.call('StopVM', [infId, '0', BOB])).toEqual(denied);
    expect(await rpc.call('DestroyInfrastructure', [infId, BOB])).toEqual(denied);
    expect(await rpc.ok('GetInfrastructureList', [BOB])).not.toContain(infId);

    expect(await rpc.ok('ChangeInfrastructureAuth', [infId, [im('bob', 'bob-pw')], false, ALICE])).toBe('');
    expect(await rpc.ok('GetInfrastructureOwners', [infId, ALICE])).toEqual(['alice', 'bob']);
    expect(await rpc.ok('GetInfrastructureInfo', [infId, BOB])).toEqual(['0']);
    expect(await rpc.ok('GetInfrastructureList', [BOB])).toContain(infId);
    // the new credentials are validated like a login
    expect(await rpc.call('ChangeInfrastructureAuth', [infId, [im('bob', 'wrong')], false, ALICE])).toEqual([
      false,
      'Invalid new infrastructure data provided: Invalid InfrastructureManager credentials',
    ]);
    // overwrite: bob becomes the only owner
    expect(await rpc.ok('ChangeInfrastructureAuth', [infId, [im('bob', 'bob-pw')], true, BOB])).toBe('');
    expect(await rpc.call('GetInfrastructureInfo', [infId, ALICE])).toEqual(denied);
  });

  it('DestroyInfrastructure', async () => {
    expect(await rpc.ok('DestroyInfrastructure', [infId, BOB])).toBe('');
    expect(await rpc.call('GetInfrastructureState', [infId, BOB])).toEqual([false, 'Deleted infrastructure.']);
    expect(await rpc.ok('GetInfrastructureList', [BOB])).not.toContain(infId);
  });
});

// ---------------------------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------------------------

describe('failures', () => {
  let rpc: Rpc;
  let url: string;
  beforeAll(() => {
    url = `${srv.xmlrpcUrl}/RPC2`;
    rpc = new Rpc(url);
  });

  it('wrong password / unknown user / no IM item → [false, …] with IM texts', async () => {
    expect(await rpc.call('GetInfrastructureList', [[im('alice', 'nope'), cloud]])).toEqual([false, 'Invalid InfrastructureManager credentials']);
    expect(await rpc.call('CreateInfrastructure', [RADL, [im('mallory', 'x'), cloud]])).toEqual([false, 'Invalid InfrastructureManager credentials']);
    expect(await rpc.call('GetInfrastructureInfo', ['x', [cloud]])).toEqual([false, 'No credentials provided for the InfrastructureManager.']);
    expect(await rpc.call('GetInfrastructureList', [[{ ...ALICE[0], id: 'bad id' }]])).toEqual([false, 'Incorrect value in auth item id: bad id']);
  });

  it('unknown infrastructure id → [false, "Invalid infrastructure ID or access not granted."]', async () => {
    for (const method of ['GetInfrastructureInfo', 'GetInfrastructureState', 'GetInfrastructureRADL', 'DestroyInfrastructure', 'StopInfrastructure']) {
      expect(await rpc.call(method, ['00000000-0000-0000-0000-000000000000', ALICE]), method).toEqual([
        false,
        'Invalid infrastructure ID or access not granted.',
      ]);
    }
  });

  it('RADL errors → [false, message]', async () => {
    const [ok, message] = (await rpc.call('CreateInfrastructure', ['system front ( cpu.count >= ', ALICE])) as Answer;
    expect(ok).toBe(false);
    expect(message).toMatch(/line 1/i);
  });

  it('unknown method → fault -32601', async () => {
    const f = await rpc.fault('NoSuchMethod', []);
    expect(f.faultCode).toBe(-32601);
    expect(f.faultString).toContain('NoSuchMethod');
    expect((await rpc.fault('system.listMethods', [])).faultCode).toBe(-32601);
  });

  it('wrong arity → fault -32602 naming the parameters', async () => {
    const f = await rpc.fault('GetInfrastructureInfo', ['x']);
    expect(f.faultCode).toBe(-32602);
    expect(f.faultString).toBe('Incorrect number of parameters for GetInfrastructureInfo: expected 2 (infId, auth), got 1');
    expect((await rpc.fault('GetVersion', ['extra'])).faultCode).toBe(-32602);
    expect((await rpc.fault('DestroyInfrastructure', ['x', ALICE, false, false, false])).faultString).toContain('expected 2 to 4');
  });

  it('bad parameter type → fault -32602 naming the parameter', async () => {
    const f = await rpc.fault('GetInfrastructureInfo', [42, ALICE]);
    expect(f.faultCode).toBe(-32602);
    expect(f.faultString).toBe("Incorrect type for parameter 'infId': expected a string, got int");
    const f2 = await rpc.fault('GetInfrastructureList', ['type = InfrastructureManager; username = alice']);
    expect(f2.faultString).toContain("parameter 'auth'");
    const f3 = await rpc.fault('CreateDiskSnapshot', ['x', '0', '0', 'img', false, ALICE]);
    expect(f3.faultString).toContain("parameter 'diskNum'");
  });

  it('a DOCTYPE body → fault, nothing expanded', async () => {
    const xml =
      '<?xml version="1.0"?>\n<!DOCTYPE methodCall [<!ENTITY big "aaaaaaaaaa">]>\n' +
      '<methodCall><methodName>GetVersion</methodName><params><param><value>&big;</value></param></params></methodCall>';
    const r = await rawCall(url, xml);
    expect(r.status).toBe(200);
    expect(r.fault?.faultCode).toBeLessThan(0);
  });

  it('an oversize body → fault -32600 (HTTP 200)', async () => {
    const f = await rpc.fault('GetInfrastructureList', [ALICE, 'x'.repeat(MAX_BODY_SIZE + 10)]);
    expect(f.faultCode).toBe(-32600);
    expect(f.faultString).toContain(`exceeds ${MAX_BODY_SIZE} bytes`);
  });

  it('a truncated body, or not XML-RPC at all → fault', async () => {
    const full =
      '<?xml version="1.0"?><methodCall><methodName>GetVersion</methodName><params><param><value><string>x</string></value></param></params></methodCall>';
    const truncated = await rawCall(url, full.slice(0, 60));
    expect(truncated.fault?.faultCode).toBe(-32700);
    const notRpc = await rawCall(url, '<?xml version="1.0"?><hello/>');
    expect(notRpc.fault?.faultCode).toBe(-32600);
    const empty = await rawCall(url, '');
    expect(empty.fault?.faultCode).toBe(-32700);
  });

  it('ISO-8859-1 bodies are decoded as declared', async () => {
    const xml = '<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>GetInfrastructureList</methodName><params>' +
      '<param><value><array><data><value><struct>' +
      '<member><name>type</name><value>InfrastructureManager</value></member>' +
      '<member><name>username</name><value>alice</value></member>' +
      '<member><name>password</name><value>alice-pw</value></member>' +
      '</struct></value></data></array></value></param><param><value>caf\u00e9</value></param></params></methodCall>';
    const r = await rawCall(url, Buffer.from(xml, 'latin1'));
    expect(r.value).toEqual([true, []]);
  });

  it('HTTP level: GET → 405, another path → 404', async () => {
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    const other = await new Rpc(`${srv.xmlrpcUrl}/other`).call('GetVersion').catch((e: Error) => e);
    expect((other as Error).message).toBe('Not Found');
  });
});
