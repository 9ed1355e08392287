/**
 * Strict, safe XML-RPC codec (pure code, no AWS imports).
 *
 * Decoding parses with saxes (a strict, spec-conforming, non-validating XML 1.0 SAX parser: well-formedness is
 * checked in one pass, and it throws at the first error) and builds a small element tree from its events. saxes
 * runs without namespaces (`ex:nil` is a plain name) and always with XML 1.0 rules; checks of our own around it
 * keep exactly what is accepted under control:
 *   - no DTDs at all: any `<!DOCTYPE` / `<!ENTITY` (or ELEMENT, ATTLIST, NOTATION) is rejected before parsing,
 *     even inside a comment or CDATA section (XXE, billion laughs); a doctype event would be refused too;
 *   - entity references are never expanded except the five predefined ones and numeric character references
 *     (without a DTD saxes knows no others); a character reference must name an XML `Char`;
 *   - processing instructions other than the XML declaration at the very start are rejected, unterminated too;
 *   - characters XML 1.0 cannot carry are reported as such (FAULT_INVALID_CHARACTER) before any parse error;
 *     element and attribute names are held to the BMP name characters, like expat;
 *   - body size (bytes) and nesting depth are bounded (element depth as each start tag opens);
 *   - text content is preserved exactly (no trimming); line endings are normalised as required by XML 1.0 §2.11
 *     (a literal CR LF or CR becomes LF, exactly as expat does on the Python reference; `&#13;` yields a real CR);
 *   - every failure surfaces as an {@link XmlRpcDecodeError} carrying an interoperability fault code; saxes's
 *     errors become FAULT_PARSE ("unexpected end of document" when the input ran out first).
 * One saxes parser is reused for every document (decoding is synchronous); a byte body's XML declaration, once
 * checked, is not given to it (saxes is slow on declarations).
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

import { isAscii, isUtf8 } from 'node:buffer';
import { SaxesParser, type SaxesAttributePlain, type SaxesStartTagPlain } from 'saxes';

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
// XML parsing: saxes events → a small element tree
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
/**
 * Any UTF-16 code unit that is not a BMP XML `Char`: invalid characters and every surrogate. One scan finds both
 * invalid and astral characters; the precise INVALID_XML_CHAR_RE runs only on a hit.
 */
const NOT_BMP_XML_CHAR_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD]/;
const FORBIDDEN_DECL_RE = /<!\s*(?:DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)/i;

// XML 1.0 (5th ed.) name characters restricted to the BMP, like expat (the Python reference) and fast-xml-parser.
// saxes also accepts astral-plane name characters (#x10000-#xEFFFF); documents containing any are held to this.
const NAME_START =
  ':A-Z_a-z\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D\\u037F-\\u1FFF\\u200C-\\u200D' +
  '\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF\\uFDF0-\\uFFFD';
const NAME_CHAR = NAME_START + '\\-.0-9\\u00B7\\u0300-\\u036F\\u203F-\\u2040';
// The NameChar ranges of XML 1.0 §2.3 include combining marks (U+0300–U+036F); that is intended here.
// eslint-disable-next-line no-misleading-character-class
const BMP_NAME_RE = new RegExp(`^[${NAME_START}][${NAME_CHAR}]*$`, 'u');
const XML_DECL_RE = new RegExp(
  '<\\?xml[ \\t\\n\\r]+version[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"1\\.[0-9]+"|\'1\\.[0-9]+\')' +
    '(?:[ \\t\\n\\r]+encoding[ \\t\\n\\r]*=[ \\t\\n\\r]*' +
    '(?:"([A-Za-z][A-Za-z0-9._-]*)"|\'([A-Za-z][A-Za-z0-9._-]*)\'))?' +
    '(?:[ \\t\\n\\r]+standalone[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"(?:yes|no)"|\'(?:yes|no)\'))?' +
    '[ \\t\\n\\r]*\\?>',
  'y',
);

/** Bounds input echoed into error messages. */
function short(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

/**
 * One parser for the whole process, reset after every document (`close()` on success, `_init()` after an error):
 * decoding is synchronous and the handlers never re-enter it. Not namespace-aware, so `ex:nil` is an ordinary
 * name and `xmlns:*` ordinary attributes. Always XML 1.0 rules, whatever version the declaration names (1.1 would
 * turn NEL/LS into newlines and allow control characters by reference). No error handler: saxes then throws at the
 * first error.
 */
const parser = new SaxesParser({ position: false, forceXMLVersion: true, defaultXMLVersion: '1.0' });

// State of the document being parsed, used by the event handlers below (module-level functions, so that parsing a
// document creates no closures).
const openElements: XmlElement[] = [];
let rootElement: XmlElement | undefined;
let elementDepthLimit = 0;
let bmpNamesOnly = false;
/** Offset in the text of what saxes was given (it is not given an XML declaration that was already checked). */
let positionBase = 0;

/** The current offset in the text (for error messages). */
function offsetNow(): number {
  return positionBase + parser.position;
}

function nestedTooDeeply(offset: number): XmlRpcDecodeError {
  return new XmlRpcDecodeError(`document nested too deeply (at offset ${offset})`, FAULT_INVALID_REQUEST);
}

function processingInstruction(offset: number): XmlRpcDecodeError {
  return new XmlRpcDecodeError(`processing instructions are not allowed (at offset ${offset})`, FAULT_INVALID_REQUEST);
}

function notWellFormed(message: string, offset: number): never {
  throw new XmlRpcDecodeError(`not well formed: ${message} (at offset ${offset})`, FAULT_PARSE);
}

/** A start tag whose name has been read: the depth limit applies as soon as an element starts (before attributes). */
function onOpenTagStart(tag: SaxesStartTagPlain): void {
  const open = openElements;
  if (open.length >= elementDepthLimit) throw nestedTooDeeply(offsetNow());
  if (bmpNamesOnly && !BMP_NAME_RE.test(tag.name)) notWellFormed('invalid name', offsetNow());
  const el: XmlElement = { name: tag.name, children: [] };
  if (open.length === 0) rootElement = el;
  else open[open.length - 1].children.push(el);
  open.push(el);
}

/** Attributes are checked by saxes and then discarded (XML-RPC defines none; `xmlns:ex` & co. are tolerated). */
function onAttribute(attr: SaxesAttributePlain): void {
  if (bmpNamesOnly && !BMP_NAME_RE.test(attr.name)) notWellFormed('invalid name', offsetNow());
}

function onCloseTag(): void {
  openElements.pop();
}

/** Text and CDATA sections (saxes has already expanded references and normalised line endings). */
function onText(text: string): void {
  const open = openElements;
  // Outside the root element only whitespace reaches here (saxes rejects anything else); it is not content.
  if (open.length === 0 || text === '') return;
  const children = open[open.length - 1].children;
  const last = children.length - 1;
  if (last >= 0 && typeof children[last] === 'string') children[last] = (children[last] as string) + text;
  else children.push(text);
}

function onProcessingInstruction(): void {
  throw processingInstruction(offsetNow());
}

function onDoctype(): void {
  // Unreachable: FORBIDDEN_DECL_RE rejects every `<!DOCTYPE` before parsing. Kept as a second line of defence.
  throw new XmlRpcDecodeError('DOCTYPE and ENTITY declarations are not allowed', FAULT_INVALID_REQUEST);
}

parser.on('opentagstart', onOpenTagStart);
parser.on('attribute', onAttribute);
parser.on('closetag', onCloseTag);
parser.on('text', onText);
parser.on('cdata', onText);
parser.on('processinginstruction', onProcessingInstruction);
parser.on('doctype', onDoctype);

/**
 * saxes errors raised by a `<?` that is not the XML declaration at the start of the document (a misplaced
 * declaration, a malformed target): any processing instruction is refused as such, whatever follows `<?`.
 */
const SAXES_PI_ERRORS = new Set([
  'an XML declaration must be at the start of the document.',
  'the XML declaration must appear at the start of the document.',
  'processing instructions are not allowed before root.',
  'processing instruction without a target.',
  'disallowed character in processing instruction name.',
]);

/**
 * saxes's internal state (saxes is pinned at 6.0.0), read on the error path only, to tell what the input was in
 * the middle of when it ran out.
 */
function saxesState(): number {
  const state = (parser as unknown as { state?: unknown }).state;
  return typeof state === 'number' ? state : -1;
}
const SAXES_S_PI_FIRST_CHAR = 23; // `<?` … S_PI_REST, S_PI_BODY … S_PI_ENDING (26): inside `<?target …`
const SAXES_S_PI_ENDING = 26;
const SAXES_S_OPEN_TAG = 34; // `<name`, name not finished

/**
 * The error for input that ended early. Inside a processing instruction (`<?target …` without `?>`): refused as
 * a processing instruction, as a complete one is (a body that is exactly `<?xml` is the start of an XML
 * declaration, not a processing instruction). Inside the name of a start tag too deep to be allowed: too deep.
 * Anything else (no root element, unclosed elements, an unfinished construct): a truncated document.
 */
function endOfInputError(text: string, end: number): XmlRpcDecodeError {
  const state = saxesState();
  if (state >= SAXES_S_PI_FIRST_CHAR && state <= SAXES_S_PI_ENDING && text !== '<?xml' && text !== '\uFEFF<?xml') {
    return processingInstruction(end);
  }
  if (state === SAXES_S_OPEN_TAG && openElements.length >= elementDepthLimit) return nestedTooDeeply(end);
  return new XmlRpcDecodeError(`not well formed: unexpected end of document (at offset ${end})`, FAULT_PARSE);
}

/** Maps an error thrown by saxes (a plain Error) to an XmlRpcDecodeError; anything else is returned as is. */
function fromSaxesError(e: unknown, text: string, atEnd: boolean, offset: number): unknown {
  if (!(e instanceof Error) || Object.getPrototypeOf(e) !== Error.prototype) return e; // a bug, not bad input
  // What saxes reports only once the input is exhausted (at close()) is about input that ended early.
  if (atEnd) return endOfInputError(text, offset);
  if (SAXES_PI_ERRORS.has(e.message)) return processingInstruction(offset);
  // `<` then a character that cannot start a name, where no element may start anyway: too deep comes first.
  if (e.message === 'disallowed character in tag name' && openElements.length >= elementDepthLimit) {
    return nestedTooDeeply(offset);
  }
  // saxes messages name at most markup (tag, attribute or declaration names), never content; bound them anyway.
  const message = e.message.endsWith('.') ? e.message.slice(0, -1) : e.message;
  return new XmlRpcDecodeError(
    `not well formed: ${message.length > 100 ? `${message.slice(0, 100)}…` : message} (at offset ${offset})`,
    FAULT_PARSE,
  );
}

/**
 * Parses a whole document with saxes and returns the root element. `body.skipped` characters (a checked XML
 * declaration) precede `body.text`; `depthLimit` bounds element nesting; with `astral` (the text has characters
 * beyond the BMP) element and attribute names are checked against BMP_NAME_RE.
 */
function parseDocument(body: BodyText, depthLimit: number, astral: boolean): XmlElement {
  const text = body.text;
  openElements.length = 0;
  rootElement = undefined;
  elementDepthLimit = depthLimit;
  bmpNamesOnly = astral;
  positionBase = body.skipped;
  let atEnd = false;
  try {
    parser.write(text);
    atEnd = true;
    parser.close();
    const root = rootElement;
    // Unreachable: close() fails on a document without a root element.
    if (root === undefined) notWellFormed('unexpected end of document', positionBase + text.length);
    return root;
  } catch (e) {
    const offset = atEnd ? positionBase + text.length : offsetNow();
    // A narrow text was not scanned for characters XML cannot carry: they are reported first, as for the others.
    const error =
      (body.narrow ? invalidCharacterError(body) : undefined) ??
      (e instanceof XmlRpcDecodeError ? e : fromSaxesError(e, text, atEnd, offset));
    parser._init(); // discard the half-parsed document: the parser is reused
    throw error;
  } finally {
    openElements.length = 0;
    rootElement = undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Body → text
// ---------------------------------------------------------------------------------------------------------------

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

const UTF8_NAMES = ['utf-8', 'utf8'];
const ASCII_NAMES = ['us-ascii', 'ascii'];
const LATIN1_NAMES = ['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1'];
/** Encodings a string body may declare (it has already been decoded by the caller, so this is only a sanity check). */
const STRING_BODY_ENCODINGS = new Set([...UTF8_NAMES, ...ASCII_NAMES, ...LATIN1_NAMES, 'utf-16', 'utf16']);

function unsupportedEncoding(enc: string): never {
  throw new XmlRpcDecodeError(`unsupported encoding '${enc.slice(0, 40)}'`, FAULT_UNSUPPORTED_ENCODING);
}

/** Whether `buf` holds `<?xml` at `at`. */
function startsWithXmlPi(buf: Buffer, at: number): boolean {
  return (
    buf.length >= at + 5 &&
    buf[at] === 0x3c &&
    buf[at + 1] === 0x3f &&
    buf[at + 2] === 0x78 &&
    buf[at + 3] === 0x6d &&
    buf[at + 4] === 0x6c
  );
}

/** The encoding named by the XML declaration at the start of `text` (after `from`), lower-cased. */
function declaredEncodingOf(text: string, from: number): string | undefined {
  XML_DECL_RE.lastIndex = from;
  const m = XML_DECL_RE.exec(text);
  return m ? (m[1] ?? m[2])?.toLowerCase() : undefined;
}

/**
 * A body as text for saxes. `skipped`: the characters before `text`: an XML declaration already checked with
 * XML_DECL_RE, whose grammar is saxes's (saxes is slow on declarations: about 0.5 µs, a quarter of a small call).
 * `narrow`: the text comes from bytes that cannot encode a surrogate or a character beyond the BMP (ASCII, or
 * ISO-8859-1), so the only characters XML 1.0 forbids that it may hold are C0 controls, which saxes rejects
 * itself wherever they are.
 */
interface BodyText {
  text: string;
  skipped: number;
  narrow: boolean;
}

/**
 * Where the content of a byte body starts when the XML declaration ends at `end` and what follows cannot change
 * how saxes reads on when given the rest as a document of its own: whitespace, or a `<` that does not start a
 * processing instruction (saxes would take a `<?xml` there for the declaration, or skip a U+FEFF as a byte order
 * mark). Otherwise 0: the declaration is left to saxes.
 */
function contentStart(buf: Buffer, end: number): number {
  const c = buf[end];
  if (c === 0x3c) return buf[end + 1] === 0x3f ? 0 : end; // '<', then not '?'
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 ? end : 0;
}

function bodyToText(body: string | Uint8Array, maxBytes: number): BodyText {
  if (typeof body === 'string') {
    // UTF-8 length >= UTF-16 length, so the cheap check first.
    if (body.length > maxBytes || Buffer.byteLength(body, 'utf8') > maxBytes) {
      throw new XmlRpcDecodeError(`request body exceeds ${maxBytes} bytes`, FAULT_INVALID_REQUEST);
    }
    const enc = declaredEncodingOf(body, body.charCodeAt(0) === 0xfeff ? 1 : 0);
    if (enc !== undefined && !STRING_BODY_ENCODINGS.has(enc)) unsupportedEncoding(enc);
    // The declaration stays: skipping it would need a slice, and saxes reads sliced strings slower than it reads
    // a declaration.
    return { text: body, skipped: 0, narrow: false };
  }
  if (!(body instanceof Uint8Array)) {
    throw new XmlRpcDecodeError('request body must be a string or bytes', FAULT_INVALID_REQUEST);
  }
  if (body.byteLength > maxBytes) {
    throw new XmlRpcDecodeError(`request body exceeds ${maxBytes} bytes`, FAULT_INVALID_REQUEST);
  }
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const bom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  // The declaration is sniffed (ASCII-compatible) in the first 256 bytes, only when the body starts with one.
  let enc: string | undefined;
  let declSeen = true;
  let start = 0; // where the text starts in `buf`: after the byte order mark, or after a checked declaration
  if (startsWithXmlPi(buf, bom)) {
    XML_DECL_RE.lastIndex = 0;
    const m = XML_DECL_RE.exec(buf.toString('latin1', bom, Math.min(buf.length, 256)));
    if (m) {
      enc = (m[1] ?? m[2])?.toLowerCase();
      start = contentStart(buf, bom + XML_DECL_RE.lastIndex);
    } else declSeen = false;
  }
  if (enc === undefined || UTF8_NAMES.includes(enc)) {
    if (start === 0) start = bom;
    let text: string;
    let narrow: boolean;
    if (isAscii(bom === 0 ? buf : buf.subarray(bom))) {
      text = buf.toString('latin1', start);
      narrow = true;
    } else {
      if (!isUtf8(buf)) throw new XmlRpcDecodeError('invalid UTF-8 in request body', FAULT_INVALID_CHARACTER);
      text = buf.toString('utf8', start);
      narrow = false;
    }
    if (!declSeen) {
      // The sniffing window may have missed a (padded) declaration: never decode against a declared encoding.
      const declared = declaredEncodingOf(text, 0);
      if (declared !== undefined && !UTF8_NAMES.includes(declared)) unsupportedEncoding(declared);
    }
    // Offsets count characters after the byte order mark (the declaration is ASCII: one byte per character).
    return { text, skipped: start - bom, narrow };
  }
  // ISO-8859-1 / US-ASCII: the text is every byte, a byte order mark included (which then fails as text before
  // the root element), so a declaration is skipped only when there is none.
  if (bom !== 0) start = 0;
  if (ASCII_NAMES.includes(enc)) {
    if (!isAscii(buf)) throw new XmlRpcDecodeError('invalid US-ASCII in request body', FAULT_INVALID_CHARACTER);
    return { text: buf.toString('latin1', start), skipped: start, narrow: true };
  }
  if (LATIN1_NAMES.includes(enc)) return { text: buf.toString('latin1', start), skipped: start, narrow: true };
  unsupportedEncoding(enc);
}

function invalidCharacterError(body: BodyText): XmlRpcDecodeError | undefined {
  const bad = INVALID_XML_CHAR_RE.exec(body.text);
  return bad
    ? new XmlRpcDecodeError(`invalid XML character at offset ${body.skipped + bad.index}`, FAULT_INVALID_CHARACTER)
    : undefined;
}

function parseXml(body: string | Uint8Array, opts: DecodeOptions | undefined): { root: XmlElement; maxDepth: number } {
  const { maxBytes, maxDepth } = resolveLimits(opts);
  const bodyText = bodyToText(body, maxBytes);
  const text = bodyText.text;
  // Safety checks before any parsing (anywhere in the text, even inside comments or CDATA sections; a skipped
  // declaration holds neither).
  if (FORBIDDEN_DECL_RE.test(text)) {
    throw new XmlRpcDecodeError('DOCTYPE and ENTITY declarations are not allowed', FAULT_INVALID_REQUEST);
  }
  // Characters XML cannot carry are reported as such, before any parse error. saxes rejects them all except lone
  // surrogates, so a narrow text (none possible) is scanned for them only if parsing fails.
  let astral = false;
  if (!bodyText.narrow && NOT_BMP_XML_CHAR_RE.test(text)) {
    const bad = invalidCharacterError(bodyText);
    if (bad) throw bad;
    astral = true; // only surrogate pairs, i.e. characters beyond the BMP
  }
  // A value at container depth d sits at element depth <= 5 + 3d (methodCall>params>param>value>array>data>value…).
  const root = parseDocument(bodyText, 3 * maxDepth + 6, astral);
  return { root, maxDepth };
}

/** Wraps anything but an XmlRpcDecodeError thrown while decoding (a bug) into a FAULT_INTERNAL one. */
function internalError(e: unknown): XmlRpcDecodeError {
  return e instanceof XmlRpcDecodeError
    ? e
    : new XmlRpcDecodeError('internal error while decoding XML-RPC', FAULT_INTERNAL, { cause: e });
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

// ---------------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------------

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
