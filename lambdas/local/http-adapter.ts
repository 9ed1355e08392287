/**
 * Local mode's HTTP front: turns each HTTP request into an API Gateway REST (v1) proxy event —
 * as API Gateway builds it — calls the SAME Lambda handler, and writes the proxy result back.
 *
 * Like API Gateway it adds `X-Forwarded-Proto` / `X-Forwarded-Port` / `X-Forwarded-For` (keeping
 * the client's forwarded values when a proxy sits in front). Bodies that are not valid UTF-8 are
 * passed base64-encoded. The body is read up to `maxBodySize + 1` bytes only: a larger one
 * reaches the handler truncated to that size, so that its 413 answer applies without buffering it.
 */
import { randomFillSync } from 'node:crypto';
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

type BodyConsumer = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

/**
 * Reads the body (up to `limit + 1` bytes), then calls `done` with it, or adapterFailure on a
 * stream error before its end (the first of the two only, as a promise would settle).
 */
function readBody(req: IncomingMessage, res: ServerResponse, limit: number, done: BodyConsumer): void {
  let first: Buffer = EMPTY;
  let chunks: Buffer[] | undefined; // from the second chunk on
  let size = 0;
  let settled = false;
  req.on('data', (chunk: Buffer) => {
    if (size > limit) return; // drained, not kept
    const room = limit + 1 - size;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (size === 0) first = part;
    else (chunks ??= [first]).push(part);
    size += part.length;
  });
  req.on('end', () => {
    if (settled) return;
    settled = true;
    // A body in one chunk (the usual small one) is that chunk, not a copy.
    done(req, res, chunks ? Buffer.concat(chunks, size) : first);
  });
  req.on('error', (err: unknown) => {
    if (settled) return;
    settled = true;
    adapterFailure(res, err);
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
 * Characters a plain request target may hold: unreserved ones, `%` (escapes) and `/`. The same set
 * as `[A-Za-z0-9\-._~%/]`.
 */
const PLAIN_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%/') PLAIN_CHAR[c.charCodeAt(0)] = 1;

/**
 * A request target that `new URL()` would leave as it is: absolute path, unreserved characters and
 * percent escapes only, no dot segments (`.` or `..`), no `//` start (which URL reads as a host).
 * Such a target is its own path, which spares a URL parse per request. One pass over the characters.
 */
function isPlainPath(target: string): boolean {
  const n = target.length;
  if (n === 0 || target.charCodeAt(0) !== 47 /* / */ || (n > 1 && target.charCodeAt(1) === 47)) return false;
  let segment = 1; // start of the current segment
  for (let i = 1; i <= n; i++) {
    const c = i < n ? target.charCodeAt(i) : 47;
    if (c === 47) {
      const len = i - segment;
      if ((len === 1 || len === 2) && target.charCodeAt(segment) === 46 && (len === 1 || target.charCodeAt(segment + 1) === 46)) return false;
      segment = i + 1;
    } else if (c >= 128 || PLAIN_CHAR[c] === 0) return false;
  }
  return true;
}

/**
 * The request id of each event: a random (v4) UUID, as API Gateway's. Made 128 at a time from one
 * randomFillSync() (as node's own randomUUID() buffers its entropy), formatted into one string that
 * each id is a slice of: cheaper per request than randomUUID().
 */
const UUID_BATCH = 128;
const uuidBytes = Buffer.alloc(16 * UUID_BATCH);
const uuidText = Buffer.alloc(36 * UUID_BATCH);
const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
let uuids = '';
let uuidNext = UUID_BATCH;

function refillUuids(): void {
  randomFillSync(uuidBytes);
  let out = 0;
  for (let i = 0; i < uuidBytes.length; i++) {
    const b = i & 15;
    if (b === 4 || b === 6 || b === 8 || b === 10) uuidText[out++] = 45; // '-'
    let v = uuidBytes[i];
    if (b === 6) v = (v & 0x0f) | 0x40; // version 4
    else if (b === 8) v = (v & 0x3f) | 0x80; // variant 10xx
    uuidText[out++] = HEX_DIGITS[v >> 4];
    uuidText[out++] = HEX_DIGITS[v & 15];
  }
  uuids = uuidText.toString('latin1');
  uuidNext = 0;
}

function requestId(): string {
  if (uuidNext === UUID_BATCH) refillUuids();
  const at = 36 * uuidNext++;
  return uuids.slice(at, at + 36);
}

/** Header counts up to this find repeated names by a linear scan of the lower-case names; more use a Map. */
const LINEAR_HEADERS = 32;

/** Caches of the last value of per-request strings that are almost always the same. */
let portOf = -1;
let portText = '';
let domainHost: string | undefined;
let domainText = '';

/** `host` without a trailing `:<digits>` (as `host.replace(/:\d+$/, '')`). */
function domainName(host: string): string {
  if (host !== domainHost) {
    let i = host.length;
    while (i > 0 && host.charCodeAt(i - 1) >= 48 && host.charCodeAt(i - 1) <= 57) i--;
    domainText = i < host.length && i > 0 && host.charCodeAt(i - 1) === 58 /* : */ ? host.slice(0, i - 1) : host;
    domainHost = host;
  }
  return domainText;
}

/** The proxy event API Gateway would send for this request. */
export function toProxyEvent(req: IncomingMessage, body: Buffer, opts: { stage: string; localPort: number }): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  // Repeated headers (any case) are grouped under the spelling of their first occurrence.
  const raw = req.rawHeaders;
  /** Lower-case name → first spelling, for requests with many headers only. */
  const spelling = raw.length > 2 * LINEAR_HEADERS ? new Map<string, string>() : undefined;
  /** Else the lower-case names so far, by header index. */
  const lowerNames: string[] = [];
  let hostKey: string | undefined;
  let uaKey: string | undefined;
  let forwardedProto = false;
  let forwardedPort = false;
  let forwardedFor = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    const lower = name.toLowerCase();
    let key: string | undefined;
    if (spelling === undefined) {
      const h = i >> 1;
      for (let j = 0; j < h; j++) {
        if (lowerNames[j] === lower) {
          key = raw[2 * j];
          break;
        }
      }
      lowerNames.push(lower);
    } else {
      key = spelling.get(lower);
      if (key === undefined) spelling.set(lower, name);
    }
    if (key === undefined) {
      key = name;
      multiValueHeaders[key] = [value];
      switch (lower) {
        case 'host':
          hostKey = name;
          break;
        case 'user-agent':
          uaKey = name;
          break;
        case 'x-forwarded-proto':
          forwardedProto = true;
          break;
        case 'x-forwarded-port':
          forwardedPort = true;
          break;
        case 'x-forwarded-for':
          forwardedFor = true;
          break;
      }
    } else multiValueHeaders[key].push(value);
    headers[key] = value;
  }
  const localPort = opts.localPort;
  if (localPort !== portOf) {
    portText = String(localPort);
    portOf = localPort;
  }
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  // The headers API Gateway adds, unless the client (a proxy) sent them.
  if (!forwardedProto) {
    headers['X-Forwarded-Proto'] = 'http';
    multiValueHeaders['X-Forwarded-Proto'] = ['http'];
  }
  if (!forwardedPort) {
    headers['X-Forwarded-Port'] = portText;
    multiValueHeaders['X-Forwarded-Port'] = [portText];
  }
  if (!forwardedFor) {
    headers['X-Forwarded-For'] = sourceIp;
    multiValueHeaders['X-Forwarded-For'] = [sourceIp];
  }

  const target = req.url ?? '/';
  let path = target;
  let query: Record<string, string> | null = null;
  let multiQuery: Record<string, string[]> | null = null;
  if (!isPlainPath(target)) {
    const url = new URL(target, 'http://local');
    path = url.pathname;
    for (const [k, v] of url.searchParams) {
      if (query === null || multiQuery === null) {
        query = {};
        multiQuery = {};
      }
      query[k] = v;
      (multiQuery[k] ??= []).push(v);
    }
  }
  const binary = body.length > 0 && !isUtf8(body);
  const now = Date.now();
  const method = (req.method ?? 'GET').toUpperCase();
  const host = (hostKey === undefined ? undefined : headers[hostKey]) ?? `127.0.0.1:${portText}`;
  const version = req.httpVersion;
  return {
    resource: '/{proxy+}',
    path,
    httpMethod: method,
    headers,
    multiValueHeaders,
    queryStringParameters: query,
    multiValueQueryStringParameters: multiQuery,
    pathParameters: { proxy: path.charCodeAt(0) === 47 ? path.slice(1) : path },
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      domainName: domainName(host),
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
      protocol: version === '1.1' ? 'HTTP/1.1' : `HTTP/${version}`,
      requestId: requestId(),
      requestTime: requestTime(now),
      requestTimeEpoch: now,
      resourceId: 'local',
      resourcePath: '/{proxy+}',
      stage: opts.stage,
    },
  };
}

/**
 * Writes a proxy result (headers, multiValueHeaders, base64 bodies). Text bodies are written as
 * strings: node:http then sends the header block and the body in one write.
 */
export function writeProxyResult(res: ServerResponse, result: APIGatewayProxyResult): void {
  const text = result.body;
  const body: string | Buffer = !text ? '' : result.isBase64Encoded ? Buffer.from(text, 'base64') : text;
  const length = String(typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length);
  const single = result.headers;
  const multi = result.multiValueHeaders;
  if (multi) {
    const headers: Record<string, string | string[]> = {};
    if (single) for (const k in single) headers[k] = String(single[k]);
    for (const k in multi) headers[k] = multi[k].map(String);
    headers['Content-Length'] = length;
    res.writeHead(result.statusCode, headers);
  } else {
    // Single-value headers only (what our handlers answer): writeHead takes them as a flat
    // [name, value, …] list, in the order (and with the one Content-Length) of the object above.
    const flat: string[] = [];
    let lengthAt = -1;
    if (single) {
      for (const k in single) {
        if (k === '__proto__') continue; // as `headers[k] = …` above, which sets no such key
        const v = single[k];
        if (k === 'Content-Length') lengthAt = flat.length + 1;
        flat.push(k, typeof v === 'string' ? v : String(v));
      }
    }
    if (lengthAt < 0) flat.push('Content-Length', length);
    else flat[lengthAt] = length;
    res.writeHead(result.statusCode, flat);
  }
  res.end(body);
}

/** The last resort when the handler throws (it maps every error itself): 500, no details to the client. */
function adapterFailure(res: ServerResponse, err: unknown): void {
  console.error(JSON.stringify({ level: 'ERROR', msg: 'Local adapter error', error: err instanceof Error ? err.message : String(err) }));
  if (!res.headersSent) writeProxyResult(res, { statusCode: 500, headers: { 'Content-Type': 'text/plain' }, body: 'Internal error. The details were logged.' });
  else res.destroy();
}

/** Writes the handler's result; any failure (the handler's or the writing's) goes to adapterFailure. */
async function respond(res: ServerResponse, pending: Promise<APIGatewayProxyResult>): Promise<void> {
  try {
    writeProxyResult(res, await pending);
  } catch (err) {
    adapterFailure(res, err);
  }
}

/**
 * A node:http request listener that calls `handler` with proxy events. No per-request logging here:
 * local mode has no access log (the handler logs failures), so the hot path writes nothing.
 */
export function createRequestListener(handler: ProxyHandler, opts: HttpAdapterOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const stage = opts.stage ?? 'local';
  const functionName = opts.functionName ?? 'im-rest-local';
  const invokedFunctionArn = `arn:aws:lambda:local:000000000000:function:${functionName}`;
  const logGroupName = `/aws/lambda/${functionName}`;
  const dispatch = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    try {
      const localPort = (req.socket.localPort as number | undefined) ?? 0;
      const event = toProxyEvent(req, body, { stage, localPort });
      // No getRemainingTimeInMillis: local calls have no Lambda deadline (middy then sets no timer).
      const context = {
        callbackWaitsForEmptyEventLoop: false,
        functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn,
        memoryLimitInMB: '1024',
        awsRequestId: event.requestContext.requestId,
        logGroupName,
        logStreamName: 'local',
      } as unknown as Context;
      void respond(res, handler(event, context));
    } catch (err) {
      adapterFailure(res, err);
    }
  };
  return (req, res) => {
    // Requests without a body (GET, HEAD, DELETE…) go straight on: no wait for the stream's end.
    if (hasNoBody(req)) dispatch(req, res, EMPTY);
    else readBody(req, res, opts.maxBodySize, dispatch);
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
