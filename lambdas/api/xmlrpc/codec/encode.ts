/**
 * XML-RPC encoding (pure code): method calls, responses and faults.
 *
 * Integers (number or bigint) in the int32 range → `<int>`; other safe integers and 64-bit bigints → `<i8>`;
 * non-integers, -0 and integral numbers beyond 2^53 (not exact in JS; use bigint) → `<double>` in plain decimal
 * notation; `XmlRpcDouble` forces `<double>`; Date → `YYYYMMDDTHH:MM:SS` in UTC (milliseconds dropped); struct
 * members whose value is `undefined` are omitted (as JSON does); anything unrepresentable raises
 * XmlRpcEncodeError.
 */

import { XmlRpcEncodeError } from '#api/xmlrpc/codec/faults';
import {
  INT32_MAX,
  INT32_MIN,
  INT64_MAX,
  INT64_MIN,
  INVALID_XML_CHAR_GLOBAL_RE,
  INVALID_XML_CHAR_RE,
  METHOD_NAME_RE,
  XmlRpcDouble,
  type EncodeOptions,
  type XmlRpcValue,
} from '#api/xmlrpc/codec/types';

const ENCODE_MAX_DEPTH = 1000;

const XML_DECL = '<?xml version="1.0"?>';

const ESCAPED_CHARS_RE = /[&<>\r]/g;

function escapeChar(c: string): string {
  return c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;';
}

/** Any character that escapeText changes or refuses: `&`, `<`, `>`, CR, and those INVALID_XML_CHAR_RE matches. */
const NOT_VERBATIM_RE = /[^\t\n\x20-\x25\x27-\x3B\x3D\x3F-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function escapeText(s: string, opts: EncodeOptions): string {
  if (!NOT_VERBATIM_RE.test(s)) return s; // the common case: one scan
  if (INVALID_XML_CHAR_RE.test(s)) {
    if (opts.invalidChars === 'replace') s = s.replace(INVALID_XML_CHAR_GLOBAL_RE, '\uFFFD');
    else throw new XmlRpcEncodeError('string contains characters that cannot be represented in XML 1.0');
  }
  // '>' is escaped so that ']]>' can never appear; CR as a reference so it survives XML newline normalisation.
  // (A module-level replacer: an arrow function here would be a closure created per call.)
  return s.replace(ESCAPED_CHARS_RE, escapeChar);
}

/** Formats a finite double in plain decimal notation (no exponent), always with a fractional part. */
export function formatDouble(v: number): string {
  if (!Number.isFinite(v)) throw new XmlRpcEncodeError(`cannot encode non-finite double ${v}`);
  if (Object.is(v, -0)) return '-0.0';
  const s = String(v);
  const e = s.indexOf('e');
  if (e === -1) return s.includes('.') ? s : `${s}.0`;
  // Expand d.ddde±x using the shortest round-trip digits produced by String().
  const neg = s.startsWith('-');
  const mantissa = s.slice(neg ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const digits = dot === -1 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const intLen = (dot === -1 ? mantissa.length : dot) + exp; // position of the decimal point within digits
  let out: string;
  if (intLen <= 0) out = `0.${'0'.repeat(-intLen)}${digits}`;
  else if (intLen >= digits.length) out = `${digits}${'0'.repeat(intLen - digits.length)}.0`;
  else out = `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  return neg ? `-${out}` : out;
}

function p2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

function formatDate(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new XmlRpcEncodeError('cannot encode an invalid Date');
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new XmlRpcEncodeError(`cannot encode year ${y} in dateTime.iso8601`);
  return (
    `${String(y).padStart(4, '0')}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`
  );
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Encodes one value. Builds strings by concatenation (V8 ropes), cheaper than collecting parts for a join.
 * `ancestors`: the arrays and structs being encoded around `v` (cycle detection; a short list in practice).
 */
function encodeValue(v: unknown, opts: EncodeOptions, ancestors: object[]): string {
  switch (typeof v) {
    case 'string':
      return `<value><string>${escapeText(v, opts)}</string></value>`;
    case 'boolean':
      return v ? '<value><boolean>1</boolean></value>' : '<value><boolean>0</boolean></value>';
    case 'number':
      if (!Number.isFinite(v)) throw new XmlRpcEncodeError(`cannot encode non-finite number ${v}`);
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        return v >= INT32_MIN && v <= INT32_MAX ? `<value><int>${v}</int></value>` : `<value><i8>${v}</i8></value>`;
      }
      // Non-integers, -0, and integral numbers beyond 2^53 (not exact integers in JS; use bigint for those).
      return `<value><double>${formatDouble(v)}</double></value>`;
    case 'bigint': {
      if (v < INT64_MIN || v > INT64_MAX) throw new XmlRpcEncodeError('bigint out of 64-bit range');
      const tag = v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX) ? 'int' : 'i8';
      return `<value><${tag}>${v.toString()}</${tag}></value>`;
    }
    case 'object':
      break;
    default:
      throw new XmlRpcEncodeError(`cannot encode a value of type ${typeof v}`);
  }
  if (v === null) {
    if (opts.allowNil === false) throw new XmlRpcEncodeError('cannot marshal None unless allow_none is enabled');
    return '<value><nil/></value>';
  }
  if (v instanceof XmlRpcDouble) return `<value><double>${formatDouble(v.value)}</double></value>`;
  if (v instanceof Date) return `<value><dateTime.iso8601>${formatDate(v)}</dateTime.iso8601></value>`;
  if (v instanceof Uint8Array) {
    return `<value><base64>${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}</base64></value>`;
  }
  if (ancestors.includes(v)) throw new XmlRpcEncodeError('cannot encode a cyclic structure');
  if (ancestors.length >= ENCODE_MAX_DEPTH) throw new XmlRpcEncodeError('value nested too deeply');
  ancestors.push(v);
  let out: string;
  if (Array.isArray(v)) {
    out = '<value><array><data>';
    for (const item of v as unknown[]) out += encodeValue(item, opts, ancestors);
    out += '</data></array></value>';
  } else if (isPlainObject(v)) {
    out = '<value><struct>';
    for (const key of Object.keys(v)) {
      const member = (v as Record<string, unknown>)[key];
      if (member === undefined) continue; // like JSON: optional members that are absent
      out += `<member><name>${escapeText(key, opts)}</name>${encodeValue(member, opts, ancestors)}</member>`;
    }
    out += '</struct></value>';
  } else {
    throw new XmlRpcEncodeError(`cannot encode an instance of ${v.constructor?.name ?? 'unknown class'}`);
  }
  ancestors.pop();
  return out;
}

function encodeValueToString(value: XmlRpcValue, opts: EncodeOptions): string {
  return encodeValue(value, opts, []);
}

/** `<?xml version="1.0"?><methodResponse><params><param><value>…</value></param></params></methodResponse>` */
export function encodeMethodResponse(value: XmlRpcValue, opts: EncodeOptions = {}): string {
  return (
    `${XML_DECL}<methodResponse><params><param>${encodeValueToString(value, opts)}` +
    '</param></params></methodResponse>'
  );
}

/**
 * Encodes a fault response. Never fails for a valid int32 `faultCode`: characters XML cannot carry in
 * `faultString` are replaced by U+FFFD.
 */
export function encodeFault(faultCode: number, faultString: string): string {
  if (!Number.isInteger(faultCode) || faultCode < INT32_MIN || faultCode > INT32_MAX) {
    throw new XmlRpcEncodeError(`faultCode must be a 32-bit integer, got ${faultCode}`);
  }
  const msg = escapeText(String(faultString), { invalidChars: 'replace' });
  return (
    `${XML_DECL}<methodResponse><fault><value><struct>` +
    `<member><name>faultCode</name><value><int>${faultCode}</int></value></member>` +
    `<member><name>faultString</name><value><string>${msg}</string></value></member>` +
    '</struct></value></fault></methodResponse>'
  );
}

/** `<?xml version="1.0"?><methodCall><methodName>…</methodName><params>…</params></methodCall>` */
export function encodeMethodCall(methodName: string, params: XmlRpcValue[], opts: EncodeOptions = {}): string {
  if (typeof methodName !== 'string' || !METHOD_NAME_RE.test(methodName)) {
    throw new XmlRpcEncodeError(`invalid method name ${JSON.stringify(String(methodName)).slice(0, 70)}`);
  }
  const body = params.map((p) => `<param>${encodeValueToString(p, opts)}</param>`).join('');
  return `${XML_DECL}<methodCall><methodName>${methodName}</methodName><params>${body}</params></methodCall>`;
}
