/**
 * Property-based tests (fast-check) for the XML-RPC codec:
 *   - random XmlRpcValue trees round-trip through calls and responses;
 *   - random strings either round-trip exactly or are refused by the encoder (XML-unrepresentable characters);
 *   - random byte/token mutations and arbitrary garbage only ever raise XmlRpcDecodeError, and anything accepted is
 *     well-formed XML according to an independent validator (fast-xml-parser's XMLValidator).
 */
import fc from 'fast-check';
import { XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import {
  FAULT_INTERNAL,
  XmlRpcDecodeError,
  XmlRpcDouble,
  XmlRpcEncodeError,
  decodeMethodCall,
  decodeMethodResponse,
  encodeMethodCall,
  encodeMethodResponse,
  formatDouble,
  type XmlRpcValue,
} from '#api/xmlrpc/codec';

const INVALID_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

// ------------------------------------------------------------------------------------------------------------------
// arbitraries
// ------------------------------------------------------------------------------------------------------------------

/** Strings that XML can carry, biased towards markup-significant characters and whitespace. */
const xmlChar = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('&', '<', '>', ']]>', '\r', '\r\n', '\n', '\t', ' ', '"', "'", '&amp;', '&#13;', 'é'),
  },
  { weight: 1, arbitrary: fc.constantFrom('😀', '\u2028', '\uFFFD', '\uE000', '\uD7FF') },
);
const xmlString = fc
  .string({ unit: xmlChar, maxLength: 24 })
  .map((s) => s.replace(new RegExp(INVALID_XML_CHAR.source, 'gu'), ''));
const structKey = fc.oneof(xmlString, fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', ''));

const anyDouble = fc.double({ noNaN: true, noDefaultInfinity: true });
const scalar: fc.Arbitrary<XmlRpcValue> = fc.oneof(
  xmlString,
  fc.integer(),
  fc.maxSafeInteger(),
  anyDouble,
  anyDouble.map((d) => new XmlRpcDouble(d)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.boolean(),
  fc.constant(null),
  fc.date({
    min: new Date('0000-01-01T00:00:00.000Z'),
    max: new Date('9999-12-31T23:59:59.999Z'),
    noInvalidDate: true,
  }),
  fc.uint8Array({ maxLength: 40 }),
);

function buildStruct(entries: Array<[string, XmlRpcValue]>): { [k: string]: XmlRpcValue } {
  const out: { [k: string]: XmlRpcValue } = {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

const { value: xmlRpcValue } = fc.letrec<{ value: XmlRpcValue; array: XmlRpcValue[]; struct: { [k: string]: XmlRpcValue } }>(
  (tie) => ({
    value: fc.oneof({ maxDepth: 6, depthSize: 'small' }, scalar, tie('array'), tie('struct')),
    array: fc.array(tie('value'), { maxLength: 5 }),
    struct: fc
      .uniqueArray(fc.tuple(structKey, tie('value')), { selector: (e) => e[0], maxLength: 5 })
      .map(buildStruct),
  }),
);

const methodName = fc.stringMatching(/^[A-Za-z0-9_.:/]{1,24}$/);

/** What a value becomes after an encode/decode round trip. */
function normalize(v: XmlRpcValue): XmlRpcValue {
  if (v instanceof XmlRpcDouble) return v.value;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v;
  if (v instanceof Date) return new Date(Math.floor(v.getTime() / 1000) * 1000);
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(normalize);
  if (v !== null && typeof v === 'object') {
    return buildStruct(Object.keys(v).map((k) => [k, normalize(v[k])]));
  }
  return v;
}

/** Asserts that `fn` either returns or throws a (non-internal) XmlRpcDecodeError. */
function decodesOrRejectsCleanly<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof XmlRpcDecodeError)) throw e;
    if (e.faultCode === FAULT_INTERNAL) throw e.cause ?? e;
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------------------------
// round trips
// ------------------------------------------------------------------------------------------------------------------

describe('property: round trip', () => {
  it('random value trees through methodCall (string and bytes)', () => {
    fc.assert(
      fc.property(methodName, fc.array(xmlRpcValue, { maxLength: 4 }), (name, params) => {
        const xml = encodeMethodCall(name, params);
        const expected = { methodName: name, params: params.map(normalize) };
        expect(decodeMethodCall(xml)).toEqual(expected);
        expect(decodeMethodCall(new TextEncoder().encode(xml))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('random value trees through methodResponse', () => {
    fc.assert(
      fc.property(xmlRpcValue, (v) => {
        expect(decodeMethodResponse(encodeMethodResponse(v))).toEqual({ value: normalize(v) });
      }),
      { numRuns: 300 },
    );
  });

  // Any UTF-16 code unit (lone surrogates and C0 controls included) and any code point.
  const anyString = fc.string({
    unit: fc.oneof(
      fc.constantFrom('\r', '\n', '<', '&'),
      fc.string({ unit: 'binary', maxLength: 1 }),
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    ),
    maxLength: 30,
  });

  it('arbitrary strings round-trip exactly or are refused by the encoder', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        if (INVALID_XML_CHAR.test(s)) {
          expect(() => encodeMethodResponse(s)).toThrow(XmlRpcEncodeError);
          const replaced = decodeMethodResponse(encodeMethodResponse(s, { invalidChars: 'replace' })).value as string;
          expect(INVALID_XML_CHAR.test(replaced)).toBe(false);
        } else {
          expect(decodeMethodResponse(encodeMethodResponse(s)).value).toBe(s);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('every finite double is written without exponent and read back bit-exactly', () => {
    fc.assert(
      fc.property(anyDouble, (d) => {
        const s = formatDouble(d);
        expect(s).toMatch(/^-?[0-9]+\.[0-9]+$/);
        expect(Object.is(Number(s), d)).toBe(true);
        expect(Object.is(decodeMethodResponse(encodeMethodResponse(new XmlRpcDouble(d))).value, d)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('every 64-bit integer round-trips', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (b) => {
        const v = decodeMethodResponse(encodeMethodResponse(b)).value;
        expect(BigInt(v as number | bigint)).toBe(b);
        expect(typeof v).toBe(Number.isSafeInteger(Number(b)) ? 'number' : 'bigint');
      }),
      { numRuns: 500 },
    );
  });
});

// ------------------------------------------------------------------------------------------------------------------
// robustness
// ------------------------------------------------------------------------------------------------------------------

const TOKENS = [
  '<', '>', '&', ';', '/', '"', "'", '=', ' ', '\n', '\r', ']]>', '--',
  '<value>', '</value>', '<int>', '</int>', '<string>', '</string>', '<array><data>', '</data></array>',
  '<struct>', '</struct>', '<member>', '<name>', '<nil/>', '<ex:nil/>', '<i8>', '<double>', '<boolean>',
  '<![CDATA[', '<!--', '-->', '<?x?>', '<?xml version="1.0"?>', '<!DOCTYPE x>', '<!ENTITY e "x">',
  '&amp;', '&lt;', '&#0;', '&#65;', '&#x1F600;', '&#xD800;', '&e;', '\uFEFF', 'é', '😀', '\u0000', '\uD800',
  'a="1"', 'xmlns:ex="u"', '</methodCall>', '<methodCall>', '</params>', '<param>',
].map((t) => Array.from(new TextEncoder().encode(t)));

type Mutation =
  | { op: 'set'; pos: number; byte: number }
  | { op: 'insert'; pos: number; bytes: number[] }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'truncate'; pos: number }
  | { op: 'duplicate'; pos: number; len: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    pos: fc.nat(),
    bytes: fc.oneof(fc.constantFrom(...TOKENS), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 4 })),
  }),
  fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 12 }) }),
  fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
);

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Array.from(input);
  for (const m of mutations) {
    const p = b.length === 0 ? 0 : m.pos % (b.length + 1);
    switch (m.op) {
      case 'set':
        if (b.length > 0) b[p % b.length] = m.byte;
        break;
      case 'insert':
        b.splice(p, 0, ...m.bytes);
        break;
      case 'delete':
        b.splice(p, m.len);
        break;
      case 'truncate':
        b = b.slice(0, p);
        break;
      case 'duplicate':
        b.splice(p, 0, ...b.slice(p, p + m.len));
        break;
    }
  }
  return new Uint8Array(b);
}

const SEED_CALL = new TextEncoder().encode(
  '<?xml version="1.0" encoding="UTF-8"?>\n<!-- c -->\n<methodCall xmlns:ex="x"><methodName>AlterVM</methodName><params>' +
    '<param><value><string>inf &amp; 😀 <![CDATA[<raw>]]></string></value></param>' +
    '<param><value>  untyped  </value></param>' +
    '<param><value><array><data><value><i4>1</i4></value><value><i8>9007199254740993</i8></value>' +
    '<value><double>-1.5e3</double></value><value><boolean>0</boolean></value><value><ex:nil/></value></data></array></value></param>' +
    '<param><value><struct><member><name>k</name><value><dateTime.iso8601>19980717T14:08:55</dateTime.iso8601></value></member>' +
    '<member><name>b</name><value><base64>aGVsbG8=</base64></value></member></struct></value></param>' +
    '</params></methodCall>',
);

function checkAccepted(bytes: Uint8Array, decoded: unknown): void {
  if (decoded === undefined) return;
  // Differential check: whatever we accept must be well-formed XML for an independent validator.
  const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  const verdict = XMLValidator.validate(text);
  if (verdict !== true) {
    throw new Error(`accepted a document that XMLValidator rejects: ${JSON.stringify(verdict)}\n${text}`);
  }
}

describe('property: malformed input only raises XmlRpcDecodeError', () => {
  it('random mutations of a hand-written valid call', () => {
    expect(decodeMethodCall(SEED_CALL).methodName).toBe('AlterVM');
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        const bytes = mutate(SEED_CALL, muts);
        checkAccepted(bytes, decodesOrRejectsCleanly(() => decodeMethodCall(bytes)));
        decodesOrRejectsCleanly(() => decodeMethodResponse(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('random mutations of encoded random calls', () => {
    fc.assert(
      fc.property(
        methodName,
        fc.array(xmlRpcValue, { maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 3 }),
        (name, params, muts) => {
          const bytes = mutate(new TextEncoder().encode(encodeMethodCall(name, params)), muts);
          checkAccepted(bytes, decodesOrRejectsCleanly(() => decodeMethodCall(bytes)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('random mutations of encoded responses', () => {
    fc.assert(
      fc.property(xmlRpcValue, fc.array(mutation, { minLength: 1, maxLength: 3 }), (v, muts) => {
        const bytes = mutate(new TextEncoder().encode(encodeMethodResponse(v)), muts);
        decodesOrRejectsCleanly(() => decodeMethodResponse(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('arbitrary strings and bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({
            unit: fc.constantFrom('<', '>', '/', 'methodCall', 'methodName', 'value', '&', ';', '!', '?', '-', '[', ']', ' '),
            maxLength: 60,
          }),
          fc.uint8Array({ maxLength: 200 }),
        ),
        fc.record({
          maxBytes: fc.option(fc.integer({ min: -10, max: 300 }), { nil: undefined }),
          maxDepth: fc.option(fc.integer({ min: -2, max: 5 }), { nil: undefined }),
        }),
        (body, opts) => {
          decodesOrRejectsCleanly(() => decodeMethodCall(body, opts));
          decodesOrRejectsCleanly(() => decodeMethodResponse(body, opts));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
