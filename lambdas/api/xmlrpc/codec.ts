/**
 * Strict, safe XML-RPC codec (pure code, no AWS imports): the public API of lambdas/api/xmlrpc/codec/.
 *   - decode.ts      body → `<methodCall>` / `<methodResponse>` values (limits, DTD refusal, wire types)
 *   - parse-xml.ts   XML text → element tree with saxes, through its public API only
 *   - markup.ts      our own reading of the markup around a parse error (which fault it becomes)
 *   - body-text.ts   string or bytes → text (size cap, declared encoding)
 *   - encode.ts      values → calls, responses and faults
 *   - faults.ts      fault codes and the codec's errors
 *   - types.ts       XmlRpcValue, options, limits
 */

export {
  FAULT_INTERNAL,
  FAULT_INVALID_CHARACTER,
  FAULT_INVALID_PARAMS,
  FAULT_INVALID_REQUEST,
  FAULT_METHOD_NOT_FOUND,
  FAULT_PARSE,
  FAULT_UNSUPPORTED_ENCODING,
  XmlRpcDecodeError,
  XmlRpcEncodeError,
} from '#api/xmlrpc/codec/faults';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_DEPTH,
  XmlRpcDouble,
  type DecodeOptions,
  type EncodeOptions,
  type XmlRpcValue,
} from '#api/xmlrpc/codec/types';
export { decodeMethodCall, decodeMethodResponse } from '#api/xmlrpc/codec/decode';
export { encodeFault, encodeMethodCall, encodeMethodResponse, formatDouble } from '#api/xmlrpc/codec/encode';
