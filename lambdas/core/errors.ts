/**
 * The one error hierarchy of the service.
 *
 * Every failure that a client may see is an {@link ImError} carrying a stable {@link ErrorCode}.
 * {@link ERROR_TABLE} is the single place that maps a code to an HTTP status and to the way the
 * XML-RPC API reports it. Anything that is not an ImError is an internal error: clients get a
 * generic message, and the details go to the log only.
 */

export type ErrorCode =
  | 'NO_AUTH_DATA' // no Authorization header / auth param at all
  | 'INVALID_CREDENTIALS' // IM identity rejected (USER_DB, OIDC, bad auth lines)
  | 'INF_NOT_FOUND' // unknown or deleted infrastructure
  | 'FORBIDDEN' // caller is not an owner / admin
  | 'VM_NOT_FOUND' // bad or destroyed VM id
  | 'DISABLED' // BOOT_MODE forbids the call
  | 'INVALID_STATE' // e.g. destroy while adding resources
  | 'UNSUPPORTED_MEDIA_TYPE' // Content-Type / Accept negotiation failed
  | 'PAYLOAD_TOO_LARGE' // request body over the configured cap
  | 'ROUTE_NOT_FOUND' // unknown path, unknown {prop} or {op}
  | 'METHOD_NOT_ALLOWED' // known path, wrong method
  | 'BAD_REQUEST' // any other client error (RADL errors, bad parameters, cloud refusals)
  | 'CLOUD_RETRYABLE' // transient cloud error (capacity, throttling): the launch flow retries it
  | 'TIMEOUT' // a blocking call took too long
  | 'STORE_UNAVAILABLE' // the database does not answer (outage, timeout): try again later
  | 'CONFLICT' // concurrent writers kept changing the same record: try again
  | 'INTERNAL'; // a bug or an infrastructure failure: never exposed in detail

export interface ErrorMapping {
  /** HTTP status for REST. */
  http: number;
  /**
   * How XML-RPC reports it: `'result'` → `[false, message]` as IM does for operation errors;
   * a number → an XML-RPC fault with that faultCode (protocol-level problems).
   */
  xmlrpc: 'result' | number;
  /** Whether the message may be shown to the client. Internal errors get a generic text. */
  expose: boolean;
}

export const ERROR_TABLE: Readonly<Record<ErrorCode, ErrorMapping>> = {
  NO_AUTH_DATA: { http: 401, xmlrpc: 'result', expose: true },
  INVALID_CREDENTIALS: { http: 401, xmlrpc: 'result', expose: true },
  INF_NOT_FOUND: { http: 404, xmlrpc: 'result', expose: true },
  FORBIDDEN: { http: 403, xmlrpc: 'result', expose: true },
  VM_NOT_FOUND: { http: 404, xmlrpc: 'result', expose: true },
  DISABLED: { http: 403, xmlrpc: 'result', expose: true },
  INVALID_STATE: { http: 409, xmlrpc: 'result', expose: true },
  UNSUPPORTED_MEDIA_TYPE: { http: 415, xmlrpc: 'result', expose: true },
  PAYLOAD_TOO_LARGE: { http: 413, xmlrpc: -32600, expose: true },
  ROUTE_NOT_FOUND: { http: 404, xmlrpc: -32601, expose: true },
  METHOD_NOT_ALLOWED: { http: 405, xmlrpc: -32601, expose: true },
  BAD_REQUEST: { http: 400, xmlrpc: 'result', expose: true },
  CLOUD_RETRYABLE: { http: 400, xmlrpc: 'result', expose: true },
  TIMEOUT: { http: 504, xmlrpc: 'result', expose: true },
  STORE_UNAVAILABLE: { http: 503, xmlrpc: 'result', expose: true },
  CONFLICT: { http: 409, xmlrpc: 'result', expose: true },
  INTERNAL: { http: 500, xmlrpc: -32603, expose: false },
};

export const GENERIC_INTERNAL_MESSAGE = 'Internal error. The details were logged.';

export class ImError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ImError';
    this.code = code;
  }

  get mapping(): ErrorMapping {
    return ERROR_TABLE[this.code];
  }
}

// Convenience constructors with IM's exact texts (auth.md §8, rest-api.md §7).
export const errors = {
  noAuthData: () => new ImError('NO_AUTH_DATA', 'No authentication data provided'),
  invalidCredentials: (detail?: string) =>
    new ImError('INVALID_CREDENTIALS', detail ? `Invalid InfrastructureManager credentials. ${detail}` : 'Invalid InfrastructureManager credentials'),
  infNotFound: () => new ImError('INF_NOT_FOUND', 'Invalid infrastructure ID or access not granted.'),
  infDeleted: () => new ImError('INF_NOT_FOUND', 'Deleted infrastructure.'),
  forbidden: () => new ImError('FORBIDDEN', 'Access to this infrastructure not granted.'),
  invalidVm: () => new ImError('VM_NOT_FOUND', 'Invalid VM ID'),
  deletedVm: () => new ImError('VM_NOT_FOUND', 'Deleted VM.'),
  disabled: () => new ImError('DISABLED', 'Function currently disabled.'),
  invalidState: () => new ImError('INVALID_STATE', 'Invalid State to perform this operation.'),
  badRequest: (message: string, cause?: unknown) => new ImError('BAD_REQUEST', message, { cause }),
  notFound: (message: string) => new ImError('INF_NOT_FOUND', message),
  internal: (message: string, cause?: unknown) => new ImError('INTERNAL', message, { cause }),
  storeUnavailable: (cause?: unknown) =>
    new ImError('STORE_UNAVAILABLE', 'The infrastructure store is unavailable at the moment. Please try again later.', { cause }),
} as const;

/** Anything thrown → an ImError (unknown errors become INTERNAL, keeping the cause for the log). */
export function toImError(err: unknown): ImError {
  if (err instanceof ImError) return err;
  // Optimistic locking that kept losing (the retries of #core/mutate ran out): a 409, not an internal error.
  if (err instanceof Error && err.name === 'VersionConflictError') {
    return new ImError('CONFLICT', 'The infrastructure was being modified by other requests at the same time. Please try again.', { cause: err });
  }
  // RADL errors are client errors; they are recognised by name so that this module
  // does not depend on the RADL package.
  if (err instanceof Error && (err.name === 'RadlError' || err.name === 'ToscaError')) return new ImError('BAD_REQUEST', err.message, { cause: err });
  return new ImError('INTERNAL', err instanceof Error ? err.message : String(err), { cause: err });
}

/** The text a client may see for this error. */
export function publicMessage(err: ImError): string {
  return err.mapping.expose ? err.message : GENERIC_INTERNAL_MESSAGE;
}
