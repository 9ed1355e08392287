/**
 * The XML-RPC dispatcher: method table coverage (names, parameter names and order, optional
 * params), arity and wire-type validation (fault -32602 naming the parameter), unknown methods
 * (-32601), decode problems (the codec's fault codes), and the mapping of core errors through
 * ERROR_TABLE — all against a fake Services (no store, no AWS).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '#core/config';
import { ImError, GENERIC_INTERNAL_MESSAGE } from '#core/errors';
import type { InfrastructureStore, Logger, Services } from '#core/types';
import {
  FAULT_INTERNAL,
  FAULT_INVALID_PARAMS,
  FAULT_INVALID_REQUEST,
  FAULT_METHOD_NOT_FOUND,
  FAULT_PARSE,
  decodeMethodResponse,
  encodeMethodCall,
  type XmlRpcValue,
} from '#api/xmlrpc/codec';
import { dispatchCall, errorReply, handleXmlRpc, type DispatchDeps } from '#api/xmlrpc/dispatcher';
import { METHODS, findMethod } from '#api/xmlrpc/methods';
import { createAuthServices } from '#adapters/auth-services';

// ---------------------------------------------------------------------------------------------
// Fakes
// ---------------------------------------------------------------------------------------------

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** A store that knows no infrastructure (every infra method then answers "Invalid infrastructure ID"). */
function emptyStore(): InfrastructureStore {
  const none = async () => undefined;
  const empty = async () => [];
  return {
    createInfrastructure: async () => {
      throw new Error('read-only fake');
    },
    getInfrastructure: none,
    updateInfrastructure: async () => {
      throw new Error('read-only fake');
    },
    listInfrastructures: empty,
    listInfrastructureIds: empty,
    reserveVmIds: async () => [],
    putVm: none,
    putVms: none,
    getVm: none,
    listVms: empty,
    updateVm: async () => {
      throw new Error('read-only fake');
    },
    updateVms: async () => {
      throw new Error('read-only fake');
    },
    appendLog: none,
    getLog: async () => '',
    clearLog: none,
    deleteInfrastructureData: none,
    purge: async () => ({ infrastructures: 0, items: 0 }),
    health: async () => ({ ok: true }),
  };
}

function fakeServices(config: Config, logger: Logger): Services {
  return {
    config,
    store: emptyStore(),
    connectors: { get: () => undefined, types: () => [] },
    orchestrator: {
      start: async () => {
        throw new Error('no orchestrator in this test');
      },
      wait: async () => 'SUCCEEDED',
    },
    logger,
    secrets: { seal: (s) => s, open: (s) => s },
    auth: createAuthServices({ config }),
    now: () => Date.now(),
  };
}

function deps(overrides: Partial<Config> = {}, logger: Logger = silent): DispatchDeps {
  const config = { ...loadConfig({}), ...overrides };
  return { config, logger, services: fakeServices(config, logger) };
}

type Decoded = { fault?: { faultCode: number; faultString: string }; value?: XmlRpcValue };

async function call(method: string, params: XmlRpcValue[], d: DispatchDeps = deps()): Promise<Decoded> {
  const reply = await dispatchCall(method, params, d);
  return decodeMethodResponse(reply.body);
}

// ---------------------------------------------------------------------------------------------
// The spec's table (xmlrpc-api.md §3): method → parameter names in order; `?` = optional
// ---------------------------------------------------------------------------------------------

const SPEC: Record<string, string[]> = {
  GetVersion: [],
  GetInfrastructureList: ['auth', 'filter?'],
  CreateInfrastructure: ['radl', 'auth', 'async?'],
  GetInfrastructureInfo: ['infId', 'auth'],
  GetInfrastructureContMsg: ['infId', 'auth', 'headeronly?'],
  GetInfrastructureState: ['infId', 'auth'],
  GetInfrastructureRADL: ['infId', 'auth'],
  GetVMInfo: ['infId', 'vmId', 'auth'],
  GetVMProperty: ['infId', 'vmId', 'property_name', 'auth'],
  GetVMContMsg: ['infId', 'vmId', 'auth'],
  AlterVM: ['infId', 'vmId', 'radl', 'auth'],
  DestroyInfrastructure: ['infId', 'auth', 'force?', 'async?'],
  AddResource: ['infId', 'radl', 'auth', 'context?'],
  RemoveResource: ['infId', 'vmIds', 'auth', 'context?'],
  StopInfrastructure: ['infId', 'auth'],
  StartInfrastructure: ['infId', 'auth'],
  StopVM: ['infId', 'vmId', 'auth'],
  StartVM: ['infId', 'vmId', 'auth'],
  RebootVM: ['infId', 'vmId', 'auth'],
  Reconfigure: ['infId', 'radl', 'auth', 'vm_list?'],
  ExportInfrastructure: ['infId', 'delete', 'auth'],
  ImportInfrastructure: ['strInf', 'auth'],
  CreateDiskSnapshot: ['infId', 'vmId', 'diskNum', 'imageName', 'autoDelete', 'auth'],
  GetCloudImageList: ['cloudId', 'auth', 'filters?'],
  GetCloudQuotas: ['cloudId', 'auth'],
  ChangeInfrastructureAuth: ['infId', 'newAuth', 'overwrite', 'auth'],
  GetInfrastructureOwners: ['infId', 'auth'],
  EstimateResources: ['radl', 'auth'],
  GetStats: ['init_date', 'end_date', 'auth'],
};

const AUTH = [{ type: 'InfrastructureManager', username: 'user', password: 'pass' }];

/** A well-typed value for each parameter name. */
const VALID: Record<string, XmlRpcValue> = {
  auth: AUTH,
  newAuth: [{ type: 'InfrastructureManager', username: 'other', password: 'pw' }],
  filter: '.*',
  radl: 'system node ( memory.size >= 512m )',
  async: false,
  infId: 'no-such-infrastructure',
  headeronly: true,
  vmId: '0',
  property_name: 'state',
  force: false,
  context: false,
  vmIds: '0,1',
  vm_list: [0],
  delete: false,
  strInf: '{}',
  diskNum: 0,
  imageName: 'image',
  autoDelete: false,
  cloudId: 'dummy',
  filters: { region: 'us-east-1' },
  overwrite: false,
  init_date: '2024-01-01',
  end_date: '',
};

/** A value of the wrong wire type for each parameter name, with the type name the fault reports. */
const WRONG: Record<string, [XmlRpcValue, string]> = {
  auth: ['type = InfrastructureManager; username = u; password = p', 'string'],
  newAuth: [{ type: 'InfrastructureManager' }, 'struct'],
  filter: [1, 'int'],
  radl: [['system node ()'], 'array'],
  async: ['yes', 'string'],
  infId: [12, 'int'],
  headeronly: [2, 'int'],
  vmId: [[0], 'array'],
  property_name: [true, 'boolean'],
  force: ['true', 'string'],
  context: [1.5, 'double'],
  vmIds: [{ id: '0' }, 'struct'],
  vm_list: [['a'], 'array'],
  delete: [new Date(0), 'dateTime.iso8601'],
  strInf: [{ id: 'x' }, 'struct'],
  diskNum: ['0', 'string'],
  imageName: [0, 'int'],
  autoDelete: ['no', 'string'],
  cloudId: [[], 'array'],
  filters: [5, 'int'],
  overwrite: [new Uint8Array([1]), 'base64'],
  init_date: [20240101, 'int'],
  end_date: [[], 'array'],
};

const names = (method: string) => SPEC[method].map((n) => n.replace('?', ''));
const validArgs = (method: string) => names(method).map((n) => VALID[n]);
const required = (method: string) => SPEC[method].filter((n) => !n.endsWith('?')).length;

// ---------------------------------------------------------------------------------------------

describe('the method table', () => {
  it('registers exactly the 29 methods of the spec, with its parameter names, order and optional params', () => {
    expect(Object.keys(METHODS).sort()).toEqual(Object.keys(SPEC).sort());
    expect(Object.keys(METHODS)).toHaveLength(29);
    for (const [method, params] of Object.entries(SPEC)) {
      expect(METHODS[method].params.map((p) => p.name + (p.optional ? '?' : '')), method).toEqual(params);
    }
  });

  it('puts optional parameters last (they are positional)', () => {
    for (const [method, def] of Object.entries(METHODS)) {
      const firstOptional = def.params.findIndex((p) => p.optional);
      if (firstOptional >= 0) expect(def.params.slice(firstOptional).every((p) => p.optional), method).toBe(true);
    }
  });

  it('finds own entries only', () => {
    for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) expect(findMethod(name)).toBeUndefined();
    expect(findMethod('GetVersion')).toBeDefined();
  });
});

describe('arity', () => {
  for (const method of Object.keys(SPEC)) {
    const all = names(method);
    const min = required(method);

    it(`${method}: too many parameters → fault -32602 listing the parameters`, async () => {
      const r = await call(method, [...validArgs(method), 'extra']);
      expect(r.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
      expect(r.fault?.faultString).toContain(`Incorrect number of parameters for ${method}`);
      expect(r.fault?.faultString).toContain(`got ${all.length + 1}`);
      for (const n of all) expect(r.fault?.faultString).toContain(n);
    });

    if (min > 0) {
      it(`${method}: too few parameters → fault -32602`, async () => {
        const r = await call(method, validArgs(method).slice(0, min - 1));
        expect(r.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
        expect(r.fault?.faultString).toContain(`got ${min - 1}`);
      });
    }

    it(`${method}: every accepted arity (${min}..${all.length}) passes validation`, async () => {
      for (let n = min; n <= all.length; n++) {
        const r = await call(method, validArgs(method).slice(0, n));
        expect(r.fault?.faultCode, `${method} with ${n} params: ${r.fault?.faultString}`).not.toBe(FAULT_INVALID_PARAMS);
      }
    });
  }
});

describe('parameter wire types', () => {
  for (const method of Object.keys(SPEC)) {
    names(method).forEach((name, i) => {
      it(`${method}: a wrong type for '${name}' → fault -32602 naming it`, async () => {
        const args = validArgs(method);
        const [bad, typeName] = WRONG[name];
        args[i] = bad;
        const r = await call(method, args);
        expect(r.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
        expect(r.fault?.faultString).toContain(`parameter '${name}'`);
        expect(r.fault?.faultString).toContain(typeName);
      });
    });
  }

  it('a nil in a required position is a type fault; in an optional position it means the default', async () => {
    const r1 = await call('GetInfrastructureInfo', [null, AUTH]);
    expect(r1.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
    expect(r1.fault?.faultString).toContain('nil');
    const r2 = await call('GetInfrastructureList', [AUTH, null]);
    expect(r2).toEqual({ value: [true, []] });
  });

  it('booleans accept true/false and the ints 0/1 only', async () => {
    for (const ok of [true, false, 0, 1]) {
      const r = await call('GetInfrastructureContMsg', ['x', AUTH, ok]);
      expect(r.fault, String(ok)).toBeUndefined();
    }
    const r = await call('GetInfrastructureContMsg', ['x', AUTH, -1]);
    expect(r.fault?.faultString).toContain("parameter 'headeronly': expected a boolean, got int");
  });

  it('VM ids may be strings or ints; RemoveResource also takes arrays; Reconfigure also takes the "1,2" text', async () => {
    for (const vm of ['0', 0, 7]) expect((await call('GetVMInfo', ['x', vm, AUTH])).fault).toBeUndefined();
    for (const ids of ['0,1', 3, ['0', 1]]) expect((await call('RemoveResource', ['x', ids, AUTH])).fault).toBeUndefined();
    for (const list of [[0, 1], '0,1']) expect((await call('Reconfigure', ['x', '', AUTH, list])).fault).toBeUndefined();
    const r = await call('RemoveResource', ['x', [['0']], AUTH]);
    expect(r.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
  });

  it('auth items are structs of scalars; a nested value names the item and member', async () => {
    const r = await call('GetInfrastructureList', [[{ type: 'InfrastructureManager', username: ['u'] }]]);
    expect(r.fault?.faultCode).toBe(FAULT_INVALID_PARAMS);
    expect(r.fault?.faultString).toBe("Incorrect type for parameter 'auth' (item 0): member 'username' must be a string, got array");
    const r2 = await call('GetInfrastructureList', [[AUTH[0], 'x']]);
    expect(r2.fault?.faultString).toContain("parameter 'auth': expected a struct, got string (item 1)");
  });

  it('never echoes parameter values in faults (they may be secrets)', async () => {
    const r = await call('GetInfrastructureList', [[{ type: 'InfrastructureManager', username: 'u', password: ['s3cr3t'] }]]);
    expect(r.fault?.faultString).not.toContain('s3cr3t');
  });
});

describe('faults and results', () => {
  it('unknown methods → fault -32601', async () => {
    for (const m of ['NoSuchMethod', 'getVersion', 'toString', '__proto__', 'system.listMethods']) {
      const r = await call(m, []);
      expect(r.fault?.faultCode, m).toBe(FAULT_METHOD_NOT_FOUND);
      expect(r.fault?.faultString).toBe(`method "${m}" is not supported`);
    }
  });

  it('GetVersion answers [true, IM_VERSION] without touching the store', async () => {
    const d = deps({ IM_VERSION: '9.8.7' });
    d.services.store = new Proxy({}, { get: () => { throw new Error('store touched'); } }) as Services['store'];
    expect(await call('GetVersion', [], d)).toEqual({ value: [true, '9.8.7'] });
  });

  it('operation errors are [false, message] with the core texts', async () => {
    expect(await call('GetInfrastructureInfo', ['nope', AUTH])).toEqual({
      value: [false, 'Invalid infrastructure ID or access not granted.'],
    });
    expect(await call('GetInfrastructureList', [[{ type: 'Dummy' }]])).toEqual({
      value: [false, 'No credentials provided for the InfrastructureManager.'],
    });
    expect(await call('GetInfrastructureList', [[{ type: 'InfrastructureManager', username: 'u' }]])).toEqual({
      value: [false, 'Invalid InfrastructureManager credentials'],
    });
    // the auth module's item checks apply (ids)
    expect(await call('GetInfrastructureList', [[{ ...AUTH[0], id: 'bad id!' }]])).toEqual({
      value: [false, 'Incorrect value in auth item id: bad id!'],
    });
    // bad dates / regexes come from the core too
    expect(await call('GetStats', ['01/2024', '', AUTH])).toEqual({
      value: [false, 'Incorrect format in init_date parameter: YYYY/MM/dd'],
    });
    expect(await call('GetInfrastructureList', [AUTH, '('])).toMatchObject({ value: [false, expect.stringContaining('Invalid regular expression')] });
    expect(await call('GetCloudImageList', ['dummy', AUTH, 'region'])).toEqual({ value: [false, 'Invalid format in filters parameter.'] });
    expect(await call('Reconfigure', ['x', '', AUTH, '1,a'])).toEqual({ value: [false, 'Incorrect vm_list format.'] });
  });

  it('BOOT_MODE refusals are [false, "Function currently disabled."]', async () => {
    expect(await call('CreateInfrastructure', ['', AUTH], deps({ BOOT_MODE: 1 }))).toEqual({
      value: [false, 'Function currently disabled.'],
    });
  });

  it('internal errors → fault -32603 with the generic message, details only in the log', async () => {
    const logged: unknown[] = [];
    const logger: Logger = { ...silent, error: (msg, fields) => logged.push([msg, fields]) };
    const d = deps({}, logger);
    d.services.store.listInfrastructureIds = async () => {
      throw new Error('DynamoDB exploded: password=hunter2');
    };
    d.services.store.listInfrastructures = d.services.store.listInfrastructureIds as never;
    const r = await call('GetInfrastructureList', [AUTH], d);
    expect(r.fault).toEqual({ faultCode: FAULT_INTERNAL, faultString: GENERIC_INTERNAL_MESSAGE });
    expect(logged).toHaveLength(1);
  });

  it('errors whose table entry is a number are faults with that code', async () => {
    const reply = errorReply(new ImError('PAYLOAD_TOO_LARGE', 'request body exceeds 1024 bytes'), silent);
    expect(decodeMethodResponse(reply.body).fault).toEqual({ faultCode: FAULT_INVALID_REQUEST, faultString: 'request body exceeds 1024 bytes' });
    const r2 = errorReply(new ImError('INVALID_STATE', 'Invalid State to perform this operation.'), silent);
    expect(decodeMethodResponse(r2.body).value).toEqual([false, 'Invalid State to perform this operation.']);
  });

  it('[false, message] never fails on characters XML cannot carry', async () => {
    const reply = errorReply(new ImError('BAD_REQUEST', 'Line 1: Parse error in: \u0001'), silent);
    expect(decodeMethodResponse(reply.body).value).toEqual([false, 'Line 1: Parse error in: \uFFFD']);
  });
});

describe('whole requests (bytes → reply)', () => {
  const d = deps({ MAX_BODY_SIZE: 2048 });
  const send = async (body: string | Buffer) => decodeMethodResponse((await handleXmlRpc(Buffer.from(body), d)).body);

  it('a well-formed call', async () => {
    expect(await send(encodeMethodCall('GetVersion', []))).toEqual({ value: [true, d.config.IM_VERSION] });
  });

  it('DOCTYPE / entities → fault, nothing expanded', async () => {
    const xml =
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><methodCall><methodName>GetVersion</methodName></methodCall>';
    const r = await send(xml);
    expect(r.fault?.faultCode).toBeLessThan(0);
    expect(r.fault?.faultString).toMatch(/DOCTYPE|DTD|declaration/i);
  });

  it('oversize body → fault -32600', async () => {
    const r = await send(encodeMethodCall('GetInfrastructureList', [AUTH, 'x'.repeat(4096)]));
    expect(r.fault).toEqual({ faultCode: FAULT_INVALID_REQUEST, faultString: 'request body exceeds 2048 bytes' });
  });

  it('truncated / not XML / empty → parse fault', async () => {
    const full = encodeMethodCall('GetInfrastructureInfo', ['x', AUTH]);
    for (const body of [full.slice(0, full.length - 20), 'hello', '']) {
      const r = await send(body);
      expect(r.fault?.faultCode, body).toBe(FAULT_PARSE);
    }
  });
});
