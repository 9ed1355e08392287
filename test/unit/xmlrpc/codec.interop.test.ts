/**
 * Interoperability of the codec with the npm `xmlrpc` library (serializer, deserializer and a real client over
 * HTTP on 127.0.0.1) and, when a python3 is available, with Python's xmlrpc.client — the marshaller used by IM's
 * reference implementation and its Python clients.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { PassThrough } from 'node:stream';
import xmlrpc from 'xmlrpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAULT_INVALID_REQUEST,
  FAULT_METHOD_NOT_FOUND,
  XmlRpcDecodeError,
  XmlRpcDouble,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  type XmlRpcValue,
} from '#api/xmlrpc/codec';

// The library's internal modules have no type declarations.
interface SerializerModule {
  serializeMethodCall(method: string, params: unknown[], encoding?: string): string;
  serializeMethodResponse(result: unknown): string;
  serializeFault(fault: unknown): string;
}
type DeserializerCtor = new (encoding?: string) => {
  deserializeMethodResponse(stream: NodeJS.ReadableStream, cb: (err: unknown, value: unknown) => void): void;
  deserializeMethodCall(
    stream: NodeJS.ReadableStream,
    cb: (err: unknown, method: string, params: unknown[]) => void,
  ): void;
};
interface DateFormatterModule {
  setOpts(opts?: { local?: boolean }): void;
}

const require = createRequire(import.meta.url);
const Serializer = require('xmlrpc/lib/serializer.js') as SerializerModule;
const Deserializer = require('xmlrpc/lib/deserializer.js') as DeserializerCtor;
const dateFormatter = require('xmlrpc/lib/date_formatter.js') as DateFormatterModule;

function streamOf(text: string): PassThrough {
  const s = new PassThrough();
  s.end(text);
  return s;
}
function libDecodeResponse(xml: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodResponse(streamOf(xml), (err, value) => (err ? reject(err) : resolve(value)));
  });
}
function libDecodeCall(xml: string): Promise<{ method: string; params: unknown[] }> {
  return new Promise((resolve, reject) => {
    new Deserializer().deserializeMethodCall(streamOf(xml), (err, method, params) =>
      err ? reject(err) : resolve({ method, params }),
    );
  });
}

const UTC_DATE = new Date(Date.UTC(2023, 10, 5, 6, 7, 8));

// ------------------------------------------------------------------------------------------------------------------
// npm xmlrpc serializer → our decoder
// ------------------------------------------------------------------------------------------------------------------

describe('npm xmlrpc Serializer → decodeMethodCall / decodeMethodResponse', () => {
  beforeAll(() => dateFormatter.setOpts({ local: false })); // emit UTC with a trailing Z
  afterAll(() => dateFormatter.setOpts()); // library defaults

  const params: unknown[] = [
    'plain',
    '', // serialized as <string/>
    'needs <escaping> & "quotes"', // serialized as CDATA
    'tricky ]]> but no markup chars',
    '  spaced\n\ttext  ',
    'ünïcödé 😀',
    0,
    -17,
    2147483647,
    2 ** 40, // the library sends any integral number as <int>
    1.5,
    1e-7, // the library sends exponent notation
    true,
    false,
    null,
    UTC_DATE,
    Buffer.from([0, 1, 2, 250, 255]),
    [],
    {},
    [1, ['nested', { deep: [true] }]],
    [
      { type: 'InfrastructureManager', username: 'user', password: 'pass' },
      { id: 'ost', type: 'OpenStack', host: 'https://ost:5000', username: 'u', password: 'p', tenant: 't' },
    ],
  ];
  const expected: XmlRpcValue[] = [
    'plain',
    '',
    'needs <escaping> & "quotes"',
    'tricky ]]> but no markup chars',
    '  spaced\n\ttext  ',
    'ünïcödé 😀',
    0,
    -17,
    2147483647,
    2 ** 40,
    1.5,
    1e-7,
    true,
    false,
    null,
    UTC_DATE,
    new Uint8Array([0, 1, 2, 250, 255]),
    [],
    {},
    [1, ['nested', { deep: [true] }]],
    [
      { type: 'InfrastructureManager', username: 'user', password: 'pass' },
      { id: 'ost', type: 'OpenStack', host: 'https://ost:5000', username: 'u', password: 'p', tenant: 't' },
    ],
  ];

  it('decodes every parameter of a serialized methodCall', () => {
    const xml = Serializer.serializeMethodCall('CreateInfrastructure', params);
    expect(decodeMethodCall(xml)).toEqual({ methodName: 'CreateInfrastructure', params: expected });
    expect(decodeMethodCall(new TextEncoder().encode(xml)).params).toEqual(expected);
  });

  it('decodes each value of a serialized methodResponse', () => {
    params.forEach((p, i) => {
      expect(decodeMethodResponse(Serializer.serializeMethodResponse(p))).toEqual({ value: expected[i] });
    });
  });

  it('decodes a serialized fault', () => {
    const xml = Serializer.serializeFault({ faultCode: 42, faultString: 'bad <thing>' });
    expect(decodeMethodResponse(xml)).toEqual({ fault: { faultCode: 42, faultString: 'bad <thing>' } });
  });

  it('decodes the library ISO-8859-1 methodCall encoding when given bytes', () => {
    const xml = Serializer.serializeMethodCall('M', ['café'], 'ISO-8859-1');
    expect(xml).toContain('encoding="ISO-8859-1"');
    expect(decodeMethodCall(new Uint8Array(Buffer.from(xml, 'latin1'))).params).toEqual(['café']);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// our encoder → npm xmlrpc deserializer
// ------------------------------------------------------------------------------------------------------------------

describe('encodeMethodResponse / encodeFault → npm xmlrpc Deserializer', () => {
  it.each<[string, XmlRpcValue, unknown]>([
    ['string', 'hello', 'hello'],
    ['escaped string', 'a & b <c> ]]> "d"', 'a & b <c> ]]> "d"'],
    ['whitespace string', '  x\n\t ', '  x\n\t '],
    ['CR preserved via &#13;', 'a\r\nb', 'a\r\nb'],
    ['empty string', '', ''],
    ['unicode', 'ñ 😀', 'ñ 😀'],
    ['int', -42, -42],
    ['int32 max', 2147483647, 2147483647],
    ['i8 (the library returns i8 as a string)', 2 ** 40, String(2 ** 40)],
    ['bigint i8', 9223372036854775807n, '9223372036854775807'],
    ['double', 0.1, 0.1],
    ['tiny double (no exponent)', 1e-7, 1e-7],
    ['huge double (no exponent)', 1e300, 1e300],
    ['XmlRpcDouble', new XmlRpcDouble(3), 3],
    ['true', true, true],
    ['false', false, false],
    ['nil', null, null],
    ['base64', new Uint8Array([1, 2, 255]), Buffer.from([1, 2, 255])],
    ['array', [1, 'a', [true]], [1, 'a', [true]]],
    ['struct', { state: 'running', vm_states: { '0': 'running' } }, { state: 'running', vm_states: { '0': 'running' } }],
    ['IM-style result', [true, ['0', '1']], [true, ['0', '1']]],
  ])('%s', async (_n, value, libValue) => {
    await expect(libDecodeResponse(encodeMethodResponse(value))).resolves.toEqual(libValue);
  });

  it('dateTime (the library reads zone-less times as local time)', async () => {
    const got = (await libDecodeResponse(encodeMethodResponse(UTC_DATE))) as Date;
    expect(got).toBeInstanceOf(Date);
    // Compare wall-clock fields: the library interprets our UTC wall time in the local zone.
    expect([got.getFullYear(), got.getMonth(), got.getDate(), got.getHours(), got.getMinutes(), got.getSeconds()]).toEqual(
      [2023, 10, 5, 6, 7, 8],
    );
  });

  it('fault', async () => {
    await expect(libDecodeResponse(encodeFault(-32601, 'no <such> method'))).rejects.toMatchObject({
      faultCode: -32601,
      faultString: 'no <such> method',
    });
  });

  it('the library can read our methodCall too (symmetry)', async () => {
    await expect(libDecodeCall(encodeMethodCall('GetVMInfo', ['inf', 0, [{ type: 'Dummy' }]]))).resolves.toEqual({
      method: 'GetVMInfo',
      params: ['inf', 0, [{ type: 'Dummy' }]],
    });
  });
});

// ------------------------------------------------------------------------------------------------------------------
// real npm xmlrpc client over HTTP against a tiny server built on the codec
// ------------------------------------------------------------------------------------------------------------------

describe('npm xmlrpc client ↔ codec-based HTTP server', () => {
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: string;
        try {
          const { methodName, params } = decodeMethodCall(new Uint8Array(Buffer.concat(chunks)));
          if (methodName === 'Echo') body = encodeMethodResponse([true, params]);
          else if (methodName === 'GetVersion') body = encodeMethodResponse('1.19.2');
          else body = encodeFault(FAULT_METHOD_NOT_FOUND, `method "${methodName}" is not supported`);
        } catch (e) {
          body =
            e instanceof XmlRpcDecodeError ? encodeFault(e.faultCode, e.message) : encodeFault(-32603, 'internal');
        }
        res.writeHead(200, { 'Content-Type': 'text/xml' });
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const callLib = (method: string, params: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const client = xmlrpc.createClient({ host: '127.0.0.1', port, path: '/' });
      client.methodCall(method, params, (err, value) => (err ? reject(err) : resolve(value)));
    });

  it('GetVersion', async () => {
    await expect(callLib('GetVersion', [])).resolves.toBe('1.19.2');
  });

  it('echoes IM-style params', async () => {
    const auth = [{ type: 'InfrastructureManager', username: 'u', password: 'p&<>' }];
    const radl = "network publica (outbound = 'yes')\nsystem front (\n  cpu.count>=1\n)\n";
    await expect(callLib('Echo', [radl, auth, false, 3, 2.5, null])).resolves.toEqual([
      true,
      [radl, auth, false, 3, 2.5, null],
    ]);
  });

  it('unknown method → fault -32601', async () => {
    await expect(callLib('Nope', [])).rejects.toMatchObject({ faultCode: FAULT_METHOD_NOT_FOUND });
  });

  it('malformed request → decode fault', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/xml' },
      body: '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><methodCall/>',
    });
    expect(decodeMethodResponse(await res.text()).fault?.faultCode).toBe(FAULT_INVALID_REQUEST);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// Python xmlrpc.client (the reference's marshaller), when available
// ------------------------------------------------------------------------------------------------------------------

function findPython(): string | undefined {
  for (const cmd of ['python3', 'python']) {
    const r = spawnSync(cmd, ['-c', 'import sys, xmlrpc.client; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === '3') return cmd;
  }
  return undefined;
}
const PYTHON = findPython();

function runPython(script: string, input: string): string {
  const r = spawnSync(PYTHON as string, ['-c', script], { input, encoding: 'utf8', timeout: 20_000 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

describe.skipIf(!PYTHON)('Python xmlrpc.client interop', () => {
  it('decodes xmlrpc.client.dumps() output', () => {
    const script = `
import sys, datetime, xmlrpc.client as x
params = ("radl text\\r\\nwith CRLF & <markup>", [{"type": "InfrastructureManager", "username": "u", "password": "p"}],
          True, False, 0, -5, 2147483647, 1.5, 1e-7, 1e100, None, x.DateTime(datetime.datetime(2020, 2, 29, 1, 2, 3)),
          x.Binary(b"\\x00\\xffbin"), [], {}, "ünï 😀", "  ws  ")
sys.stdout.buffer.write(x.dumps(params, "CreateInfrastructure", allow_none=True).encode("utf-8"))
`;
    const xml = runPython(script, '');
    expect(decodeMethodCall(xml)).toEqual({
      methodName: 'CreateInfrastructure',
      params: [
        'radl text\nwith CRLF & <markup>', // raw CR is normalised by XML parsers (expat does the same)
        [{ type: 'InfrastructureManager', username: 'u', password: 'p' }],
        true,
        false,
        0,
        -5,
        2147483647,
        1.5,
        1e-7,
        1e100,
        null,
        new Date(Date.UTC(2020, 1, 29, 1, 2, 3)),
        new Uint8Array(Buffer.from('\x00\xffbin', 'latin1')),
        [],
        {},
        'ünï 😀',
        '  ws  ',
      ],
    });
  });

  it('xmlrpc.client.loads() reads our responses and faults', () => {
    const docs = [
      encodeMethodResponse([
        true,
        {
          s: 'a\r\nb & <c> ]]>',
          i: -3,
          big: 2 ** 40,
          d: 0.1,
          tiny: 1e-7,
          dd: new XmlRpcDouble(2),
          t: true,
          n: null,
          dt: UTC_DATE,
          b: new Uint8Array([0, 255]),
          u: 'ünï 😀',
          nested: [[], {}],
        },
      ]),
      encodeFault(-32601, 'method "X" is not supported'),
    ];
    const script = `
import sys, json, base64, datetime, xmlrpc.client as x
def conv(v):
    if isinstance(v, x.DateTime): return {"$date": v.value}
    if isinstance(v, x.Binary): return {"$b64": base64.b64encode(v.data).decode()}
    if isinstance(v, float): return {"$float": repr(v)}
    if isinstance(v, list): return [conv(i) for i in v]
    if isinstance(v, dict): return {k: conv(i) for k, i in v.items()}
    return v
out = []
for doc in json.load(sys.stdin):
    try:
        params, _ = x.loads(doc.encode("utf-8"), use_builtin_types=False)
        out.append({"ok": conv(params[0])})
    except x.Fault as f:
        out.append({"fault": [f.faultCode, f.faultString]})
print(json.dumps(out))
`;
    const result = JSON.parse(runPython(script, JSON.stringify(docs))) as unknown[];
    expect(result).toEqual([
      {
        ok: [
          true,
          {
            s: 'a\r\nb & <c> ]]>',
            i: -3,
            big: 2 ** 40,
            d: { $float: '0.1' },
            tiny: { $float: '1e-07' },
            dd: { $float: '2.0' },
            t: true,
            n: null,
            dt: { $date: '20231105T06:07:08' },
            b: { $b64: 'AP8=' },
            u: 'ünï 😀',
            nested: [[], {}],
          },
        ],
      },
      { fault: [-32601, 'method "X" is not supported'] },
    ]);
  });

  it('a truncated call is rejected by both', () => {
    const bad = '<methodCall><methodName>M</methodName>';
    const r = spawnSync(PYTHON as string, ['-c', 'import sys, xmlrpc.client as x; x.loads(sys.stdin.read())'], {
      input: bad,
      encoding: 'utf8',
    });
    expect(r.status).not.toBe(0);
    expect(() => decodeMethodCall(bad)).toThrow(XmlRpcDecodeError);
  });
});
