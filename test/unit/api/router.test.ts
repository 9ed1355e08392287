import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config';
import { GENERIC_INTERNAL_MESSAGE } from '#core/errors';
import type { InfrastructureStore, Services } from '#core/types';
import { restRequestFromEvent } from '#api/rest/event';
import { handleRestRequest } from '#api/rest/router';
import { ROUTES } from '#api/rest/routes';
import type { RestRequest } from '#api/rest/types';
import { workflowArns } from '#handlers/aws';
import { createAuthServices } from '#adapters/auth-services';

const logs: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];

function services(env: Record<string, string> = {}, store: Partial<InfrastructureStore> = {}): Services {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => logs.push({ level, msg, fields });
  return {
    config: loadConfig(env),
    store: store as InfrastructureStore,
    connectors: { get: () => undefined, types: () => [] },
    orchestrator: { start: async () => 'x', wait: async () => 'SUCCEEDED' },
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    secrets: { seal: (s) => s, open: (s) => s },
    auth: createAuthServices({ config: loadConfig(env) }),
    now: Date.now,
  };
}

const AUTH = 'type = InfrastructureManager; username = u; password = p\\nid = one; type = Dummy';

function req(method: string, path: string, extra: Partial<RestRequest> = {}): RestRequest {
  return { method, path, query: {}, headers: {}, body: Buffer.alloc(0), baseUrl: 'http://h', ...extra };
}

describe('route table', () => {
  it('has the 26 operations of rest-api.md §5 (+ GET / and GET /health)', () => {
    // 26 operations; start/stop (11-12), VM start/stop/reboot (17-19) and images/quotas (21-22) share
    // one {op}/{param} template each: 22 (method, template) pairs, plus GET / and GET /health.
    expect(ROUTES).toHaveLength(24);
    const keys = ROUTES.map((r) => `${r.method} ${r.pattern}`);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('router', () => {
  it('GET /version needs no auth', async () => {
    const r = await handleRestRequest(services(), req('GET', '/version'));
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('2.0.0');
  });

  it('unknown route → 404, wrong method → 405 with Allow, in the Accept format', async () => {
    const nf = await handleRestRequest(services(), req('GET', '/nope', { headers: { accept: 'application/json' } }));
    expect(nf.statusCode).toBe(404);
    expect(JSON.parse(String(nf.body)).code).toBe(404);
    const na = await handleRestRequest(services(), req('PATCH', '/infrastructures'));
    expect(na.statusCode).toBe(405);
    expect(na.headers.Allow).toBe('GET, POST, PUT, OPTIONS');
    expect(na.headers['Content-Type']).toBe('text/plain');
  });

  it('missing Authorization → 401', async () => {
    const r = await handleRestRequest(services(), req('GET', '/infrastructures/x'));
    expect(r).toMatchObject({ statusCode: 401, body: 'No authentication data provided' });
  });

  it('bad IM credentials: 401 on list, 400 (prefixed) elsewhere', async () => {
    const headers = { authorization: 'id = one; type = Dummy' };
    const list = await handleRestRequest(services(), req('GET', '/infrastructures', { headers }));
    expect(list).toMatchObject({ statusCode: 401, body: 'Error Getting Inf. List: No credentials provided for the InfrastructureManager.' });
    const info = await handleRestRequest(services(), req('GET', '/infrastructures/x', { headers }));
    expect(info).toMatchObject({ statusCode: 400, body: 'Error Getting Inf. info: No credentials provided for the InfrastructureManager.' });
  });

  it('unknown {prop} / {op} / cloud param → 404', async () => {
    const headers = { authorization: AUTH };
    expect((await handleRestRequest(services(), req('GET', '/infrastructures/x/foo', { headers }))).body).toBe('Incorrect infrastructure property');
    expect((await handleRestRequest(services(), req('PUT', '/infrastructures/x/foo', { headers }))).statusCode).toBe(404);
    expect((await handleRestRequest(services(), req('PUT', '/infrastructures/x/vms/0/foo', { headers }))).statusCode).toBe(404);
    expect((await handleRestRequest(services(), req('GET', '/clouds/one/foo', { headers }))).body).toBe('Incorrect cloud property');
  });

  it('body over MAX_BODY_SIZE → 413', async () => {
    const r = await handleRestRequest(services({ MAX_BODY_SIZE: '2048' }), req('POST', '/infrastructures', { body: Buffer.alloc(3000, 97) }));
    expect(r.statusCode).toBe(413);
  });

  it('bad boolean → 400 without prefix', async () => {
    const r = await handleRestRequest(services(), req('DELETE', '/infrastructures/x', { headers: { authorization: AUTH }, query: { force: 'maybe' } }));
    expect(r).toMatchObject({ statusCode: 400, body: 'Incorrect value in force parameter' });
  });

  it('internal errors → 500 with the generic message, details only in the log', async () => {
    logs.length = 0;
    const store = {
      getInfrastructure: async () => {
        throw new Error('boom: secret detail');
      },
    };
    const r = await handleRestRequest(services({}, store), req('GET', '/infrastructures/x', { headers: { authorization: AUTH, accept: 'application/json' } }));
    expect(r.statusCode).toBe(500);
    expect(JSON.parse(String(r.body))).toEqual({ message: GENERIC_INTERNAL_MESSAGE, code: 500 });
    expect(String(r.body)).not.toContain('boom');
    expect(logs.some((l) => l.level === 'error' && String(l.fields?.error).includes('boom'))).toBe(true);
  });

  it('OPTIONS → 200; CORS headers when enabled', async () => {
    const off = await handleRestRequest(services(), req('OPTIONS', '/infrastructures'));
    expect(off.statusCode).toBe(200);
    expect(off.headers['Access-Control-Allow-Origin']).toBeUndefined();
    const on = await handleRestRequest(services({ ENABLE_CORS: 'true', CORS_ORIGIN: 'https://x' }), req('GET', '/version'));
    expect(on.headers).toMatchObject({
      'Access-Control-Allow-Origin': 'https://x',
      'Access-Control-Allow-Methods': 'PUT, GET, POST, DELETE, OPTIONS',
      'Access-Control-Allow-Headers': 'Origin, Accept, Content-Type, Authorization',
    });
  });

  it('/oai → 400, /static without STATIC_FILES_DIR → 404', async () => {
    expect(await handleRestRequest(services(), req('GET', '/oai'))).toMatchObject({ statusCode: 400, body: 'OAI-PMH not enabled.' });
    expect(await handleRestRequest(services(), req('GET', '/static/a.txt'))).toMatchObject({ statusCode: 404, body: 'Static files not enabled.' });
  });
});

describe('API Gateway events', () => {
  const event = (over: Partial<APIGatewayProxyEvent>): APIGatewayProxyEvent =>
    ({
      httpMethod: 'GET',
      path: '/infrastructures',
      headers: { Host: 'abc.execute-api.eu-west-1.amazonaws.com', 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '443' },
      multiValueHeaders: {},
      queryStringParameters: null,
      multiValueQueryStringParameters: null,
      body: null,
      isBase64Encoded: false,
      requestContext: { path: '/prod/infrastructures', domainName: 'abc.execute-api.eu-west-1.amazonaws.com' },
      ...over,
    }) as unknown as APIGatewayProxyEvent;

  it('base URL with the stage', () => {
    const r = restRequestFromEvent(event({}), loadConfig({}));
    expect(r.baseUrl).toBe('https://abc.execute-api.eu-west-1.amazonaws.com/prod');
    expect(r.path).toBe('/infrastructures');
  });

  it('forwarded host/proto/port/prefix and REST_ROOT_PATH', () => {
    const r = restRequestFromEvent(
      event({
        path: '/im/infrastructures',
        headers: { Host: 'internal', 'X-Forwarded-Host': 'im.example.org', 'X-Forwarded-Proto': 'http', 'X-Forwarded-Port': '8080', 'X-Forwarded-Prefix': '/api' },
        requestContext: { path: '/im/infrastructures' } as never,
      }),
      loadConfig({ REST_ROOT_PATH: '/im' }),
    );
    expect(r.baseUrl).toBe('http://im.example.org:8080/api/im');
    expect(r.path).toBe('/infrastructures');
  });

  it('outside REST_ROOT_PATH nothing matches; base64 bodies are decoded; headers lower-cased', () => {
    const r = restRequestFromEvent(
      event({ path: '/infrastructures', body: Buffer.from('héllo').toString('base64'), isBase64Encoded: true, multiValueHeaders: { Accept: ['a/b', 'c/d'] } }),
      loadConfig({ REST_ROOT_PATH: '/im' }),
    );
    expect(r.path).not.toBe('/infrastructures');
    expect(r.body.toString('utf8')).toBe('héllo');
    expect(r.headers.accept).toBe('a/b, c/d');
    expect(r.headers.host).toBeDefined();
  });
});

describe('static files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'static-'));
  writeFileSync(join(dir, 'index.html'), '<p>hi</p>');
  writeFileSync(join(dir, '.hidden'), 'secret');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'x.txt'), 'x');
  writeFileSync(join(tmpdir(), 'outside-static.txt'), 'outside');
  const s = services({ STATIC_FILES_DIR: dir });

  it('serves a file of the folder with its type', async () => {
    const r = await handleRestRequest(s, req('GET', '/static/index.html'));
    expect(r.statusCode).toBe(200);
    expect(r.headers['Content-Type']).toBe('text/html');
    expect(Buffer.from(r.body).toString()).toBe('<p>hi</p>');
  });

  it.each(['/static/..%2Foutside-static.txt', '/static/%2E%2E', '/static/.hidden', '/static/sub', '/static/sub%2Fx.txt', '/static/nope.txt', '/static/a%00b'])(
    '%s → 404 File not found',
    async (path) => {
      const r = await handleRestRequest(s, req('GET', path));
      expect(r.statusCode).toBe(404);
      expect(r.body).toBe('File not found');
    },
  );

  it('/static/../x is another route (404)', async () => {
    expect((await handleRestRequest(s, req('GET', '/static/../outside-static.txt'))).statusCode).toBe(404);
  });
});

describe('AWS composition root', () => {
  it('state machine ARNs: JSON, per-workflow variables, prefix', () => {
    const prefix = 'arn:aws:states:eu-west-1:1:stateMachine:Im-';
    const arns = workflowArns({ STATE_MACHINE_ARNS: JSON.stringify({ launch: 'L' }), STATE_MACHINE_ARN_STOP: 'S' }, { STATE_MACHINE_ARN_PREFIX: prefix });
    expect(arns).toEqual({
      launch: 'L',
      destroy: `${prefix}destroy`,
      remove: `${prefix}remove`,
      stop: 'S',
      start: `${prefix}start`,
      contextualize: `${prefix}contextualize`,
    });
    expect(() => workflowArns({}, { STATE_MACHINE_ARN_PREFIX: undefined })).toThrow(/No state machine ARN/);
    expect(() => workflowArns({ STATE_MACHINE_ARNS: '{' }, { STATE_MACHINE_ARN_PREFIX: prefix })).toThrow(/STATE_MACHINE_ARNS/);
  });
});
