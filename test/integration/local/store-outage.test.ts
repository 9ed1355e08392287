/**
 * A store that stops answering: DynamoDB Local is paused (SIGSTOP) for 20 s while clients call REST
 * and XML-RPC and a launch is in flight. Every call answers within the request timeout: a clear 503
 * "store unavailable" (XML-RPC: `[false, message]`), never a 500 and never a hang; GET /version keeps
 * answering; /health says 503. Once the store answers again (SIGCONT) the service recovers by
 * itself and the interrupted launch still ends in a final state.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMethodCall, decodeMethodResponse } from '#api/xmlrpc/codec';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { AUTH, client, idOf, radl, type Call } from '../rest/client';

let srv: TestServer;
let call: Call;
beforeAll(async () => {
  srv = await startTestServer({ env: { STORE_REQUEST_TIMEOUT: '2', STORE_MAX_ATTEMPTS: '2', WAIT_SSH_ACCCESS_TIMEOUT: '4' }, waitTimeScale: 1 });
  call = client(srv.baseUrl);
});
afterAll(async () => {
  try {
    process.kill(srv.instance.dynamo().javaPid, 'SIGCONT');
  } catch {
    // not paused
  }
  await srv?.stop();
});

/** The longest any call may take while the store is paused (2 attempts × 2 s, plus slack). */
const MAX_CALL_MS = 8_000;

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - t0 };
}

describe('store outage (DynamoDB Local paused for 20 s)', () => {
  it('answers 503 within the request timeout while paused, recovers by itself, and the in-flight launch ends final', { timeout: 180_000 }, async () => {
    const before = await call('POST', '/infrastructures', { body: radl(2), accept: 'text/uri-list' });
    expect(before.status, before.text).toBe(200);
    const infId = idOf(before.text);
    // A launch in flight during the outage: contextualization enabled, so the Dummy VMs wait for SSH.
    const inflight = await call('POST', '/infrastructures', {
      body: "network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and net_interface.0.connection = 'pub' )\ndeploy node 3\n",
      query: { async: 'yes' },
      accept: 'text/uri-list',
    });
    expect(inflight.status).toBe(200);
    const inflightId = idOf(inflight.text);

    const java = srv.instance.dynamo().javaPid;
    process.kill(java, 'SIGSTOP');
    const pausedAt = Date.now();
    const statuses: number[] = [];
    const kinds: string[] = [];
    const messages = new Set<string>();
    let slowest = 0;
    try {
      while (Date.now() - pausedAt < 20_000) {
        const rest = await Promise.all([
          timed(() => call('GET', '/infrastructures', { accept: 'application/json' })),
          timed(() => call('GET', `/infrastructures/${infId}/state`, { accept: 'application/json' })),
          timed(() => call('POST', '/infrastructures', { body: radl(1), accept: 'text/uri-list' })),
          timed(() => call('GET', '/health')),
        ]);
        for (const [i, r] of rest.entries()) {
          statuses.push(r.value.status);
          kinds.push(`${['list', 'state', 'create', 'health'][i]}:${r.value.status}`);
          slowest = Math.max(slowest, r.ms);
          if (r.value.status === 503) messages.add(r.value.text);
        }
        const version = await timed(() => call('GET', '/version', { auth: null }));
        expect(version.value.status).toBe(200);
        expect(version.ms).toBeLessThan(1000);
        const rpc = await timed(() =>
          fetch(srv.xmlrpcUrl, { method: 'POST', body: encodeMethodCall('GetInfrastructureList', [[{ type: 'InfrastructureManager', username: 'user', password: 'pass' }]]) }).then((r) => r.text()),
        );
        slowest = Math.max(slowest, rpc.ms);
        const [ok, text] = decodeMethodResponse(rpc.value).value as [boolean, string];
        expect(ok).toBe(false);
        expect(text).toMatch(/store is unavailable/);
      }
    } finally {
      process.kill(java, 'SIGCONT');
    }
    expect(statuses.length).toBeGreaterThan(8);
    expect(statuses.filter((s) => s >= 500 && s !== 503)).toEqual([]);
    // Reads the record cache can answer from memory may still be 200; everything else is a 503.
    expect(kinds.filter((k) => !k.endsWith(':503') && !/^(list|state):200$/.test(k)), kinds.join(' ')).toEqual([]);
    expect(kinds.filter((k) => k.startsWith('create:')).every((k) => k === 'create:503')).toBe(true);
    expect(slowest).toBeLessThan(MAX_CALL_MS);
    expect([...messages].some((m) => /store is unavailable/.test(m))).toBe(true);

    // Recovery without a restart.
    let health = await call('GET', '/health');
    for (let i = 0; i < 30 && health.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      health = await call('GET', '/health');
    }
    expect(health.status).toBe(200);
    const list = await call('GET', '/infrastructures', { accept: 'text/uri-list' });
    expect(list.status).toBe(200);
    expect(list.text).toContain(infId);
    const created = await call('POST', '/infrastructures', { body: radl(1), accept: 'text/uri-list' });
    expect(created.status, created.text).toBe(200);

    // The launch that the outage interrupted still ends: its VMs final, the infrastructure final.
    const final = new Set(['configured', 'unconfigured', 'failed']);
    let st = (await call('GET', `/infrastructures/${inflightId}/state`, { accept: 'application/json' })).json<{ state: { state: string } }>().state.state;
    for (let i = 0; i < 120 && !final.has(st); i++) {
      await new Promise((r) => setTimeout(r, 1000));
      st = (await call('GET', `/infrastructures/${inflightId}/state`, { accept: 'application/json' })).json<{ state: { state: string } }>().state.state;
    }
    expect(final.has(st), st).toBe(true);
    expect(AUTH).toContain('Dummy');
  });
});

describe('store death (DynamoDB Local killed)', () => {
  it('local mode restarts the database by itself and serves again', { timeout: 120_000 }, async () => {
    const old = srv.instance.dynamo();
    process.kill(old.javaPid, 'SIGKILL');
    await old.exited;
    let health = await call('GET', '/health');
    for (let i = 0; i < 60 && health.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      health = await call('GET', '/health');
    }
    expect(health.status).toBe(200);
    expect(srv.instance.dynamo().javaPid).not.toBe(old.javaPid);
    const created = await call('POST', '/infrastructures', { body: radl(1), accept: 'text/uri-list' });
    expect(created.status, created.text).toBe(200);
    const state = await call('GET', `/infrastructures/${idOf(created.text)}/state`, { accept: 'application/json' });
    expect(state.status).toBe(200);
  });
});
