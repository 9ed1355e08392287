/**
 * Shared helpers of the hostile-client suite: a raw XML-RPC caller (our codec for the request,
 * the answer decoded without trusting it), a seeded PRNG, a bounded-concurrency runner, a timer
 * and the one-line JSON summaries the probes print.
 */
import { mapLimit } from '#core/concurrency';
import { decodeMethodResponse, encodeMethodCall, type XmlRpcValue } from '#api/xmlrpc/codec';
import { GENERIC_INTERNAL_MESSAGE } from '#core/errors';

export { authHeader, client, create, idOf, radl, type Call, type CallOptions, type CallResult } from '../rest/client';
export { startTestServer, type TestServer } from '../../helpers/local-server';

/** An id nobody created (a valid v4 UUID, so only existence differs from a real one). */
export const UNKNOWN_ID = '00000000-0000-4000-8000-00000000dead';

/** XML-RPC auth param for a user (Dummy cloud). */
export const rpcAuth = (username: string, password: string): XmlRpcValue[] => [
  { type: 'InfrastructureManager', username, password },
  { id: 'one', type: 'Dummy' },
];

export interface RpcAnswer {
  /** HTTP status of the XML-RPC endpoint. */
  status: number;
  /** The raw answer body. */
  text: string;
  fault?: { faultCode: number; faultString: string };
  value?: XmlRpcValue;
  /** The body was no decodable `<methodResponse>`. */
  undecodable?: boolean;
}

/** POSTs a raw body to the XML-RPC endpoint. */
export async function rawRpc(url: string, body: string | Uint8Array, headers: Record<string, string> = { 'Content-Type': 'text/xml' }): Promise<RpcAnswer> {
  const res = await fetch(url, { method: 'POST', headers, body });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, text };
  try {
    const d = decodeMethodResponse(text);
    return { status: res.status, text, ...(d.fault ? { fault: d.fault } : { value: d.value }) };
  } catch {
    return { status: res.status, text, undecodable: true };
  }
}

/** Calls a method with the given params. */
export const rpcCall = (url: string, method: string, params: XmlRpcValue[]) => rawRpc(url, encodeMethodCall(method, params));

/**
 * Whether an XML-RPC answer is a server error (the "5xx" of XML-RPC): an HTTP 5xx, an internal
 * fault (-32603), an internal/store error returned as `[false, …]`, or an undecodable body.
 */
export function rpcServerError(a: RpcAnswer): boolean {
  if (a.status >= 500 || a.undecodable) return true;
  if (a.fault) return a.fault.faultCode === -32603;
  if (Array.isArray(a.value) && a.value[0] === false && typeof a.value[1] === 'string') {
    return a.value[1] === GENERIC_INTERNAL_MESSAGE || a.value[1].includes('store is unavailable');
  }
  return false;
}

/** Whether an XML-RPC answer is `[true, …]`. */
export const rpcOk = (a: RpcAnswer) => Array.isArray(a.value) && a.value[0] === true;

/** mulberry32: a small deterministic PRNG. */
export function rng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}
export type Rng = ReturnType<typeof rng>;

/** Runs the tasks with at most `limit` in flight; results in task order. */
export const pool = <T>(tasks: (() => Promise<T>)[], limit: number): Promise<T[]> => mapLimit(tasks, limit, (task) => task());

/** The value and the milliseconds it took. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const v = await fn();
  return [v, Math.round(performance.now() - t)];
}

/** One JSON line per probe, for the lead to quote. */
export function summary(probe: string, figures: Record<string, unknown>): void {
  console.log(JSON.stringify({ probe, ...figures }));
}
