/**
 * API Gateway REST (v1) proxy event ↔ {@link RestRequest} / {@link RestResponse}.
 *
 * The base URL of absolute URIs is built from the request: scheme from `X-Forwarded-Proto`,
 * host from `X-Forwarded-Host` / `Host` (plus a non-default `X-Forwarded-Port`), then
 * `X-Forwarded-Prefix`, the API Gateway stage / base path (the part of `requestContext.path`
 * before `path`) and REST_ROOT_PATH.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { Config } from '#core/config';
import type { RestRequest, RestResponse } from '#api/rest/types';

/** A path no route matches (requests outside REST_ROOT_PATH). */
const OUTSIDE_ROOT = '/\u0000';

function first(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const comma = v.indexOf(',');
  return (comma < 0 ? v : v.slice(0, comma)).trim() || undefined;
}

function lowerHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  for (const [k, vs] of Object.entries(event.multiValueHeaders ?? {})) if (vs && vs.length > 1) out[k.toLowerCase()] = vs.join(', ');
  return out;
}

function queryOf(event: APIGatewayProxyEvent): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) if (v !== undefined) out[k] = v;
  for (const [k, vs] of Object.entries(event.multiValueQueryStringParameters ?? {})) if (vs && vs.length > 0) out[k] = vs[0];
  return out;
}

/** `/` → '', `im/` → `/im`. */
export function normalizeRoot(root: string): string {
  const r = root.trim().replace(/\/+$/, '');
  if (r === '') return '';
  return r.startsWith('/') ? r : `/${r}`;
}

const EMPTY_BODY = Buffer.alloc(0);
const PORT_SUFFIX = /:\d+$/;

/**
 * The request of an event. Its `baseUrl` is worked out on first use only: most endpoints (GET
 * /version among them) write no absolute URI.
 */
class EventRequest implements RestRequest {
  private base: string | undefined;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly query: Record<string, string>,
    readonly headers: Record<string, string>,
    readonly body: Buffer,
    private readonly event: APIGatewayProxyEvent,
    private readonly root: string,
  ) {}

  get baseUrl(): string {
    this.base ??= baseUrlOf(this.event, this.headers, this.root);
    return this.base;
  }
}

function baseUrlOf(event: APIGatewayProxyEvent, headers: Record<string, string>, root: string): string {
  const rawPath = event.path || '/';
  // API Gateway stage or custom-domain base path: what requestContext.path has before path.
  const ctxPath = event.requestContext?.path ?? rawPath;
  const stage =
    ctxPath === rawPath ? '' : ctxPath.endsWith(rawPath) ? ctxPath.slice(0, ctxPath.length - rawPath.length).replace(/\/+$/, '') : '';
  const proto = first(headers['x-forwarded-proto']) ?? (event.requestContext?.domainName ? 'https' : 'http');
  let host = first(headers['x-forwarded-host']) ?? headers.host ?? event.requestContext?.domainName ?? 'localhost';
  const port = first(headers['x-forwarded-port']);
  if (port && !PORT_SUFFIX.test(host) && !((proto === 'https' && port === '443') || (proto === 'http' && port === '80'))) host = `${host}:${port}`;
  const forwardedPrefix = first(headers['x-forwarded-prefix']);
  const prefix = forwardedPrefix === undefined ? '' : normalizeRoot(forwardedPrefix);
  return `${proto}://${host}${prefix}${stage}${root}`;
}

export function restRequestFromEvent(event: APIGatewayProxyEvent, config: Pick<Config, 'REST_ROOT_PATH'>): RestRequest {
  const headers = lowerHeaders(event);
  const rawPath = event.path || '/';
  const root = normalizeRoot(config.REST_ROOT_PATH);
  let path = rawPath;
  if (root) {
    if (rawPath === root || rawPath.startsWith(`${root}/`)) path = rawPath.slice(root.length) || '/';
    else path = OUTSIDE_ROOT;
  }
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : EMPTY_BODY;
  return new EventRequest((event.httpMethod || 'GET').toUpperCase(), path, queryOf(event), headers, body, event, root);
}

export function toProxyResult(res: RestResponse): APIGatewayProxyResult {
  if (Buffer.isBuffer(res.body)) {
    return { statusCode: res.statusCode, headers: res.headers, body: res.body.toString('base64'), isBase64Encoded: true };
  }
  return { statusCode: res.statusCode, headers: res.headers, body: res.body, isBase64Encoded: false };
}
