/**
 * Hostile client, probe 3: at least 3,000 bad requests, generated deterministically from a seed,
 * over REST and XML-RPC: malformed auth headers, bad JSON / RADL / TOSCA bodies, bad ids (`..`,
 * `%00`, very long…), bad query parameters, wrong content types and Accept headers, oversized
 * bodies, malformed XML-RPC (DOCTYPE, entities, truncation, byte noise, deep nesting, bad scalars)
 * and wrong parameter types and arity for every method, plus a few raw HTTP oddities.
 *
 * Counted (each must be 0): 5xx answers (XML-RPC: internal faults too), requests that hung,
 * answers quoting a local file or an expanded entity. Afterwards the service still answers a
 * normal session, as fast as before.
 */
import { request, Agent } from 'node:http';
import { createConnection } from 'node:net';
import yaml from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMethodCall, type XmlRpcValue } from '#api/xmlrpc/codec';
import {
  authHeader,
  client,
  create,
  pool,
  rawRpc,
  rng,
  rpcAuth,
  rpcCall,
  rpcOk,
  rpcServerError,
  startTestServer,
  summary,
  timed,
  type Call,
  type Rng,
  type TestServer,
} from './support';

const SEED = 0x1badc0de;
const TOTAL = 3200;
const MAX_BODY_SIZE = 64 * 1024;
const USER = 'fuzz-owner';
const PASS = 'fuzz-pass';
const GOOD = authHeader(USER, PASS);
const GOOD_RPC = rpcAuth(USER, PASS);

let srv: TestServer;
let call: Call;
let rpcUrl: string;
let host: string;
let port: number;
/** What the generated requests aim at (they may legitimately destroy it). */
let victim: string;
/** Nobody's bad request aims at it: it must be unchanged at the end. */
let control: string;
// One connection per request: an answer to one bad request never depends on the previous one on the socket.
const agent = new Agent({ keepAlive: false });

beforeAll(async () => {
  srv = await startTestServer({ env: { MAX_BODY_SIZE: String(MAX_BODY_SIZE), TOSCA_FETCH_REMOTE: 'false' } });
  call = client(srv.baseUrl);
  rpcUrl = `${srv.xmlrpcUrl}/RPC2`;
  const u = new URL(srv.baseUrl);
  host = u.hostname;
  port = Number(u.port);
  victim = await create(call, 2, { auth: GOOD });
  control = await create(call, 2, { auth: GOOD });
});

afterAll(async () => {
  agent.destroy();
  await srv?.stop();
});

// ---------------------------------------------------------------------------------------------
// Senders
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  text: string;
  serverError: boolean;
  hung?: boolean;
}

/** A REST request with node:http (no URL normalisation: `..` reaches the server as sent). */
function sendRest(method: string, path: string, headers: Record<string, string>, body?: string | Buffer): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    let req;
    try {
      req = request({ host, port, method, path, headers, agent, timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          resolve({ status, text: Buffer.concat(chunks).toString('utf8'), serverError: status >= 500 });
        });
        res.on('error', () => resolve({ status: 0, text: 'response error', serverError: true }));
      });
    } catch {
      resolve(undefined); // the client refused to send it (invalid header characters): not counted
      return;
    }
    req.on('timeout', () => {
      req.destroy();
      resolve({ status: 0, text: 'timeout', serverError: true, hung: true });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      // The server may answer and close before reading an oversized body: that is no server error.
      resolve({ status: 0, text: `socket ${e.code ?? e.message}`, serverError: false });
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Raw bytes on a fresh socket; the status of the first answer line. */
function sendRaw(bytes: string): Promise<Answer> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    let data = '';
    const done = () => {
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      const status = m ? Number(m[1]) : 0;
      resolve({ status, text: data.slice(0, 300), serverError: status >= 500 });
    };
    sock.setTimeout(5000, () => {
      sock.destroy();
      done();
    });
    sock.on('data', (c) => {
      data += c.toString('latin1');
      if (/\r\n\r\n/.test(data)) sock.end();
    });
    sock.on('close', done);
    sock.on('error', () => undefined);
    sock.write(bytes, 'latin1');
  });
}

// ---------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------

type Req =
  | { api: 'rest'; family: string; method: string; path: string; headers: Record<string, string>; body?: string | Buffer }
  | { api: 'rpc'; family: string; body: string | Buffer; headers?: Record<string, string> }
  | { api: 'raw'; family: string; bytes: string };

const VALID_RADL = `network publica (outbound = 'yes')
system front (
  cpu.count >= 1 and
  memory.size >= 512m and
  net_interface.0.connection = 'publica' and
  disk.0.os.name = 'linux'
)
configure front (
@begin
- tasks:
  - debug: msg=hi
@end
)
contextualize ()
deploy front 1
`;

const VALID_TOSCA = yaml.dump({
  tosca_definitions_version: 'tosca_simple_yaml_1_0',
  topology_template: {
    node_templates: {
      node: { type: 'tosca.nodes.indigo.Compute', capabilities: { scalable: { properties: { count: 1 } }, host: { properties: { num_cpus: 1 } } } },
    },
  },
});

const NOISE = 'aZ09 ()[]{}<>=;:\'"\\/.,*+?^$|#@!%&~`\t\n-_';
const noise = (r: Rng, n: number) => Array.from({ length: n }, () => r.pick([...NOISE])).join('');

/** A copy of `s` with a few random deletions, insertions and replacements. */
function mutate(r: Rng, s: string): string {
  let out = s;
  for (let k = 1 + r.int(4); k > 0; k--) {
    const at = r.int(out.length + 1);
    const op = r.int(3);
    const len = 1 + r.int(12);
    if (op === 0) out = out.slice(0, at) + out.slice(at + len);
    else if (op === 1) out = out.slice(0, at) + noise(r, len) + out.slice(at);
    else out = out.slice(0, at) + noise(r, len) + out.slice(at + len);
  }
  return out;
}

const BAD_IDS = [
  '..', '.', '%2e%2e', '%2E%2E%2F%2E%2E', '%00', 'abc%00def', '%2F', '%5C..%5C', '%25', '%FF%FE', '%C3%28', '%E2%82',
  'x'.repeat(300), 'y'.repeat(5000), '%20', '+', '*', "'%20OR%201=1--", '%7B%7D', '%3Cscript%3E', 'null', 'undefined',
  '__proto__', 'constructor', '-1', '00000000-0000-0000-0000-00000000000', '00000000-0000-4000-8000-0000000000000',
  '%0D%0ASet-Cookie:%20x=1', '%E2%80%AE', '%F0%9F%92%A9', 'inf%3Bid', '0x10', '1e3', '', '%09',
];
const BAD_VM_IDS = ['-1', '1e3', '0x1', '%200', '00', '99999999999999999999', '0,,1', ',', '0,abc', '1.5', 'NaN', 'Infinity', '%00', '..', 'x'.repeat(2000), '0%2C1', '+1'];

const BAD_AUTH = (r: Rng): string => {
  const im = `type = InfrastructureManager; username = ${USER}; password = ${PASS}`;
  switch (r.int(22)) {
    case 0: return '';
    case 1: return 'Bearer ' + noise(r, 40).replace(/[\t\n]/g, 'x');
    case 2: return 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
    case 3: return 'type = ';
    case 4: return `type = InfrastructureManager; username = '${USER}; password = ${PASS}`;
    case 5: return `${im}\\nid = bad id; type = Dummy`;
    case 6: return '[{';
    case 7: return JSON.stringify([{ type: 5, username: [], password: {} }]);
    case 8: return JSON.stringify({ type: 'InfrastructureManager', username: USER, password: PASS });
    case 9: return `${im}\\n`.repeat(20 + r.int(100));
    case 10: return 'type = InfrastructureManager; username = ' + 'u'.repeat(8000) + '; password = p';
    case 11: return `${im}; ${'k'.repeat(50)} = ${'v'.repeat(50)};`.repeat(3);
    case 12: return '\\n\\n\\n\\\\n\\\\\\n';
    case 13: return `type = InfrastructureManager; username = ${USER}; password = ${PASS}\\nid = one; type = Dummy; password = "unterminated`;
    case 14: return `type = InfrastructureManager; token = ${'a'.repeat(100)}.${'b'.repeat(100)}.c`;
    case 15: return 'type = InfrastructureManager; username = \xff\xfe; password = \xe9\xe8';
    case 16: return `id = im; type = InfrastructureManager; username = ${USER}; password = wrong-${r.int(1000)}`;
    case 17: return `type = OpenStack; id = os; host = http://127.0.0.1:1; username = x; password = y`;
    case 18: return '= = = ; ; ; = ;';
    case 19: return `type = InfrastructureManager; username = ${USER}; password = ${PASS}; username = other`;
    case 20: return JSON.stringify([[[[[[[[[[[[]]]]]]]]]]]]);
    default: return mutate(r, im);
  }
};

const TOSCA_BAD = (r: Rng): string => {
  switch (r.int(9)) {
    case 0: return 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n';
    case 1: return 'tosca_definitions_version: tosca_simple_yaml_1_0\nimports:\n  - file:///etc/passwd\n';
    case 2: return 'tosca_definitions_version: tosca_simple_yaml_1_0\nimports:\n  - http://127.0.0.1:1/types.yaml\n';
    case 3: return 'tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates: [1, 2, 3]\n';
    case 4: return '{' + '['.repeat(500 + r.int(500));
    case 5: return '!!python/object/apply:os.system ["echo pwned"]\n';
    case 6: return 'tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates:\n    n:\n      type: tosca.nodes.indigo.Compute\n      capabilities:\n        scalable:\n          properties:\n            count: 99999999\n';
    case 7: return '- ' + '- '.repeat(200 + r.int(2000)) + 'x';
    default: return mutate(r, VALID_TOSCA);
  }
};

const JSON_BAD = (r: Rng): string => {
  switch (r.int(9)) {
    case 0: return '[{"class": "system"';
    case 1: return '['.repeat(2000 + r.int(8000)) + ']'.repeat(10);
    case 2: return '{"__proto__": {"admin": true}, "class": "system", "id": "front"}';
    case 3: return JSON.stringify([{ class: 'system', id: 'front', 'cpu.count': 1e308 }, { class: 'deploy', system: 'front', vm_number: -5 }]);
    case 4: return JSON.stringify([{ class: 'deploy', system: 'front', vm_number: '1; rm -rf /' }]);
    case 5: return '"just a string"';
    case 6: return 'null';
    case 7: return JSON.stringify([{ class: 'network', id: 'n', outbound: { nested: [1, 2, { x: null }] } }]);
    default: return mutate(r, JSON.stringify([{ class: 'system', id: 'front', 'cpu.count_min': 1 }, { class: 'deploy', system: 'front', vm_number: 1 }]));
  }
};

const RADL_BAD = (r: Rng): string => {
  switch (r.int(12)) {
    case 0: return 'system front ( cpu.count >= )';
    case 1: return 'system front ( '.repeat(100 + r.int(400));
    case 2: return `system front ( cpu.count >= ${'9'.repeat(400)} )\ndeploy front 1`;
    case 3: return 'system front ( cpu.count >= 1 )\ndeploy front -1';
    case 4: return 'system front ( cpu.count >= 1 )\ndeploy front 1e9';
    case 5: return 'deploy ghost 1';
    case 6: return "configure front (\n@begin\n: : : [\n@end\n)\nsystem front ( cpu.count >= 1 and disk.0.applications contains (name = 'x') )\ndeploy front 1";
    case 7: return "system front ( disk.0.os.credentials.password = 'unterminated )";
    case 8: return `system ${'n'.repeat(10_000)} ( cpu.count >= 1 )`;
    case 9: return `network n ( outbound = 'yes' )\nsystem front ( net_interface.0.connection = 'missing' and memory.size >= 1G and memory.size <= 1M )\ndeploy front 1`;
    case 10: return '\u0000\u0001\u0002 system \ufeff front ( )';
    default: return mutate(r, VALID_RADL);
  }
};

const BOOL_VALUES = ['maybe', '2', '', 'yess', 'TRUE1', '%00', 'nope', 'on%20', 'x'.repeat(500), '-1'];

function restBadQuery(r: Rng): Req {
  const I = `/infrastructures/${victim}`;
  const q = (k: string, v: string) => `${k}=${v}`;
  const cases: [string, string, string?][] = [
    ['POST', `/infrastructures?${q('async', r.pick(BOOL_VALUES))}`, VALID_RADL],
    ['POST', `/infrastructures?${q('dry_run', r.pick(BOOL_VALUES))}`, VALID_RADL],
    ['DELETE', `${I}?${q('force', r.pick(BOOL_VALUES))}`],
    ['DELETE', `${I}?${q('async', r.pick(BOOL_VALUES))}`],
    ['POST', `${I}?${q('context', r.pick(BOOL_VALUES))}`, 'system front\ndeploy front 1'],
    ['GET', `${I}/contmsg?${q('headeronly', r.pick(BOOL_VALUES))}`],
    ['GET', `${I}/data?${q('delete', r.pick(BOOL_VALUES))}`],
    ['POST', `${I}/authorization?${q('overwrite', r.pick(BOOL_VALUES))}`, '{"username": "x", "password": "y"}'],
    ['PUT', `${I}/reconfigure?${q('vm_list', r.pick(['a,b', '0,,1', '-1', '1.5', ',', '99999999999999999999', '%00', '0;1']))}`],
    ['GET', `${I}/vms/0/command?${q('step', r.pick(['x', '-1', '3', '1.5', '', '%00', '99999999999999']))}`],
    ['PUT', `${I}/vms/0/disks/0/snapshot?${q('image_name', r.pick(['', '%00', 'x'.repeat(3000), '..%2F..%2Fetc']))}&auto_delete=${r.pick(BOOL_VALUES)}`],
    ['PUT', `${I}/vms/0/disks/${r.pick(['x', '-1', '1.5', '999999999999'])}/snapshot?image_name=i`],
    ['GET', `/infrastructures?${q('filter', r.pick(['(', '[', '(?<=a)b', '\\', '(a)\\1', '%00', 'a{99999}', '(?P<x>a)', '(a|'.repeat(200), '*'.repeat(3000)]))}`],
    ['GET', `/stats?${q('init_date', r.pick(['2020-13-45', 'yesterday', '%00', '9999999-01-01', '2020/01']))}&end_date=${r.pick(['x', '2020-02-30', ''])}`],
    ['GET', `/clouds/one/images?${q('filters', r.pick(['a', '=', 'a=b=c', ',,,', '%00=x', 'x'.repeat(3000)]))}`],
    ['GET', `/infrastructures?filter=a&filter=b&${noise(r, 8).replace(/[^a-z0-9]/gi, '')}=1`],
    ['GET', `${I}?${'a=1&'.repeat(500)}`],
  ];
  const [method, path, body] = r.pick(cases);
  return { api: 'rest', family: 'query', method, path, headers: { Authorization: GOOD, ...(body ? { 'Content-Type': 'text/plain' } : {}) }, body };
}

function restBadId(r: Rng): Req {
  const id = r.pick(BAD_IDS);
  const vm = r.pick(BAD_VM_IDS);
  const paths = [
    `/infrastructures/${id}`, `/infrastructures/${id}/state`, `/infrastructures/${id}/radl`, `/infrastructures/${id}/data`,
    `/infrastructures/${id}/vms/0`, `/infrastructures/${victim}/vms/${vm}`, `/infrastructures/${victim}/vms/${vm}/state`,
    `/infrastructures/${victim}/vms/0/${r.pick(['..', '%00', 'x'.repeat(3000), '__proto__', 'constructor', 'disk.0.os.credentials.private_key', '%2E'])}`,
    `/infrastructures/${victim}/${r.pick(['..', '%00', '__proto__', 'x'.repeat(3000), 'STATE', 'state%00'])}`,
    `/clouds/${id}/images`, `/clouds/one/${r.pick(['..', 'quotas%00', 'x'.repeat(300)])}`, `/static/${r.pick(['..%2F..%2Fetc%2Fpasswd', '..', '%00'])}`,
    `/infrastructures/${id}/vms/${vm}/stop`, `/../../etc/passwd`, `/infrastructures/./${victim}`, `//infrastructures//${victim}`,
  ];
  const method = r.pick(['GET', 'GET', 'PUT', 'DELETE', 'POST']);
  const body = method === 'GET' || method === 'DELETE' ? undefined : 'system front\ndeploy front 1';
  return { api: 'rest', family: 'ids', method, path: r.pick(paths), headers: { Authorization: GOOD, ...(body ? { 'Content-Type': 'text/plain' } : {}) }, body };
}

function restBadAuth(r: Rng): Req {
  const targets: [string, string, string?][] = [
    ['GET', '/infrastructures'], ['GET', `/infrastructures/${victim}`], ['POST', '/infrastructures', VALID_RADL],
    ['GET', `/infrastructures/${victim}/vms/0`], ['GET', '/stats'], ['GET', '/clouds/one/quotas'], ['PUT', `/infrastructures/${victim}/stop`],
  ];
  const [method, path, body] = r.pick(targets);
  const headers: Record<string, string> = body ? { 'Content-Type': 'text/plain' } : {};
  if (r.int(10) !== 0) headers.Authorization = BAD_AUTH(r);
  return { api: 'rest', family: 'auth', method, path, headers, body };
}

function restBadBody(r: Rng): Req {
  const I = `/infrastructures/${victim}`;
  const kind = r.int(4);
  const body = kind === 0 ? JSON_BAD(r) : kind === 1 ? TOSCA_BAD(r) : RADL_BAD(r);
  const contentType = kind === 0 ? 'application/json' : kind === 1 ? r.pick(['text/yaml', 'application/yaml', 'text/x-yaml']) : 'text/plain';
  const targets: [string, string][] = [
    ['POST', '/infrastructures'], ['POST', '/infrastructures?dry_run=yes'], ['POST', I], ['PUT', `${I}/vms/0`], ['PUT', `${I}/reconfigure`],
    ['POST', `${I}/authorization`], ['PUT', '/infrastructures'],
  ];
  const [method, path] = r.pick(targets);
  return { api: 'rest', family: 'body', method, path, headers: { Authorization: GOOD, 'Content-Type': contentType }, body };
}

function restBadMedia(r: Rng): Req {
  const I = `/infrastructures/${victim}`;
  const ct = r.pick(['application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'garbage', '', ';;;', 'text/yaml; q=0', 'application/octet-stream', 'x'.repeat(2000), 'application/x-www-form-urlencoded']);
  const accept = r.pick(['application/xml', 'image/png', '', ';', 'application/json;q=0', 'text/html', '*/*;q=x', 'x'.repeat(4000), 'text/csv', 'application/*, text/*, */*'.repeat(50)]);
  const targets: [string, string, string?][] = [
    ['POST', '/infrastructures?dry_run=yes', VALID_RADL], ['POST', I, 'system front'], ['PUT', `${I}/vms/0`, 'system front ( cpu.count >= 1 )'],
    ['GET', `${I}/state`], ['GET', `${I}/data`], ['GET', I], ['GET', `${I}/vms/0`], ['GET', '/stats'], ['PUT', '/infrastructures', '{}'],
    ['POST', `${I}/authorization`, '{"username": "a", "password": "b"}'],
  ];
  const [method, path, body] = r.pick(targets);
  const headers: Record<string, string> = { Authorization: GOOD, Accept: accept };
  if (body) headers['Content-Type'] = ct;
  return { api: 'rest', family: 'media', method, path, headers, body };
}

function restOversize(r: Rng): Req {
  const size = MAX_BODY_SIZE + 1 + r.int(4 * MAX_BODY_SIZE);
  const path = r.pick(['/infrastructures', `/infrastructures/${victim}`, '/infrastructures?dry_run=yes', `/infrastructures/${victim}/vms/0`, '/infrastructures']);
  const method = path.includes('/vms/') ? 'PUT' : path === '/infrastructures' && r.int(2) ? 'PUT' : 'POST';
  const body = `system front ( cpu.count >= 1 )\n#${'x'.repeat(size)}`;
  return { api: 'rest', family: 'oversize', method, path, headers: { Authorization: GOOD, 'Content-Type': 'text/plain' }, body };
}

function restBadMethod(r: Rng): Req {
  const method = r.pick(['PATCH', 'OPTIONS', 'PUT', 'DELETE', 'POST', 'PROPFIND', 'HEAD']);
  const path = r.pick(['/version', '/', `/infrastructures/${victim}/state`, `/infrastructures/${victim}/vms/0/state`, '/stats', '/clouds/one/images', '/nowhere', '/infrastructures/x/y/z/w/v/u']);
  return { api: 'rest', family: 'method', method, path, headers: { Authorization: GOOD } };
}

// --- XML-RPC ----------------------------------------------------------------------------------

const METHOD_ARITY: Record<string, number> = {
  GetVersion: 0, GetInfrastructureList: 2, CreateInfrastructure: 3, GetInfrastructureInfo: 2, GetInfrastructureContMsg: 3,
  GetInfrastructureState: 2, GetInfrastructureRADL: 2, GetVMInfo: 3, GetVMProperty: 4, GetVMContMsg: 3, AlterVM: 4,
  DestroyInfrastructure: 4, AddResource: 4, RemoveResource: 4, StopInfrastructure: 2, StartInfrastructure: 2, StopVM: 3,
  StartVM: 3, RebootVM: 3, Reconfigure: 4, ExportInfrastructure: 3, ImportInfrastructure: 2, CreateDiskSnapshot: 6,
  GetCloudImageList: 3, GetCloudQuotas: 2, ChangeInfrastructureAuth: 4, GetInfrastructureOwners: 2, EstimateResources: 2, GetStats: 3,
};
const METHOD_NAMES = Object.keys(METHOD_ARITY);

function randomValue(r: Rng, depth = 0): XmlRpcValue {
  switch (r.int(depth > 2 ? 7 : 10)) {
    case 0: return r.pick(['', victim, '0', '..', '%00', 'x'.repeat(r.int(3000)), VALID_RADL, RADL_BAD(r), '-1', 'one']);
    case 1: return r.pick([0, -1, 1, 2147483647, -2147483648, 99]);
    case 2: return r.pick([true, false]);
    case 3: return r.next() * 1e6;
    case 4: return new Date(r.int(2) ? 0 : 4102444800000);
    case 5: return Buffer.from(noise(r, 1 + r.int(40)));
    case 6: return r.pick([null, GOOD_RPC as XmlRpcValue, [{ type: 'InfrastructureManager', username: USER, password: 'wrong' }]]);
    case 7: return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 8: return { [r.pick(['type', 'username', 'id', '', '__proto__', 'x'.repeat(100)])]: randomValue(r, depth + 1) };
    default: return [{ type: r.pick(['InfrastructureManager', 'Dummy', 5 as unknown as string, '']), username: USER, password: PASS, id: r.pick(['one', 'bad id', '']) }];
  }
}

function rpcWrongParams(r: Rng): Req {
  const method = r.pick(METHOD_NAMES);
  const arity = METHOD_ARITY[method];
  const n = r.int(3) === 0 ? arity + 1 + r.int(3) : r.int(arity + 1);
  const params = Array.from({ length: n }, () => randomValue(r));
  // Half the time: the right arity with the good auth in its place, so the core sees the bad values.
  if (r.int(2) === 0 && arity > 0 && n >= 2) params[Math.min(n, arity) - 1 - (method === 'GetInfrastructureList' || method === 'CreateInfrastructure' || method === 'GetCloudImageList' ? 1 : 0)] = GOOD_RPC;
  return { api: 'rpc', family: 'rpc-params', body: encodeMethodCall(method, params, { allowNil: true, invalidChars: 'replace' }) };
}

const VALID_CALL = () => encodeMethodCall('GetInfrastructureInfo', [victim, GOOD_RPC]);

function rpcMalformed(r: Rng): Req {
  const valid = VALID_CALL();
  const wrap = (inner: string) => `<?xml version="1.0"?><methodCall><methodName>GetInfrastructureInfo</methodName><params>${inner}</params></methodCall>`;
  const cases: (() => string | Buffer)[] = [
    () => valid.slice(0, r.int(valid.length)),
    () => mutate(r, valid),
    () => `<?xml version="1.0"?>\n<!DOCTYPE methodCall [<!ENTITY a "${'A'.repeat(50)}"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>\n<methodCall><methodName>GetVersion</methodName><params><param><value>&c;</value></param></params></methodCall>`,
    () => `<?xml version="1.0"?>\n<!DOCTYPE methodCall [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n<methodCall><methodName>GetInfrastructureList</methodName><params><param><value>&xxe;</value></param></params></methodCall>`,
    () => `<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd"><methodCall><methodName>GetVersion</methodName></methodCall>`,
    () => `<?xml version="1.0"?><methodCall xmlns:xi="http://www.w3.org/2001/XInclude"><methodName>GetVersion</methodName><params><param><value><xi:include href="file:///etc/passwd" parse="text"/></value></param></params></methodCall>`,
    () => wrap(`<param><value>${'<array><data><value>'.repeat(70 + r.int(500))}1${'</value></data></array>'.repeat(70)}</value></param>`),
    () => wrap(`<param><value><i4>${r.pick(['99999999999', '-', '1.5', '', '0x10', '１'])}</i4></value></param>`),
    () => wrap(`<param><value><base64>${r.pick(['!!!', '====', 'a', '\u0000'])}</base64></value></param>`),
    () => wrap(`<param><value><dateTime.iso8601>${r.pick(['yesterday', '20201340T99:99:99', ''])}</dateTime.iso8601></value></param>`),
    () => wrap(`<param><value><double>${r.pick(['NaN', '1e99999', 'abc', ''])}</double></value></param>`),
    () => wrap(`<param><value><struct><member><value>x</value></member></struct></value></param>`),
    () => wrap(`<param><value><struct>${'<member><name>a</name><value>1</value></member>'.repeat(2 + r.int(50))}</struct></value></param>`),
    () => wrap(`<param><value><unknown>1</unknown></value></param>`),
    () => wrap(`<param><value><boolean>${r.pick(['2', 'true', 'yes', ''])}</boolean></value></param>`),
    () => `<?xml version="1.0" encoding="${r.pick(['UTF-7', 'EBCDIC-US', 'x-unknown', 'UTF-16', 'UTF-32'])}"?>${valid.replace(/^<\?xml[^>]*\?>/, '')}`,
    () => Buffer.concat([Buffer.from(valid.slice(0, 80)), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0x00]), Buffer.from(valid.slice(80))]),
    () => `\ufeff\ufeff${valid}`,
    () => `<?xml version="1.0"?><methodCall><methodName>${r.pick(['', ' ', 'x'.repeat(5000), '../../GetVersion', 'Get\u0000Version', 'system.multicall', '__proto__', 'constructor'])}</methodName></methodCall>`,
    () => `<?xml version="1.0"?><?php system('id'); ?><methodCall><methodName>GetVersion</methodName></methodCall>`,
    () => `<?xml version="1.0"?><methodCall><methodName>GetVersion</methodName><params><param><value><![CDATA[${noise(r, 30)}]]></value></param></params></methodCall>`,
    () => valid + valid,
    () => `<?xml version="1.0"?><methodResponse><params><param><value>1</value></param></params></methodResponse>`,
    () => JSON.stringify({ method: 'GetVersion', params: [] }),
    () => noise(r, 10 + r.int(300)),
    () => `<methodCall>${'<methodName>'.repeat(1000)}`,
  ];
  return { api: 'rpc', family: 'rpc-xml', body: r.pick(cases)() };
}

function rpcOversize(r: Rng): Req {
  return { api: 'rpc', family: 'rpc-oversize', body: encodeMethodCall('CreateInfrastructure', [`system front ( cpu.count >= 1 )\n#${'x'.repeat(MAX_BODY_SIZE + r.int(2 * MAX_BODY_SIZE))}`, GOOD_RPC]) };
}

function rpcWrongTransport(r: Rng): Req {
  return { api: 'rpc', family: 'rpc-transport', body: VALID_CALL(), headers: { 'Content-Type': r.pick(['application/json', 'text/plain', 'multipart/form-data', '', 'x'.repeat(1000)]), 'Content-Encoding': r.pick(['gzip', 'identity', 'br', 'x']) } };
}

function rawOddity(r: Rng): Req {
  const cases = [
    `GET /infrastructures/../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD}\r\n\r\n`,
    `GET /infrastructures HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD}\r\nX-Big: ${'x'.repeat(20_000)}\r\n\r\n`,
    `POST /infrastructures HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n0\r\n\r\n`,
    `POST /infrastructures HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef`,
    `GET /infrastructures HTTP/9.9\r\nHost: x\r\n\r\n`,
    `GARBAGE\r\n\r\n`,
    `GET /infrastructures\0 HTTP/1.1\r\nHost: x\r\n\r\n`,
    `GET /infrastructures HTTP/1.1\r\nHost: x\r\nAuthorization: a\nb\r\n\r\n`,
    `POST /infrastructures?dry_run=yes HTTP/1.1\r\nHost: x\r\nAuthorization: ${GOOD}\r\nContent-Length: -1\r\n\r\n`,
  ];
  return { api: 'raw', family: 'raw-http', bytes: r.pick(cases) };
}

const FAMILIES: [number, (r: Rng) => Req][] = [
  [14, restBadAuth], [14, restBadBody], [12, restBadId], [12, restBadQuery], [8, restBadMedia], [2, restOversize], [4, restBadMethod],
  [14, rpcWrongParams], [14, rpcMalformed], [1, rpcOversize], [3, rpcWrongTransport], [1, rawOddity],
];

function generate(seed: number, total: number): Req[] {
  const r = rng(seed);
  const weight = FAMILIES.reduce((s, [w]) => s + w, 0);
  return Array.from({ length: total }, () => {
    let x = r.int(weight);
    for (const [w, gen] of FAMILIES) {
      if (x < w) return gen(r);
      x -= w;
    }
    throw new Error('unreachable');
  });
}

async function send(req: Req): Promise<Answer | undefined> {
  if (req.api === 'rest') return sendRest(req.method, req.path, req.headers, req.body);
  if (req.api === 'raw') return sendRaw(req.bytes);
  const a = await rawRpc(rpcUrl, req.body, req.headers ?? { 'Content-Type': 'text/xml' });
  return { status: a.status, text: a.text, serverError: rpcServerError(a) };
}

// ---------------------------------------------------------------------------------------------

/** What the owner sees of the control infrastructure. */
async function controlView(): Promise<string[]> {
  const out: string[] = [];
  for (const p of ['', '/radl', '/state', '/authorization', '/vms/0', '/vms/1']) {
    const r = await call('GET', `/infrastructures/${control}${p}`, { auth: GOOD });
    out.push(`${r.status} ${r.text}`);
  }
  return out;
}

/** A normal session over both APIs; its duration. */
async function normalSession(): Promise<number> {
  const [, ms] = await timed(async () => {
    expect((await call('GET', '/version', { auth: null })).status).toBe(200);
    const id = await create(call, 1, { auth: GOOD });
    expect((await call('GET', `/infrastructures/${id}`, { auth: GOOD })).text.split('\n')).toHaveLength(1);
    expect((await call('GET', `/infrastructures/${id}/state`, { auth: GOOD })).status).toBe(200);
    expect((await call('POST', `/infrastructures/${id}`, { auth: GOOD, body: 'system front\ndeploy front 1' })).status).toBe(200);
    expect((await call('DELETE', `/infrastructures/${id}`, { auth: GOOD })).status).toBe(200);
    expect(rpcOk(await rpcCall(rpcUrl, 'GetVersion', []))).toBe(true);
    expect(rpcOk(await rpcCall(rpcUrl, 'GetInfrastructureInfo', [control, GOOD_RPC]))).toBe(true);
  });
  return ms;
}

describe('generated bad requests', () => {
  it(`${TOTAL} seeded bad requests: no 5xx, nothing hangs or leaks, and the service answers normally afterwards`, async () => {
    const reqs = generate(SEED, TOTAL);
    // The same seed gives the same requests.
    expect(JSON.stringify(generate(SEED, 50))).toBe(JSON.stringify(reqs.slice(0, 50)));
    const controlBefore = await controlView();
    const before = await normalSession();

    const [answers, ms] = await timed(() => pool(reqs.map((q) => () => send(q)), 12));
    const sent = answers.filter((a): a is Answer => a !== undefined);
    const byFamily: Record<string, number> = {};
    const byStatus: Record<string, number> = {};
    const fiveXX: string[] = [];
    const leaks: string[] = [];
    let accepted = 0;
    answers.forEach((a, i) => {
      if (!a) return;
      const q = reqs[i];
      byFamily[q.family] = (byFamily[q.family] ?? 0) + 1;
      byStatus[a.status] = (byStatus[a.status] ?? 0) + 1;
      const what = q.api === 'rest' ? `${q.method} ${q.path.slice(0, 120)} [${JSON.stringify(q.headers).slice(0, 160)}] body ${String(q.body ?? '').slice(0, 120)}` : q.api === 'rpc' ? `XML-RPC ${String(q.body).slice(0, 240)}` : `raw ${q.bytes.slice(0, 120)}`;
      if (a.serverError) fiveXX.push(`${what} → ${a.status} ${a.text.slice(0, 300)}`);
      if (/root:x?:0:0|AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA|pwned/.test(a.text)) leaks.push(`${what} → ${a.text.slice(0, 300)}`);
      if (q.api === 'rest' && a.status >= 200 && a.status < 300) accepted++;
    });
    const hung = sent.filter((a) => a.hung).length;
    const after = await normalSession();
    const controlAfter = await controlView();
    const victimAfter = await call('GET', `/infrastructures/${victim}`, { auth: GOOD });

    summary('bad-requests', {
      seed: SEED, generated: reqs.length, sent: sent.length, fiveXX: fiveXX.length, hung, leaks: leaks.length, restAccepted2xx: accepted, victimAfter: `${victimAfter.status} ${victimAfter.text.slice(0, 60)}`,
      byFamily, byStatus, ms, normalSessionMsBefore: before, normalSessionMsAfter: after,
    });
    expect(sent.length).toBeGreaterThanOrEqual(3000);
    if (fiveXX.length) console.log(fiveXX.join('\n'));
    expect(fiveXX.slice(0, 20)).toEqual([]);
    expect(fiveXX.length).toBe(0);
    expect(hung).toBe(0);
    expect(leaks).toEqual([]);
    expect(controlAfter).toEqual(controlBefore);
    expect(after).toBeLessThan(Math.max(5000, before * 5));
  }, 170_000);
});
