/**
 * The XML-RPC dispatcher: request bytes → `<methodResponse>` text.
 *
 *   decode (codec: size cap, no DTD/entities)  → fault with the codec's faultCode
 *   look the method up in the one table        → fault -32601 when unknown
 *   check arity and wire types of the params   → fault -32602 naming the parameter
 *   run the use case (the same one as REST)    → `[true, result]`
 *   any error, through ERROR_TABLE's xmlrpc column:
 *     'result' → `[false, message]` (IM's convention for operation errors)
 *     a number → fault with that code (internal errors: generic message, details in the log only)
 *
 * Results are encoded without `<nil/>` (IM ran with allow_none off); a result that cannot be
 * encoded is a fault -32603, as it was in IM.
 */
import type { Config } from '#core/config';
import { publicMessage, toImError } from '#core/errors';
import type { Logger, Services } from '#core/types';
import {
  FAULT_INTERNAL,
  FAULT_METHOD_NOT_FOUND,
  XmlRpcDecodeError,
  XmlRpcEncodeError,
  decodeMethodCall,
  encodeFault,
  encodeMethodResponse,
  type XmlRpcValue,
} from '#api/xmlrpc/codec';
import { ParamError, type Param } from '#api/xmlrpc/params';
import { findMethod, type MethodContext, type MethodDef } from '#api/xmlrpc/methods';

export interface DispatchDeps {
  config: Config;
  /** The composition root, built on first use (GetVersion never asks for it). */
  services(): Promise<Services>;
  logger: Logger;
}

/** How a call ended: a result `[true, …]`, an operation error `[false, …]`, or a fault. */
export type CallOutcome = 'ok' | 'error' | 'fault';

export interface XmlRpcReply {
  /** The `<methodResponse>` document. */
  body: string;
  outcome: CallOutcome;
  /** The method name, when the call could be decoded. */
  method?: string;
  faultCode?: number;
}

function fault(code: number, message: string, method?: string): XmlRpcReply {
  return { body: encodeFault(code, message), outcome: 'fault', faultCode: code, method };
}

function paramList(params: readonly Param<unknown>[]): string {
  let out = '';
  params.forEach((p, i) => {
    const sep = i === 0 ? '' : ', ';
    out += p.optional ? `[${sep}${p.name}]` : `${sep}${p.name}`;
  });
  return out;
}

/** Arity (optional params are positional and trailing), then each param's wire type. */
function decodeArgs(name: string, def: MethodDef, params: XmlRpcValue[]): unknown[] {
  const max = def.params.length;
  const min = def.params.filter((p) => !p.optional).length;
  if (params.length < min || params.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new ParamError(
      `Incorrect number of parameters for ${name}: expected ${expected} (${paramList(def.params)}), got ${params.length}`,
    );
  }
  return def.params.map((p, i) => {
    const v = i < params.length ? params[i] : undefined;
    if (v === undefined || (v === null && p.optional)) return undefined;
    return p.decode(v);
  });
}

/** Runs one decoded call. Only a bug can make it throw (handleXmlRpc answers that with a generic fault). */
export async function dispatchCall(methodName: string, params: XmlRpcValue[], deps: DispatchDeps): Promise<XmlRpcReply> {
  const def = findMethod(methodName);
  if (!def) return fault(FAULT_METHOD_NOT_FOUND, `method "${methodName}" is not supported`, methodName);
  let args: unknown[];
  try {
    args = decodeArgs(methodName, def, params);
  } catch (err) {
    if (err instanceof ParamError) return fault(err.faultCode, err.message, methodName);
    throw err;
  }

  const ctx: MethodContext = { config: deps.config, services: () => deps.services() };
  let value: XmlRpcValue;
  try {
    value = def.result(await def.run(ctx, args), ctx);
  } catch (err) {
    return errorReply(err, deps.logger, methodName);
  }
  try {
    const body = encodeMethodResponse([true, value], { allowNil: false, invalidChars: def.logLike ? 'replace' : 'error' });
    return { body, outcome: 'ok', method: methodName };
  } catch (err) {
    if (!(err instanceof XmlRpcEncodeError)) throw err;
    deps.logger.error('XML-RPC result cannot be encoded', { method: methodName, error: err.message });
    return fault(err.faultCode, `cannot marshal the result of ${methodName}: ${err.message}`, methodName);
  }
}

/** An error (of a method, or of the whole call), mapped through ERROR_TABLE's xmlrpc column. */
export function errorReply(err: unknown, logger: Logger, method?: string): XmlRpcReply {
  const e = toImError(err);
  const message = publicMessage(e);
  const how = e.mapping.xmlrpc;
  if (e.code === 'INTERNAL') logger.error('XML-RPC call failed', { method, error: err });
  else logger.info('XML-RPC call refused', { method, code: e.code, message });
  if (how === 'result') {
    // Messages may echo client text (RADL parse errors): never let a bad character turn them into a fault.
    return { body: encodeMethodResponse([false, message], { invalidChars: 'replace' }), outcome: 'error', method };
  }
  return fault(how, message, method);
}

/**
 * A whole request: the raw body bytes (the codec checks the declared encoding, the size cap and
 * rejects DTDs) → the reply. Never throws.
 */
export async function handleXmlRpc(body: Uint8Array, deps: DispatchDeps): Promise<XmlRpcReply> {
  let call: { methodName: string; params: XmlRpcValue[] };
  try {
    call = decodeMethodCall(body, { maxBytes: deps.config.MAX_BODY_SIZE });
  } catch (err) {
    if (err instanceof XmlRpcDecodeError) {
      deps.logger.info('XML-RPC request rejected', { faultCode: err.faultCode, error: err.message });
      return fault(err.faultCode, err.message);
    }
    deps.logger.error('XML-RPC decoder failed', { error: err });
    return fault(FAULT_INTERNAL, publicMessage(toImError(err)));
  }
  try {
    return await dispatchCall(call.methodName, call.params, deps);
  } catch (err) {
    deps.logger.error('XML-RPC dispatcher failed', { method: call.methodName, error: err });
    return fault(FAULT_INTERNAL, publicMessage(toImError(err)), call.methodName);
  }
}
