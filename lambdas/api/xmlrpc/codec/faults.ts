/**
 * XML-RPC fault codes ("specification for fault code interoperability", xmlrpc-epi) and the codec's two errors.
 * Every decoding failure is an {@link XmlRpcDecodeError} carrying one of the FAULT_* codes; the helpers below build
 * the ones more than one file raises, so that each fault keeps one wording.
 */

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

/** A document that is well formed XML but not XML-RPC (FAULT_INVALID_REQUEST). */
export function invalid(message: string): never {
  throw new XmlRpcDecodeError(message, FAULT_INVALID_REQUEST);
}

/** Not well formed XML (FAULT_PARSE). `message` must not echo content (it may hold secrets). */
export function notWellFormed(message: string, offset: number): XmlRpcDecodeError {
  return new XmlRpcDecodeError(`not well formed: ${message} (at offset ${offset})`, FAULT_PARSE);
}

/** Input that ran out before the document was complete (FAULT_PARSE). */
export function unexpectedEnd(offset: number): XmlRpcDecodeError {
  return notWellFormed('unexpected end of document', offset);
}

/** Elements nested beyond the limit derived from `maxDepth`. */
export function nestedTooDeeply(offset: number): XmlRpcDecodeError {
  return new XmlRpcDecodeError(`document nested too deeply (at offset ${offset})`, FAULT_INVALID_REQUEST);
}

/** Any processing instruction other than the XML declaration at the very start. */
export function processingInstruction(offset: number): XmlRpcDecodeError {
  return new XmlRpcDecodeError(`processing instructions are not allowed (at offset ${offset})`, FAULT_INVALID_REQUEST);
}

/** Any DOCTYPE, ENTITY, ELEMENT, ATTLIST or NOTATION declaration (XXE, billion laughs). */
export function forbiddenDeclaration(): XmlRpcDecodeError {
  return new XmlRpcDecodeError('DOCTYPE and ENTITY declarations are not allowed', FAULT_INVALID_REQUEST);
}

/** A character XML 1.0 cannot carry, or bytes that are not valid in the body's encoding. */
export function invalidCharacter(message: string): XmlRpcDecodeError {
  return new XmlRpcDecodeError(message, FAULT_INVALID_CHARACTER);
}

export function unsupportedEncoding(enc: string): never {
  throw new XmlRpcDecodeError(`unsupported encoding '${enc.slice(0, 40)}'`, FAULT_UNSUPPORTED_ENCODING);
}

export function bodyTooLarge(maxBytes: number): never {
  throw new XmlRpcDecodeError(`request body exceeds ${maxBytes} bytes`, FAULT_INVALID_REQUEST);
}

/** Wraps anything but an XmlRpcDecodeError thrown while decoding (a bug) into a FAULT_INTERNAL one. */
export function internalError(e: unknown): XmlRpcDecodeError {
  return e instanceof XmlRpcDecodeError
    ? e
    : new XmlRpcDecodeError('internal error while decoding XML-RPC', FAULT_INTERNAL, { cause: e });
}
