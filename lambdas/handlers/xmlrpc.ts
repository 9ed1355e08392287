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
import { ImError } from '#core/errors';
import type { Services } from '#core/types';
import { errorReply, handleXmlRpc, type DispatchDeps, type XmlRpcReply } from '#api/xmlrpc/dispatcher';
import { lambdaEntry } from '#handlers/aws';
import { withLogContext } from '#handlers/log-context';

const XML_HEADERS = { 'Content-Type': 'text/xml; charset=utf-8' };

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

/** The XML-RPC handler over the given services (built once per entry point). */
export function createXmlRpcHandler(services: Services) {
  const deps: DispatchDeps = { config: services.config, services, logger: services.logger };
  // Just before the Lambda would time out, answer `[false, "Operation timed out"]` rather than an HTTP 502.
  const timeoutEarlyResponse = (): APIGatewayProxyResult => xmlResult(errorReply(new ImError('TIMEOUT', 'Operation timed out'), deps.logger));

  const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>({ timeoutEarlyResponse }).handler(async (event) => {
    if (event.httpMethod?.toUpperCase() !== 'POST') return plain(405, 'Method Not Allowed', { Allow: 'POST' });
    const started = Date.now();
    let reply: XmlRpcReply;
    if (bodyBytes(event) > deps.config.MAX_BODY_SIZE) {
      // Checked before decoding a (possibly base64) body; the codec enforces the same cap.
      reply = errorReply(new ImError('PAYLOAD_TOO_LARGE', `request body exceeds ${deps.config.MAX_BODY_SIZE} bytes`), deps.logger);
    } else {
      reply = await handleXmlRpc(Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8'), deps);
    }
    deps.logger.debug('XML-RPC call', { method: reply.method, outcome: reply.outcome, faultCode: reply.faultCode, ms: Date.now() - started });
    return xmlResult(reply);
  });
  return withLogContext(handler);
}

/** Lambda entry point. */
export const handler = lambdaEntry(createXmlRpcHandler);
