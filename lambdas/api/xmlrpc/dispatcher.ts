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
  services: Services;
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
  let min = 0;
  for (const p of def.params) if (!p.optional) min++;
  if (params.length < min || params.length > max) {
    const expected = min === max ? `${min}` : `${min} to ${max}`;
    throw new ParamError(
      `Incorrect number of parameters for ${name}: expected ${expected} (${paramList(def.params)}), got ${params.length}`,
    );
  }
  const args: unknown[] = [];
  for (let i = 0; i < max; i++) {
    const p = def.params[i];
    const v = i < params.length ? params[i] : undefined;
    args.push(v === undefined || (v === null && p.optional) ? undefined : p.decode(v));
  }
  return args;
}

/** What `await` would wait for: an object (or function) with a callable `then`. */
function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';
}

/** The reply to a method whose use case gave `value`: `[true, result]`, or the error of mapping/encoding it. */
function resultReply(methodName: string, def: MethodDef, deps: DispatchDeps, value: unknown): XmlRpcReply {
  let wire: XmlRpcValue;
  try {
    wire = def.result(value, deps);
  } catch (err) {
    return errorReply(err, deps.logger, methodName);
  }
  try {
    const body = encodeMethodResponse([true, wire], { allowNil: false, invalidChars: def.logLike ? 'replace' : 'error' });
    return { body, outcome: 'ok', method: methodName };
  } catch (err) {
    if (!(err instanceof XmlRpcEncodeError)) throw err;
    deps.logger.error('XML-RPC result cannot be encoded', { method: methodName, error: err.message });
    return fault(err.faultCode, `cannot marshal the result of ${methodName}: ${err.message}`, methodName);
  }
}

/**
 * Runs one decoded call: the reply at once when the method's use case is synchronous (GetVersion),
 * else a promise of it. Only a bug can make it throw or reject (handleXmlRpc answers that with a
 * generic fault).
 */
export function dispatchCall(methodName: string, params: XmlRpcValue[], deps: DispatchDeps): XmlRpcReply | Promise<XmlRpcReply> {
  const def = findMethod(methodName);
  if (!def) return fault(FAULT_METHOD_NOT_FOUND, `method "${methodName}" is not supported`, methodName);
  let args: unknown[];
  try {
    args = decodeArgs(methodName, def, params);
  } catch (err) {
    if (err instanceof ParamError) return fault(err.faultCode, err.message, methodName);
    throw err;
  }

  // The deps are the method's context (a MethodContext).
  const ctx: MethodContext = deps;
  let value: unknown;
  try {
    value = def.run(ctx, args);
  } catch (err) {
    return errorReply(err, deps.logger, methodName);
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (v) => resultReply(methodName, def, deps, v),
      (err: unknown) => errorReply(err, deps.logger, methodName),
    );
  }
  return resultReply(methodName, def, deps, value);
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

/** A bug in the dispatcher (or a method's result mapping): a generic fault, the details logged. */
function dispatcherFailure(deps: DispatchDeps, method: string, err: unknown): XmlRpcReply {
  deps.logger.error('XML-RPC dispatcher failed', { method, error: err });
  return fault(FAULT_INTERNAL, publicMessage(toImError(err)), method);
}

/**
 * A whole request: the raw body bytes (the codec checks the declared encoding, the size cap and
 * rejects DTDs) → the reply, at once when the call needs no waiting (see dispatchCall), else a
 * promise. Never rejects.
 */
export function handleXmlRpc(body: Uint8Array, deps: DispatchDeps): XmlRpcReply | Promise<XmlRpcReply> {
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
  const methodName = call.methodName;
  let reply: XmlRpcReply | Promise<XmlRpcReply>;
  try {
    reply = dispatchCall(methodName, call.params, deps);
  } catch (err) {
    return dispatcherFailure(deps, methodName, err);
  }
  if (reply instanceof Promise) return reply.then(undefined, (err: unknown) => dispatcherFailure(deps, methodName, err));
  return reply;
}
