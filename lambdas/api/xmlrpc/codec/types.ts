/** XML-RPC values, the codec's options and limits, and the character classes shared by decoding and encoding. */

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
/** The largest `maxDepth` honoured (larger values are clamped). */
export const MAX_MAX_DEPTH = 1000;

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** methodName characters allowed by the XML-RPC spec. */
export const METHOD_NAME_RE = /^[A-Za-z0-9_.:/]+$/;

/** Any character outside XML 1.0 `Char` (also matches lone surrogates thanks to the `u` flag). */
export const INVALID_XML_CHAR_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
export const INVALID_XML_CHAR_GLOBAL_RE = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;
