/**
 * Local mode's HTTP front: turns each HTTP request into an API Gateway REST (v1) proxy event — as
 * API Gateway builds it — calls the SAME Lambda handler, and writes the proxy result back.
 *
 * Like API Gateway it adds `X-Forwarded-Proto` / `X-Forwarded-Port` / `X-Forwarded-For` (keeping
 * the client's forwarded values when a proxy sits in front). Bodies that are not valid UTF-8 are
 * passed base64-encoded. The body is read up to `maxBodySize + 1` bytes only: a larger one
 * reaches the handler truncated to that size, so that its 413 answer applies without buffering it.
 * A client that goes away before its answer is no error of the service: it is not logged as one.
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

/** Reads the body, keeping at most `limit + 1` bytes (the rest is drained). */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      if (size > limit) return;
      const part = chunk.subarray(0, limit + 1 - size);
      chunks.push(part);
      size += part.length;
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestTime` as API Gateway writes it (`21/Nov/2026:07:06:14 +0000`). */
function requestTime(now: number): string {
  const d = new Date(now);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The proxy event API Gateway would send for this request. */
export function toProxyEvent(req: IncomingMessage, body: Buffer, opts: { stage: string; localPort: number }): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  // Repeated headers (any case) are grouped under the spelling of their first occurrence.
  const spelling = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const [name, value] = [raw[i], raw[i + 1]];
    const lower = name.toLowerCase();
    const key = spelling.get(lower) ?? name;
    if (!spelling.has(lower)) {
      spelling.set(lower, name);
      multiValueHeaders[key] = [value];
    } else multiValueHeaders[key].push(value);
    headers[key] = value;
  }
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  // The headers API Gateway adds, unless the client (a proxy) sent them.
  const add = (name: string, value: string) => {
    if (spelling.has(name.toLowerCase())) return;
    headers[name] = value;
    multiValueHeaders[name] = [value];
  };
  add('X-Forwarded-Proto', 'http');
  add('X-Forwarded-Port', String(opts.localPort));
  add('X-Forwarded-For', sourceIp);

  const url = new URL(req.url ?? '/', 'http://local');
  const path = url.pathname;
  let query: Record<string, string> | null = null;
  let multiQuery: Record<string, string[]> | null = null;
  for (const [k, v] of url.searchParams) {
    (query ??= {})[k] = v;
    ((multiQuery ??= {})[k] ??= []).push(v);
  }
  const binary = body.length > 0 && !isUtf8(body);
  const now = Date.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const hostHeader = spelling.get('host');
  const host = (hostHeader ? headers[hostHeader] : undefined) ?? `127.0.0.1:${opts.localPort}`;
  const uaHeader = spelling.get('user-agent');
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: multiQuery,
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
        userAgent: (uaHeader ? headers[uaHeader] : null) as string,
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

/** Writes a proxy result (headers, multiValueHeaders, base64 bodies). */
export function writeProxyResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const text = result.body;
  const body: string | Buffer = !text ? '' : result.isBase64Encoded ? Buffer.from(text, 'base64') : text;
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, vs] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = vs.map(String);
  for (const k of Object.keys(headers)) if (k.toLowerCase() === 'content-length') delete headers[k];
  headers['Content-Length'] = String(typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

/** Whether an error is the client having gone away (a reset or aborted connection). */
function isClientGone(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ECONNABORTED' || code === 'EPIPE' || (err as Error | undefined)?.message === 'aborted';
}

/** The last resort when the handler throws (it maps every error itself): 500, no details to the client. */
function adapterFailure(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (isClientGone(err) || req.destroyed) {
    console.log(JSON.stringify({ level: 'INFO', msg: 'Client went away before the answer', path: req.url?.split('?')[0] }));
    res.destroy();
    return;
  }
  console.error(JSON.stringify({ level: 'ERROR', msg: 'Local adapter error', error: err instanceof Error ? err.message : String(err) }));
  if (!res.headersSent) writeProxyResult(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal error. The details were logged.' });
  else res.destroy();
}

/** A node:http request listener that calls `handler` with proxy events (no access log). */
export function createRequestListener(handler: ProxyHandler, opts: HttpAdapterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const stage = opts.stage ?? 'local';
  const functionName = opts.functionName ?? 'im-rest-local';
  return (req, res) => {
    void (async () => {
      try {
        const body = await readBody(req, opts.maxBodySize);
        const event = toProxyEvent(req, body, { stage, localPort: req.socket.localPort ?? 0 });
        // No getRemainingTimeInMillis: local calls have no Lambda deadline (middy then sets no timer).
        const context = {
          callbackWaitsForEmptyEventLoop: false,
          functionName,
          functionVersion: '$LATEST',
          invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
          memoryLimitInMB: '1024',
          awsRequestId: event.requestContext.requestId,
          logGroupName: `/aws/lambda/${functionName}`,
          logStreamName: 'local',
        } as unknown as Context;
        const result = await handler(event, context);
        if (res.destroyed) return;
        writeProxyResult(res, result);
      } catch (err) {
        adapterFailure(req, res, err);
      }
    })();
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
