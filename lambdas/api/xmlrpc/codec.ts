/**
 * Strict, safe XML-RPC codec (pure code, no AWS imports).
 *
 * Decoding uses a small, strict, non-validating XML 1.0 reader written for this purpose instead of a general XML
 * parser, so that we control exactly what is accepted:
 *   - no DTDs at all: any `<!DOCTYPE` / `<!ENTITY` is rejected before parsing (XXE, billion laughs);
 *   - entity references are never expanded except the five predefined ones and numeric character references;
 *   - processing instructions other than the XML declaration are rejected;
 *   - body size (bytes) and nesting depth are bounded;
 *   - text content is preserved exactly (no trimming); line endings are normalised as required by XML 1.0 §2.11
 *     (a literal CR LF or CR becomes LF, exactly as expat does on the Python reference; `&#13;` yields a real CR);
 *   - every failure surfaces as an {@link XmlRpcDecodeError} carrying an interoperability fault code.
 *
 * Wire types follow the XML-RPC spec plus the common extensions `<i8>` and `<nil/>` / `<ex:nil/>`.
 *
 * Decoding choices worth knowing (the Python reference is laxer in places; we stay strict but interoperable):
 *   - `<int>`/`<i4>`/`<i8>` accept any value in the signed 64-bit range (Python accepts big `<int>`s too) and decode
 *     to a number when it is a safe integer, otherwise to a bigint; surrounding whitespace and a leading '+' are
 *     accepted, like Python's int();
 *   - `<double>` accepts exponent notation (Python clients send repr(), e.g. `1e-07`) but not inf/nan;
 *   - `<boolean>` is exactly `0` or `1`; base64 may contain XML whitespace (line breaks) but must be padded;
 *   - duplicate struct member names are rejected (no ambiguity about which value wins);
 *   - the method name must use the characters the spec allows (A-Z a-z 0-9 _ . : /).
 * Byte bodies are decoded as UTF-8 unless the XML declaration says US-ASCII or ISO-8859-1; pass raw bytes when the
 * declared encoding matters.
 *
 * Encoding: integers (number or bigint) in the int32 range → `<int>`; other safe integers and 64-bit bigints →
 * `<i8>`; non-integers, -0 and integral numbers beyond 2^53 (not exact in JS; use bigint) → `<double>` in plain
 * decimal notation; `XmlRpcDouble` forces `<double>`; Date → `YYYYMMDDTHH:MM:SS` in UTC (milliseconds dropped);
 * struct members whose value is `undefined` are omitted (as JSON does); anything unrepresentable raises
 * XmlRpcEncodeError.
 */

// ---------------------------------------------------------------------------------------------------------------
// Fault codes ("specification for fault code interoperability", xmlrpc-epi)
// ---------------------------------------------------------------------------------------------------------------

/** parse error: not well formed */
export const FAULT_PARSE = -32700;
/** parse error: unsupported encoding */
export const FAULT_UNSUPPORTED_ENCODING = -32701;
/** parse error: invalid character for encoding */
export const FAULT_INVALID_CHARACTER = -32702;
/** server error: invalid xml-rpc, not conforming to spec */
export const FAULT_INVALID_REQUEST = -32600;
/** server error: requested method not found */
export const FAULT_METHOD_NOT_FOUND = -32601;
/** server error: invalid method parameters */
export const FAULT_INVALID_PARAMS = -32602;
/** server error: internal xml-rpc error */
export const FAULT_INTERNAL = -32603;

// ---------------------------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------------------------

/** Wraps a number that must be sent as `<double>` even if it is integral. Decoding never produces it. */
export class XmlRpcDouble {
  constructor(public value: number) {}
}

export type XmlRpcValue =
  | string
  | number
  | boolean
  | null
  | Date
  | Uint8Array
  | XmlRpcValue[]
  | { [k: string]: XmlRpcValue }
  | XmlRpcDouble
  | bigint;

/** A malformed or non-conforming document. `faultCode` is one of the FAULT_* constants. */
export class XmlRpcDecodeError extends Error {
  readonly faultCode: number;
  constructor(message: string, faultCode: number = FAULT_INVALID_REQUEST, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XmlRpcDecodeError';
    this.faultCode = faultCode;
  }
}

/** A value that cannot be represented in XML-RPC (NaN, cycles, out-of-range bigint, undefined, …). */
export class XmlRpcEncodeError extends Error {
  readonly faultCode: number;
  constructor(message: string, faultCode: number = FAULT_INTERNAL) {
    super(message);
    this.name = 'XmlRpcEncodeError';
    this.faultCode = faultCode;
  }
}

export interface DecodeOptions {
  /** Maximum body size in bytes (UTF-8 bytes for string input). Default 1 MiB. */
  maxBytes?: number;
  /** Maximum nesting of arrays/structs (a scalar param has depth 0, `[1]` has depth 1). Default 64, at most 1000. */
  maxDepth?: number;
}

export interface EncodeOptions {
  /**
   * Whether `null` may be encoded as `<nil/>` (default true). With `false`, `null` raises an XmlRpcEncodeError
   * like Python's marshaller with `allow_none` off ("cannot marshal None unless allow_none is enabled").
   */
  allowNil?: boolean;
  /**
   * What to do with characters that XML 1.0 cannot carry (C0 controls other than TAB/LF/CR, lone surrogates,
   * U+FFFE/U+FFFF): `'error'` (default) raises an XmlRpcEncodeError, `'replace'` substitutes U+FFFD.
   */
  invalidChars?: 'error' | 'replace';
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_DEPTH = 64;
const MAX_MAX_DEPTH = 1000;
const ENCODE_MAX_DEPTH = 1000;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** methodName characters allowed by the XML-RPC spec. */
const METHOD_NAME_RE = /^[A-Za-z0-9_.:/]+$/;

// ---------------------------------------------------------------------------------------------------------------
// Strict XML reader
// ---------------------------------------------------------------------------------------------------------------

interface XmlElement {
  name: string;
  /** Text children are strings; adjacent text (incl. CDATA and references, across comments) is merged. */
  children: XmlNode[];
}
type XmlNode = XmlElement | string;

const WS_ONLY_RE = /^[ \t\n\r]*$/;
/** Any character outside XML 1.0 `Char` (also matches lone surrogates thanks to the `u` flag). */
const INVALID_XML_CHAR_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const INVALID_XML_CHAR_GLOBAL_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
const FORBIDDEN_DECL_RE = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

// XML 1.0 (5th ed.) name characters restricted to the BMP, like expat (the Python reference) and fast-xml-parser.
const NAME_START =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NAME_CHAR = NAME_START + '\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040';
// The NameChar ranges of XML 1.0 §2.3 include combining marks (U+0300–U+036F); that is intended here.
// eslint-disable-next-line no-misleading-character-class
const NAME_RE = new RegExp(`[${NAME_START}][${NAME_CHAR}]*`, 'uy');
const S_RE = /[ \t\n\r]*/y;
const TEXT_RUN_RE = /[^<&]+/y;
const XML_DECL_RE = new RegExp(
  '<\\?xml[ \\t\\n\\r]+version[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"1\\.[0-9]+"|\'1\\.[0-9]+\')' +
    '(?:[ \\t\\n\\r]+encoding[ \\t\\n\\r]*=[ \\t\\n\\r]*' +
    '(?:"([A-Za-z][A-Za-z0-9._-]*)"|\'([A-Za-z][A-Za-z0-9._-]*)\'))?' +
    '(?:[ \\t\\n\\r]+standalone[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"(?:yes|no)"|\'(?:yes|no)\'))?' +
    '[ \\t\\n\\r]*\\?>',
  'y',
);
const PREDEFINED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', apos: "'", quot: '"' };

function isValidXmlCodePoint(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

/** Bounds input echoed into error messages. */
function short(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function normalizeNewlines(s: string): string {
  return s.indexOf('\r') === -1 ? s : s.replace(/\r\n?/g, '\n');
}

class XmlReader {
  private pos = 0;

  constructor(
    private readonly src: string,
    private readonly maxElementDepth: number,
  ) {}

  private fail(message: string, code = FAULT_PARSE): never {
    throw new XmlRpcDecodeError(`${message} (at offset ${this.pos})`, code);
  }

  private truncated(): never {
    this.fail('not well formed: unexpected end of document');
  }

  private startsWith(s: string): boolean {
    return this.src.startsWith(s, this.pos);
  }

  private skipS(): boolean {
    S_RE.lastIndex = this.pos;
    S_RE.exec(this.src);
    const moved = S_RE.lastIndex !== this.pos;
    this.pos = S_RE.lastIndex;
    return moved;
  }

  private readName(): string {
    NAME_RE.lastIndex = this.pos;
    const m = NAME_RE.exec(this.src);
    if (!m) {
      if (this.pos >= this.src.length) this.truncated();
      this.fail('not well formed: invalid name');
    }
    this.pos = NAME_RE.lastIndex;
    return m[0];
  }

  /** Parses the whole document and returns the root element. */
  parseDocument(): XmlElement {
    const src = this.src;
    if (src.charCodeAt(0) === 0xfeff) this.pos = 1;
    if (this.startsWith('<?xml')) {
      const next = src.charAt(this.pos + 5);
      if (next === '' || next === ' ' || next === '\t' || next === '\n' || next === '\r' || next === '?') {
        XML_DECL_RE.lastIndex = this.pos;
        if (!XML_DECL_RE.exec(src)) {
          if (src.indexOf('?>', this.pos) === -1) this.truncated();
          this.fail('not well formed: malformed XML declaration');
        }
        this.pos = XML_DECL_RE.lastIndex;
      }
    }
    this.skipMisc();
    if (this.pos >= src.length) this.truncated();
    if (src.charAt(this.pos) !== '<') this.fail('not well formed: text outside the root element');
    const root = this.parseElementTree();
    this.skipMisc();
    if (this.pos < src.length) this.fail('not well formed: content after the root element');
    return root;
  }

  /** Skips whitespace and comments outside the root element; rejects PIs and declarations. */
  private skipMisc(): void {
    for (;;) {
      this.skipS();
      if (this.startsWith('<!--')) this.skipComment();
      else if (this.startsWith('<?')) this.fail('processing instructions are not allowed', FAULT_INVALID_REQUEST);
      else if (this.startsWith('<!')) this.fail("not well formed: unexpected '<!'");
      else return;
    }
  }

  private skipComment(): void {
    const start = this.pos + 4;
    const end = this.src.indexOf('-->', start);
    if (end === -1) {
      this.pos = this.src.length;
      this.truncated();
    }
    const body = this.src.slice(start, end);
    if (body.includes('--') || body.endsWith('-')) this.fail("not well formed: '--' inside a comment");
    this.pos = end + 3;
  }

  /**
   * Reads a start tag at `this.pos` (which is at '<'). Returns the element and whether it was self-closing.
   * Attributes are checked for well-formedness and then discarded (XML-RPC defines none; namespace declarations such
   * as `xmlns:ex` are tolerated).
   */
  private readStartTag(): { el: XmlElement; empty: boolean } {
    this.pos++; // '<'
    const name = this.readName();
    const seen = new Set<string>();
    for (;;) {
      const hadSpace = this.skipS();
      if (this.pos >= this.src.length) this.truncated();
      const c = this.src.charAt(this.pos);
      if (c === '>') {
        this.pos++;
        return { el: { name, children: [] }, empty: false };
      }
      if (c === '/') {
        if (this.pos + 1 >= this.src.length) this.truncated();
        if (this.src.charAt(this.pos + 1) !== '>') this.fail("not well formed: expected '>'");
        this.pos += 2;
        return { el: { name, children: [] }, empty: true };
      }
      if (!hadSpace) this.fail('not well formed: expected whitespace before attribute');
      const attr = this.readName();
      if (seen.has(attr)) this.fail(`not well formed: duplicate attribute '${short(attr)}'`);
      seen.add(attr);
      this.skipS();
      if (this.pos >= this.src.length) this.truncated();
      if (this.src.charAt(this.pos) !== '=') this.fail("not well formed: expected '='");
      this.pos++;
      this.skipS();
      if (this.pos >= this.src.length) this.truncated();
      const quote = this.src.charAt(this.pos);
      if (quote !== '"' && quote !== "'") this.fail('not well formed: attribute value must be quoted');
      const end = this.src.indexOf(quote, this.pos + 1);
      if (end === -1) {
        this.pos = this.src.length;
        this.truncated();
      }
      this.pos++;
      while (this.pos < end) {
        const ch = this.src.charAt(this.pos);
        if (ch === '<') this.fail("not well formed: '<' in attribute value");
        if (ch === '&') this.readReference(end);
        else this.pos++;
      }
      this.pos = end + 1;
    }
  }

  /** Reads `&…;` at `this.pos` and returns the replacement text. `limit` bounds the search for ';'. */
  private readReference(limit = this.src.length): string {
    const semi = this.src.indexOf(';', this.pos + 1);
    if (semi === -1 || semi > limit) {
      // Distinguish a truncated document from a malformed reference.
      if (semi === -1 && /^&(?:#x?[0-9A-Fa-f]*|[A-Za-z]*)$/.test(this.src.slice(this.pos, this.pos + 12))) {
        this.truncated();
      }
      this.fail('not well formed: unterminated reference');
    }
    const ref = this.src.slice(this.pos + 1, semi);
    let out: string;
    if (ref.charAt(0) === '#') {
      let cp: number;
      if (/^#x[0-9A-Fa-f]{1,8}$/.test(ref)) cp = parseInt(ref.slice(2), 16);
      else if (/^#[0-9]{1,10}$/.test(ref)) cp = parseInt(ref.slice(1), 10);
      else this.fail('not well formed: malformed character reference');
      if (!isValidXmlCodePoint(cp)) this.fail('not well formed: character reference to an invalid character');
      out = String.fromCodePoint(cp);
    } else {
      const rep = Object.prototype.hasOwnProperty.call(PREDEFINED_ENTITIES, ref) ? PREDEFINED_ENTITIES[ref] : undefined;
      if (rep === undefined) {
        this.fail('not well formed: undefined entity reference (entities are not expanded)');
      }
      out = rep;
    }
    this.pos = semi + 1;
    return out;
  }

  /** Parses the element starting at `this.pos` and all its content, iteratively. */
  private parseElementTree(): XmlElement {
    const src = this.src;
    const first = this.readStartTag();
    if (first.empty) return first.el;
    const stack: XmlElement[] = [first.el];
    if (stack.length > this.maxElementDepth) this.fail('document nested too deeply', FAULT_INVALID_REQUEST);

    const appendText = (el: XmlElement, text: string): void => {
      if (text === '') return;
      const last = el.children.length - 1;
      if (last >= 0 && typeof el.children[last] === 'string') el.children[last] = (el.children[last] as string) + text;
      else el.children.push(text);
    };

    for (;;) {
      const top = stack[stack.length - 1];
      if (this.pos >= src.length) this.truncated();
      const c = src.charAt(this.pos);
      if (c === '<') {
        if (this.startsWith('</')) {
          this.pos += 2;
          const name = this.readName();
          if (name !== top.name) {
            this.fail(`not well formed: mismatched end tag </${short(name)}> for <${short(top.name)}>`);
          }
          this.skipS();
          if (this.pos >= src.length) this.truncated();
          if (src.charAt(this.pos) !== '>') this.fail("not well formed: expected '>'");
          this.pos++;
          stack.pop();
          if (stack.length === 0) return top;
        } else if (this.startsWith('<!--')) {
          this.skipComment();
        } else if (this.startsWith('<![CDATA[')) {
          const start = this.pos + 9;
          const end = src.indexOf(']]>', start);
          if (end === -1) {
            this.pos = src.length;
            this.truncated();
          }
          appendText(top, normalizeNewlines(src.slice(start, end)));
          this.pos = end + 3;
        } else if (this.startsWith('<?')) {
          this.fail('processing instructions are not allowed', FAULT_INVALID_REQUEST);
        } else if (this.startsWith('<!')) {
          // DOCTYPE & co. were rejected before parsing; anything else here is malformed.
          this.fail("not well formed: unexpected '<!'");
        } else if (this.pos + 1 >= src.length) {
          this.truncated();
        } else {
          if (stack.length + 1 > this.maxElementDepth) this.fail('document nested too deeply', FAULT_INVALID_REQUEST);
          const { el, empty } = this.readStartTag();
          top.children.push(el);
          if (!empty) stack.push(el);
        }
      } else if (c === '&') {
        appendText(top, this.readReference());
      } else {
        TEXT_RUN_RE.lastIndex = this.pos;
        const m = TEXT_RUN_RE.exec(src);
        const run = m ? m[0] : '';
        if (run.includes(']]>')) this.fail("not well formed: ']]>' in content");
        this.pos += run.length;
        appendText(top, normalizeNewlines(run));
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Body → text
// ---------------------------------------------------------------------------------------------------------------

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

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

/** Encoding named in the XML declaration of a byte body, if any (ASCII-compatible sniffing). */
function declaredEncoding(bytes: Uint8Array): string | undefined {
  let head = '';
  const n = Math.min(bytes.length, 256);
  for (let i = 0; i < n; i++) head += String.fromCharCode(bytes[i]);
  if (head.startsWith('\u00ef\u00bb\u00bf')) head = head.slice(3);
  XML_DECL_RE.lastIndex = 0;
  const m = XML_DECL_RE.exec(head);
  return m ? (m[1] ?? m[2]) : undefined;
}

const UTF8_NAMES = ['utf-8', 'utf8'];
const ASCII_NAMES = ['us-ascii', 'ascii'];
const LATIN1_NAMES = ['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1'];
/** Encodings a string body may declare (it has already been decoded by the caller, so this is only a sanity check). */
const STRING_BODY_ENCODINGS = new Set([...UTF8_NAMES, ...ASCII_NAMES, ...LATIN1_NAMES, 'utf-16', 'utf16']);

function unsupportedEncoding(enc: string): never {
  throw new XmlRpcDecodeError(`unsupported encoding '${enc.slice(0, 40)}'`, FAULT_UNSUPPORTED_ENCODING);
}

function bodyToText(body: string | Uint8Array, maxBytes: number): string {
  if (typeof body === 'string') {
    // UTF-8 length >= UTF-16 length, so the cheap check first.
    if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) {
      throw new XmlRpcDecodeError(`request body exceeds ${maxBytes} bytes`, FAULT_INVALID_REQUEST);
    }
    XML_DECL_RE.lastIndex = body.charCodeAt(0) === 0xfeff ? 1 : 0;
    const m = XML_DECL_RE.exec(body);
    const enc = m ? (m[1] ?? m[2])?.toLowerCase() : undefined;
    if (enc !== undefined && !STRING_BODY_ENCODINGS.has(enc)) unsupportedEncoding(enc);
    return body;
  }
  if (!(body instanceof Uint8Array)) {
    throw new XmlRpcDecodeError('request body must be a string or bytes', FAULT_INVALID_REQUEST);
  }
  if (body.byteLength > maxBytes) {
    throw new XmlRpcDecodeError(`request body exceeds ${maxBytes} bytes`, FAULT_INVALID_REQUEST);
  }
  const enc = declaredEncoding(body)?.toLowerCase();
  if (enc === undefined || UTF8_NAMES.includes(enc)) {
    let text: string;
    try {
      text = utf8Decoder.decode(body);
    } catch (e) {
      throw new XmlRpcDecodeError('invalid UTF-8 in request body', FAULT_INVALID_CHARACTER, { cause: e });
    }
    if (enc === undefined) {
      // The sniffing window may have missed a (padded) declaration: never decode against a declared encoding.
      XML_DECL_RE.lastIndex = 0;
      const m = XML_DECL_RE.exec(text);
      const declared = m ? (m[1] ?? m[2])?.toLowerCase() : undefined;
      if (declared !== undefined && !UTF8_NAMES.includes(declared)) unsupportedEncoding(declared);
    }
    return text;
  }
  if (ASCII_NAMES.includes(enc)) {
    for (let i = 0; i < body.length; i++) {
      if (body[i] > 0x7f) throw new XmlRpcDecodeError('invalid US-ASCII in request body', FAULT_INVALID_CHARACTER);
    }
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  }
  if (LATIN1_NAMES.includes(enc)) {
    return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('latin1');
  }
  unsupportedEncoding(enc);
}

function parseXml(body: string | Uint8Array, opts: DecodeOptions | undefined): { root: XmlElement; maxDepth: number } {
  const { maxBytes, maxDepth } = resolveLimits(opts);
  const text = bodyToText(body, maxBytes);
  // Safety checks before any parsing (anywhere in the text, even inside comments or CDATA sections).
  if (FORBIDDEN_DECL_RE.test(text)) {
    throw new XmlRpcDecodeError('DOCTYPE and ENTITY declarations are not allowed', FAULT_INVALID_REQUEST);
  }
  const bad = INVALID_XML_CHAR_RE.exec(text);
  if (bad) {
    throw new XmlRpcDecodeError(`invalid XML character at offset ${bad.index}`, FAULT_INVALID_CHARACTER);
  }
  // A value at container depth d sits at element depth <= 5 + 3d (methodCall>params>param>value>array>data>value…).
  const root = new XmlReader(text, 3 * maxDepth + 6).parseDocument();
  return { root, maxDepth };
}

/** Runs `fn`, guaranteeing that anything thrown is an XmlRpcDecodeError. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof XmlRpcDecodeError) throw e;
    throw new XmlRpcDecodeError('internal error while decoding XML-RPC', FAULT_INTERNAL, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// XML tree → XML-RPC values
// ---------------------------------------------------------------------------------------------------------------

function invalid(message: string): never {
  throw new XmlRpcDecodeError(message, FAULT_INVALID_REQUEST);
}

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

/** Trims XML whitespace (a loop, not a regex: `/\s+$/` is quadratic on long inner whitespace runs). */
function trimXmlWs(s: string): string {
  const isWs = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  let a = 0;
  let b = s.length;
  while (a < b && isWs(s.charCodeAt(a))) a++;
  while (b > a && isWs(s.charCodeAt(b - 1))) b--;
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
  // defineProperty: a member called "__proto__" becomes an ordinary own property (no prototype pollution).
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
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
      const seen = new Set<string>();
      for (const member of elementChildren(typed)) {
        if (member.name !== 'member') invalid(`unexpected <${short(member.name)}> inside <struct>`);
        const parts = elementChildren(member);
        if (parts.length !== 2 || parts[0].name !== 'name' || parts[1].name !== 'value') {
          invalid('<member> must contain <name> followed by <value>');
        }
        const key = textOnly(parts[0]);
        if (seen.has(key)) invalid(`duplicate struct member ${preview(key)}`);
        seen.add(key);
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
  return guarded(() => {
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
  });
}

/** Decodes an XML-RPC `<methodResponse>` (result or fault). Throws only XmlRpcDecodeError. */
export function decodeMethodResponse(
  body: string | Uint8Array,
  opts?: DecodeOptions,
): { fault?: { faultCode: number; faultString: string }; value?: XmlRpcValue } {
  return guarded(() => {
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
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------------

const XML_DECL = '<?xml version="1.0"?>';

function escapeText(s: string, opts: EncodeOptions): string {
  if (INVALID_XML_CHAR_RE.test(s)) {
    if (opts.invalidChars === 'replace') s = s.replace(INVALID_XML_CHAR_GLOBAL_RE, '\uFFFD');
    else throw new XmlRpcEncodeError('string contains characters that cannot be represented in XML 1.0');
  }
  // '>' is escaped so that ']]>' can never appear; CR as a reference so it survives XML newline normalisation.
  return s.replace(/[&<>\r]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&#13;'));
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

function formatDate(d: Date): string {
  const t = d.getTime();
  if (Number.isNaN(t)) throw new XmlRpcEncodeError('cannot encode an invalid Date');
  const y = d.getUTCFullYear();
  if (y < 0 || y > 9999) throw new XmlRpcEncodeError(`cannot encode year ${y} in dateTime.iso8601`);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return (
    `${String(y).padStart(4, '0')}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}` +
    `T${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`
  );
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function encodeValue(v: unknown, out: string[], opts: EncodeOptions, ancestors: Set<object>): void {
  switch (typeof v) {
    case 'string':
      out.push('<value><string>', escapeText(v, opts), '</string></value>');
      return;
    case 'boolean':
      out.push(v ? '<value><boolean>1</boolean></value>' : '<value><boolean>0</boolean></value>');
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new XmlRpcEncodeError(`cannot encode non-finite number ${v}`);
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
        const tag = v >= INT32_MIN && v <= INT32_MAX ? 'int' : 'i8';
        out.push(`<value><${tag}>${v}</${tag}></value>`);
      } else {
        // Non-integers, -0, and integral numbers beyond 2^53 (not exact integers in JS; use bigint for those).
        out.push(`<value><double>${formatDouble(v)}</double></value>`);
      }
      return;
    case 'bigint': {
      if (v < INT64_MIN || v > INT64_MAX) throw new XmlRpcEncodeError('bigint out of 64-bit range');
      const tag = v >= BigInt(INT32_MIN) && v <= BigInt(INT32_MAX) ? 'int' : 'i8';
      out.push(`<value><${tag}>${v.toString()}</${tag}></value>`);
      return;
    }
    case 'object':
      break;
    default:
      throw new XmlRpcEncodeError(`cannot encode a value of type ${typeof v}`);
  }
  if (v === null) {
    if (opts.allowNil === false) throw new XmlRpcEncodeError('cannot marshal None unless allow_none is enabled');
    out.push('<value><nil/></value>');
    return;
  }
  if (v instanceof XmlRpcDouble) {
    out.push(`<value><double>${formatDouble(v.value)}</double></value>`);
    return;
  }
  if (v instanceof Date) {
    out.push(`<value><dateTime.iso8601>${formatDate(v)}</dateTime.iso8601></value>`);
    return;
  }
  if (v instanceof Uint8Array) {
    out.push(`<value><base64>${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')}</base64></value>`);
    return;
  }
  if (ancestors.has(v)) throw new XmlRpcEncodeError('cannot encode a cyclic structure');
  if (ancestors.size >= ENCODE_MAX_DEPTH) throw new XmlRpcEncodeError('value nested too deeply');
  ancestors.add(v);
  if (Array.isArray(v)) {
    out.push('<value><array><data>');
    for (const item of v as unknown[]) encodeValue(item, out, opts, ancestors);
    out.push('</data></array></value>');
  } else if (isPlainObject(v)) {
    out.push('<value><struct>');
    for (const key of Object.keys(v)) {
      const member = (v as Record<string, unknown>)[key];
      if (member === undefined) continue; // like JSON: optional members that are absent
      out.push('<member><name>', escapeText(key, opts), '</name>');
      encodeValue(member, out, opts, ancestors);
      out.push('</member>');
    }
    out.push('</struct></value>');
  } else {
    throw new XmlRpcEncodeError(`cannot encode an instance of ${v.constructor?.name ?? 'unknown class'}`);
  }
  ancestors.delete(v);
}

function encodeValueToString(value: XmlRpcValue, opts: EncodeOptions): string {
  const out: string[] = [];
  encodeValue(value, out, opts, new Set());
  return out.join('');
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
