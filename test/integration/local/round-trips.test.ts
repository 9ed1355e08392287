/**
 * Sequential store round trips on the critical path of a 50-VM create and destroy (issue: batched
 * launch, fast destroy). A middleware on the store's DynamoDB client counts "waves": a request that
 * starts while no other store request is in flight begins a new sequential round trip; requests that
 * overlap it run in parallel and add none. Counted over REST on local mode, from the request until its
 * answer, on an otherwise idle server, so the count is the depth of the path the user waits for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/local-server';
import { client, idOf, radl, type Call } from '../rest/client';

let srv: TestServer;
let call: Call;

interface Wave {
  commands: string[];
}

let recording = false;
let inFlight = 0;
let waves: Wave[] = [];

beforeAll(async () => {
  srv = await startTestServer({ env: { MAX_SIMULTANEOUS_LAUNCHES: '20' } });
  call = client(srv.baseUrl);
  srv.instance.dynamoClient.middlewareStack.add(
    (next, context) => async (args) => {
      if (!recording) return next(args);
      if (inFlight === 0) waves.push({ commands: [] });
      waves[waves.length - 1].commands.push(String(context.commandName).replace(/Command$/, ''));
      inFlight++;
      try {
        return await next(args);
      } finally {
        inFlight--;
      }
    },
    { step: 'initialize', name: 'waveCounter' },
  );
}, 60_000);

afterAll(async () => {
  await srv?.stop();
});

async function counted<T>(fn: () => Promise<T>): Promise<{ result: T; waves: Wave[]; requests: number }> {
  waves = [];
  recording = true;
  try {
    const result = await fn();
    return { result, waves, requests: waves.reduce((n, w) => n + w.commands.length, 0) };
  } finally {
    recording = false;
  }
}

const describeWaves = (ws: Wave[]) => ws.map((w, i) => `${i + 1}: ${w.commands.join(' + ')}`).join('\n');

describe('sequential store round trips (50 Dummy VMs, contextualize ())', () => {
  it('a 50-VM create makes at most 8 and a 50-VM destroy at most 6', async () => {
    // Warm: the owner's password hash and the first create (the record cache learns the user).
    const warm = await call('POST', '/infrastructures', { body: radl(1) });
    expect(warm.status).toBe(200);
    expect((await call('DELETE', `/infrastructures/${idOf(warm.text)}`)).status).toBe(200);

    const create = await counted(() => call('POST', '/infrastructures', { body: radl(50, 'node') }));
    expect(create.result.status, create.result.text).toBe(200);
    const infId = idOf(create.result.text);
    const state = (await call('GET', `/infrastructures/${infId}/state`)).json<{ state: { state: string; vm_states: Record<string, string> } }>();
    expect(Object.keys(state.state.vm_states)).toHaveLength(50);
    expect(state.state.state).toBe('configured');
    // Let anything after the answer settle, so the destroy is counted alone.
    await new Promise((r) => setTimeout(r, 300));

    const destroy = await counted(() => call('DELETE', `/infrastructures/${infId}`));
    expect(destroy.result.status, destroy.result.text).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}/state`)).status).toBe(404);

    console.log(
      JSON.stringify({ probe: 'round-trips', create: { sequential: create.waves.length, requests: create.requests }, destroy: { sequential: destroy.waves.length, requests: destroy.requests } }),
    );
    console.log(`create waves:\n${describeWaves(create.waves)}\ndestroy waves:\n${describeWaves(destroy.waves)}`);
    expect(create.waves.length, describeWaves(create.waves)).toBeLessThanOrEqual(8);
    expect(destroy.waves.length, describeWaves(destroy.waves)).toBeLessThanOrEqual(6);
  }, 120_000);
});
