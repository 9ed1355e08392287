/**
 * Hostile client, probe 1: the cross-user matrix. User A owns two infrastructures (RADL with two
 * Dummy VMs, TOSCA with one). User B — another user, and A's username with another password —
 * calls every REST route and every XML-RPC method that takes an infrastructure id against them,
 * and the same request against an id nobody created.
 *
 * Counted (each must be 0):
 *   - twoXX:     any 2xx (XML-RPC: `[true, …]`) on A's infrastructure;
 *   - dataLeaks: an answer containing A's ids, RADL/TOSCA marks or secrets;
 *   - differs:   an answer (status, content type, body with the id replaced) that differs from
 *                the answer to the same request on the unknown id — split into `existenceOnly`
 *                (the only difference is 403 `Access to this infrastructure not granted.` where the
 *                unknown id gets 404 `Invalid infrastructure ID or access not granted.`) and `other`;
 *   - dataChanges: fields of A's view of its infrastructures that changed.
 *
 * `existenceOnly` is not a leak we close: IM answers another user's live infrastructure with 403 "Access to
 * this infrastructure not granted." (spec auth §7, docs/API-COMPATIBILITY.md), and its clients rely on it.
 * It is printed; every other difference must be 0.
 */
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XmlRpcValue } from '#api/xmlrpc/codec';
import {
  UNKNOWN_ID,
  authHeader,
  client,
  idOf,
  rpcAuth,
  rpcCall,
  rpcOk,
  startTestServer,
  summary,
  timed,
  type Call,
  type CallOptions,
  type RpcAnswer,
  type TestServer,
} from './support';

const URL_DIR = new URL('../../../../shared/fixtures/tosca/urls', import.meta.url).pathname;

const A_USER = 'alice-owner-x91';
const A_PASS = 'AlicePass-Secret-5521';
const A = authHeader(A_USER, A_PASS);
const A_RPC = rpcAuth(A_USER, A_PASS);
const MARK = 'hostile-mark-zq81';
const VM_PW = 'VmPw-Cross-7730';

const RADL_A = `network publica (outbound = 'yes')
system front (
  cpu.count >= 1 and
  memory.size >= 512m and
  disk.0.os.flavour = '${MARK}' and
  net_interface.0.connection = 'publica' and
  disk.0.os.name = 'linux' and
  disk.0.os.credentials.password = '${VM_PW}'
)
contextualize ()
deploy front 2
`;

const TOSCA_A = yaml.dump({
  tosca_definitions_version: 'tosca_simple_yaml_1_0',
  imports: [{ grycap_custom_types: 'https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml' }],
  metadata: { template_name: `tosca-${MARK}` },
  topology_template: {
    node_templates: {
      node: {
        type: 'tosca.nodes.indigo.Compute',
        capabilities: {
          endpoint: { properties: { network_name: 'PUBLIC' } },
          scalable: { properties: { count: 1 } },
          host: { properties: { num_cpus: 1, mem_size: '1 GB' } },
          os: { properties: { type: 'linux', image: 'mock0://linux.for.ev.er/image' } },
        },
      },
    },
    outputs: { node_ip: { value: { get_attribute: ['node', 'public_address'] } } },
  },
});

/** The users who try: another user, and A's username with another password. */
const INTRUDERS = [
  { name: 'bob', user: 'bob-intruder', pass: 'b-pass' },
  { name: 'same username, other password', user: A_USER, pass: 'not-her-password' },
];

let srv: TestServer;
let call: Call;
let rpcUrl: string;
const infIds: string[] = [];

beforeAll(async () => {
  srv = await startTestServer({ env: { TOSCA_URL_DIR: URL_DIR, TOSCA_FETCH_REMOTE: 'false', VM_INFO_UPDATE_FREQUENCY: '3600' } });
  call = client(srv.baseUrl);
  rpcUrl = `${srv.xmlrpcUrl}/RPC2`;
  const r = await call('POST', '/infrastructures', { body: RADL_A, auth: A, accept: 'text/uri-list' });
  expect(r.status, r.text).toBe(200);
  const t = await call('POST', '/infrastructures', { body: TOSCA_A, contentType: 'text/yaml', auth: A, accept: 'text/uri-list' });
  expect(t.status, t.text).toBe(200);
  infIds.push(idOf(r.text), idOf(t.text));
});

afterAll(async () => {
  await srv?.stop();
});

// ---------------------------------------------------------------------------------------------
// What A sees (before and after)
// ---------------------------------------------------------------------------------------------

async function view(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const get = async (key: string, path: string, accept?: string) => {
    const r = await call('GET', path, { auth: A, ...(accept ? { accept } : {}) });
    out[key] = `${r.status} ${r.text}`;
  };
  await get('list', '/infrastructures');
  for (const id of infIds) {
    await get(`${id} info`, `/infrastructures/${id}`);
    await get(`${id} radl`, `/infrastructures/${id}/radl`);
    await get(`${id} state`, `/infrastructures/${id}/state`);
    await get(`${id} owners`, `/infrastructures/${id}/authorization`);
    await get(`${id} contmsg`, `/infrastructures/${id}/contmsg`);
    await get(`${id} data`, `/infrastructures/${id}/data`);
    await get(`${id} tosca`, `/infrastructures/${id}/tosca`);
    for (const vm of (await call('GET', `/infrastructures/${id}`, { auth: A })).text.split('\n').filter(Boolean)) {
      await get(`${id} vm ${idOf(vm)}`, `/infrastructures/${id}/vms/${idOf(vm)}`);
    }
  }
  return out;
}

const changedFields = (a: Record<string, string>, b: Record<string, string>) =>
  [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]);

// ---------------------------------------------------------------------------------------------
// The matrix
// ---------------------------------------------------------------------------------------------

type RestReq = [method: string, path: string, opts?: CallOptions];

const RADL_ADD = 'system front\ndeploy front 1';
const RADL_JSON_ADD = JSON.stringify([{ class: 'system', id: 'front' }, { class: 'deploy', system: 'front', vm_number: 1 }]);
const TOSCA_ADD = TOSCA_A.replace('count: 1', 'count: 3');

const REST_MATRIX: RestReq[] = [
  ['GET', '/infrastructures/{id}'],
  ['GET', '/infrastructures/{id}', { accept: 'application/json' }],
  ['HEAD', '/infrastructures/{id}'],
  ['PATCH', '/infrastructures/{id}'],
  ['POST', '/infrastructures/{id}', { body: RADL_ADD }],
  ['POST', '/infrastructures/{id}', { body: RADL_ADD, query: { context: 'no' } }],
  ['POST', '/infrastructures/{id}', { body: RADL_JSON_ADD, contentType: 'application/json' }],
  ['POST', '/infrastructures/{id}', { body: TOSCA_ADD, contentType: 'text/yaml' }],
  ['POST', '/infrastructures/{id}', { body: "system front ( cpu.count >= 1 and description = 'changed' )" }],
  ['POST', '/infrastructures/{id}', { body: 'system front ( cpu.count >= ' }],
  ['DELETE', '/infrastructures/{id}'],
  ['DELETE', '/infrastructures/{id}', { query: { force: 'yes' } }],
  ['DELETE', '/infrastructures/{id}', { query: { force: 'yes', async: 'yes' } }],
  ...['contmsg', 'radl', 'tosca', 'state', 'outputs', 'data', 'authorization', 'nope'].map((p): RestReq => ['GET', `/infrastructures/{id}/${p}`]),
  ['GET', '/infrastructures/{id}/contmsg', { query: { headeronly: 'yes' } }],
  ['GET', '/infrastructures/{id}/radl', { accept: 'application/json' }],
  ['GET', '/infrastructures/{id}/data', { query: { delete: 'yes' } }],
  ['GET', '/infrastructures/{id}/data', { query: { delete: 'true' }, accept: 'application/json' }],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "bob-intruder", "password": "b-pass"}', contentType: 'application/json' }],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": "bob-intruder", "password": "b-pass"}', contentType: 'application/json', query: { overwrite: 'yes' } }],
  ['POST', '/infrastructures/{id}/authorization', { body: '{"username": ', contentType: 'application/json' }],
  ['PUT', '/infrastructures/{id}/reconfigure'],
  ['PUT', '/infrastructures/{id}/reconfigure', { body: 'configure front (\n@begin\n- debug: msg=x\n@end\n)' }],
  ['PUT', '/infrastructures/{id}/reconfigure', { query: { vm_list: '0' } }],
  ['PUT', '/infrastructures/{id}/stop'],
  ['PUT', '/infrastructures/{id}/start'],
  ['PUT', '/infrastructures/{id}/explode'],
  ...['0', '1', '99', 'abc'].flatMap((vm): RestReq[] => [
    ['GET', `/infrastructures/{id}/vms/${vm}`],
    ['PUT', `/infrastructures/{id}/vms/${vm}`, { body: 'system front ( cpu.count >= 4 and memory.size >= 4g )' }],
    ['PUT', `/infrastructures/{id}/vms/${vm}/stop`],
    ['PUT', `/infrastructures/{id}/vms/${vm}/start`],
    ['PUT', `/infrastructures/{id}/vms/${vm}/reboot`],
    ['GET', `/infrastructures/{id}/vms/${vm}/state`],
  ]),
  ['GET', '/infrastructures/{id}/vms/0', { accept: 'application/json' }],
  ['PUT', '/infrastructures/{id}/vms/0', { body: RADL_JSON_ADD, contentType: 'application/json' }],
  ['DELETE', '/infrastructures/{id}/vms/0'],
  ['DELETE', '/infrastructures/{id}/vms/0,1', { query: { context: 'no' } }],
  ['DELETE', '/infrastructures/{id}/vms/99'],
  ...['memory.size', 'net_interface.0.ip', 'disk.0.os.credentials.password', 'provider.type', 'contmsg', 'no.such'].map(
    (p): RestReq => ['GET', `/infrastructures/{id}/vms/0/${p}`],
  ),
  ['GET', '/infrastructures/{id}/vms/0/command'],
  ['GET', '/infrastructures/{id}/vms/0/command', { query: { step: '2' } }],
  ['GET', '/infrastructures/{id}/vms/1/command', { query: { step: '1' }, accept: 'text/plain' }],
  ['PUT', '/infrastructures/{id}/vms/0/alter'],
  ['PUT', '/infrastructures/{id}/vms/0/disks/0/snapshot', { query: { image_name: 'stolen' } }],
  ['PUT', '/infrastructures/{id}/vms/0/disks/0/snapshot', { query: { image_name: 'stolen', auto_delete: 'yes' } }],
  ['PUT', '/infrastructures/{id}/vms/0/disks/0/snapshot'],
];

const IM_BOB = { type: 'InfrastructureManager', username: 'bob-intruder', password: 'b-pass' };

/** XML-RPC methods taking an infrastructure id; `auth` stands for the intruder's auth param. */
const RPC_MATRIX: [string, (id: string, auth: XmlRpcValue[]) => XmlRpcValue[]][] = [
  ['GetInfrastructureInfo', (id, a) => [id, a]],
  ['GetInfrastructureContMsg', (id, a) => [id, a]],
  ['GetInfrastructureContMsg', (id, a) => [id, a, true]],
  ['GetInfrastructureState', (id, a) => [id, a]],
  ['GetInfrastructureRADL', (id, a) => [id, a]],
  ['GetInfrastructureOwners', (id, a) => [id, a]],
  ['GetVMInfo', (id, a) => [id, '0', a]],
  ['GetVMInfo', (id, a) => [id, 1, a]],
  ['GetVMInfo', (id, a) => [id, '99', a]],
  ['GetVMProperty', (id, a) => [id, '0', 'memory.size', a]],
  ['GetVMProperty', (id, a) => [id, '0', 'disk.0.os.credentials.password', a]],
  ['GetVMProperty', (id, a) => [id, '99', 'state', a]],
  ['GetVMContMsg', (id, a) => [id, '0', a]],
  ['AlterVM', (id, a) => [id, '0', 'system front ( cpu.count >= 4 )', a]],
  ['AddResource', (id, a) => [id, RADL_ADD, a]],
  ['AddResource', (id, a) => [id, RADL_ADD, a, false]],
  ['AddResource', (id, a) => [id, 'system front ( cpu.count >= ', a]],
  ['RemoveResource', (id, a) => [id, '0', a]],
  ['RemoveResource', (id, a) => [id, '0,1', a, false]],
  ['StopInfrastructure', (id, a) => [id, a]],
  ['StartInfrastructure', (id, a) => [id, a]],
  ['StopVM', (id, a) => [id, '0', a]],
  ['StartVM', (id, a) => [id, 0, a]],
  ['RebootVM', (id, a) => [id, '1', a]],
  ['Reconfigure', (id, a) => [id, '', a]],
  ['Reconfigure', (id, a) => [id, '', a, [0]]],
  ['ExportInfrastructure', (id, a) => [id, false, a]],
  ['ExportInfrastructure', (id, a) => [id, true, a]],
  ['CreateDiskSnapshot', (id, a) => [id, '0', 0, 'stolen', false, a]],
  ['ChangeInfrastructureAuth', (id, a) => [id, [IM_BOB], false, a]],
  ['ChangeInfrastructureAuth', (id, a) => [id, [IM_BOB], true, a]],
  ['DestroyInfrastructure', (id, a) => [id, a]],
  ['DestroyInfrastructure', (id, a) => [id, a, true, false]],
  ['DestroyInfrastructure', (id, a) => [id, a, true, true]],
];

const FORBIDDEN_TEXT = 'Access to this infrastructure not granted.';
const UNKNOWN_TEXT = 'Invalid infrastructure ID or access not granted.';

interface Tally {
  requests: number;
  twoXX: number;
  dataLeaks: number;
  existenceOnly: number;
  other: number;
  examples: string[];
}
const tally = (): Tally => ({ requests: 0, twoXX: 0, dataLeaks: 0, existenceOnly: 0, other: 0, examples: [] });

/** What A's data looks like in an answer. */
function secretsOf(intruderUser: string): string[] {
  const s = [...infIds, MARK, VM_PW, A_PASS];
  if (intruderUser !== A_USER) s.push(A_USER);
  return s;
}

function leaksIn(text: string, secrets: string[]): string[] {
  return secrets.filter((x) => text.includes(x));
}

/** Compares one answer on A's id with the same request's answer on the unknown id. */
function judge(t: Tally, label: string, ok: boolean, mine: string, unknown: string, secrets: string[]) {
  t.requests++;
  const note = (kind: string) => {
    if (t.examples.length < 12) t.examples.push(`${kind}: ${label} → ${mine.slice(0, 200)} | unknown id → ${unknown.slice(0, 200)}`);
  };
  if (ok) {
    t.twoXX++;
    note('2xx');
  }
  const leaked = leaksIn(mine, secrets);
  if (leaked.length) {
    t.dataLeaks++;
    note(`data (${leaked.join(',')})`);
  }
  if (mine !== unknown) {
    const asUnknown = mine.replace(/^403 /, '404 ').replaceAll(FORBIDDEN_TEXT, UNKNOWN_TEXT).replaceAll('"code":403', '"code":404');
    if (asUnknown === unknown) t.existenceOnly++;
    else {
      t.other++;
      note('differs');
    }
  }
}

const restAnswer = async (method: string, path: string, opts: CallOptions) => {
  const r = await call(method, path, opts);
  return { status: r.status, text: `${r.status} [${r.headers.get('content-type') ?? ''}] ${r.text}` };
};

const rpcText = (a: RpcAnswer) => (a.fault ? `fault ${a.fault.faultCode} ${a.fault.faultString}` : `${a.status} ${JSON.stringify(a.value)}`);

const rest = tally();
const rpc = tally();
let changes: string[] = [];
let restMs = 0;
let rpcMs = 0;

describe('cross-user matrix', () => {
  it("every REST route and XML-RPC method of another user on A's infrastructures: no 2xx, no data, no change", async () => {
    const before = await view();
    expect(changedFields(before, await view()), "A's own view is stable").toEqual([]);

    [, restMs] = await timed(async () => {
      for (const who of INTRUDERS) {
        const auth = authHeader(who.user, who.pass);
        const secrets = secretsOf(who.user);
        for (const infId of infIds) {
          for (const [method, template, opts] of REST_MATRIX) {
            const o = { auth, ...(opts ?? {}) };
            const mine = await restAnswer(method, template.replace('{id}', infId), o);
            const unknown = await restAnswer(method, template.replace('{id}', UNKNOWN_ID), o);
            const q = opts?.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
            judge(rest, `${who.name}: ${method} ${template}${q}`, mine.status >= 200 && mine.status < 300, mine.text.replaceAll(infId, 'ID'), unknown.text.replaceAll(UNKNOWN_ID, 'ID'), secrets);
          }
        }
        // Listings, filters, stats and import over A's id.
        for (const [label, r] of [
          ['list', await call('GET', '/infrastructures', { auth })],
          ['list json', await call('GET', '/infrastructures', { auth, accept: 'application/json' })],
          ['filter', await call('GET', '/infrastructures', { auth, query: { filter: MARK } })],
          ['filter .*', await call('GET', '/infrastructures', { auth, query: { filter: '.*' } })],
          ['stats', await call('GET', '/stats', { auth })],
          ['stats csv', await call('GET', '/stats', { auth, accept: 'text/csv' })],
        ] as const) {
          rest.requests++;
          const leaked = leaksIn(r.text, secrets);
          if (leaked.length) {
            rest.dataLeaks++;
            rest.examples.push(`data (${leaked.join(',')}): ${who.name}: GET ${label} → ${r.text.slice(0, 200)}`);
          }
        }
        for (const infId of infIds) {
          const forged = JSON.stringify({ id: infId, radl: '', vm_list: [], auth: [] });
          const imp = await call('PUT', '/infrastructures', { auth, body: forged, contentType: 'application/json' });
          judge(rest, `${who.name}: PUT /infrastructures (import over A's id)`, imp.status < 300, `${imp.status}`, `${imp.status}`, secrets);
          if (leaksIn(imp.text.replaceAll(infId, ''), secrets).length) rest.dataLeaks++;
        }
      }
    });

    [, rpcMs] = await timed(async () => {
      for (const who of INTRUDERS) {
        const auth = rpcAuth(who.user, who.pass);
        const secrets = secretsOf(who.user);
        for (const infId of infIds) {
          for (const [method, params] of RPC_MATRIX) {
            const mine = await rpcCall(rpcUrl, method, params(infId, auth));
            const unknown = await rpcCall(rpcUrl, method, params(UNKNOWN_ID, auth));
            judge(rpc, `${who.name}: ${method}`, rpcOk(mine), rpcText(mine).replaceAll(infId, 'ID'), rpcText(unknown).replaceAll(UNKNOWN_ID, 'ID'), secrets);
          }
        }
        for (const [label, a] of [
          ['GetInfrastructureList', await rpcCall(rpcUrl, 'GetInfrastructureList', [auth])],
          ['GetInfrastructureList filter', await rpcCall(rpcUrl, 'GetInfrastructureList', [auth, MARK])],
          ['GetStats', await rpcCall(rpcUrl, 'GetStats', ['', '', auth])],
        ] as const) {
          rpc.requests++;
          const leaked = leaksIn(rpcText(a), secrets);
          if (leaked.length) {
            rpc.dataLeaks++;
            rpc.examples.push(`data (${leaked.join(',')}): ${who.name}: ${label} → ${rpcText(a).slice(0, 200)}`);
          }
        }
        for (const infId of infIds) {
          const forged = JSON.stringify({ id: infId, radl: '', vm_list: [], auth: [] });
          const imp = await rpcCall(rpcUrl, 'ImportInfrastructure', [forged, auth]);
          judge(rpc, `${who.name}: ImportInfrastructure over A's id`, rpcOk(imp), 'x', 'x', secrets);
        }
      }
    });

    const after = await view();
    changes = changedFields(before, after);
    if (process.env.HOSTILE_DEBUG) for (const k of changes) console.log(`CHANGED ${k}\nBEFORE ${before[k]}\nAFTER  ${after[k]}`);
    // A still does everything with them.
    expect((await call('GET', `/infrastructures/${infIds[0]}`, { auth: A })).text.split('\n')).toHaveLength(2);
    expect(rpcOk(await rpcCall(rpcUrl, 'GetInfrastructureInfo', [infIds[1], A_RPC]))).toBe(true);

    const figures = (t: Tally) => ({ requests: t.requests, twoXX: t.twoXX, dataLeaks: t.dataLeaks, differsFromUnknownId: t.existenceOnly + t.other, existenceOnly: t.existenceOnly, otherDifferences: t.other });
    summary('cross-user-rest', { ...figures(rest), ms: restMs });
    summary('cross-user-xmlrpc', { ...figures(rpc), ms: rpcMs });
    summary('cross-user-data-changes', { dataChanges: changes.length, fields: changes });
    if (rest.examples.length || rpc.examples.length) console.log([...rest.examples, ...rpc.examples].join('\n'));

    expect(rest.twoXX, rest.examples.join('\n')).toBe(0);
    expect(rpc.twoXX, rpc.examples.join('\n')).toBe(0);
    expect(rest.dataLeaks, rest.examples.join('\n')).toBe(0);
    expect(rpc.dataLeaks, rpc.examples.join('\n')).toBe(0);
    expect(rest.other, rest.examples.join('\n')).toBe(0);
    expect(rpc.other, rpc.examples.join('\n')).toBe(0);
    expect(changes).toEqual([]);
  }, 120_000);

});
