/**
 * XML-RPC decoding (pure code): a body → `<methodCall>` or `<methodResponse>`. Checks of our own around the XML
 * parser (parse-xml.ts) keep exactly what is accepted under control:
 *   - no DTDs at all: any `<!DOCTYPE` / `<!ENTITY` (or ELEMENT, ATTLIST, NOTATION) is refused before parsing,
 *     even inside a comment or CDATA section (XXE, billion laughs); saxes itself would skip a DTD, never use it;
 *   - entity references are never expanded except the five predefined ones and numeric character references; a
 *     character reference must name an XML `Char`;
 *   - processing instructions other than the XML declaration at the very start are refused, unterminated too;
 *   - characters XML 1.0 cannot carry are reported as such (FAULT_INVALID_CHARACTER) before any parse error;
 *     element and attribute names are held to the BMP name characters, like expat;
 *   - body size (bytes) and nesting depth are bounded (element depth as each start tag opens);
 *   - text content is preserved exactly (no trimming); line endings are normalised as XML 1.0 §2.11 requires (a
 *     literal CR LF or CR becomes LF, as expat does on the Python reference; `&#13;` yields a real CR);
 *   - every failure is an {@link XmlRpcDecodeError} carrying an interoperability fault code (faults.ts); XML that
 *     is not well formed is FAULT_PARSE ("unexpected end of document" when the input ran out first).
 *
 * Wire types follow the XML-RPC spec plus the common extensions `<i8>` and `<nil/>` / `<ex:nil/>`. Choices worth
 * knowing (the Python reference is laxer in places; we stay strict but interoperable):
 *   - `<int>`/`<i4>`/`<i8>` accept any value in the signed 64-bit range (Python accepts big `<int>`s too) and decode
 *     to a number when it is a safe integer, otherwise to a bigint; surrounding whitespace and a leading '+' are
 *     accepted, like Python's int();
 *   - `<double>` accepts exponent notation (Python clients send repr(), e.g. `1e-07`) but not inf/nan;
 *   - `<boolean>` is exactly `0` or `1`; base64 may contain XML whitespace (line breaks) but must be padded;
 *   - duplicate struct member names are rejected (no ambiguity about which value wins);
 *   - the method name must use the characters the spec allows (A-Z a-z 0-9 _ . : /).
 * Byte bodies are decoded as UTF-8 unless the XML declaration says US-ASCII or ISO-8859-1 (body-text.ts); pass raw
 * bytes when the declared encoding matters.
 */

import { bodyToText, invalidCharacterError } from '#api/xmlrpc/codec/body-text';
import { forbiddenDeclaration, internalError, invalid } from '#api/xmlrpc/codec/faults';
import { parseDocument, type XmlElement } from '#api/xmlrpc/codec/parse-xml';
import {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  INT64_MAX,
  INT64_MIN,
  MAX_MAX_DEPTH,
  METHOD_NAME_RE,
  type DecodeOptions,
  type XmlRpcValue,
} from '#api/xmlrpc/codec/types';

const WS_ONLY_RE = /^[ \t\n\r]*$/;
/**
 * Any UTF-16 code unit that is not a BMP XML `Char`: invalid characters and every surrogate. One scan finds both
 * invalid and astral characters; the precise INVALID_XML_CHAR_RE runs only on a hit.
 */
const NOT_BMP_XML_CHAR_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/;
const FORBIDDEN_DECL_RE = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

/** Bounds input echoed into error messages. */
function short(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function resolveLimits(opts: DecodeOptions | undefined): { maxBytes: number; maxDepth: number } {
  const maxBytes =
    opts?.maxBytes !== undefined && Number.isFinite(opts.maxBytes) && opts.maxBytes >= 0
      ? Math.floor(opts.maxBytes)
      : DEFAULT_MAX_BYTES;
  const maxDepth =
    opts?.maxDepth !== undefined && Number.isFinite(opts.maxDepth) && opts.maxDepth >= 0
      ? Math.min(Math.floor(opts.maxDepth), MAX_MAX_DEPTH)
      : DEFAULT_MAX_DEPTH;
  return { maxBytes, maxDepth };
}

function parseXml(body: string | Uint8Array, opts: DecodeOptions | undefined): { root: XmlElement; maxDepth: number } {
  const { maxBytes, maxDepth } = resolveLimits(opts);
  const bodyText = bodyToText(body, maxBytes);
  const text = bodyText.text;
  // Safety checks before any parsing (anywhere in the text, even inside comments or CDATA sections; a skipped
  // declaration holds neither).
  if (FORBIDDEN_DECL_RE.test(text)) throw forbiddenDeclaration();
  // Characters XML cannot carry are reported as such, before any parse error. saxes rejects them all except lone
  // surrogates, so a narrow text (none possible) is scanned for them only if parsing fails.
  let astral = false;
  if (!bodyText.narrow && NOT_BMP_XML_CHAR_RE.test(text)) {
    const bad = invalidCharacterError(bodyText);
    if (bad) throw bad;
    astral = true; // only surrogate pairs, i.e. characters beyond the BMP
  }
  // A value at container depth d sits at element depth <= 5 + 3d (methodCall>params>param>value>array>data>value…).
  try {
    return { root: parseDocument(bodyText, 3 * maxDepth + 6, astral), maxDepth };
  } catch (e) {
    throw (bodyText.narrow ? invalidCharacterError(bodyText) : undefined) ?? e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// XML tree → XML-RPC values
// ---------------------------------------------------------------------------------------------------------------

/**
 * Quotes a method name or struct key for an error message. Scalar values are never echoed: they may be secrets
 * (auth items travel as struct values) and fault strings end up in clients' and our logs.
 */
function preview(s: string): string {
  return JSON.stringify(s.length > 32 ? s.slice(0, 32) + '…' : s);
}

/** Element children of `el`; any non-whitespace text is an error. */
function elementChildren(el: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const c of el.children) {
    if (typeof c === 'string') {
      if (!WS_ONLY_RE.test(c)) invalid(`unexpected text in <${short(el.name)}>`);
    } else out.push(c);
  }
  return out;
}

/** Text content of `el`; child elements are an error. */
function textOnly(el: XmlElement): string {
  let s = '';
  for (const c of el.children) {
    if (typeof c !== 'string') invalid(`unexpected <${short(c.name)}> inside <${short(el.name)}>`);
    s += c;
  }
  return s;
}

function isXmlWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Trims XML whitespace (a loop, not a regex: `/\s+$/` is quadratic on long inner whitespace runs). */
function trimXmlWs(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isXmlWs(s.charCodeAt(a))) a++;
  while (b > a && isXmlWs(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
const INT_RE = /^[+-]?[0-9]+$/;
const DOUBLE_RE = /^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** YYYYMMDD or YYYY-MM-DD, 'T', HH:MM:SS or HHMMSS, optional fraction, optional Z / ±HH[[:]MM]. */
const DATE_RE = new RegExp(
  '^([0-9]{4})(-?)([0-9]{2})\\2([0-9]{2})' +
    'T([0-9]{2})(:?)([0-9]{2})\\6([0-9]{2})(?:\\.([0-9]+))?' +
    '(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$',
);

function decodeInt(tag: string, raw: string): number | bigint {
  const s = trimXmlWs(raw);
  if (!INT_RE.test(s)) invalid(`invalid <${tag}> value`);
  const digits = s.replace(/^[+-]?0*/, '');
  if (digits.length > 19) invalid(`<${tag}> value out of 64-bit range`);
  const big = BigInt(s);
  if (big < INT64_MIN || big > INT64_MAX) invalid(`<${tag}> value out of 64-bit range`);
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big;
}

function decodeDouble(raw: string): number {
  const s = trimXmlWs(raw);
  if (!DOUBLE_RE.test(s)) invalid(`invalid <double> value`);
  const n = Number(s);
  if (!Number.isFinite(n)) invalid(`<double> value out of range`);
  return n;
}

function decodeBoolean(raw: string): boolean {
  if (raw === '1') return true;
  if (raw === '0') return false;
  invalid(`invalid <boolean> value (expected 0 or 1)`);
}

function decodeBase64(raw: string): Uint8Array {
  const s = raw.replace(/[ \t\n\r]+/g, '');
  if (!BASE64_RE.test(s)) invalid('invalid <base64> value');
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function decodeDate(raw: string): Date {
  const s = trimXmlWs(raw);
  const m = DATE_RE.exec(s);
  if (!m) invalid(`invalid <dateTime.iso8601> value`);
  const year = Number(m[1]);
  const month = Number(m[3]);
  const day = Number(m[4]);
  const hour = Number(m[5]);
  const minute = Number(m[7]);
  const second = Number(m[8]);
  const ms = m[9] ? Number(m[9].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    invalid(`invalid <dateTime.iso8601> value`);
  }
  let offsetMinutes = 0;
  const tz = m[10];
  if (tz && tz !== 'Z') {
    const digits = tz.slice(1).replace(':', '');
    const oh = Number(digits.slice(0, 2));
    const om = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (oh > 23 || om > 59) invalid(`invalid <dateTime.iso8601> offset`);
    offsetMinutes = (tz.charAt(0) === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  return new Date(d.getTime() - offsetMinutes * 60_000);
}

function setMember(obj: { [k: string]: XmlRpcValue }, key: string, value: XmlRpcValue): void {
  // defineProperty: a member called "__proto__" becomes an ordinary own property (no prototype pollution). It is
  // the only accessor of Object.prototype, so any other key is an ordinary (and cheaper) assignment.
  if (key === '__proto__') {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else obj[key] = value;
}

/** Decodes a `<value>` element. `depth` = number of enclosing arrays/structs. */
function decodeValue(valueEl: XmlElement, depth: number, maxDepth: number): XmlRpcValue {
  let typed: XmlElement | undefined;
  let text = '';
  for (const c of valueEl.children) {
    if (typeof c === 'string') text += c;
    else if (typed) invalid('more than one value inside <value>');
    else typed = c;
  }
  if (!typed) return text; // untyped <value>text</value> is a string, preserved exactly
  if (!WS_ONLY_RE.test(text)) invalid('mixed text and typed value inside <value>');

  switch (typed.name) {
    case 'string':
      return textOnly(typed);
    case 'i4':
    case 'int':
    case 'i8':
      return decodeInt(typed.name, textOnly(typed));
    case 'boolean':
      return decodeBoolean(textOnly(typed));
    case 'double':
      return decodeDouble(textOnly(typed));
    case 'dateTime.iso8601':
      return decodeDate(textOnly(typed));
    case 'base64':
      return decodeBase64(textOnly(typed));
    case 'nil':
    case 'ex:nil':
      if (!WS_ONLY_RE.test(textOnly(typed))) invalid(`<${typed.name}> must be empty`);
      return null;
    case 'array': {
      if (depth + 1 > maxDepth) invalid(`values nested deeper than ${maxDepth}`);
      const kids = elementChildren(typed);
      if (kids.length !== 1 || kids[0].name !== 'data') invalid('<array> must contain exactly one <data>');
      const out: XmlRpcValue[] = [];
      for (const v of elementChildren(kids[0])) {
        if (v.name !== 'value') invalid(`unexpected <${short(v.name)}> inside <data>`);
        out.push(decodeValue(v, depth + 1, maxDepth));
      }
      return out;
    }
    case 'struct': {
      if (depth + 1 > maxDepth) invalid(`values nested deeper than ${maxDepth}`);
      const out: { [k: string]: XmlRpcValue } = {};
      for (const member of elementChildren(typed)) {
        if (member.name !== 'member') invalid(`unexpected <${short(member.name)}> inside <struct>`);
        const parts = elementChildren(member);
        if (parts.length !== 2 || parts[0].name !== 'name' || parts[1].name !== 'value') {
          invalid('<member> must contain <name> followed by <value>');
        }
        const key = textOnly(parts[0]);
        if (Object.prototype.hasOwnProperty.call(out, key)) invalid(`duplicate struct member ${preview(key)}`);
        setMember(out, key, decodeValue(parts[1], depth + 1, maxDepth));
      }
      return out;
    }
    default:
      invalid(`unknown value type <${short(typed.name)}>`);
  }
}

function decodeParams(paramsEl: XmlElement, maxDepth: number): XmlRpcValue[] {
  const out: XmlRpcValue[] = [];
  for (const p of elementChildren(paramsEl)) {
    if (p.name !== 'param') invalid(`unexpected <${short(p.name)}> inside <params>`);
    const kids = elementChildren(p);
    if (kids.length !== 1 || kids[0].name !== 'value') invalid('<param> must contain exactly one <value>');
    out.push(decodeValue(kids[0], 0, maxDepth));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Public decoding API
// ---------------------------------------------------------------------------------------------------------------

/** Decodes an XML-RPC `<methodCall>`. Throws only XmlRpcDecodeError. */
export function decodeMethodCall(
  body: string | Uint8Array,
  opts?: DecodeOptions,
): { methodName: string; params: XmlRpcValue[] } {
  // try/catch here rather than a wrapper taking a closure: no closure is created per call.
  try {
    return decodeCall(body, opts);
  } catch (e) {
    throw internalError(e);
  }
}

/** Decodes an XML-RPC `<methodResponse>` (result or fault). Throws only XmlRpcDecodeError. */
export function decodeMethodResponse(
  body: string | Uint8Array,
  opts?: DecodeOptions,
): { fault?: { faultCode: number; faultString: string }; value?: XmlRpcValue } {
  try {
    return decodeResponse(body, opts);
  } catch (e) {
    throw internalError(e);
  }
}

function decodeCall(
  body: string | Uint8Array,
  opts: DecodeOptions | undefined,
): { methodName: string; params: XmlRpcValue[] } {
  const { root, maxDepth } = parseXml(body, opts);
  if (root.name !== 'methodCall') invalid(`root element must be <methodCall>, not <${short(root.name)}>`);
  const kids = elementChildren(root);
  if (kids.length === 0 || kids[0].name !== 'methodName') invalid('missing <methodName>');
  const methodName = textOnly(kids[0]);
  if (!METHOD_NAME_RE.test(methodName)) invalid(`invalid method name ${preview(methodName)}`);
  if (kids.length > 2 || (kids.length === 2 && kids[1].name !== 'params')) {
    invalid('<methodCall> must contain <methodName> and optionally <params>');
  }
  const params = kids.length === 2 ? decodeParams(kids[1], maxDepth) : [];
  return { methodName, params };
}

function decodeResponse(
  body: string | Uint8Array,
  opts: DecodeOptions | undefined,
): { fault?: { faultCode: number; faultString: string }; value?: XmlRpcValue } {
  const { root, maxDepth } = parseXml(body, opts);
  if (root.name !== 'methodResponse') {
    invalid(`root element must be <methodResponse>, not <${short(root.name)}>`);
  }
  const kids = elementChildren(root);
  if (kids.length !== 1) invalid('<methodResponse> must contain exactly one <params> or <fault>');
  const el = kids[0];
  if (el.name === 'params') {
    const params = decodeParams(el, maxDepth);
    if (params.length !== 1) invalid('<methodResponse> must contain exactly one <param>');
    return { value: params[0] };
  }
  if (el.name === 'fault') {
    const fk = elementChildren(el);
    if (fk.length !== 1 || fk[0].name !== 'value') invalid('<fault> must contain exactly one <value>');
    const v = decodeValue(fk[0], 0, maxDepth);
    if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Date || v instanceof Uint8Array) {
      invalid('<fault> value must be a struct');
    }
    const s = v as { [k: string]: XmlRpcValue };
    const faultCode = Object.prototype.hasOwnProperty.call(s, 'faultCode') ? s.faultCode : undefined;
    const faultString = Object.prototype.hasOwnProperty.call(s, 'faultString') ? s.faultString : undefined;
    if (typeof faultCode !== 'number' || !Number.isInteger(faultCode)) {
      invalid('fault struct must have an integer faultCode');
    }
    if (typeof faultString !== 'string') invalid('fault struct must have a string faultString');
    return { fault: { faultCode, faultString } };
  }
  invalid(`unexpected <${short(el.name)}> inside <methodResponse>`);
}
