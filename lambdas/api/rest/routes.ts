/**
 * The route table: 26 operations (rest-api.md §5) plus `GET /`. Literal segments come before
 * `{param}` ones where templates overlap (e.g. `…/authorization` before `…/{prop}`).
 * `prefix` is the endpoint's error-message prefix (§6); `credentials401` marks the endpoints where
 * invalid IM credentials answer 401 instead of 400 (§7).
 */
import type { RestContext } from '#api/rest/context';
import type { RestResponse } from '#api/rest/types';
import * as inf from '#api/rest/endpoints/infrastructures';
import * as vms from '#api/rest/endpoints/vms';
import * as misc from '#api/rest/endpoints/misc';

/** An endpoint: answers at once when it can (nothing to wait for), else a promise. */
export type Handler = (ctx: RestContext) => RestResponse | Promise<RestResponse>;

export interface Route {
  method: string;
  pattern: string;
  segments: string[];
  prefix?: (params: Record<string, string>) => string;
  credentials401?: boolean;
  handler: Handler;
}

function route(method: string, pattern: string, handler: Handler, opts: { prefix?: string | ((p: Record<string, string>) => string); credentials401?: boolean } = {}): Route {
  const p = opts.prefix;
  return {
    method,
    pattern,
    segments: pattern.split('/').filter(Boolean),
    prefix: typeof p === 'string' ? () => p : p,
    credentials401: opts.credentials401 ?? false,
    handler,
  };
}

export const ROUTES: Route[] = [
  route('GET', '/', misc.index),
  route('GET', '/version', misc.version, { prefix: 'Error getting IM version' }),
  route('GET', '/health', misc.health),
  route('GET', '/oai', misc.oai),
  route('POST', '/oai', misc.oai),
  route('GET', '/static/{filename}', misc.staticFile),
  route('GET', '/stats', misc.stats, { prefix: 'Error getting stats' }),
  route('GET', '/clouds/{cloudId}/{param}', misc.cloudInfo, { prefix: 'Error getting cloud info', credentials401: true }),
  route('GET', '/infrastructures', inf.listInfrastructures, { prefix: 'Error Getting Inf. List', credentials401: true }),
  route('POST', '/infrastructures', inf.createInfrastructureEndpoint, { prefix: 'Error Creating Inf.', credentials401: true }),
  route('PUT', '/infrastructures', inf.importInfrastructureEndpoint, { prefix: 'Error Importing Inf.', credentials401: true }),
  route('GET', '/infrastructures/{infId}', inf.infrastructureInfo, { prefix: 'Error Getting Inf. info' }),
  route('POST', '/infrastructures/{infId}', inf.addResourceEndpoint, { prefix: 'Error Adding resources' }),
  route('DELETE', '/infrastructures/{infId}', inf.destroyInfrastructureEndpoint, { prefix: 'Error Destroying Inf' }),
  route('POST', '/infrastructures/{infId}/authorization', inf.changeAuthEndpoint, { prefix: 'Error modifying infrastructure owner' }),
  route('PUT', '/infrastructures/{infId}/reconfigure', inf.reconfigureEndpoint, { prefix: 'Error reconfiguring infrastructure' }),
  route('GET', '/infrastructures/{infId}/{prop}', inf.infrastructureProperty, { prefix: 'Error Getting Inf. prop' }),
  route('PUT', '/infrastructures/{infId}/{op}', inf.infrastructureOperation, { prefix: (p) => `Error in ${p.op} operation` }),
  route('GET', '/infrastructures/{infId}/vms/{vmId}', vms.vmInfo, { prefix: 'Error Getting VM. info' }),
  route('PUT', '/infrastructures/{infId}/vms/{vmId}', vms.alterVmEndpoint, { prefix: 'Error modifying resources' }),
  route('DELETE', '/infrastructures/{infId}/vms/{vmId}', vms.removeVmsEndpoint, { prefix: 'Error Removing resources' }),
  route('GET', '/infrastructures/{infId}/vms/{vmId}/{prop}', vms.vmProperty, { prefix: 'Error Getting VM. property' }),
  route('PUT', '/infrastructures/{infId}/vms/{vmId}/{op}', vms.vmOperation, { prefix: (p) => `Error in ${p.op} op in VM` }),
  route('PUT', '/infrastructures/{infId}/vms/{vmId}/disks/{diskNum}/snapshot', vms.snapshotEndpoint, { prefix: 'Error creating snapshot' }),
];

export type RouteMatch = { route: Route; params: Record<string, string> } | { route?: undefined; allowed: string[] };

function matchSegments(pattern: string[], path: string[]): Record<string, string> | undefined {
  if (pattern.length !== path.length) return undefined;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.charCodeAt(0) === 123 /* { */ ? path[i] === '' : p !== path[i]) return undefined;
  }
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.charCodeAt(0) === 123) params[p.slice(1, -1)] = path[i];
  }
  return params;
}

/**
 * The route for a method and decoded path segments. No route for the path → `allowed` empty (404);
 * routes for the path but not this method → `allowed` lists the methods (405).
 */
export function matchRoute(method: string, segments: string[]): RouteMatch {
  let allowed: Set<string> | undefined;
  for (const r of ROUTES) {
    const params = matchSegments(r.segments, segments);
    if (!params) continue;
    if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { route: r, params };
    (allowed ??= new Set<string>()).add(r.method);
  }
  return { allowed: allowed ? [...allowed] : [] };
}
