/**
 * The contextualization runner against real SSH hosts (network namespaces), with the records in an
 * in-memory store: basic play, ordered steps, jump host, new credentials, streaming logs, a failing
 * recipe limited to one VM, the time limit, disabled contextualization and an unreachable VM.
 * (test/e2e/contextualization.test.ts covers the same through REST and local mode.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextualize, type RunResult } from '#runner/runner';
import { MemoryStore } from './helpers/memory-store.ts';
import { quietLogger, seedInfrastructure, setInfraRadl, testConfig, type FixtureVm } from './helpers/ctxt-fixture.ts';
import { createSshHosts, leftovers, sshHostsUnsupportedReason, type SshHosts } from './helpers/ssh-hosts.ts';

/** Exit code of a fresh password login (no multiplexing, no key). */
function passwordLogin(ip: string, password: string): number | null {
  return spawnSync(
    'sshpass',
    ['-e', 'ssh', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'PubkeyAuthentication=no', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', `imtest@${ip}`, 'true'],
    { env: { ...process.env, SSHPASS: password }, timeout: 30_000 },
  ).status;
}

const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED runner e2e tests: ${unsupported}`);

const STEPS = `
configure s1 (
@begin
- tasks:
  - name: step one
    shell: echo "step1 $(date +%s%N) {{ IM_NODE_HOSTNAME }} {{ IM_WN_NUM_VMS }} {{ IM_MASTER_HOSTNAME }}" >> /tmp/order
  - name: remember the SSH client
    shell: echo "$SSH_CLIENT" > /tmp/client
    become: false
@end
)
configure s2 (
@begin
- tasks:
  - name: step two
    shell: echo "step2 $(date +%s%N)" >> /tmp/order
@end
)
contextualize (
  system front configure s1 step 1
  system wn configure s1 step 1
  system front configure s2 step 2
  system wn configure s2 step 2
)`;

const BAD = STEPS.replace(
  'contextualize (',
  `configure bad (
@begin
- tasks:
  - name: this one fails
    command: /bin/false
@end
)
contextualize (
  system front configure bad step 2`,
);

describe.skipIf(!!unsupported)('contextualization runner on SSH hosts', () => {
  let set: SshHosts;
  const store = new MemoryStore();
  let vms: FixtureVm[];
  let infId = '';
  const workRoot = mkdtempSync(join(tmpdir(), 'imt-runner-'));
  const config = testConfig({ WAIT_SSH_ACCCESS_TIMEOUT: '5' });
  const services = () => ({ store, config, logger: quietLogger(), logIntervalMs: 300, retryDelayMs: 200, sshTimeout: 5, workRoot });
  /** A Reconfigure (vmIds = vm_list) or, without ids, a whole run. */
  const run = Object.assign((vmIds?: number[]) => contextualize({ infId, vmIds, reconfigure: vmIds !== undefined }, services()), {
    /** The run the launch flow starts: vmIds = the VMs just launched. */
    launch: (vmIds: number[]) => contextualize({ infId, vmIds }, services()),
  });

  beforeAll(async () => {
    set = await createSshHosts(3);
    vms = [
      { system: 'front', host: set.hosts[0] },
      { system: 'wn', host: set.hosts[1], extra: "disk.0.os.credentials.new.password = 'NewPass-12!'" },
      { system: 'wn', host: set.hosts[2], privateOnly: true, useKey: true },
    ];
    infId = await seedInfrastructure(store, vms, STEPS);
  });

  afterAll(async () => {
    await set?.destroy();
    rmSync(workRoot, { recursive: true, force: true });
    const left = leftovers();
    expect(left.netns).toEqual([]);
    expect(left.pids).toEqual([]);
  }, 240_000);

  it('runs the basic play and the steps in order on every VM, streaming the output', async () => {
    const t0 = Date.now();
    const r: RunResult = await run();
    const t1 = Date.now();
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'ok' },
      { vmId: 1, ctxtState: 'ok' },
      { vmId: 2, ctxtState: 'ok' },
    ]);
    for (const [i, h] of set.hosts.entries()) {
      const order = (await set.readFile(h, '/tmp/order')).trim().split('\n');
      expect(order).toHaveLength(2);
      expect(order[0]).toMatch(new RegExp(`^step1 \\d+ vnode-${i} 2 vnode-0$`));
      expect(order[1]).toMatch(/^step2 \d+$/);
      expect(Number(order[1].split(' ')[1])).toBeGreaterThan(Number(order[0].split(' ')[1]));
      expect((await set.exec(h, 'hostname')).stdout.trim()).toBe(`vnode-${i}.localdomain`);
      const hosts = await set.readFile(h, '/etc/hosts');
      for (const [j, o] of set.hosts.entries()) expect(hosts).toContain(`${o.ip} vnode-${j}.localdomain vnode-${j}`);
    }
    // Public VMs are reached directly (from the bridge address), the private one through the master.
    expect((await set.readFile(0, '/tmp/client')).split(' ')[0]).toBe(set.gateway);
    expect((await set.readFile(2, '/tmp/client')).split(' ')[0]).toBe(set.hosts[0].ip);

    const vmsNow = await store.listVms(infId);
    expect(vmsNow.map((v) => v.state)).toEqual(['configured', 'configured', 'configured']);
    // The new password is in place and is now the VM's password: a fresh SSH login takes it, not the old one.
    expect(vmsNow[1].info).toContain('NewPass-12!');
    expect(vmsNow[1].info).not.toContain('credentials.new.password');
    expect(passwordLogin(set.hosts[1].ip, 'NewPass-12!')).toBe(0);
    expect(passwordLogin(set.hosts[1].ip, set.hosts[1].password)).not.toBe(0);
    // The master's key pair is on the master, its public key in every node's authorized_keys, and the master
    // logs in to the other nodes with it.
    const pub = (await set.readFile(0, `/var/tmp/.im/${infId}/ansible_key.pub`)).trim();
    expect(pub).toMatch(/^ssh-(ed25519|rsa) /);
    for (const h of set.hosts) expect((await set.readFile(h, `/home/${h.user}/.ssh/authorized_keys`)).split('\n')).toContain(pub);
    const viaKey = await set.exec(
      0,
      `su -s /bin/sh ${set.hosts[0].user} -c 'ssh -i /var/tmp/.im/${infId}/ansible_key -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null ${set.hosts[2].user}@${set.hosts[2].ip} hostname'`,
    );
    expect(viaKey.stdout.trim()).toBe('vnode-2.localdomain');
    // The basic plays in one process (new credentials to adopt), then both steps in one more.
    expect(r.ansibleRuns).toBe(2);

    for (const id of [0, 1, 2]) {
      const log = await store.getLog(infId, id);
      expect(log).toContain('Launch task: basic');
      expect(log).toContain(`Launch task: s1_${id === 0 ? 'front' : 'wn'}`);
      expect(log).toMatch(/TASK \[step one\] \*+\nchanged: \[/);
      expect(log).toContain('Contextualization process finished successfully.');
      // Only this VM's host appears in its log.
      for (const other of [0, 1, 2].filter((o) => o !== id)) expect(log).not.toContain(`_${other}]`);
      // Streamed: several appends, the first long before the end of the run.
      const calls = store.appendCalls.filter((c) => c.infId === infId && c.scope === id && c.at >= t0);
      expect(calls.length).toBeGreaterThanOrEqual(3);
      expect(calls[0].at).toBeLessThan(t1 - 2000);
    }
    expect(await store.getLog(infId, 'inf')).toContain('Select master VM');
    expect((await store.getInfrastructure(infId))?.vmMaster).toBe(0);
  }, 240_000);

  it('a failing recipe on one VM (vm_list) leaves it unconfigured and the others untouched', async () => {
    const before = await Promise.all([1, 2].map((i) => set.readFile(i, '/tmp/order')));
    await setInfraRadl(store, infId, vms, BAD);
    const r = await run([0]);
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'failed' },
      { vmId: 1, ctxtState: 'ok' },
      { vmId: 2, ctxtState: 'ok' },
    ]);
    const log = await store.getLog(infId, 0);
    expect(log).toContain('Launch task: bad_front');
    expect(log).toMatch(/TASK \[this one fails\] \*+\nfatal: \[[^\]]+_0\]: FAILED! =>/);
    expect(log).toContain('ERROR: task bad_front failed.');
    expect((await store.listVms(infId)).map((v) => v.state)).toEqual(['unconfigured', 'configured', 'configured']);
    expect(await Promise.all([1, 2].map((i) => set.readFile(i, '/tmp/order')))).toEqual(before);
    // The failed VM ran step 1 again (vm_list), then stopped at the failing step 2 task.
    expect((await set.readFile(0, '/tmp/order')).trim().split('\n').map((l) => l.split(' ')[0])).toEqual(['step1', 'step2', 'step1']);

    // Reconfigure with the recipe fixed: configured again.
    await setInfraRadl(store, infId, vms, STEPS);
    const again = await run([0]);
    expect(again.vms.find((v) => v.vmId === 0)?.ctxtState).toBe('ok');
    expect((await store.getVm(infId, 0))?.state).toBe('configured');
  }, 240_000);

  it('stops at the contextualize max_time: unfinished VMs unconfigured', async () => {
    const slow = STEPS.replace('contextualize (', 'contextualize 14 (').replace('echo "step2', 'sleep 60; echo "step2');
    await setInfraRadl(store, infId, vms, slow);
    const t = Date.now();
    const r = await run();
    expect(Date.now() - t).toBeLessThan(40_000);
    expect(r.timedOut).toBe(true);
    expect(r.vms.every((v) => v.ctxtState === 'failed')).toBe(true);
    expect(await store.getLog(infId, 'inf')).toContain('ERROR: Max contextualization time passed.');
    expect(await store.getLog(infId, 1)).toContain('ERROR: Max contextualization time passed.');
    expect((await store.listVms(infId)).map((v) => v.state)).toEqual(['unconfigured', 'unconfigured', 'unconfigured']);
    // No ansible-playbook / ssh process of the killed run is left on this side.
    expect(spawnSync('pgrep', ['-f', workRoot]).stdout.toString().trim()).toBe('');
  }, 240_000);

  it('after a launch (vmIds without reconfigure): new VMs whose SSH wait failed are left out, every other VM runs everything', async () => {
    await setInfraRadl(store, infId, vms, STEPS);
    const before = await set.readFile(1, '/tmp/order');
    // VM 1: SSH answered (pending); VM 2: its SSH wait failed.
    const vm1 = await store.getVm(infId, 1);
    await store.updateVm(infId, 1, vm1?.version ?? 0, { ctxtState: 'pending', state: 'running' });
    const vm2 = await store.getVm(infId, 2);
    await store.updateVm(infId, 2, vm2?.version ?? 0, { ctxtState: 'failed', state: 'unconfigured' });
    const r = await run.launch([1, 2]);
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'ok' },
      { vmId: 1, ctxtState: 'ok' },
    ]);
    expect((await store.getVm(infId, 2))?.state).toBe('unconfigured');
    // VM 1 ran its recipes again (all recipes on all VMs, as IM after adding VMs).
    expect((await set.readFile(1, '/tmp/order')).length).toBeGreaterThan(before.length);
  }, 240_000);

  it('retries a failed playbook: PLAYBOOK_RETRIES attempts in all, for the hosts that failed', async () => {
    const flaky = `configure flaky (
@begin
- tasks:
  - name: fails the first time only
    shell: test -e /var/tmp/flaky || { touch /var/tmp/flaky; exit 1; }
@end
)
contextualize ( system front configure flaky step 1 )`;
    await setInfraRadl(store, infId, vms, flaky);
    const r = await contextualize({ infId, vmIds: [0], reconfigure: true }, { ...services(), config: testConfig({ PLAYBOOK_RETRIES: '2' }) });
    expect(r.vms.find((v) => v.vmId === 0)?.ctxtState).toBe('ok');
    const log = await store.getLog(infId, 0);
    expect(log).toContain('Playbook flaky_front failed. Retrying (attempt 2 of 2).');
    expect(log.split('TASK [fails the first time only]')).toHaveLength(3);
    // With one attempt (the default) the same failure is final.
    await set.exec(0, 'rm -f /var/tmp/flaky');
    const once = await contextualize({ infId, vmIds: [0], reconfigure: true }, services());
    expect(once.vms.find((v) => v.vmId === 0)?.ctxtState).toBe('failed');
  }, 240_000);

  it('a newer run (or a deletion) stops this one: Ansible killed, no final state written', async () => {
    await setInfraRadl(store, infId, vms, STEPS.replace('echo "step2', 'sleep 60; echo "step2'));
    // `Launch task` and the TASK banner are written when the task starts on the host, before its result.
    const s2Count = async () => (await store.getLog(infId, 0)).split('TASK [step two]').length;
    const before = await s2Count();
    const t = Date.now();
    const pending = contextualize({ infId }, { ...services(), superviseIntervalMs: 200 });
    // Another run claims the infrastructure once this one is in its step 2 (sleep 60).
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      if ((await s2Count()) > before) break;
      if (Date.now() - t > 120_000) throw new Error('step 2 never started');
    }
    const cur = await store.getInfrastructure(infId);
    await store.updateInfrastructure(infId, cur?.version ?? 0, { ctxtRunId: 'a-newer-run' });
    const r = await pending;
    expect(r.superseded).toBe(true);
    expect(r.vms).toEqual([]);
    expect(Date.now() - t).toBeLessThan(60_000);
    expect((await store.listVms(infId)).map((v) => v.ctxtState)).toEqual(['running', 'running', 'running']);
    expect(spawnSync('pgrep', ['-f', workRoot]).stdout.toString().trim()).toBe('');
  }, 240_000);

  it('one ansible-playbook per step: the basic plays and both steps in one process, or one per step with retries', async () => {
    // Own output file: the shells that the killed runs of the tests above left on the hosts still write to /tmp/order.
    await setInfraRadl(store, infId, vms, STEPS.replaceAll('/tmp/order', '/tmp/order-p'));
    const once = await run();
    expect(once.vms.map((v) => v.ctxtState)).toEqual(['ok', 'ok', 'ok']);
    expect(once.ansibleRuns).toBe(1);
    // PLAYBOOK_RETRIES=2: a retry repeats one step, so each step (both systems) runs in a process of its own.
    const retrying = await contextualize({ infId }, { ...services(), config: testConfig({ WAIT_SSH_ACCCESS_TIMEOUT: '5', PLAYBOOK_RETRIES: '2' }) });
    expect(retrying.vms.map((v) => v.ctxtState)).toEqual(['ok', 'ok', 'ok']);
    expect(retrying.ansibleRuns).toBe(3);
    for (const [i, h] of set.hosts.entries()) {
      const order = (await set.readFile(h, '/tmp/order-p')).trim().split('\n').map((l) => l.split(' ')[0]);
      expect(order, `host ${i}`).toEqual(['step1', 'step2', 'step1', 'step2']);
    }
  }, 240_000);

  it('a host that fails a step skips the later steps; the other hosts and systems go on', async () => {
    const failOn = (vmId: number, system: string) =>
      STEPS.replaceAll('/tmp/order', '/tmp/order-f').replace(
        'contextualize (',
        `configure flawed (
@begin
- tasks:
  - name: fails on one VM
    command: /bin/false
    when: IM_NODE_NUM == ${vmId}
@end
)
contextualize (
  system ${system} configure flawed step 1`,
      );
    const lines = async () => Promise.all(set.hosts.map(async (h) => (await set.exec(h, 'cat /tmp/order-f 2>/dev/null')).stdout.split('\n').filter(Boolean).length));
    // One wn VM of two fails in step 1: it alone is unconfigured and runs no step 2.
    await setInfraRadl(store, infId, vms, failOn(1, 'wn'));
    let before = await lines();
    let r = await run();
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'ok' },
      { vmId: 1, ctxtState: 'failed' },
      { vmId: 2, ctxtState: 'ok' },
    ]);
    expect(await store.getLog(infId, 1)).toContain('ERROR: task flawed_wn failed.');
    expect((await lines()).map((n, i) => n - before[i])).toEqual([2, 0, 2]);
    // Every host of the step's first play fails (Ansible then ends the playbook): the other system still
    // runs its plays of that step and the next one, in a second process.
    await setInfraRadl(store, infId, vms, failOn(0, 'front'));
    before = await lines();
    r = await run();
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'failed' },
      { vmId: 1, ctxtState: 'ok' },
      { vmId: 2, ctxtState: 'ok' },
    ]);
    expect(r.ansibleRuns).toBe(2);
    expect(await store.getLog(infId, 0)).toContain('ERROR: task flawed_front failed.');
    expect((await lines()).map((n, i) => n - before[i])).toEqual([0, 2, 2]);
    expect((await store.listVms(infId)).map((v) => v.state)).toEqual(['unconfigured', 'configured', 'configured']);
  }, 240_000);

  it('contextualize () disables it: VMs configured without running anything', async () => {
    await setInfraRadl(store, infId, vms, 'contextualize ()');
    const r = await run();
    expect(r.disabled).toBe(true);
    expect(r.vms.map((v) => v.ctxtState)).toEqual(['disabled', 'disabled', 'disabled']);
    expect((await store.listVms(infId)).map((v) => v.state)).toEqual(['configured', 'configured', 'configured']);
    expect(await store.getLog(infId, 'inf')).toContain('Contextualization disabled by the RADL/TOSCA template.');
  }, 240_000);

  it('a VM whose IP never answers ends unconfigured with the reason, the others configured', async () => {
    const ghost = { ...set.hosts[1], ip: set.hosts[1].ip.replace(/\.\d+$/, '.250') };
    const s2 = new MemoryStore();
    const id = await seedInfrastructure(
      s2,
      [
        { system: 'front', host: set.hosts[0] },
        { system: 'wn', host: ghost },
      ],
      'configure wn (\n@begin\n- tasks: [ { command: "true" } ]\n@end\n)',
    );
    const r = await contextualize({ infId: id }, { store: s2, config, logger: quietLogger(), logIntervalMs: 300, retryDelayMs: 200, sshTimeout: 3 });
    expect(r.vms).toEqual([
      { vmId: 0, ctxtState: 'ok' },
      { vmId: 1, ctxtState: 'failed' },
    ]);
    const log = await s2.getLog(id, 1);
    expect(log).toMatch(/fatal: \[[^\]]+_1\]: (UNREACHABLE|FAILED)!/);
    expect(log).toContain('ERROR: task basic failed.');
  }, 240_000);
});
