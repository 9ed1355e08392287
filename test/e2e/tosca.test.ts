/**
 * TOSCA end to end: two SSH hosts in network namespaces join an infrastructure created from a TOSCA
 * template over REST in local mode (DeployedNode VMs through explicit Port ip_addresses). The template's
 * own software node type carries an inline Ansible playbook; one node of it is hosted on each Compute
 * (the second one depends on the first: step 3 after step 2). Both hosts end configured with the file
 * the playbook writes, Jinja from get_attribute resolved by Ansible; the outputs read the live VMs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { startTestServer, type TestServer } from '../helpers/local-server.ts';
import { createSshHosts, leftovers, sshHostsUnsupportedReason, type SshHost, type SshHosts } from './helpers/ssh-hosts.ts';

const unsupported = sshHostsUnsupportedReason();
if (unsupported) console.warn(`SKIPPED e2e TOSCA tests: ${unsupported}`);

const AUTH = 'type = InfrastructureManager; username = e2e; password = e2e-pass\\nid = dn; type = DeployedNode';
const URL_DIR = new URL('../../../shared/fixtures/tosca/urls', import.meta.url).pathname;

const PLAYBOOK = `---
- hosts: localhost
  connection: local
  tasks:
    - name: greet {{ IM_NODE_HOSTNAME }}
      copy:
        dest: /tmp/tosca_greeting
        content: "{{ greeting }} from {{ IM_NODE_HOSTNAME }}, front at {{ front_ip }}\\n"
`;

function template(hosts: SshHost[]): string {
  const compute = (h: SshHost) => ({
    type: 'tosca.nodes.indigo.Compute',
    capabilities: { os: { properties: { type: 'linux', credential: { user: h.user, token: h.password } } } },
  });
  const port = (node: string, h: SshHost) => ({ type: 'tosca.nodes.network.Port', properties: { order: 0, ip_address: h.ip }, requirements: [{ binding: node }, { link: 'pub' }] });
  return yaml.dump({
    tosca_definitions_version: 'tosca_simple_yaml_1_0',
    imports: [{ grycap_custom_types: 'https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml' }],
    metadata: { template_name: 'TOSCA e2e' },
    node_types: {
      'tosca.nodes.test.Greeter': {
        derived_from: 'tosca.nodes.SoftwareComponent',
        properties: { greeting: { type: 'string', default: 'hello' } },
        interfaces: {
          Standard: {
            configure: {
              implementation: PLAYBOOK,
              inputs: { greeting: { get_property: ['SELF', 'greeting'] }, front_ip: { get_attribute: ['front', 'private_address', 0] } },
            },
          },
        },
      },
    },
    topology_template: {
      inputs: { greeting: { type: 'string', default: 'hola' } },
      node_templates: {
        pub: { type: 'tosca.nodes.network.Network', properties: { network_type: 'public' } },
        front: compute(hosts[0]),
        wn: compute(hosts[1]),
        front_port: port('front', hosts[0]),
        wn_port: port('wn', hosts[1]),
        greet_front: { type: 'tosca.nodes.test.Greeter', properties: { greeting: { get_input: 'greeting' } }, requirements: [{ host: 'front' }] },
        greet_wn: { type: 'tosca.nodes.test.Greeter', requirements: [{ host: 'wn' }, { dependency: 'greet_front' }] },
      },
      outputs: {
        front_ip: { value: { get_attribute: ['front', 'public_address', 0] } },
        wn_creds: { value: { get_attribute: ['wn', 'endpoint', 'credential', 0] } },
      },
    },
  });
}

describe.skipIf(!!unsupported)('TOSCA end to end (REST, local mode, DeployedNode hosts)', () => {
  let set: SshHosts;
  let srv: TestServer;
  const call = async (method: string, path: string, opts: { body?: string; accept?: string } = {}) => {
    const headers: Record<string, string> = { Authorization: AUTH };
    if (opts.accept) headers.Accept = opts.accept;
    if (opts.body !== undefined) headers['Content-Type'] = 'text/yaml';
    const res = await fetch(`${srv.baseUrl}${path}`, { method, headers, body: opts.body });
    return { status: res.status, text: await res.text() };
  };

  beforeAll(async () => {
    [set, srv] = await Promise.all([
      createSshHosts(2),
      startTestServer({ env: { WAIT_SSH_ACCCESS_TIMEOUT: '8', PLAYBOOK_RETRIES: '1', MAX_CONTEXTUALIZATION_TIME: '900', TOSCA_URL_DIR: URL_DIR, TOSCA_FETCH_REMOTE: 'false' } }),
    ]);
  });

  afterAll(async () => {
    await srv?.stop();
    await set?.destroy();
    const left = leftovers();
    expect(left.netns).toEqual([]);
    expect(left.pids).toEqual([]);
  });

  it('configures both hosts with the inline playbook, in dependency order', async () => {
    const created = await call('POST', '/infrastructures', { body: template(set.hosts) });
    expect(created.status, created.text).toBe(200);
    const infId = created.text.trim().split('/').pop() as string;
    await srv.instance.orchestrator.idle();

    const state = JSON.parse((await call('GET', `/infrastructures/${infId}/state`, { accept: 'application/json' })).text) as { state: { state: string; vm_states: Record<string, string> } };
    expect(state.state.vm_states).toEqual({ '0': 'configured', '1': 'configured' });
    const [front, wn] = set.hosts;
    expect(await set.readFile(front, '/tmp/tosca_greeting')).toBe(`hola from vnode-0, front at ${front.ip}\n`);
    expect(await set.readFile(wn, '/tmp/tosca_greeting')).toBe(`hello from vnode-1, front at ${front.ip}\n`);
    const log = (await call('GET', `/infrastructures/${infId}/vms/1/contmsg`)).text;
    expect(log).toContain('Launch task: greet_wn_wn_conf_wn');
    expect(log).toContain('TASK [greet vnode-1]');

    const outputs = JSON.parse((await call('GET', `/infrastructures/${infId}/outputs`)).text) as { outputs: Record<string, unknown> };
    expect(outputs.outputs).toEqual({ front_ip: front.ip, wn_creds: { user: wn.user, token_type: 'password', token: wn.password } });

    expect((await call('DELETE', `/infrastructures/${infId}`)).status).toBe(200);
  }, 300_000);
});
