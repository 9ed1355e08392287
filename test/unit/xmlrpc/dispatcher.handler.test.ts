/**
 * The XML-RPC Lambda handler around the dispatcher: API Gateway v1 proxy events (plain and
 * base64 bodies), HTTP method, the body cap answered as a fault, and the answer given just before
 * the Lambda would time out.
 */
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import type { Logger, Services } from '#core/types';
import { decodeMethodResponse, encodeMethodCall } from '#api/xmlrpc/codec';
import { createXmlRpcHandler } from '#handlers/xmlrpc';
import { createAuthServices } from '#adapters/auth-services';

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const config = { ...loadConfig({}), MAX_BODY_SIZE: 4096, IM_VERSION: '1.2.3' };

function services(extra: Partial<Services> = {}): Services {
  return { config, logger: silent, auth: createAuthServices({ config }), ...extra } as unknown as Services;
}

function event(body: string | null, opts: { method?: string; base64?: boolean } = {}): APIGatewayProxyEvent {
  return {
    httpMethod: opts.method ?? 'POST',
    path: '/RPC2',
    body,
    isBase64Encoded: opts.base64 ?? false,
    headers: { 'Content-Type': 'text/xml' },
  } as unknown as APIGatewayProxyEvent;
}

const ctx = {} as Context;

describe('XML-RPC handler', () => {
  const handler = createXmlRpcHandler(services());

  it('answers 200 text/xml with the method response', async () => {
    const res = await handler(event(encodeMethodCall('GetVersion', [])), ctx);
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toMatch(/^text\/xml/);
    expect(decodeMethodResponse(res.body)).toEqual({ value: [true, '1.2.3'] });
  });

  it('decodes base64 bodies as raw bytes (the declared encoding applies)', async () => {
    const withServices = createXmlRpcHandler(services());
    const xml =
      '<?xml version="1.0" encoding="ISO-8859-1"?><methodCall><methodName>GetInfrastructureList</methodName><params>' +
      '<param><value><array><data/></array></value></param><param><value>caf\u00e9(</value></param></params></methodCall>';
    const res = await withServices(event(Buffer.from(xml, 'latin1').toString('base64'), { base64: true }), ctx);
    // the filter reached the core as "café(" (an invalid regular expression, echoed in the message)
    const [ok, message] = decodeMethodResponse(res.body).value as [boolean, string];
    expect(ok).toBe(false);
    expect(message).toContain('/caf\u00e9(/');
    const plain = await handler(event(Buffer.from(encodeMethodCall('GetVersion', [])).toString('base64'), { base64: true }), ctx);
    expect(decodeMethodResponse(plain.body).value).toEqual([true, '1.2.3']);
  });

  it('answers an oversize body (plain or base64) with a fault -32600 in a 200', async () => {
    const big = encodeMethodCall('GetInfrastructureList', [[], 'x'.repeat(5000)]);
    for (const e of [event(big), event(Buffer.from(big).toString('base64'), { base64: true })]) {
      const res = await handler(e, ctx);
      expect(res.statusCode).toBe(200);
      expect(decodeMethodResponse(res.body).fault).toEqual({ faultCode: -32600, faultString: 'request body exceeds 4096 bytes' });
    }
    // exactly at the cap is fine (base64 padding is not counted)
    const pad = 4096 - Buffer.byteLength(encodeMethodCall('GetVersion', []));
    const atCap = encodeMethodCall('GetVersion', []).replace('<params>', `<params>${' '.repeat(pad)}`);
    expect(Buffer.byteLength(atCap)).toBe(4096);
    for (const e of [event(atCap), event(Buffer.from(atCap).toString('base64'), { base64: true })]) {
      expect(decodeMethodResponse((await handler(e, ctx)).body).value).toEqual([true, '1.2.3']);
    }
  });

  it('an empty body is a parse fault', async () => {
    expect(decodeMethodResponse((await handler(event(null), ctx)).body).fault?.faultCode).toBe(-32700);
  });

  it('answers other HTTP methods with 405 and Allow: POST', async () => {
    const res = await handler(event(null, { method: 'GET' }), ctx);
    expect(res.statusCode).toBe(405);
    expect(res.headers?.Allow).toBe('POST');
  });

  it('just before the Lambda deadline, answers [false, "Operation timed out"] instead of failing', async () => {
    const pending = new Proxy({}, { get: () => () => new Promise(() => {}) }) as Services['store'];
    const never = createXmlRpcHandler(services({ store: pending })); // the store never answers
    const lambdaCtx = { getRemainingTimeInMillis: () => 50 } as unknown as Context;
    const res = await never(event(encodeMethodCall('GetInfrastructureList', [[{ type: 'InfrastructureManager', username: 'u', password: 'p' }]])), lambdaCtx);
    expect(res.statusCode).toBe(200);
    expect(decodeMethodResponse(res.body).value).toEqual([false, 'Operation timed out']);
  });
});
