/**
 * Contextualization end to end (GitHub issue #5), self-contained: three SSH hosts in network namespaces
 * joined to an infrastructure as DeployedNode VMs over REST in local mode (DynamoDB Local, the same ASL
 * files, the contextualization runner as a child process in place of the Fargate task):
 *  - two configure recipes in two steps run on every host, in order; every VM ends configured and its
 *    contmsg holds the Ansible output (`TASK [`);
 *  - a failing recipe on one system (Reconfigure with vm_list) leaves that VM unconfigured with the error
 *    in its contmsg, the other VMs untouched; Reconfigure with the corrected recipe configures it again;
 *  - a VM whose IP never answers SSH ends unconfigured with the reason in its contmsg within
 *    WAIT_SSH_ACCCESS_TIMEOUT, and does not hold the other VM back.
 * Namespaces, sshd processes and DynamoDB Local go away in afterAll and, if the run dies, in exit hooks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/local-server.ts';
import { createSshHosts, leftovers, sshHostsUnsupportedReason, type SshHost, type SshHosts } from './helpers/ssh-hosts.ts';

const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED e2e contextualization tests: ${unsupported}`);

const WAIT_SSH = 8;
const AUTH = 'type = InfrastructureManager; username = e2e; password = e2e-pass\\nid = dn; type = DeployedNode';

function system(name: string, h: Pick<SshHost, 'ip' | 'user' | 'password'>): string {
  return `system ${name} (
  net_interface.0.connection = 'pub' and net_interface.0.ip = '${h.ip}' and
  disk.0.os.name = 'linux' and
  disk.0.os.credentials.username = '${h.user}' and disk.0.os.credentials.password = '${h.password}'
)`;
}

const recipe = (name: string, step: string) => `configure ${name} (
@begin
- tasks:
  - name: ${step} on {{ IM_NODE_HOSTNAME }}
    shell: echo "${step} $(date +%s%N) {{ IM_NODE_HOSTNAME }}" >> /tmp/order
@end
)`;

interface State {
  state: { state: string; vm_states: Record<string, string> };
}

describe.skipIf(!!unsupported)('contextualization end to end (REST, local mode, DeployedNode hosts)', () => {
  let set: SshHosts;
  let srv: TestServer;
  const call = async (method: string, path: string, opts: { body?: string; query?: Record<string, string>; accept?: string } = {}) => {
    const url = new URL(`${srv.baseUrl}${path}`);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { Authorization: AUTH };
    if (opts.accept) headers.Accept = opts.accept;
    if (opts.body !== undefined) headers['Content-Type'] = 'text/plain';
    const res = await fetch(url, { method, headers, body: opts.body });
    return { status: res.status, text: await res.text() };
  };
  const state = async (infId: string): Promise<State['state']> =>
    (JSON.parse((await call('GET', `/infrastructures/${infId}/state`, { accept: 'application/json' })).text) as State).state;
  const vmContmsg = async (infId: string, vmId: number) => (await call('GET', `/infrastructures/${infId}/vms/${vmId}/contmsg`)).text;
  /** Every execution (launch, contextualize, reconfigure) has finished. */
  const settle = () => srv.instance.orchestrator.idle();

  beforeAll(async () => {
    [set, srv] = await Promise.all([
      createSshHosts(3),
      startTestServer({ env: { WAIT_SSH_ACCCESS_TIMEOUT: String(WAIT_SSH), PLAYBOOK_RETRIES: '1', MAX_CONTEXTUALIZATION_TIME: '900' } }),
    ]);
  });

  afterAll(async () => {
    await srv?.stop();
    await set?.destroy();
    const left = leftovers();
    expect(left.netns).toEqual([]);
    expect(left.pids).toEqual([]);
    expect(left.links).toEqual([]);
  });

  describe('recipes in steps, failure on one system, Reconfigure', () => {
    let infId = '';
    const names = ['front', 'wn1', 'wn2'];

    it('configures every VM, running the two steps in order, with the Ansible output in contmsg', async () => {
      const radl = [
        "network pub (outbound = 'yes')",
        ...set.hosts.map((h, i) => system(names[i], h)),
        recipe('step1', 'step1'),
        recipe('step2', 'step2'),
        'contextualize (',
        ...names.map((n) => `  system ${n} configure step1 step 1`),
        ...names.map((n) => `  system ${n} configure step2 step 2`),
        ')',
        ...names.map((n) => `deploy ${n} 1`),
      ].join('\n');
      const created = await call('POST', '/infrastructures', { body: radl });
      expect(created.status, created.text).toBe(200);
      infId = created.text.trim().split('/').pop() as string;
      await settle();

      const s = await state(infId);
      expect(s.vm_states).toEqual({ '0': 'configured', '1': 'configured', '2': 'configured' });
      expect(s.state).toBe('configured');
      for (const [i, h] of set.hosts.entries()) {
        const lines = (await set.readFile(h, '/tmp/order')).trim().split('\n');
        expect(lines.map((l) => l.split(' ')[0])).toEqual(['step1', 'step2']);
        expect(Number(lines[1].split(' ')[1])).toBeGreaterThan(Number(lines[0].split(' ')[1]));
        expect(lines[0]).toContain(`vnode-${i}`);
        expect((await set.exec(h, 'hostname')).stdout.trim()).toBe(`vnode-${i}.localdomain`);
        const log = await vmContmsg(infId, i);
        expect(log).toContain('Launch task: basic');
        expect(log).toContain(`Launch task: step1_${names[i]}`);
        expect(log).toContain(`TASK [step2 on vnode-${i}]`);
      }
      const all = (await call('GET', `/infrastructures/${infId}/contmsg`)).text;
      expect(all).toContain('TASK [');
      expect(all).toContain('Select master VM');
    }, 300_000);

    it('a failing recipe on one system leaves that VM unconfigured with the error; the others are untouched', async () => {
      const before = await Promise.all([0, 1].map((i) => set.readFile(i, '/tmp/order')));
      const bad = `system wn2
configure broken (
@begin
- tasks:
  - name: this recipe fails
    command: /bin/false
@end
)
contextualize ( system wn2 configure broken step 2 )`;
      const r = await call('PUT', `/infrastructures/${infId}/reconfigure`, { body: bad, query: { vm_list: '2' } });
      expect(r.status, r.text).toBe(200);
      await settle();

      const s = await state(infId);
      expect(s.vm_states).toEqual({ '0': 'configured', '1': 'configured', '2': 'unconfigured' });
      const log = await vmContmsg(infId, 2);
      expect(log).toMatch(/TASK \[this recipe fails\] \*+\nfatal: \[[^\]]+\]: FAILED! =>.*non-zero return code/);
      expect(log).toContain('ERROR: task broken_wn2 failed.');
      expect(await Promise.all([0, 1].map((i) => set.readFile(i, '/tmp/order')))).toEqual(before);
    }, 300_000);

    it('Reconfigure with the corrected recipe configures it again', async () => {
      const fixed = `system wn2
configure broken (
@begin
- tasks:
  - name: this recipe is fixed
    shell: echo fixed >> /tmp/order
@end
)`;
      const r = await call('PUT', `/infrastructures/${infId}/reconfigure`, { body: fixed, query: { vm_list: '2' } });
      expect(r.status, r.text).toBe(200);
      await settle();
      expect((await state(infId)).vm_states).toEqual({ '0': 'configured', '1': 'configured', '2': 'configured' });
      expect((await set.readFile(2, '/tmp/order')).trim().split('\n').pop()).toBe('fixed');
      expect(await vmContmsg(infId, 2)).toContain('TASK [this recipe is fixed]');
    }, 300_000);
  });

  it(`a VM whose IP never answers ends unconfigured with the reason within WAIT_SSH_ACCCESS_TIMEOUT (${WAIT_SSH} s)`, async () => {
    const ghost = { ...set.hosts[0], ip: set.hosts[0].ip.replace(/\.\d+$/, '.250') };
    const radl = [
      "network pub (outbound = 'yes')",
      system('good', set.hosts[1]),
      system('ghost', ghost),
      "configure good (\n@begin\n- tasks: [ { name: good recipe, command: 'true' } ]\n@end\n)",
      'deploy good 1',
      'deploy ghost 1',
    ].join('\n');
    const t0 = Date.now();
    const created = await call('POST', '/infrastructures', { body: radl, query: { async: 'true' } });
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;

    // Poll the ghost VM: it must end unconfigured within the SSH wait (plus launch / polling overhead).
    let ghostState = '';
    let ghostAt = 0;
    while (Date.now() - t0 < (WAIT_SSH + 60) * 1000) {
      const s = await state(infId).catch(() => undefined);
      ghostState = s?.vm_states['1'] ?? '';
      if (ghostState === 'unconfigured' || ghostState === 'failed') {
        ghostAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(ghostState).toBe('unconfigured');
    expect(ghostAt - t0).toBeLessThan((WAIT_SSH + 20) * 1000);
    expect(ghostAt - t0).toBeGreaterThanOrEqual(WAIT_SSH * 1000 - 500);
    expect(await vmContmsg(infId, 1)).toMatch(/Error waiting the VM to have the SSH access active \(10\.213\.\d+\.250:22\): .+Timeout of 8 s exceeded\./);

    await settle();
    expect((await state(infId)).vm_states).toEqual({ '0': 'configured', '1': 'unconfigured' });
    expect(await vmContmsg(infId, 0)).toContain('TASK [good recipe]');
  }, 300_000);
});
