/**
 * The XML-RPC API (xmlrpc-api.md) as a Lambda behind an API Gateway (v1, proxy) POST route, and
 * locally behind the same API-Gateway-event adapter as REST.
 *
 * Thin on purpose: take the raw body bytes, let the dispatcher decode and run the call, answer
 * `200 text/xml` with the `<methodResponse>`. As XML-RPC servers do, every problem with the call
 * itself (oversize or malformed body, DOCTYPE, unknown method, bad params) is a fault in a 200
 * answer; only a wrong HTTP method is answered at the HTTP level (405). Which paths reach the
 * handler is the route's business (API Gateway; locally `/` and `/RPC2`, lambdas/local/xmlrpc-server.ts).
 */
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { getConfig } from '#core/config';
import { ImError } from '#core/errors';
import { createLogger, type LogLevel } from '#core/logger';
import { getServices } from '#handlers/bootstrap';
import { errorReply, handleXmlRpc, type DispatchDeps, type XmlRpcReply } from '#api/xmlrpc/dispatcher';

export interface XmlRpcHandlerOptions {
  /** Config, services and logger (default: the process config and composition root, see #handlers/bootstrap). */
  deps?: () => DispatchDeps;
}

const XML_HEADERS = { 'Content-Type': 'text/xml; charset=utf-8' };

let defaultDeps: DispatchDeps | undefined;
/** Whether defaultDeps' logger writes DEBUG lines (else the handler skips building them). */
let defaultDebug = true;

/**
 * Built once per container (config validated at cold start; services on first use, so that
 * GetVersion never pays for them) and again only if the process config is replaced (local mode).
 */
function processDeps(): DispatchDeps {
  const config = getConfig();
  if (defaultDeps?.config !== config) {
    const level = config.LOG_LEVEL as LogLevel;
    // Asked of a logger at the same level (writing nowhere) rather than guessed from the level name.
    defaultDebug = false;
    createLogger({ level, write: () => (defaultDebug = true) }).debug('probe');
    defaultDeps = {
      config,
      services: getServices,
      logger: createLogger({ level, base: { component: 'xmlrpc' } }),
    };
  }
  return defaultDeps;
}

function xmlResult(reply: XmlRpcReply): APIGatewayProxyResult {
  return { statusCode: 200, headers: XML_HEADERS, body: reply.body };
}

function plain(statusCode: number, body: string, headers: Record<string, string> = {}): APIGatewayProxyResult {
  return { statusCode, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...headers }, body };
}

/** Size of the body in bytes, without decoding it (base64: 3 bytes per 4 characters, minus padding). */
function bodyBytes(event: APIGatewayProxyEvent): number {
  const body = event.body ?? '';
  if (!event.isBase64Encoded) return Buffer.byteLength(body, 'utf8');
  const padding = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return Math.floor((body.length * 3) / 4) - padding;
}

/** The HTTP answer to a call, with its DEBUG line (`started`: Date.now() at the start, when logged). */
function answer(d: DispatchDeps, debug: boolean, reply: XmlRpcReply, started: number): APIGatewayProxyResult {
  if (debug) d.logger.debug('XML-RPC call', { method: reply.method, outcome: reply.outcome, faultCode: reply.faultCode, ms: Date.now() - started });
  return xmlResult(reply);
}

/**
 * The handler, with injectable dependencies (tests, local mode). Synchronous when the call needs
 * no waiting (GetVersion); middy takes either.
 */
export function createXmlRpcHandler(opts: XmlRpcHandlerOptions = {}) {
  const deps = opts.deps ?? processDeps;
  // Just before the Lambda would time out, answer `[false, "Operation timed out"]` rather than an HTTP 502.
  const timeoutEarlyResponse = (): APIGatewayProxyResult =>
    xmlResult(errorReply(new ImError('TIMEOUT', 'Operation timed out'), deps().logger));

  return middy<APIGatewayProxyEvent, APIGatewayProxyResult>({ timeoutEarlyResponse }).handler((event) => {
    if (event.httpMethod?.toUpperCase() !== 'POST') return plain(405, 'Method Not Allowed', { Allow: 'POST' });
    const d = deps();
    // Injected loggers are always given the line; the process one only when it writes DEBUG.
    const debug = d !== defaultDeps || defaultDebug;
    const started = debug ? Date.now() : 0;
    let reply: XmlRpcReply | Promise<XmlRpcReply>;
    if (bodyBytes(event) > d.config.MAX_BODY_SIZE) {
      // Checked before decoding a (possibly base64) body; the codec enforces the same cap.
      reply = errorReply(new ImError('PAYLOAD_TOO_LARGE', `request body exceeds ${d.config.MAX_BODY_SIZE} bytes`), d.logger);
    } else {
      const body = Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');
      reply = handleXmlRpc(body, d);
    }
    if (reply instanceof Promise) return reply.then((r) => answer(d, debug, r, started));
    return answer(d, debug, reply, started);
  });
}

/** Lambda entry point. */
export const handler = createXmlRpcHandler();
