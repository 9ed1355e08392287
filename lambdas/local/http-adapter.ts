/**
 * Local mode's HTTP front: turns each HTTP request into an API Gateway REST (v1) proxy event —
 * as API Gateway builds it — calls the SAME Lambda handler, and writes the proxy result back.
 *
 * Like API Gateway it adds `X-Forwarded-Proto` / `X-Forwarded-Port` / `X-Forwarded-For` (keeping
 * the client's forwarded values when a proxy sits in front). Bodies that are not valid UTF-8 are
 * passed base64-encoded. The body is read up to `maxBodySize + 1` bytes only: a larger one
 * reaches the handler truncated to that size, so that its 413 answer applies without buffering it.
 */
import { randomUUID } from 'node:crypto';
import { isUtf8 } from 'node:buffer';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface HttpAdapterOptions {
  /** Bytes read from a body at most (+1, to let the handler answer 413). */
  maxBodySize: number;
  /** The API Gateway stage name put in requestContext (the URL carries no stage locally). */
  stage?: string;
  /** Function name in the Lambda context. */
  functionName?: string;
}

/**
 * Neither Content-Length (> 0) nor Transfer-Encoding: the request has no body to wait for. Reads
 * rawHeaders (req.headers is built lazily, on first access).
 */
function hasNoBody(req: IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') return false;
    if (name.length === 14 && name.toLowerCase() === 'content-length' && raw[i + 1].trim() !== '0') return false;
  }
  return true;
}

const EMPTY = Buffer.alloc(0);

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return; // drained, not kept
      const room = limit + 1 - size;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      chunks.push(part);
      size += part.length;
    });
    req.on('end', () => resolve(Buffer.concat(chunks, Math.min(size, limit + 1))));
    req.on('error', reject);
  });
}

/** `requestTime` as API Gateway writes it (`21/Nov/2026:07:06:14 +0000`), computed once per second. */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let timeSecond = -1;
let timeText = '';
function requestTime(now: number): string {
  const second = Math.floor(now / 1000);
  if (second !== timeSecond) {
    const d = new Date(second * 1000);
    const p = (n: number) => String(n).padStart(2, '0');
    timeText = `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
    timeSecond = second;
  }
  return timeText;
}

/**
 * A request target that `new URL()` would leave as it is: absolute path, unreserved characters and
 * percent escapes only, no dot segments, no `//` start (which URL reads as a host). Such a target
 * is its own path, which spares a URL parse per request.
 */
const PLAIN_PATH = /^\/(?!\/)[A-Za-z0-9\-._~%/]*$/;
const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/;

function pathAndQuery(target: string): { path: string; query: [string, string][] } {
  if (PLAIN_PATH.test(target) && !DOT_SEGMENT.test(target)) return { path: target, query: [] };
  const url = new URL(target, 'http://local');
  return { path: url.pathname, query: [...url.searchParams] };
}

/** The proxy event API Gateway would send for this request. */
export function toProxyEvent(req: IncomingMessage, body: Buffer, opts: { stage: string; localPort: number }): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  /** Lower-case name → the spelling of its first occurrence (repeated headers are grouped under it). */
  const spelling = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const lower = name.toLowerCase();
    let key = spelling.get(lower);
    if (key === undefined) {
      key = name;
      spelling.set(lower, name);
      multiValueHeaders[key] = [value];
    } else multiValueHeaders[key].push(value);
    headers[key] = value;
  }
  const setDefault = (name: string, value: string) => {
    if (spelling.has(name.toLowerCase())) return;
    headers[name] = value;
    multiValueHeaders[name] = [value];
  };
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  setDefault('X-Forwarded-Proto', 'http');
  setDefault('X-Forwarded-Port', String(opts.localPort));
  setDefault('X-Forwarded-For', sourceIp);

  const { path, query: pairs } = pathAndQuery(req.url ?? '/');
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of pairs) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = pairs.length > 0;
  const binary = body.length > 0 && !isUtf8(body);
  const now = Date.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const hostKey = spelling.get('host');
  const host = (hostKey === undefined ? undefined : headers[hostKey]) ?? `127.0.0.1:${opts.localPort}`;
  const uaKey = spelling.get('user-agent');
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: hasQuery ? query : null,
    multiValueQueryStringParameters: hasQuery ? multiQuery : null,
    pathParameters: { proxy: path.replace(/^\//, '') },
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      domainName: host.replace(/:\d+$/, ''),
      domainPrefix: 'local',
      httpMethod: method,
      identity: {
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        sourceIp,
        user: null,
        userAgent: (uaKey === undefined ? null : headers[uaKey]) as string,
        userArn: null,
      },
      // No stage in local URLs: requestContext.path is the path itself.
      path,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: randomUUID(),
      requestTime: requestTime(now),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: '/{proxy+}',
      stage: opts.stage,
    },
  };
}

function lambdaContext(functionName: string, requestId: string): Context {
  // No getRemainingTimeInMillis: local calls have no Lambda deadline (middy then sets no timer).
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
  } as unknown as Context;
}

/**
 * Writes a proxy result (headers, multiValueHeaders, base64 bodies). Text bodies are written as
 * strings: node:http then sends the header block and the body in one write.
 */
export function writeProxyResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const body: string | Buffer = !result.body ? '' : result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body;
  const headers: Record<string, string | string[]> = {};
  const single = result.headers;
  if (single) for (const k in single) headers[k] = String(single[k]);
  const multi = result.multiValueHeaders;
  if (multi) for (const k in multi) headers[k] = multi[k].map(String);
  headers['Content-Length'] = String(typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

/** The last resort when the handler throws (it maps every error itself): 500, no details to the client. */
function adapterFailure(res: ServerResponse, err: unknown): void {
  console.error(JSON.stringify({ level: 'ERROR', msg: 'Local adapter error', error: err instanceof Error ? err.message : String(err) }));
  if (!res.headersSent) writeProxyResult(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal error. The details were logged.' });
  else res.destroy();
}

/**
 * A node:http request listener that calls `handler` with proxy events. No per-request logging here:
 * local mode has no access log (the handler logs failures), so the hot path writes nothing.
 */
export function createRequestListener(handler: ProxyHandler, opts: HttpAdapterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const stage = opts.stage ?? 'local';
  const functionName = opts.functionName ?? 'im-rest-local';
  const dispatch = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    try {
      const localPort = (req.socket.localPort as number | undefined) ?? 0;
      const event = toProxyEvent(req, body, { stage, localPort });
      handler(event, lambdaContext(functionName, event.requestContext.requestId)).then(
        (result) => {
          try {
            writeProxyResult(res, result);
          } catch (err) {
            adapterFailure(res, err);
          }
        },
        (err: unknown) => adapterFailure(res, err),
      );
    } catch (err) {
      adapterFailure(res, err);
    }
  };
  return (req, res) => {
    // Requests without a body (GET, HEAD, DELETE…) go straight on: no wait for the stream's end.
    if (hasNoBody(req)) dispatch(req, res, EMPTY);
    else
      readBody(req, opts.maxBodySize).then(
        (body) => dispatch(req, res, body),
        (err: unknown) => adapterFailure(res, err),
      );
  };
}

export interface HttpServerHandle {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts an HTTP server on host:port (0 = a free port) serving `handler`. */
export async function startHttpServer(handler: ProxyHandler, opts: HttpAdapterOptions & { host: string; port: number }): Promise<HttpServerHandle> {
  const server = createServer(createRequestListener(handler, opts));
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
