/**
 * Execution with the real ansible-playbook on local-connection hosts (no SSH): how many processes a unit
 * takes, who failed in which task, the run that goes on after Ansible ended a playbook early, retries and
 * the time limit.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '#core/logger';
import { loadConfig } from '#core/config';
import { Execution, type Unit } from '#runner/execution';
import { Outcome } from '#runner/outcome';
import type { Play } from '#runner/playbooks';
import { Workspace } from '#runner/workspace';
import { dumpYaml } from '#runner/yaml';
import { MemoryStore } from '../../e2e/helpers/memory-store.ts';
import { node } from './helpers.ts';

const hasAnsible = spawnSync('sh', ['-c', 'command -v ansible-playbook']).status === 0;
const root = mkdtempSync(join(tmpdir(), 'imt-exec-'));
const nodes = [node(0, 'front', '10.0.0.10'), node(1, 'wn', '10.0.0.11'), node(2, 'wn', '10.0.0.12')];
const hostNames = new Map(nodes.map((n) => [n.vmId, `h${n.vmId}`]));
const groups = new Map([
  ['front', [0]],
  ['wn', [1, 2]],
]);
const play = (name: string, hosts: string, tasks: Play[]): Play => ({ name, hosts, gather_facts: false, strategy: 'free', vars: { im_ctxt_task: name }, tasks });

describe.skipIf(!hasAnsible)('Execution (ansible-playbook, local connection)', () => {
  const store = new MemoryStore();
  let ws: Workspace;
  let outcome: Outcome;

  beforeAll(async () => {
    await store.createInfrastructure({ id: 'inf', version: 1, owners: [], ownerKeys: [], status: 'active', createdAt: 0, updatedAt: 0, radl: '[]', vmCounter: 3, addingOps: [], privateNetworks: {}, snapshots: [] });
    ws = Workspace.create({ root, forks: 3, sshTimeout: 10, controlPersist: 5 });
    const hosts = Object.fromEntries([...hostNames.values()].map((h) => [h, { ansible_connection: 'local', ansible_python_interpreter: '{{ ansible_playbook_python }}' }]));
    ws.writeInventory(dumpYaml({ all: { children: { front: { hosts: { h0: hosts.h0 } }, wn: { hosts: { h1: hosts.h1, h2: hosts.h2 } } } } }), []);
    outcome = new Outcome({ store, infId: 'inf', runId: 'r', logger: createLogger({ level: 'ERROR' }), now: Date.now, logIntervalMs: 50 });
  });

  afterAll(async () => {
    await ws?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  const execution = (overrides: Record<string, string> = {}, deadline = Date.now() + 300_000) =>
    new Execution({
      config: loadConfig({ LOG_LEVEL: 'ERROR', ...overrides }),
      workspace: ws,
      outcome,
      now: Date.now,
      deadline,
      signal: new AbortController().signal,
      hostNames,
      groups,
      ansiblePlaybook: 'ansible-playbook',
      ansibleGalaxy: 'ansible-galaxy',
      retryDelayMs: 10,
    });
  const unit = (plays: Play[], labels: Record<number, string> = {}): Unit => ({ plays, nodes, labelOf: (id) => labels[id] ?? 'x', vaultFiles: [] });

  it('one process for all the plays; every host of a play failing ends it early, the others go on in a second one', async () => {
    const ex = execution();
    const failed = await ex.runUnit(
      unit([
        play('s1_front', 'front', [{ name: 'front fails', fail: { msg: 'no' } }]),
        play('s1_wn', 'wn', [{ name: 'wn ok', command: 'true' }]),
        play('s2_wn', 'wn', [{ name: 'one wn fails', fail: { msg: 'no' }, when: "inventory_hostname == 'h2'" }]),
        play('s3_wn', 'wn', [{ name: 'after', command: 'true' }]),
      ]),
    );
    expect(Object.fromEntries(failed)).toEqual({ 0: 's1_front', 2: 's2_wn' });
    expect(ex.processes).toBe(2);
    await outcome.flush();
    const log1 = await store.getLog('inf', 1);
    for (const t of ['Launch task: s1_wn', 'TASK [wn ok]', 'Launch task: s3_wn', 'TASK [after]']) expect(log1).toContain(t);
    expect(await store.getLog('inf', 2)).not.toContain('TASK [after]');
    expect(await store.getLog('inf', 0)).toMatch(/TASK \[front fails\] \*+\nfatal: \[h0\]: FAILED!/);
  }, 120_000);

  it('no second process when no play is left for the hosts still fine', async () => {
    const ex = execution();
    const failed = await ex.runUnit(unit([play('a', 'wn', [{ command: 'true' }]), play('b', 'front', [{ fail: { msg: 'no' } }]), play('c', 'front', [{ command: 'true' }])]));
    expect([...failed.keys()]).toEqual([0]);
    expect(ex.processes).toBe(1);
  }, 120_000);

  it('PLAYBOOK_RETRIES: the hosts that failed run the unit again', async () => {
    const flag = join(root, 'flaky');
    const ex = execution({ PLAYBOOK_RETRIES: '2' });
    const failed = await ex.runUnit(unit([play('flaky_front', 'front', [{ shell: `test -e ${flag} || { touch ${flag}; exit 1; }` }])], { 0: 'flaky_front' }));
    expect(failed.size).toBe(0);
    expect(ex.processes).toBe(2);
    await outcome.flush();
    expect(await store.getLog('inf', 0)).toContain('Playbook flaky_front failed. Retrying (attempt 2 of 2).');
  }, 120_000);

  it('the deadline kills the run: its hosts failed, timedOut set', async () => {
    const ex = execution({}, Date.now() + 8000);
    const t = Date.now();
    const failed = await ex.runUnit(unit([play('slow', 'all', [{ command: 'sleep 60' }])]));
    expect(ex.timedOut).toBe(true);
    expect([...failed.keys()].sort()).toEqual([0, 1, 2]);
    expect(Date.now() - t).toBeLessThan(30_000);
  }, 120_000);
});
