/**
 * Durable workflows of local mode: a real `npm start` is SIGKILLed (its whole process group, as a
 * power loss would) while an async create of 20 Dummy VMs is launching, then started again on the
 * same data folder. Every VM must end in a final state, none lost or listed twice, and the
 * infrastructure's state must be final, with the reasons in the contmsg.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { groupPids, startNpm, type NpmStart } from '../../helpers/npm-start';

const AUTH = 'type = InfrastructureManager; username = durable; password = durable-pass\\nid = dummy; type = Dummy';
const FINAL_VM = new Set(['configured', 'unconfigured', 'failed', 'off']);
const FINAL_INF = new Set(['configured', 'unconfigured', 'failed', 'off']);

const ENV = {
  // Dummy VMs are never reachable over SSH: each one waits this long, then ends unconfigured.
  WAIT_SSH_ACCCESS_TIMEOUT: '6',
  MAX_SIMULTANEOUS_LAUNCHES: '4',
  VM_INFO_UPDATE_FREQUENCY: '1',
  WAIT_RUNNING_VM_TIMEOUT: '60',
  MAX_CONTEXTUALIZATION_TIME: '60',
};

const dirs: string[] = [];
const servers: NpmStart[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function api(base: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`${base}${path}`, { ...init, headers: { Authorization: AUTH, Accept: 'application/json', ...(init.headers ?? {}) } });
  return { status: res.status, body: await res.text() };
}

async function state(base: string, infId: string): Promise<{ state: string; vm_states: Record<string, string> }> {
  const r = await api(base, `/infrastructures/${infId}/state`);
  expect(r.status, r.body).toBe(200);
  return (JSON.parse(r.body) as { state: { state: string; vm_states: Record<string, string> } }).state;
}

describe('durable workflows: npm start killed mid-launch', () => {
  it('20 Dummy VMs created async, SIGKILL mid-launch, restart: every VM and the infrastructure end final', { timeout: 300_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'im-durable-'));
    dirs.push(dataDir);
    const first = await startNpm({ dataDir, env: ENV });
    servers.push(first);
    const radl = "network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ndeploy node 20\n";
    const created = await api(first.restUrl, '/infrastructures?async=yes', { method: 'POST', body: radl, headers: { 'Content-Type': 'text/plain', Accept: 'text/uri-list' } });
    expect(created.status, created.body).toBe(200);
    const infId = created.body.trim().split('/').pop()!;

    // Mid-launch: some VMs still wait for SSH (or for their turn), none is final yet for all.
    let before: { state: string; vm_states: Record<string, string> } | undefined;
    for (let i = 0; i < 100; i++) {
      before = await state(first.restUrl, infId);
      if (Object.keys(before.vm_states).length === 20) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 3000));
    before = await state(first.restUrl, infId);
    const unfinished = Object.values(before.vm_states).filter((s) => !FINAL_VM.has(s));
    expect(unfinished.length, JSON.stringify(before)).toBeGreaterThan(0);

    await first.kill('SIGKILL');
    // Nothing of the old process tree survives (DynamoDB Local, runners: parent-death signal or group).
    for (let i = 0; i < 50 && groupPids(first.pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(groupPids(first.pgid)).toEqual([]);

    const second = await startNpm({ dataDir, env: ENV });
    servers.push(second);
    expect(second.output()).toMatch(/Resumed 1 and closed 0 interrupted workflow/);

    let after = await state(second.restUrl, infId);
    const deadline = Date.now() + 200_000;
    while (Date.now() < deadline && (!FINAL_INF.has(after.state) || Object.values(after.vm_states).some((s) => !FINAL_VM.has(s)))) {
      await new Promise((r) => setTimeout(r, 1000));
      after = await state(second.restUrl, infId);
    }
    expect(Object.keys(after.vm_states).sort((a, b) => Number(a) - Number(b))).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    for (const [id, s] of Object.entries(after.vm_states)) expect(FINAL_VM.has(s), `VM ${id}: ${s}`).toBe(true);
    expect(FINAL_INF.has(after.state), after.state).toBe(true);

    // Listed once each.
    const vms = await api(second.restUrl, `/infrastructures/${infId}`, { headers: { Accept: 'text/uri-list' } });
    const uris = vms.body.trim().split('\n');
    expect(uris).toHaveLength(20);
    expect(new Set(uris).size).toBe(20);
    // The reasons are in the contmsg.
    const contmsg = await api(second.restUrl, `/infrastructures/${infId}/contmsg`, { headers: { Accept: 'text/plain' } });
    expect(contmsg.body).toMatch(/SSH access active|Contextualization Error|unconfigured|Master VM/i);

    // A later restart (Ctrl-C, then start) keeps the final states; whatever the stop cut short is resumed
    // without changing them.
    await second.stop();
    const third = await startNpm({ dataDir, env: ENV });
    servers.push(third);
    await new Promise((r) => setTimeout(r, 3000));
    expect(await state(third.restUrl, infId)).toEqual(after);
  });
});
