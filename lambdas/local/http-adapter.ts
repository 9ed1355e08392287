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

function isUtf8(buf: Buffer): boolean {
  return Buffer.from(buf.toString('utf8'), 'utf8').equals(buf);
}

/** The proxy event API Gateway would send for this request. */
export function toProxyEvent(req: IncomingMessage, body: Buffer, opts: { stage: string; localPort: number }): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i];
    const value = req.rawHeaders[i + 1];
    const lower = name.toLowerCase();
    const key = Object.keys(multiValueHeaders).find((k) => k.toLowerCase() === lower) ?? name;
    (multiValueHeaders[key] ??= []).push(value);
    headers[key] = value;
  }
  const setDefault = (name: string, value: string) => {
    if (Object.keys(headers).some((k) => k.toLowerCase() === name.toLowerCase())) return;
    headers[name] = value;
    multiValueHeaders[name] = [value];
  };
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  setDefault('X-Forwarded-Proto', 'http');
  setDefault('X-Forwarded-Port', String(opts.localPort));
  setDefault('X-Forwarded-For', sourceIp);

  const url = new URL(req.url ?? '/', 'http://local');
  const path = url.pathname;
  const query: Record<string, string> = {};
  const multiQuery: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) {
    query[k] = v;
    (multiQuery[k] ??= []).push(v);
  }
  const hasQuery = Object.keys(query).length > 0;
  const binary = body.length > 0 && !isUtf8(body);
  const now = Date.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const host = headers.Host ?? headers.host ?? `127.0.0.1:${opts.localPort}`;
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
        userAgent: (headers['User-Agent'] ?? headers['user-agent'] ?? null) as string,
        userArn: null,
      },
      // No stage in local URLs: requestContext.path is the path itself.
      path,
      protocol: `HTTP/${req.httpVersion}`,
      requestId: randomUUID(),
      requestTime: new Date(now).toUTCString(),
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

/** Writes a proxy result (headers, multiValueHeaders, base64 bodies). */
export function writeProxyResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k] = String(v);
  for (const [k, vs] of Object.entries(result.multiValueHeaders ?? {})) headers[k] = vs.map(String);
  headers['Content-Length'] = String(body.length);
  res.writeHead(result.statusCode, headers);
  res.end(body);
}

/** A node:http request listener that calls `handler` with proxy events. */
export function createRequestListener(handler: ProxyHandler, opts: HttpAdapterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const stage = opts.stage ?? 'local';
  const functionName = opts.functionName ?? 'im-rest-local';
  return (req, res) => {
    void (async () => {
      try {
        const body = await readBody(req, opts.maxBodySize);
        const localPort = (req.socket.localPort as number | undefined) ?? 0;
        const event = toProxyEvent(req, body, { stage, localPort });
        const result = await handler(event, lambdaContext(functionName, event.requestContext.requestId));
        writeProxyResult(res, result);
      } catch (err) {
        // The handler maps every error itself; this is a last resort (no details to the client).
        console.error(JSON.stringify({ level: 'ERROR', msg: 'Local adapter error', error: err instanceof Error ? err.message : String(err) }));
        if (!res.headersSent) writeProxyResult(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal error. The details were logged.' });
        else res.destroy();
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
