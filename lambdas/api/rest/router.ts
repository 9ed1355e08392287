/**
 * The REST router: body cap, route matching (404 / 405), CORS, and the mapping of every error to
 * a status (the ONE error table, plus the §7 rule that bad IM credentials are 401 only on
 * list/create/import/clouds) and to a body chosen by Accept. Internal errors answer 500 with the
 * generic message; their details go to the log only.
 */
import { GENERIC_INTERNAL_MESSAGE, ImError, toImError } from '#core/errors';
import type { Services } from '#core/types';
import { OperationError, RestContext } from '#api/rest/context';
import { errorResponse } from '#api/rest/media';
import { matchRoute, type Route } from '#api/rest/routes';
import type { RestRequest, RestResponse } from '#api/rest/types';

const NOT_FOUND_TEXT = 'The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';
const METHOD_NOT_ALLOWED_TEXT = 'The method is not allowed for the requested URL.';

class RouteError extends ImError {
  constructor(
    code: 'ROUTE_NOT_FOUND' | 'METHOD_NOT_ALLOWED',
    readonly allowed: string[] = [],
  ) {
    super(code, code === 'ROUTE_NOT_FOUND' ? NOT_FOUND_TEXT : METHOD_NOT_ALLOWED_TEXT);
  }
}

/** The last path split by pathSegments, and its segments (read-only: shared by the requests for that path). */
let lastPath: string | undefined;
let lastSegments: string[] | undefined;

/** Path → decoded segments (a trailing slash is ignored); undefined when not decodable. */
function pathSegments(path: string): string[] | undefined {
  if (path !== lastPath) {
    lastSegments = splitPath(path);
    lastPath = path;
  }
  return lastSegments;
}

function splitPath(path: string): string[] | undefined {
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 47) end--; // trailing '/'
  let start = 0;
  while (start < end && path.charCodeAt(start) === 47) start++; // leading '/'
  if (start >= end) return [];
  const parts = path.slice(start, end).split('/');
  if (!path.includes('%')) return parts;
  try {
    return parts.map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

const NO_CORS: Readonly<Record<string, string>> = Object.freeze({});

function corsHeaders(services: Services): Readonly<Record<string, string>> {
  if (!services.config.ENABLE_CORS) return NO_CORS;
  return {
    'Access-Control-Allow-Origin': services.config.CORS_ORIGIN,
    'Access-Control-Allow-Methods': 'PUT, GET, POST, DELETE, OPTIONS',
    'Access-Control-Allow-Headers': 'Origin, Accept, Content-Type, Authorization',
  };
}

function failure(services: Services, req: RestRequest, route: Route | undefined, params: Record<string, string>, err: unknown): RestResponse {
  const operation = err instanceof OperationError;
  const e = operation ? err.inner : toImError(err);
  let status = e.mapping.http;
  if (e.code === 'INVALID_CREDENTIALS' && !route?.credentials401) status = 400;
  let message: string;
  if (!e.mapping.expose) {
    message = GENERIC_INTERNAL_MESSAGE;
    services.logger.error('Internal error', {
      method: req.method,
      path: req.path,
      route: route?.pattern,
      error: e.message,
      stack: (e.cause instanceof Error ? e.cause.stack : e.stack) ?? '',
    });
  } else {
    message = operation && route?.prefix ? `${route.prefix(params)}: ${e.message}` : e.message;
    services.logger.info('Request failed', { method: req.method, path: req.path, route: route?.pattern, status, code: e.code });
  }
  const headers: Record<string, string> = {};
  if (err instanceof RouteError && err.allowed.length > 0) headers.Allow = [...err.allowed, 'OPTIONS'].join(', ');
  return errorResponse(status, message, req.headers.accept, headers);
}

/** No path parameters (before a route matched). */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** CORS headers and the empty HEAD body, on every response. */
function finish(services: Services, req: RestRequest, res: RestResponse): RestResponse {
  const cors = corsHeaders(services);
  if (cors !== NO_CORS) Object.assign(res.headers, cors);
  if (req.method === 'HEAD') res.body = '';
  return res;
}

/**
 * The response to a request. Synchronous when the endpoint answers synchronously (GET /version),
 * else a promise; either way it never throws or rejects for a request error (only for a bug).
 */
export function handleRestRequest(services: Services, req: RestRequest): RestResponse | Promise<RestResponse> {
  let route: Route | undefined;
  let params: Record<string, string> = NO_PARAMS;
  let res: RestResponse | Promise<RestResponse>;
  try {
    if (req.method === 'OPTIONS') {
      res = { statusCode: 200, headers: { 'Content-Type': 'text/plain' }, body: '' };
    } else {
      const max = services.config.MAX_BODY_SIZE;
      if (req.body.length > max) {
        throw new ImError('PAYLOAD_TOO_LARGE', `Request body too large: ${req.body.length} bytes (the maximum is ${max}).`);
      }
      const segments = pathSegments(req.path);
      const m = segments ? matchRoute(req.method, segments) : { allowed: [] };
      if (!m.route) throw new RouteError(m.allowed.length > 0 ? 'METHOD_NOT_ALLOWED' : 'ROUTE_NOT_FOUND', m.allowed);
      route = m.route;
      params = m.params;
      res = route.handler(new RestContext(services, req, params));
    }
  } catch (err) {
    res = failure(services, req, route, params, err);
  }
  if (typeof (res as Partial<Promise<RestResponse>>).then === 'function') {
    const matched = route;
    const p = params;
    return Promise.resolve(res).then(
      (ok) => finish(services, req, ok),
      (err: unknown) => finish(services, req, failure(services, req, matched, p, err)),
    );
  }
  return finish(services, req, res as RestResponse);
}
