/**
 * Durable contextualization: a real `npm start` is SIGKILLed (its whole process group: server,
 * DynamoDB Local, the runner and ansible-playbook) while Ansible runs a recipe that sleeps on two
 * network-namespace SSH hosts (DeployedNode), then started again on the same data folder. The
 * interrupted workflow resumes: the contextualization runs again and both VMs, and the
 * infrastructure, end configured, with the recipe's work done on each host.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupPids, startNpm, type NpmStart } from '../helpers/npm-start.ts';
import { createSshHosts, sshHostsUnsupportedReason, type SshHost, type SshHosts } from './helpers/ssh-hosts.ts';

const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED e2e durability tests: ${unsupported}`);

const AUTH = 'type = InfrastructureManager; username = e2e; password = e2e-pass\\nid = dn; type = DeployedNode';
const ENV = { WAIT_SSH_ACCCESS_TIMEOUT: '30', PLAYBOOK_RETRIES: '1', MAX_CONTEXTUALIZATION_TIME: '600', VM_INFO_UPDATE_FREQUENCY: '2' };

function system(name: string, h: Pick<SshHost, 'ip' | 'user' | 'password'>): string {
  return `system ${name} (
  net_interface.0.connection = 'pub' and net_interface.0.ip = '${h.ip}' and
  disk.0.os.name = 'linux' and
  disk.0.os.credentials.username = '${h.user}' and disk.0.os.credentials.password = '${h.password}'
)`;
}

describe.skipIf(!!unsupported)('durable contextualization: npm start killed mid-Ansible', () => {
  let set: SshHosts;
  const dataDir = mkdtempSync(join(tmpdir(), 'im-durable-ctxt-'));
  const servers: NpmStart[] = [];
  beforeAll(async () => {
    set = await createSshHosts(2);
  }, 120_000);
  afterAll(async () => {
    for (const s of servers) await s.stop().catch(() => undefined);
    await set?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const call = async (base: string, method: string, path: string, body?: string) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { Authorization: AUTH, Accept: 'application/json', ...(body ? { 'Content-Type': 'text/plain' } : {}) },
      body,
    });
    return { status: res.status, text: await res.text() };
  };
  const state = async (base: string, infId: string) =>
    (JSON.parse((await call(base, 'GET', `/infrastructures/${infId}/state`)).text) as { state: { state: string; vm_states: Record<string, string> } }).state;

  it('resumes the contextualization after a SIGKILL and configures both hosts', { timeout: 600_000 }, async () => {
    const first = await startNpm({ dataDir, env: ENV });
    servers.push(first);
    const radl = [
      "network pub (outbound = 'yes')",
      system('front', set.hosts[0]),
      system('wn', set.hosts[1]),
      `configure slow (
@begin
- tasks:
  - name: slow work
    shell: date +%s%N >> /tmp/started; sleep 15; date +%s%N >> /tmp/done
@end
)`,
      'contextualize (',
      '  system front configure slow step 1',
      '  system wn configure slow step 1',
      ')',
      'deploy front 1',
      'deploy wn 1',
    ].join('\n');
    const created = await call(first.restUrl, 'POST', '/infrastructures?async=yes', radl);
    expect(created.status, created.text).toBe(200);
    const infId = JSON.parse(created.text).uri.split('/').pop() as string;

    // Wait until the recipe runs (Ansible is in the middle of its sleep on some host).
    const read = async (path: string) => Promise.all(set.hosts.map((h) => set.readFile(h, path).catch(() => '')));
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && (await read('/tmp/started')).every((t) => t.trim() === '')) await new Promise((r) => setTimeout(r, 500));
    expect((await read('/tmp/started')).some((t) => t.trim() !== ''), first.output().slice(-3000)).toBe(true);
    expect((await state(first.restUrl, infId)).state).toBe('running');

    await first.kill('SIGKILL');
    for (let i = 0; i < 50 && groupPids(first.pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(groupPids(first.pgid)).toEqual([]);
    // The interrupted contextualization had not finished everywhere.
    expect((await read('/tmp/done')).some((t) => t.trim() === '')).toBe(true);

    const second = await startNpm({ dataDir, env: ENV });
    servers.push(second);
    expect(second.output()).toMatch(/Resumed 1 and closed 0 interrupted workflow/);
    let s = await state(second.restUrl, infId);
    const until = Date.now() + 300_000;
    while (Date.now() < until && !['configured', 'unconfigured', 'failed'].includes(s.state)) {
      await new Promise((r) => setTimeout(r, 1000));
      s = await state(second.restUrl, infId);
    }
    expect(s).toEqual({ state: 'configured', vm_states: { '0': 'configured', '1': 'configured' } });
    // The resumed run did the work on every host (the killed run's remote shell may also have finished
    // its sleep on a host: SSH hosts outlive their client).
    for (const t of await read('/tmp/done')) expect(t.trim().split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(1);
    const started = await read('/tmp/started');
    expect(started.reduce((n, t) => n + t.trim().split('\n').filter(Boolean).length, 0)).toBeGreaterThanOrEqual(3);
  });
});
