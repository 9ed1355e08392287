import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_BYTES,
  FAULT_INTERNAL,
  FAULT_INVALID_CHARACTER,
  FAULT_INVALID_PARAMS,
  FAULT_INVALID_REQUEST,
  FAULT_METHOD_NOT_FOUND,
  FAULT_PARSE,
  FAULT_UNSUPPORTED_ENCODING,
  XmlRpcDecodeError,
  XmlRpcDouble,
  XmlRpcEncodeError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  formatDouble,
  type XmlRpcValue,
} from '#api/xmlrpc/codec';

// ------------------------------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------------------------------

const call = (paramsXml: string, name = 'Echo'): string =>
  `<?xml version="1.0"?><methodCall><methodName>${name}</methodName><params>${paramsXml}</params></methodCall>`;
const callOne = (valueXml: string): string => call(`<param><value>${valueXml}</value></param>`);
const decodeOne = (valueXml: string): XmlRpcValue => {
  const { params } = decodeMethodCall(callOne(valueXml));
  expect(params).toHaveLength(1);
  return params[0];
};
const response = (inner: string): string => `<?xml version="1.0"?><methodResponse>${inner}</methodResponse>`;
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function decodeError(fn: () => unknown): XmlRpcDecodeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(XmlRpcDecodeError);
    return e as XmlRpcDecodeError;
  }
  throw new Error('expected an XmlRpcDecodeError, but decoding succeeded');
}
const callError = (body: string | Uint8Array): XmlRpcDecodeError => decodeError(() => decodeMethodCall(body));

function nestArrays(depth: number, leaf = '<int>1</int>'): string {
  return '<array><data><value>'.repeat(depth) + leaf + '</value></data></array>'.repeat(depth);
}
function nestStructs(depth: number): string {
  return '<struct><member><name>k</name><value>'.repeat(depth) + 'x' + '</value></member></struct>'.repeat(depth);
}

/** A rich, valid call exercising every type and several XML features (no trailing content after the root). */
const RICH_CALL =
  '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!-- leading comment -->\n' +
  '<methodCall xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions">\n' +
  '  <methodName>CreateInfrastructure</methodName>\n' +
  '  <params>\n' +
  '    <param><value><string>network net ( outbound = \'yes\' )\n système ☃ 😀 &lt;&amp;&gt;</string></value></param>\n' +
  '    <param><value><array><data>\n' +
  '      <value><struct>\n' +
  '        <member><name>type</name><value>InfrastructureManager</value></member>\n' +
  '        <member><name>password</name><value><string><![CDATA[p<&>w]]></string></value></member>\n' +
  '      </struct></value>\n' +
  '    </data></array></value></param>\n' +
  '    <param><value><boolean>1</boolean></value></param>\n' +
  '    <param><value><i4>-7</i4></value></param>\n' +
  '    <param><value><int>+42</int></value></param>\n' +
  '    <param><value><i8>9007199254740993</i8></value></param>\n' +
  '    <param><value><double>-12.214</double></value></param>\n' +
  '    <param><value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value></param>\n' +
  '    <param><value><base64>eW91IGNh\nbid0IHJlYWQgdGhpcyE=</base64></value></param>\n' +
  '    <param><value><ex:nil/></value></param>\n' +
  '    <param><value><nil /></value></param>\n' +
  '    <param><value>&#x1F600;&#65;</value></param>\n' +
  '  </params>\n' +
  '</methodCall>';

const RICH_EXPECTED: XmlRpcValue[] = [
  "network net ( outbound = 'yes' )\n système ☃ 😀 <&>",
  [{ type: 'InfrastructureManager', password: 'p<&>w' }],
  true,
  -7,
  42,
  9007199254740993n,
  -12.214,
  new Date(Date.UTC(1998, 6, 17, 14, 8, 55)),
  new Uint8Array(Buffer.from("you can't read this!")),
  null,
  null,
  '😀A',
];

/** What a value becomes after an encode/decode round trip. */
function normalize(v: XmlRpcValue): XmlRpcValue {
  if (v instanceof XmlRpcDouble) return v.value;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (v instanceof Date) return new Date(Math.floor(v.getTime() / 1000) * 1000);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, XmlRpcValue> = {};
    for (const k of Object.keys(v)) {
      Object.defineProperty(out, k, { value: normalize(v[k]), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

// ------------------------------------------------------------------------------------------------------------------
// constants
// ------------------------------------------------------------------------------------------------------------------

describe('fault code constants', () => {
  it('use the interoperability spec values', () => {
    expect(FAULT_PARSE).toBe(-32700);
    expect(FAULT_UNSUPPORTED_ENCODING).toBe(-32701);
    expect(FAULT_INVALID_CHARACTER).toBe(-32702);
    expect(FAULT_INVALID_REQUEST).toBe(-32600);
    expect(FAULT_METHOD_NOT_FOUND).toBe(-32601);
    expect(FAULT_INVALID_PARAMS).toBe(-32602);
    expect(FAULT_INTERNAL).toBe(-32603);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// round trips
// ------------------------------------------------------------------------------------------------------------------

const SAMPLES: Array<[string, XmlRpcValue]> = [
  ['empty string', ''],
  ['string with markup', 'a & b < c > d ]]> e "f" \'g\''],
  ['string with whitespace', '  \t lead and trail \n\n  '],
  ['string with CR/CRLF', 'line1\r\nline2\rline3\n'],
  ['unicode string', 'ñ 中文 😀 \u2028 \uFFFD'],
  ['int 0', 0],
  ['int max', 2147483647],
  ['int min', -2147483648],
  ['beyond int32 (i8)', 2147483648],
  ['negative i8', -9007199254740991],
  ['bigint beyond safe', 9223372036854775807n],
  ['bigint min', -9223372036854775808n],
  ['small bigint', 12n],
  ['double', 3.141592653589793],
  ['tiny double', 5e-324],
  ['huge double', 1.7976931348623157e308],
  ['negative zero', -0],
  ['non-safe integral double', 2 ** 60],
  ['XmlRpcDouble integral', new XmlRpcDouble(2)],
  ['true', true],
  ['false', false],
  ['null', null],
  ['date', new Date(Date.UTC(2024, 1, 29, 23, 59, 59))],
  ['date with ms (dropped)', new Date(Date.UTC(2001, 0, 2, 3, 4, 5, 678))],
  ['date year 0', new Date(Date.UTC(2000, 0, 1) - 2000 * 365.2425 * 86400000)],
  ['empty base64', new Uint8Array()],
  ['base64', new Uint8Array([0, 1, 2, 253, 254, 255])],
  ['empty array', []],
  ['empty struct', {}],
  ['nested', { a: [1, 'two', [3.5, { b: null }]], 'weird key <&>': { '': true } }],
  [
    'auth list',
    [
      { type: 'InfrastructureManager', username: 'u', password: 'p' },
      { id: 'one', type: 'OpenStack', host: 'https://keystone:5000', password: 'x\ny' },
    ],
  ],
];

describe('round trip', () => {
  it.each(SAMPLES)('methodCall: %s', (_name, value) => {
    const xml = encodeMethodCall('Echo', [value, 'sentinel']);
    const decoded = decodeMethodCall(xml);
    expect(decoded.methodName).toBe('Echo');
    expect(decoded.params).toEqual([normalize(value), 'sentinel']);
    // Also through bytes.
    expect(decodeMethodCall(utf8(xml)).params).toEqual([normalize(value), 'sentinel']);
  });

  it.each(SAMPLES)('methodResponse: %s', (_name, value) => {
    const decoded = decodeMethodResponse(encodeMethodResponse(value));
    expect(decoded).toEqual({ value: normalize(value) });
    expect(decoded.fault).toBeUndefined();
  });

  it('methodCall with no params', () => {
    expect(decodeMethodCall(encodeMethodCall('GetVersion', []))).toEqual({ methodName: 'GetVersion', params: [] });
  });

  it('all samples in one call', () => {
    const values = SAMPLES.map(([, v]) => v);
    expect(decodeMethodCall(encodeMethodCall('system.multicall', values)).params).toEqual(values.map(normalize));
  });

  it('fault', () => {
    const xml = encodeFault(-32601, 'method "X" is not supported <&>');
    expect(decodeMethodResponse(xml)).toEqual({
      fault: { faultCode: -32601, faultString: 'method "X" is not supported <&>' },
    });
  });

  it('preserves -0 exactly', () => {
    const v = decodeMethodResponse(encodeMethodResponse(-0)).value;
    expect(Object.is(v, -0)).toBe(true);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// encoding
// ------------------------------------------------------------------------------------------------------------------

describe('encoding', () => {
  it('produces the canonical envelope', () => {
    expect(encodeMethodResponse('ok')).toBe(
      '<?xml version="1.0"?><methodResponse><params><param><value><string>ok</string></value></param></params></methodResponse>',
    );
    expect(encodeMethodCall('GetVersion', [])).toBe(
      '<?xml version="1.0"?><methodCall><methodName>GetVersion</methodName><params></params></methodCall>',
    );
    expect(encodeFault(-1, 'boom')).toBe(
      '<?xml version="1.0"?><methodResponse><fault><value><struct>' +
        '<member><name>faultCode</name><value><int>-1</int></value></member>' +
        '<member><name>faultString</name><value><string>boom</string></value></member>' +
        '</struct></value></fault></methodResponse>',
    );
  });

  const inner = (v: XmlRpcValue): string =>
    encodeMethodResponse(v).replace(/^.*<param><value>|<\/value><\/param>.*$/g, '');

  it.each<[XmlRpcValue, string]>([
    [0, '<int>0</int>'],
    [-2147483648, '<int>-2147483648</int>'],
    [2147483647, '<int>2147483647</int>'],
    [2147483648, '<i8>2147483648</i8>'],
    [-2147483649, '<i8>-2147483649</i8>'],
    [Number.MAX_SAFE_INTEGER, '<i8>9007199254740991</i8>'],
    [2 ** 53, '<double>9007199254740992.0</double>'],
    [1.5, '<double>1.5</double>'],
    [-0.25, '<double>-0.25</double>'],
    [1e21, '<double>1000000000000000000000.0</double>'],
    [1.5e300, `<double>15${'0'.repeat(299)}.0</double>`],
    [1e-7, '<double>0.0000001</double>'],
    [-1.234e-10, '<double>-0.0000000001234</double>'],
    [5e-324, `<double>0.${'0'.repeat(323)}5</double>`],
    [-0, '<double>-0.0</double>'],
    [new XmlRpcDouble(3), '<double>3.0</double>'],
    [new XmlRpcDouble(0.1), '<double>0.1</double>'],
    [7n, '<int>7</int>'],
    [-(2n ** 31n), '<int>-2147483648</int>'],
    [2n ** 31n, '<i8>2147483648</i8>'],
    [2n ** 63n - 1n, '<i8>9223372036854775807</i8>'],
    [true, '<boolean>1</boolean>'],
    [false, '<boolean>0</boolean>'],
    [null, '<nil/>'],
    ['', '<string></string>'],
    ['a&b<c>d]]>e\r\n"\'', '<string>a&amp;b&lt;c&gt;d]]&gt;e&#13;\n"\'</string>'],
    [new Date(Date.UTC(1998, 6, 17, 14, 8, 55, 999)), '<dateTime.iso8601>19980717T14:08:55</dateTime.iso8601>'],
    [new Date(Date.UTC(5, 0, 1)), '<dateTime.iso8601>19050101T00:00:00</dateTime.iso8601>'],
    [new Uint8Array([104, 105]), '<base64>aGk=</base64>'],
    [[], '<array><data></data></array>'],
    [{}, '<struct></struct>'],
    [{ 'a<b': [1] }, '<struct><member><name>a&lt;b</name><value><array><data><value><int>1</int></value></data></array></value></member></struct>'],
  ])('%o → %s', (value, expected) => {
    expect(inner(value)).toBe(expected);
  });

  it('encodes years below 100 with four digits', () => {
    const d = new Date(0);
    d.setUTCFullYear(42, 0, 1);
    expect(inner(d)).toBe('<dateTime.iso8601>00420101T00:00:00</dateTime.iso8601>');
    expect(decodeMethodResponse(encodeMethodResponse(d)).value).toEqual(d);
  });

  it('formatDouble never uses exponent notation and round-trips', () => {
    for (const v of [1e21, 1e-7, 123456789e-20, 1.7976931348623157e308, 2.2250738585072014e-308, 0.1 + 0.2]) {
      const s = formatDouble(v);
      expect(s).toMatch(/^-?[0-9]+\.[0-9]+$/);
      expect(Number(s)).toBe(v);
    }
  });

  it('encodes only the visible part of a Uint8Array view / Buffer', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5]);
    expect(inner(backing.subarray(1, 3))).toBe('<base64>AgM=</base64>');
    expect(inner(Buffer.from('hi'))).toBe('<base64>aGk=</base64>');
  });

  it('omits undefined struct members', () => {
    const v = { a: 1, b: undefined } as unknown as XmlRpcValue;
    expect(decodeMethodResponse(encodeMethodResponse(v)).value).toEqual({ a: 1 });
  });

  it('encodes a struct with a null prototype and a __proto__ own key', () => {
    const v = Object.create(null) as Record<string, XmlRpcValue>;
    v.x = 1;
    const withProto = JSON.parse('{"__proto__": {"polluted": true}}') as XmlRpcValue;
    expect(decodeMethodResponse(encodeMethodResponse([v, withProto])).value).toEqual([{ x: 1 }, withProto]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  const bad: Array<[string, unknown]> = [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['XmlRpcDouble(NaN)', new XmlRpcDouble(NaN)],
    ['XmlRpcDouble(Infinity)', new XmlRpcDouble(Infinity)],
    ['bigint > int64', 2n ** 63n],
    ['bigint < int64', -(2n ** 63n) - 1n],
    ['invalid Date', new Date(NaN)],
    ['Date year 10000', new Date(Date.UTC(10000, 0, 1))],
    ['Date year -1', new Date(Date.UTC(-1, 0, 1))],
    ['undefined', undefined],
    ['undefined in array', [1, undefined]],
    ['function', () => 1],
    ['symbol', Symbol('x')],
    ['Map', new Map()],
    ['class instance', new (class Foo {})()],
    ['string with NUL', 'a\u0000b'],
    ['string with ESC', '\u001b[31mred'],
    ['string with lone surrogate', 'x\uD800y'],
    ['string with U+FFFE', '\uFFFE'],
    ['struct key with control char', { 'a\u0001': 1 }],
  ];
  it.each(bad)('rejects %s with XmlRpcEncodeError', (_n, value) => {
    expect(() => encodeMethodResponse(value as XmlRpcValue)).toThrow(XmlRpcEncodeError);
    expect(() => encodeMethodCall('X', [value as XmlRpcValue])).toThrow(XmlRpcEncodeError);
  });

  it('rejects cyclic structures', () => {
    const a: XmlRpcValue[] = [];
    a.push(a);
    expect(() => encodeMethodResponse(a)).toThrow(/cyclic/);
    const o: Record<string, XmlRpcValue> = {};
    o.self = { again: o };
    expect(() => encodeMethodResponse(o)).toThrow(XmlRpcEncodeError);
  });

  it('allows shared (non-cyclic) references', () => {
    const shared = { k: 1 };
    expect(decodeMethodResponse(encodeMethodResponse([shared, shared])).value).toEqual([{ k: 1 }, { k: 1 }]);
  });

  it('honours allowNil: false like Python allow_none=False', () => {
    expect(() => encodeMethodResponse(null, { allowNil: false })).toThrow(/allow_none/);
    expect(() => encodeMethodResponse([1, { a: null }], { allowNil: false })).toThrow(XmlRpcEncodeError);
    expect(encodeMethodResponse([1], { allowNil: false })).toContain('<int>1</int>');
  });

  it("invalidChars: 'replace' substitutes U+FFFD", () => {
    const xml = encodeMethodResponse({ 'k\u0000': '\u001b[0mok\uD800' }, { invalidChars: 'replace' });
    expect(decodeMethodResponse(xml).value).toEqual({ 'k\uFFFD': '\uFFFD[0mok\uFFFD' });
  });

  it('encodeFault sanitises the message and validates the code', () => {
    expect(decodeMethodResponse(encodeFault(1, 'bad \u0000 char')).fault).toEqual({
      faultCode: 1,
      faultString: 'bad \uFFFD char',
    });
    expect(() => encodeFault(1.5, 'x')).toThrow(XmlRpcEncodeError);
    expect(() => encodeFault(2 ** 31, 'x')).toThrow(XmlRpcEncodeError);
    expect(() => encodeFault(NaN, 'x')).toThrow(XmlRpcEncodeError);
  });

  it.each(['', 'bad name', 'a<b', 'x&y', 'ñ'])('encodeMethodCall rejects method name %j', (name) => {
    expect(() => encodeMethodCall(name, [])).toThrow(XmlRpcEncodeError);
  });

  it('XmlRpcEncodeError carries FAULT_INTERNAL', () => {
    try {
      encodeMethodResponse(NaN);
    } catch (e) {
      expect((e as XmlRpcEncodeError).faultCode).toBe(FAULT_INTERNAL);
    }
  });
});

// ------------------------------------------------------------------------------------------------------------------
// decoding: accepted forms
// ------------------------------------------------------------------------------------------------------------------

describe('decoding', () => {
  it('decodes a rich document with every type', () => {
    expect(decodeMethodCall(RICH_CALL)).toEqual({ methodName: 'CreateInfrastructure', params: RICH_EXPECTED });
    expect(decodeMethodCall(utf8(RICH_CALL)).params).toEqual(RICH_EXPECTED);
  });

  it('decodes the output of Python xmlrpc.client.dumps (pretty-printed, single quotes)', () => {
    const py =
      "<?xml version='1.0'?>\n<methodCall>\n<methodName>GetInfrastructureInfo</methodName>\n<params>\n" +
      '<param>\n<value><string>b4c0e1a2</string></value>\n</param>\n<param>\n<value><array><data>\n' +
      '<value><struct>\n<member>\n<name>type</name>\n<value><string>InfrastructureManager</string></value>\n' +
      '</member>\n<member>\n<name>username</name>\n<value><string>user</string></value>\n</member>\n' +
      '</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodCall>\n';
    expect(decodeMethodCall(py)).toEqual({
      methodName: 'GetInfrastructureInfo',
      params: ['b4c0e1a2', [{ type: 'InfrastructureManager', username: 'user' }]],
    });
  });

  it('preserves whitespace in untyped and <string> values exactly', () => {
    expect(decodeOne('  a  b \t\n ')).toBe('  a  b \t\n ');
    expect(decodeOne('<string>  \n x \n  </string>')).toBe('  \n x \n  ');
    expect(decodeOne('')).toBe('');
    expect(decodeOne('   ')).toBe('   ');
    expect(decodeOne('<string/>')).toBe('');
    expect(decodeOne('<string></string>')).toBe('');
    expect(decodeMethodCall(call('<param><value/></param>')).params).toEqual(['']);
  });

  it('ignores whitespace and comments around a typed value', () => {
    expect(decodeOne('\n  <int>5</int>\n  ')).toBe(5);
    expect(decodeOne('<!-- c --><string>s</string><!-- d -->')).toBe('s');
  });

  it('joins text split by comments, CDATA sections and references', () => {
    expect(decodeOne('<string>a<!-- x -->b<![CDATA[<c>&amp;]]>&amp;d</string>')).toBe('ab<c>&amp;&d');
  });

  it('decodes the predefined entities and character references only', () => {
    expect(decodeOne('<string>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1f600;&#9;&#xA;</string>')).toBe(
      '<>&\'"AB😀\t\n',
    );
  });

  it('normalises literal line endings as XML requires, keeps &#13;', () => {
    expect(decodeOne('<string>a\r\nb\rc\nd&#13;&#10;e</string>')).toBe('a\nb\nc\nd\r\ne');
    expect(decodeOne('<string><![CDATA[x\r\ny]]></string>')).toBe('x\ny');
  });

  it.each<[string, number | bigint]>([
    ['<int>42</int>', 42],
    ['<i4>-42</i4>', -42],
    ['<int>+7</int>', 7],
    ['<int>007</int>', 7],
    ['<int>-0</int>', 0],
    ['<int> 12 </int>', 12],
    ['<int>\n12\n</int>', 12],
    ['<int>4294967296</int>', 4294967296],
    ['<i8>9007199254740991</i8>', 9007199254740991],
    ['<i8>-9007199254740991</i8>', -9007199254740991],
    ['<i8>9007199254740992</i8>', 9007199254740992n],
    ['<i8>-9007199254740992</i8>', -9007199254740992n],
    ['<i8>9223372036854775807</i8>', 9223372036854775807n],
    ['<i8>-9223372036854775808</i8>', -9223372036854775808n],
    ['<i8>0000000000000000000000000001</i8>', 1],
  ])('integer %s', (xml, expected) => {
    expect(decodeOne(xml)).toBe(expected);
  });

  it.each<[string, number]>([
    ['<double>1.5</double>', 1.5],
    ['<double>-12.214</double>', -12.214],
    ['<double>+0.5</double>', 0.5],
    ['<double>1</double>', 1],
    ['<double>.5</double>', 0.5],
    ['<double>5.</double>', 5],
    ['<double>1e+100</double>', 1e100],
    ['<double>1E-7</double>', 1e-7],
    ['<double> 2.5 </double>', 2.5],
    ['<double>-0.0</double>', -0],
  ])('double %s', (xml, expected) => {
    expect(decodeOne(xml)).toBe(expected);
  });

  it('booleans', () => {
    expect(decodeOne('<boolean>1</boolean>')).toBe(true);
    expect(decodeOne('<boolean>0</boolean>')).toBe(false);
  });

  it.each<[string, string]>([
    ['19980717T14:08:55', '1998-07-17T14:08:55.000Z'],
    ['1998-07-17T14:08:55', '1998-07-17T14:08:55.000Z'],
    ['19980717T14:08:55Z', '1998-07-17T14:08:55.000Z'],
    ['19980717T140855', '1998-07-17T14:08:55.000Z'],
    ['1998-07-17T14:08:55+02:00', '1998-07-17T12:08:55.000Z'],
    ['1998-07-17T14:08:55-0530', '1998-07-17T19:38:55.000Z'],
    ['19980717T14:08:55+01', '1998-07-17T13:08:55.000Z'],
    ['19980717T14:08:55.123Z', '1998-07-17T14:08:55.123Z'],
    ['19980717T14:08:55.5', '1998-07-17T14:08:55.500Z'],
    [' 20240229T00:00:00 ', '2024-02-29T00:00:00.000Z'],
    ['20000229T23:59:59', '2000-02-29T23:59:59.000Z'],
    ['00010101T00:00:00', '0001-01-01T00:00:00.000Z'],
  ])('dateTime.iso8601 %s', (text, iso) => {
    const d = decodeOne(`<dateTime.iso8601>${text}</dateTime.iso8601>`);
    expect(d).toBeInstanceOf(Date);
    expect((d as Date).toISOString()).toBe(iso);
  });

  it('base64 (with line breaks and whitespace, or empty)', () => {
    expect(decodeOne('<base64>aGVs\r\n bG8=</base64>')).toEqual(new Uint8Array(Buffer.from('hello')));
    expect(decodeOne('<base64></base64>')).toEqual(new Uint8Array());
    expect(decodeOne('<base64/>')).toEqual(new Uint8Array());
    const v = decodeOne('<base64>AAEC</base64>');
    expect(Object.getPrototypeOf(v)).toBe(Uint8Array.prototype);
  });

  it('nil and ex:nil', () => {
    expect(decodeOne('<nil/>')).toBeNull();
    expect(decodeOne('<nil></nil>')).toBeNull();
    expect(decodeOne('<ex:nil/>')).toBeNull();
    expect(decodeOne('<ex:nil xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"/>')).toBeNull();
  });

  it('struct members become own properties, __proto__ included, without pollution', () => {
    const v = decodeOne(
      '<struct><member><name>__proto__</name><value><struct><member><name>polluted</name><value>yes</value>' +
        '</member></struct></value></member><member><name>constructor</name><value>c</value></member></struct>',
    ) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toEqual({ polluted: 'yes' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('struct member names keep whitespace and may be empty', () => {
    expect(decodeOne('<struct><member><name> a </name><value>1</value></member><member><name/><value>2</value></member></struct>')).toEqual({
      ' a ': '1',
      '': '2',
    });
  });

  it('accepts a missing <params> and an empty <params/>', () => {
    expect(decodeMethodCall('<methodCall><methodName>GetVersion</methodName></methodCall>')).toEqual({
      methodName: 'GetVersion',
      params: [],
    });
    expect(decodeMethodCall('<methodCall><methodName>a.b:c/d_1</methodName><params/></methodCall>').methodName).toBe(
      'a.b:c/d_1',
    );
  });

  it('accepts attributes, comments, a BOM and standalone/encoding in the declaration', () => {
    const doc =
      "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>" +
      '<!--x--><methodCall a="1" b=\'&amp;&#65;\'><methodName >M</methodName ><params ></params></methodCall >\n<!--y-->\n';
    expect(decodeMethodCall(doc).methodName).toBe('M');
    expect(decodeMethodCall('\uFEFF' + doc).methodName).toBe('M');
    expect(decodeMethodCall(new Uint8Array([0xef, 0xbb, 0xbf, ...utf8(doc)])).methodName).toBe('M');
  });

  it('decodes ISO-8859-1 and US-ASCII bodies by their declaration', () => {
    const latin1 = Buffer.from(
      '<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>M</methodName><params><param><value>caf\u00e9</value></param></params></methodCall>',
      'latin1',
    );
    expect(decodeMethodCall(new Uint8Array(latin1)).params).toEqual(['café']);
    const ascii = utf8('<?xml version="1.0" encoding="us-ascii"?><methodCall><methodName>M</methodName></methodCall>');
    expect(decodeMethodCall(ascii).methodName).toBe('M');
  });

  it('decodes results and faults', () => {
    expect(decodeMethodResponse(response('<params><param><value><array><data><value><boolean>1</boolean></value><value>inf-1</value></data></array></value></param></params>'))).toEqual({
      value: [true, 'inf-1'],
    });
    const fault = response(
      '<fault><value><struct><member><name>faultString</name><value>oops</value></member>' +
        '<member><name>faultCode</name><value><i4>4</i4></value></member></struct></value></fault>',
    );
    expect(decodeMethodResponse(fault)).toEqual({ fault: { faultCode: 4, faultString: 'oops' } });
  });

  it('accepts exactly maxBytes and maxDepth', () => {
    const doc = callOne(nestArrays(64));
    expect(() => decodeMethodCall(doc)).not.toThrow();
    expect(() => decodeMethodCall(doc, { maxBytes: Buffer.byteLength(doc) })).not.toThrow();
    expect(() => decodeMethodCall(callOne(nestStructs(64)))).not.toThrow();
    expect(() => decodeMethodCall(callOne(nestArrays(3)), { maxDepth: 3 })).not.toThrow();
    expect(decodeMethodCall(callOne('<int>1</int>'), { maxDepth: 0 }).params).toEqual([1]);
  });

  it('handles a large valid body within the default limit quickly', () => {
    const big = 'x'.repeat(DEFAULT_MAX_BYTES - 200);
    const started = Date.now();
    expect(decodeMethodCall(callOne(big)).params[0]).toBe(big);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// decoding: rejected input
// ------------------------------------------------------------------------------------------------------------------

describe('rejects unsafe input', () => {
  it('XXE via an external entity', () => {
    const doc =
      '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' +
      '<methodCall><methodName>M</methodName><params><param><value>&xxe;</value></param></params></methodCall>';
    const e = callError(doc);
    expect(e.faultCode).toBe(FAULT_INVALID_REQUEST);
    expect(e.message).toMatch(/DOCTYPE/);
    expect(e.message).not.toMatch(/root:/);
  });

  it('billion laughs', () => {
    const defs = ['<!ENTITY lol "lol">'];
    for (let i = 1; i <= 9; i++) defs.push(`<!ENTITY lol${i} "${`&lol${i - 1 || ''};`.repeat(10)}">`);
    const doc = `<?xml version="1.0"?><!DOCTYPE lolz [${defs.join('')}]><methodCall><methodName>M</methodName><params><param><value>&lol9;</value></param></params></methodCall>`;
    expect(callError(doc).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it.each([
    ['lower-case doctype', '<!doctype methodCall><methodCall><methodName>M</methodName></methodCall>'],
    ['DOCTYPE after the root', '<methodCall><methodName>M</methodName></methodCall><!DOCTYPE x>'],
    ['ENTITY inside a comment', '<!-- <!ENTITY x "y"> --><methodCall><methodName>M</methodName></methodCall>'],
    ['DOCTYPE inside content', '<methodCall><!DOCTYPE x><methodName>M</methodName></methodCall>'],
    ['parameter entity', '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://evil/x.dtd"> %p;]><methodCall/>'],
  ])('any declaration (%s)', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it.each([
    ['undefined entity', callOne('<string>&xxe;</string>')],
    ['undefined entity in attribute', '<methodCall a="&xxe;"><methodName>M</methodName></methodCall>'],
    ['HTML entity', callOne('<string>&nbsp;</string>')],
    ['bare ampersand', callOne('<string>a & b</string>')],
    ['unterminated reference', callOne('<string>&amp b</string>')],
    ['char ref to NUL', callOne('<string>&#0;</string>')],
    ['char ref to a control char', callOne('<string>&#x1;</string>')],
    ['char ref to a surrogate', callOne('<string>&#xD800;</string>')],
    ['char ref beyond Unicode', callOne('<string>&#x110000;</string>')],
    ['huge char ref', callOne('<string>&#99999999999999999999;</string>')],
    ['empty char ref', callOne('<string>&#;</string>')],
    ['bad hex char ref', callOne('<string>&#xZZ;</string>')],
  ])('does not expand entities: %s', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_PARSE);
  });

  it.each([
    ['before the root', '<?php echo 1; ?><methodCall><methodName>M</methodName></methodCall>'],
    ['stylesheet', '<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><methodCall><methodName>M</methodName></methodCall>'],
    ['inside content', '<methodCall><?pi x?><methodName>M</methodName></methodCall>'],
    ['inside a value', callOne('<string>a<?pi?>b</string>')],
    ['after the root', '<methodCall><methodName>M</methodName></methodCall><?pi?>'],
    ['XML declaration not at the start', ' <?xml version="1.0"?><methodCall><methodName>M</methodName></methodCall>'],
    ['second XML declaration', '<?xml version="1.0"?><?xml version="1.0"?><methodCall><methodName>M</methodName></methodCall>'],
  ])('processing instruction %s', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it('oversize bodies (string, multi-byte string, bytes, custom limit)', () => {
    const big = callOne('x'.repeat(DEFAULT_MAX_BYTES));
    expect(callError(big).faultCode).toBe(FAULT_INVALID_REQUEST);
    expect(callError(big).message).toMatch(/exceeds/);
    expect(callError(utf8(big)).faultCode).toBe(FAULT_INVALID_REQUEST);
    // 400k chars but 1.2 MB of UTF-8
    expect(callError(callOne('€'.repeat(400_000))).message).toMatch(/exceeds/);
    const small = callOne('<int>1</int>');
    expect(decodeError(() => decodeMethodCall(small, { maxBytes: small.length - 1 })).message).toMatch(/exceeds/);
    expect(decodeError(() => decodeMethodResponse(encodeMethodResponse('x'), { maxBytes: 10 })).message).toMatch(
      /exceeds/,
    );
  });

  it('values nested deeper than maxDepth', () => {
    expect(callError(callOne(nestArrays(65))).faultCode).toBe(FAULT_INVALID_REQUEST);
    expect(callError(callOne(nestStructs(65))).message).toMatch(/deep/);
    expect(decodeError(() => decodeMethodCall(callOne(nestArrays(4)), { maxDepth: 3 })).message).toMatch(/deep/);
    expect(
      decodeError(() => decodeMethodResponse(encodeMethodResponse([[[[1]]]]), { maxDepth: 3 })).faultCode,
    ).toBe(FAULT_INVALID_REQUEST);
  });

  it('arbitrary XML nested very deeply (no stack overflow)', () => {
    const deep = '<methodCall>' + '<a>'.repeat(100_000) + '</a>'.repeat(100_000) + '</methodCall>';
    const e = callError(deep);
    expect(e.faultCode).toBe(FAULT_INVALID_REQUEST);
    expect(e.message).toMatch(/deep/);
    const deepValues = callOne(nestArrays(20_000));
    expect(callError(deepValues).message).toMatch(/deep/);
    // even with an absurd maxDepth (clamped)
    expect(decodeError(() => decodeMethodCall(deepValues, { maxDepth: 1e9 })).message).toMatch(/deep/);
  });

  it('pathological inputs stay linear', () => {
    const cases = [
      callOne(`<int>1${' '.repeat(300_000)}1</int>`),
      callOne(`<double>1${' '.repeat(300_000)}x</double>`),
      callOne(`<dateTime.iso8601>1${' '.repeat(300_000)}x</dateTime.iso8601>`),
      callOne(`<base64>${'A'.repeat(300_001)}</base64>`),
      callOne(`<string>${'&amp'.repeat(100_000)}</string>`),
      `<methodCall>${'<!--'.repeat(100_000)}`,
      `<methodCall${' a="1"'.repeat(100_000)}>`,
      '<'.repeat(500_000),
      '&'.repeat(500_000),
    ];
    for (const doc of cases) {
      const started = Date.now();
      callError(doc);
      expect(Date.now() - started).toBeLessThan(2000);
    }
  });
});

describe('rejects malformed XML (parse errors)', () => {
  it.each([
    ['empty body', ''],
    ['whitespace only', '  \n'],
    ['not XML', 'hello'],
    ['JSON', '{"methodName":"x"}'],
    ['unclosed root', '<methodCall><methodName>M</methodName>'],
    ['mismatched tags', '<methodCall><methodName>M</methodname></methodCall>'],
    ['two roots', '<methodCall><methodName>M</methodName></methodCall><methodCall/>'],
    ['text after the root', '<methodCall><methodName>M</methodName></methodCall>x'],
    ['text before the root', 'x<methodCall><methodName>M</methodName></methodCall>'],
    ['unquoted attribute', '<methodCall a=1><methodName>M</methodName></methodCall>'],
    ['attribute without value', '<methodCall a><methodName>M</methodName></methodCall>'],
    ['duplicate attribute', '<methodCall a="1" a="2"><methodName>M</methodName></methodCall>'],
    ['attributes not separated', '<methodCall a="1"b="2"><methodName>M</methodName></methodCall>'],
    ['< in attribute', '<methodCall a="<"><methodName>M</methodName></methodCall>'],
    ['bad element name', '<methodCall><1methodName>M</1methodName></methodCall>'],
    ['space after <', '< methodCall><methodName>M</methodName></methodCall>'],
    ['-- in comment', '<!-- a -- b --><methodCall><methodName>M</methodName></methodCall>'],
    ['comment ending in --->', '<!-- a ---><methodCall><methodName>M</methodName></methodCall>'],
    [']]> in text', callOne('<string>a]]>b</string>')],
    ['CDATA outside the root', '<![CDATA[x]]><methodCall><methodName>M</methodName></methodCall>'],
    ['malformed XML declaration', '<?xml version="2"?><methodCall><methodName>M</methodName></methodCall>'],
    ['XML declaration without version', '<?xml encoding="utf-8"?><methodCall><methodName>M</methodName></methodCall>'],
    ['end tag with attributes', '<methodCall><methodName>M</methodName a="1"></methodCall>'],
    ['stray end tag', '</methodCall>'],
  ])('%s', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_PARSE);
  });

  it.each([
    ['NUL', callOne('<string>a\u0000b</string>')],
    ['C0 control', callOne('<string>\u001b[0m</string>')],
    ['lone surrogate', callOne('<string>\uD83D</string>')],
    ['U+FFFF', callOne('<string>\uFFFF</string>')],
  ])('invalid XML character: %s', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_INVALID_CHARACTER);
  });

  it.each([
    ['0xFF', [0xff]],
    ['overlong /', [0xc0, 0xaf]],
    ['CESU surrogate', [0xed, 0xa0, 0x80]],
    ['truncated sequence', [0xe2, 0x82]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
  ])('invalid UTF-8: %s', (_n, bytes) => {
    const [pre, post] = callOne('<string>@</string>').split('@');
    const body = new Uint8Array([...utf8(pre), ...bytes, ...utf8(post)]);
    expect(callError(body).faultCode).toBe(FAULT_INVALID_CHARACTER);
  });

  it('non-ASCII bytes declared as US-ASCII', () => {
    const body = utf8('<?xml version="1.0" encoding="ascii"?><methodCall><methodName>M</methodName><params><param><value>é</value></param></params></methodCall>');
    expect(callError(body).faultCode).toBe(FAULT_INVALID_CHARACTER);
  });

  it.each(['UTF-16', 'Shift_JIS', 'EBCDIC-US', 'windows-1252'])('unsupported encoding %s', (enc) => {
    const body = utf8(`<?xml version="1.0" encoding="${enc}"?><methodCall><methodName>M</methodName></methodCall>`);
    expect(callError(body).faultCode).toBe(FAULT_UNSUPPORTED_ENCODING);
  });

  it('string bodies may only declare known encodings', () => {
    const doc = (enc: string): string =>
      `<?xml version="1.0" encoding="${enc}"?><methodCall><methodName>M</methodName></methodCall>`;
    for (const enc of ['UTF-8', 'utf8', 'US-ASCII', 'ISO-8859-1', 'latin1', 'UTF-16']) {
      expect(decodeMethodCall(doc(enc)).methodName).toBe('M');
    }
    for (const enc of ['UTF', 'UTF-8-', 'U.8', 'Shift_JIS']) {
      expect(callError(doc(enc)).faultCode).toBe(FAULT_UNSUPPORTED_ENCODING);
    }
  });

  it('a byte body whose padded declaration names another encoding is not decoded as UTF-8', () => {
    const body = utf8(
      `<?xml version="1.0"${' '.repeat(400)}encoding="ISO-8859-1"?><methodCall><methodName>M</methodName></methodCall>`,
    );
    expect(callError(body).faultCode).toBe(FAULT_UNSUPPORTED_ENCODING);
    const ok = utf8(`<?xml version="1.0"${' '.repeat(400)}encoding="UTF-8"?><methodCall><methodName>M</methodName></methodCall>`);
    expect(decodeMethodCall(ok).methodName).toBe('M');
  });

  it('UTF-16 bytes (with BOM) are rejected', () => {
    const body = new Uint8Array(Buffer.from('\uFEFF<methodCall><methodName>M</methodName></methodCall>', 'utf16le'));
    expect(callError(body).faultCode).toBe(FAULT_INVALID_CHARACTER);
  });

  it.each([
    ['number', 42],
    ['null', null],
    ['undefined', undefined],
    ['object', { methodName: 'x' }],
    ['ArrayBuffer', new ArrayBuffer(4)],
  ])('non-string, non-bytes body: %s', (_n, body) => {
    expect(callError(body as unknown as string).faultCode).toBe(FAULT_INVALID_REQUEST);
  });
});

describe('truncated bodies', () => {
  const valid = [
    RICH_CALL,
    encodeMethodCall(
      'CreateDiskSnapshot',
      SAMPLES.map(([, v]) => v),
    ),
  ];

  it.each(valid.map((v, i) => [i, v] as const))('every string prefix of valid call #%i throws', (_i, doc) => {
    expect(() => decodeMethodCall(doc)).not.toThrow();
    const end = doc.lastIndexOf('>') + 1;
    let count = 0;
    for (let n = 0; n < end; n++) {
      const e = callError(doc.slice(0, n));
      expect(e.faultCode).not.toBe(FAULT_INTERNAL);
      count++;
    }
    expect(count).toBe(end);
  });

  it.each(valid.map((v, i) => [i, v] as const))('every byte prefix of valid call #%i throws', (_i, doc) => {
    const bytes = utf8(doc);
    expect(() => decodeMethodCall(bytes)).not.toThrow();
    const end = bytes.lastIndexOf(0x3e) + 1;
    for (let n = 0; n < end; n++) {
      const e = callError(bytes.subarray(0, n));
      expect(e.faultCode).not.toBe(FAULT_INTERNAL);
    }
  });

  it('every prefix of a response and a fault throws', () => {
    for (const doc of [encodeMethodResponse({ a: [1, 'x', null] }), encodeFault(-32601, 'nope')]) {
      for (let n = 0; n < doc.length; n++) {
        decodeError(() => decodeMethodResponse(doc.slice(0, n)));
      }
    }
  });

  it('reports unexpected end of document for a cut-off body', () => {
    expect(callError(RICH_CALL.slice(0, 300)).message).toMatch(/end of document/);
  });
});

describe('rejects non-conforming XML-RPC (invalid request)', () => {
  it.each([
    ['wrong root element', '<methodResponse><params/></methodResponse>'],
    ['html root', '<html><body/></html>'],
    ['missing methodName', '<methodCall><params/></methodCall>'],
    ['methodName after params', '<methodCall><params/><methodName>M</methodName></methodCall>'],
    ['two methodNames', '<methodCall><methodName>M</methodName><methodName>N</methodName></methodCall>'],
    ['empty methodName', '<methodCall><methodName></methodName></methodCall>'],
    ['methodName with spaces', '<methodCall><methodName> M </methodName></methodCall>'],
    ['methodName with element', '<methodCall><methodName><b>M</b></methodName></methodCall>'],
    ['methodName with odd chars', '<methodCall><methodName>M;rm</methodName></methodCall>'],
    ['unknown element in methodCall', '<methodCall><methodName>M</methodName><foo/></methodCall>'],
    ['two params elements', '<methodCall><methodName>M</methodName><params/><params/></methodCall>'],
    ['text in methodCall', '<methodCall>x<methodName>M</methodName></methodCall>'],
    ['text in params', call('oops')],
    ['non-param in params', call('<value>1</value>')],
    ['param without value', call('<param></param>')],
    ['param with two values', call('<param><value>1</value><value>2</value></param>')],
    ['text in param', call('<param>x<value>1</value></param>')],
    ['two values in one <value>', callOne('<int>1</int><int>2</int>')],
    ['text and typed value', callOne('x<int>1</int>')],
    ['typed value then text', callOne('<string>a</string>b')],
    ['unknown type', callOne('<foo>1</foo>')],
    ['Apache i1 extension', callOne('<i1>1</i1>')],
    ['float alias', callOne('<float>1.0</float>')],
    ['case-variant type', callOne('<Int>1</Int>')],
    ['other namespace nil', callOne('<foo:nil/>')],
    ['element inside string', callOne('<string>a<b/>c</string>')],
    ['element inside int', callOne('<int><i4>1</i4></int>')],
    ['non-empty nil', callOne('<nil>x</nil>')],
    ['nil with child', callOne('<nil><nil/></nil>')],
    ['array without data', callOne('<array></array>')],
    ['array with two data', callOne('<array><data/><data/></array>')],
    ['array with text', callOne('<array>x<data/></array>')],
    ['data with non-value', callOne('<array><data><int>1</int></data></array>')],
    ['data with text', callOne('<array><data>x</data></array>')],
    ['struct with non-member', callOne('<struct><value>1</value></struct>')],
    ['struct with text', callOne('<struct>x</struct>')],
    ['member without name', callOne('<struct><member><value>1</value></member></struct>')],
    ['member without value', callOne('<struct><member><name>a</name></member></struct>')],
    ['member value before name', callOne('<struct><member><value>1</value><name>a</name></member></struct>')],
    ['member with two values', callOne('<struct><member><name>a</name><value>1</value><value>2</value></member></struct>')],
    ['member with element in name', callOne('<struct><member><name><b/></name><value>1</value></member></struct>')],
    ['duplicate member names', callOne('<struct><member><name>a</name><value>1</value></member><member><name>a</name><value>2</value></member></struct>')],
  ])('%s', (_n, doc) => {
    expect(callError(doc).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it.each([
    'abc',
    '',
    ' ',
    '1x',
    '1.0',
    '1e3',
    '0x10',
    '+',
    '-',
    '1 2',
    '1_000',
    '١',
    '１',
    '9223372036854775808',
    '-9223372036854775809',
    '99999999999999999999999999999999999999',
  ])('bad int %j', (text) => {
    for (const tag of ['int', 'i4', 'i8']) {
      expect(callError(callOne(`<${tag}>${text}</${tag}>`)).faultCode).toBe(FAULT_INVALID_REQUEST);
    }
  });

  it.each(['true', 'false', '2', '-1', '', ' 1', '1 ', '01', 'yes', 'TRUE'])('bad boolean %j', (text) => {
    expect(callError(callOne(`<boolean>${text}</boolean>`)).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it.each(['', 'abc', '1e', '1e+', '.', '-.', '1.2.3', 'inf', 'Infinity', 'NaN', 'nan', '1e400', '-1e400', '0x1p3', '1,5', '1 .5'])(
    'bad double %j',
    (text) => {
      expect(callError(callOne(`<double>${text}</double>`)).faultCode).toBe(FAULT_INVALID_REQUEST);
    },
  );

  it.each(['a', 'ab', 'abc', 'abcde', 'a===', 'ab=c', '=abc', 'ab==ab==', '@@@@', 'YQ=', 'YQ', 'Y-_Q', 'aGk=\u00a0'])(
    'bad base64 %j',
    (text) => {
      expect(callError(callOne(`<base64>${text}</base64>`)).faultCode).toBe(FAULT_INVALID_REQUEST);
    },
  );

  it.each([
    '',
    'now',
    '1998-07-17',
    '19980717',
    '19980717T14:08',
    '19980717 14:08:55',
    '1998-0717T14:08:55',
    '199807-17T14:08:55',
    '19980717T14:0855',
    '19981317T00:00:00',
    '19980017T00:00:00',
    '19980230T00:00:00',
    '19000229T00:00:00',
    '19980700T00:00:00',
    '19980732T00:00:00',
    '19980717T24:00:00',
    '19980717T14:60:00',
    '19980717T14:08:60',
    '19980717T14:08:55+24:00',
    '19980717T14:08:55+02:60',
    '19980717T14:08:55+2',
    '19980717T14:08:55.',
    '19980717T14:08:55z',
    '+19980717T14:08:55',
    '98-07-17T14:08:55',
  ])('bad dateTime.iso8601 %j', (text) => {
    expect(callError(callOne(`<dateTime.iso8601>${text}</dateTime.iso8601>`)).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it.each([
    ['wrong root', '<methodCall><methodName>M</methodName></methodCall>'],
    ['empty response', response('')],
    ['two params', response('<params><param><value>1</value></param><param><value>2</value></param></params>')],
    ['zero params', response('<params></params>')],
    ['params and fault', response('<params><param><value>1</value></param></params><fault><value><struct/></value></fault>')],
    ['unknown child', response('<result/>')],
    ['fault not a struct', response('<fault><value><string>x</string></value></fault>')],
    ['fault without value', response('<fault></fault>')],
    ['fault missing faultCode', response('<fault><value><struct><member><name>faultString</name><value>x</value></member></struct></value></fault>')],
    ['fault missing faultString', response('<fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member></struct></value></fault>')],
    ['fault string code', response('<fault><value><struct><member><name>faultCode</name><value>1</value></member><member><name>faultString</name><value>x</value></member></struct></value></fault>')],
    ['fault double code', response('<fault><value><struct><member><name>faultCode</name><value><double>1.5</double></value></member><member><name>faultString</name><value>x</value></member></struct></value></fault>')],
    ['fault int string', response('<fault><value><struct><member><name>faultCode</name><value><int>1</int></value></member><member><name>faultString</name><value><int>2</int></value></member></struct></value></fault>')],
  ])('bad response: %s', (_n, doc) => {
    expect(decodeError(() => decodeMethodResponse(doc)).faultCode).toBe(FAULT_INVALID_REQUEST);
  });

  it('error messages never echo scalar values (they may be passwords)', () => {
    for (const v of [
      '<int>s3cr3t</int>',
      '<i8>s3cr3t</i8>',
      '<double>s3cr3t</double>',
      '<boolean>s3cr3t</boolean>',
      '<dateTime.iso8601>s3cr3t</dateTime.iso8601>',
      '<dateTime.iso8601>19980717T14:08:55+99:s3cr3t</dateTime.iso8601>',
      '<base64>s3cr3t</base64>',
      '<string>p&s3cr3t;</string>',
      '<nil>s3cr3t</nil>',
    ]) {
      const doc = callOne(`<struct><member><name>password</name><value>${v}</value></member></struct>`);
      expect(callError(doc).message).not.toContain('s3cr3t');
    }
  });

  it('error messages do not echo large inputs', () => {
    const long = 'n'.repeat(100_000);
    for (const doc of [
      callOne(`<int>${'9'.repeat(10_000)}x</int>`),
      `<methodCall><${long}></methodCall>`,
      `<${long}><methodName>M</methodName></${long}>`,
      `<methodCall><methodName>M</methodName><params><${long}/></params></methodCall>`,
      callOne(`<${long}/>`),
      `<methodCall a="1" a="2" ${long}="3" ${long}="4"/>`,
      callOne(`<struct><${long}/></struct>`),
    ]) {
      expect(callError(doc).message.length).toBeLessThan(200);
    }
  });
});
