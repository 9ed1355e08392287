/**
 * The request context of log lines (request_id, cold_start, function_name, xray_trace_id): set by
 * each entry point around an invocation and carried by the async call chain, so that concurrent
 * requests of one process (local mode) each log their own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Context } from 'aws-lambda';

interface RequestFields {
  request_id?: string;
  cold_start: boolean;
  function_name?: string;
}

const storage = new AsyncLocalStorage<RequestFields>();

/** What createLogger's `context` option adds to each line (undefined outside an invocation). */
export function logContext(): Record<string, unknown> | undefined {
  const fields = storage.getStore();
  if (!fields) return undefined;
  // The Lambda runtime sets the trace header per invocation.
  const trace = process.env._X_AMZN_TRACE_ID;
  return trace ? { ...fields, xray_trace_id: trace.split(';')[0].replace(/^Root=/, '') } : { ...fields };
}

/** Wraps a handler: every line it logs carries the invocation's fields; the first invocation is the cold start. */
export function withLogContext<E, R>(handler: (event: E, context: Context) => Promise<R>): (event: E, context: Context) => Promise<R> {
  let cold = true;
  return (event, context) => {
    const fields: RequestFields = { cold_start: cold, ...(context?.awsRequestId ? { request_id: context.awsRequestId } : {}), ...(context?.functionName ? { function_name: context.functionName } : {}) };
    cold = false;
    return storage.run(fields, () => handler(event, context));
  };
}
