/**
 * A request body (string or bytes) → the text saxes parses. Byte bodies are decoded as UTF-8 unless their XML
 * declaration says US-ASCII or ISO-8859-1; a string body has been decoded by the caller already, so its declared
 * encoding is only sanity-checked. The size cap applies here, before anything is decoded.
 */

import { isAscii, isUtf8 } from 'node:buffer';
import {
  FAULT_INVALID_CHARACTER,
  FAULT_INVALID_REQUEST,
  unsupportedEncoding,
  XmlRpcDecodeError,
} from '#api/xmlrpc/codec/faults';
import { INVALID_XML_CHAR_RE } from '#api/xmlrpc/codec/types';

/** The XML declaration's grammar (saxes's), sticky: it matches only where `lastIndex` points. */
const XML_DECL_RE = new RegExp(
  '<\\?xml[ \\t\\n\\r]+version[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"1\\.[0-9]+"|\'1\\.[0-9]+\')' +
    '(?:[ \\t\\n\\r]+encoding[ \\t\\n\\r]*=[ \\t\\n\\r]*' +
    '(?:"([A-Za-z][A-Za-z0-9._-]*)"|\'([A-Za-z][A-Za-z0-9._-]*)\'))?' +
    '(?:[ \\t\\n\\r]+standalone[ \\t\\n\\r]*=[ \\t\\n\\r]*(?:"(?:yes|no)"|\'(?:yes|no)\'))?' +
    '[ \\t\\n\\r]*\\?>',
  'y',
);

const UTF8_NAMES = ['utf-8', 'utf8'];
const ASCII_NAMES = ['us-ascii', 'ascii'];
const LATIN1_NAMES = ['iso-8859-1', 'iso8859-1', 'latin1', 'latin-1'];
/** Encodings a string body may declare (it has already been decoded by the caller, so this is only a sanity check). */
const STRING_BODY_ENCODINGS = new Set([...UTF8_NAMES, ...ASCII_NAMES, ...LATIN1_NAMES, 'utf-16', 'utf16']);

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
export interface BodyText {
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

export function bodyToText(body: string | Uint8Array, maxBytes: number): BodyText {
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

/** The first character of the text that XML 1.0 cannot carry, as an error (undefined if there is none). */
export function invalidCharacterError(body: BodyText): XmlRpcDecodeError | undefined {
  const bad = INVALID_XML_CHAR_RE.exec(body.text);
  return bad
    ? new XmlRpcDecodeError(`invalid XML character at offset ${body.skipped + bad.index}`, FAULT_INVALID_CHARACTER)
    : undefined;
}
