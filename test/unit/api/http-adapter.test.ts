import type { APIGatewayProxyEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type HttpServerHandle } from '#local/http-adapter';

let seen: APIGatewayProxyEvent | undefined;
const header = (e: APIGatewayProxyEvent, name: string) => Object.entries(e.headers).filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
let srv: HttpServerHandle;

beforeAll(async () => {
  srv = await startHttpServer(
    async (event) => {
      seen = event;
      if (event.path === '/binary') return { statusCode: 201, headers: { 'Content-Type': 'application/octet-stream' }, body: Buffer.from([0, 255, 1]).toString('base64'), isBase64Encoded: true };
      return { statusCode: 200, headers: { 'Content-Type': 'text/plain' }, multiValueHeaders: { 'X-Multi': ['a', 'b'] }, body: 'ok' };
    },
    { host: '127.0.0.1', port: 0, maxBodySize: 16 },
  );
});

afterAll(async () => {
  await srv?.close();
});

describe('local HTTP adapter (API Gateway v1 proxy events)', () => {
  it('builds the event: method, raw path, query, headers, forwarded headers, requestContext', async () => {
    const r = await fetch(`${srv.url}/infrastructures/a%20b?x=1&x=2&y=z`, { headers: { Accept: 'text/plain', 'X-Custom': 'v' } });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-multi')).toBe('a, b');
    const e = seen!;
    expect(e.httpMethod).toBe('GET');
    expect(e.path).toBe('/infrastructures/a%20b');
    expect(e.queryStringParameters).toEqual({ x: '2', y: 'z' });
    expect(e.multiValueQueryStringParameters).toEqual({ x: ['1', '2'], y: ['z'] });
    expect(header(e, 'x-custom')).toEqual(['v']);
    expect(e.headers['X-Forwarded-Proto']).toBe('http');
    expect(e.headers['X-Forwarded-Port']).toBe(String(srv.port));
    expect(e.requestContext.path).toBe('/infrastructures/a%20b');
    expect(e.requestContext.stage).toBe('local');
    expect(typeof e.requestContext.requestTimeEpoch).toBe('number');
    expect(e.body).toBeNull();
    expect(e.isBase64Encoded).toBe(false);
  });

  it('text bodies as strings, binary bodies base64, base64 results decoded', async () => {
    await fetch(`${srv.url}/x`, { method: 'POST', body: 'héllo' });
    expect(seen!.body).toBe('héllo');
    const r = await fetch(`${srv.url}/binary`, { method: 'PUT', body: new Uint8Array([0xff, 0xfe, 0x00]) });
    expect(seen!.isBase64Encoded).toBe(true);
    expect(Buffer.from(seen!.body!, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00]));
    expect(r.status).toBe(201);
    expect(Buffer.from(await r.arrayBuffer())).toEqual(Buffer.from([0, 255, 1]));
  });

  it('bodies over the cap reach the handler as cap + 1 bytes only', async () => {
    await fetch(`${srv.url}/x`, { method: 'POST', body: 'y'.repeat(1000) });
    expect(seen!.body).toHaveLength(17);
  });

  it('paths: plain ones as sent, dot segments resolved as a URL parser does; requestTime as API Gateway writes it', async () => {
    const r = await fetch(`${srv.url}/infrastructures/abc-1.2_x~y/state`);
    expect(r.status).toBe(200);
    expect(seen!.path).toBe('/infrastructures/abc-1.2_x~y/state');
    expect(seen!.queryStringParameters).toBeNull();
    expect(seen!.requestContext.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    await new Promise<void>((resolve, reject) => {
      // fetch normalises the path itself: a raw request keeps the dot segments.
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: srv.port, path: '/a/./b/../c', method: 'GET' }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(seen!.path).toBe('/a/c');
  });

  it('keeps forwarded headers set by a proxy', async () => {
    await fetch(`${srv.url}/x`, { headers: { 'X-Forwarded-Proto': 'https' } });
    expect(header(seen!, 'x-forwarded-proto')).toEqual(['https']);
  });
});
