/** Functions, special inputs, policies, scaling, metadata, outputs and the stored-template helpers. */
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { evaluateOutputs, mergeTosca, templateWithCounts, toscaName, type LiveVm } from '#tosca/index';
import { compute, errorOf, radlOf, recipeOf, tpl } from './helpers.ts';

const recipe = (inputs: Record<string, unknown>, nodes: Record<string, unknown> = {}, topo: Record<string, unknown> = {}) =>
  tpl(
    {
      front: compute({ endpoint: { properties: { network_name: 'PUBLIC' } } }),
      wn: compute({ scalable: { properties: { count: 2 } } }),
      plain: { type: 'tosca.nodes.Compute' },
      app: {
        type: 'tosca.nodes.SoftwareComponent',
        properties: { component_version: '1.2' },
        requirements: [{ host: 'front' }],
        interfaces: { Standard: { configure: { implementation: 'dummy.yml', inputs } } },
      },
      ...nodes,
    },
    { inputs: { name: { type: 'string', default: 'x' }, list: { type: 'list', default: ['a', 'b'] }, ...(topo.inputs as object) }, ...topo },
  );

const vars = async (inputs: Record<string, unknown>, nodes?: Record<string, unknown>, topo?: Record<string, unknown>) =>
  (recipeOf((await radlOf(recipe(inputs, nodes, topo))).radl, 'app_front_conf') as { vars: Record<string, unknown> }[])[0].vars;

describe('functions', () => {
  it('get_input, concat, join, token', async () => {
    expect(
      await vars({
        a: { get_input: 'name' },
        b: { get_input: ['list', 1] },
        c: { concat: ['http://', { get_input: 'name' }, ':', 8080, true] },
        d: { join: [['a', { get_input: 'name' }, 'c'], ','] },
        e: { token: ['a:b:c', ':', 1] },
      }),
    ).toEqual({ a: 'x', b: 'b', c: 'http://x:8080True', d: 'a,x,c', e: 'b' });
  });

  it('get_property of SELF, HOST, a capability and a node', async () => {
    expect(
      await vars({
        v: { get_property: ['SELF', 'component_version'] },
        n: { get_property: ['HOST', 'instance_name'] },
        c: { get_property: ['front', 'endpoint', 'network_name'] },
        s: { get_property: ['wn', 'scalable', 'count'] },
      }),
    ).toEqual({ v: '1.2', n: '', c: 'PUBLIC', s: 2 });
  });

  it('get_attribute becomes Jinja over the inventory', async () => {
    expect(
      await vars({
        list: { get_attribute: ['wn', 'private_address'] },
        one: { get_attribute: ['wn', 'public_address', 1] },
        host: { get_attribute: ['HOST', 'private_address', 0] },
        plain: { get_attribute: ['plain', 'public_address'] },
        self: { get_attribute: ['SELF', 'tosca_id'] },
        name: { get_attribute: ['SELF', 'tosca_name'] },
        tls: { get_attribute: ['HOST', 'endpoint', 'tls_certificates'] },
      }),
    ).toEqual({
      list: "{{ groups['wn']|map('extract', hostvars,'IM_NODE_PRIVATE_IP')|list if 'wn' in groups else []}}",
      one: "{{ hostvars[groups['wn'][1]]['IM_NODE_PUBLIC_IP'] }}",
      host: "{{ hostvars[groups['front'][0]]['IM_NODE_PRIVATE_IP'] }}",
      plain: "{{ hostvars[groups['plain'][0]]['IM_NODE_PUBLIC_IP'] }}",
      self: '{{ IM_NODE_VMID }}',
      name: 'app',
      tls: '{{ IM_NODE_TLS_CERTIFICATES }}',
    });
  });

  it('random(N) inputs are N random characters, kept in the stored template', async () => {
    const r = await radlOf(recipe({ p: { get_input: 'pw' } }, {}, { inputs: { pw: { type: 'string', default: 'random(12)' } } }), { random: (n) => 'Q'.repeat(n) });
    expect((recipeOf(r.radl, 'app_front_conf') as { vars: { p: string } }[])[0].vars.p).toBe('QQQQQQQQQQQQ');
    expect((r.tosca.doc.topology_template as { inputs: { pw: { default: string } } }).inputs.pw.default).toBe('QQQQQQQQQQQQ');
  });

  it('access_token() needs the caller’s OIDC token', async () => {
    const t = recipe({ t: { get_input: 'token' } }, {}, { inputs: { token: { type: 'string', default: 'access_token()' } } });
    expect(await errorOf(t)).toContain(
      'property "token": The input "token" needs the caller\'s OIDC access token (access_token()), and this request was not authenticated with one.',
    );
    const r = await radlOf(t, { accessToken: 'eyJ.token' });
    expect((recipeOf(r.radl, 'app_front_conf') as { vars: { t: string } }[])[0].vars.t).toBe('eyJ.token');
  });
});

describe('policies, scaling and metadata', () => {
  it('placement policies on nodes and groups give the cloud id and availability zone', async () => {
    const { radl } = await radlOf(
      tpl(
        { a: compute(), b: compute(), c: compute() },
        {
          groups: { g: { type: 'tosca.groups.Root', members: ['a', 'b'] } },
          policies: [
            { on_group: { type: 'tosca.policies.indigo.Placement', properties: { cloud_id: 'one' }, targets: ['g'] } },
            { on_c: { type: 'tosca.policies.Placement', properties: { cloud_id: 'two', availability_zone: 'az1' }, targets: ['c'] } },
            { ignored: { type: 'tosca.policies.Scaling', targets: ['a'] } },
          ],
        },
      ),
    );
    expect(radl.deploys.map((d) => `${d.systemId} ${d.vmNumber} ${d.cloudId}`)).toEqual(['a 1 one', 'b 1 one', 'c 1 two']);
    expect(radl.getSystemByName('c')?.getString('availability_zone')).toBe('az1');
  });

  it('count, default_instances, min_instances; count 0 deploys nothing', async () => {
    const { radl } = await radlOf(
      tpl({
        a: compute({ scalable: { properties: { count: 3 } } }),
        b: { type: 'tosca.nodes.Compute', capabilities: { scalable: { properties: { default_instances: 2, min_instances: 1, max_instances: 5 } } } },
        c: { type: 'tosca.nodes.Compute', capabilities: { scalable: { properties: { min_instances: 4, max_instances: 5 } } } },
        d: compute({ scalable: { properties: { count: 0 } } }),
      }),
    );
    expect(radl.deploys.map((x) => `${x.systemId} ${x.vmNumber}`)).toEqual(['a 3', 'b 2', 'c 4']);
  });

  it('with current VMs: the difference is deployed, or removal_list (then the oldest) removed', async () => {
    const t = (count: number, removal?: string[]) => tpl({ wn: compute({ scalable: { properties: { count, ...(removal ? { removal_list: removal } : {}) } } }) });
    const current = new Map([['wn', [3, 5, 7]]]);
    expect((await radlOf(t(5), { current })).radl.deploys.map((d) => `${d.systemId} ${d.vmNumber}`)).toEqual(['wn 2']);
    expect((await radlOf(t(1, ['7']), { current })).removeVmIds).toEqual([7, 3]);
    expect((await radlOf(t(2), { current })).removeVmIds).toEqual([3]);
    expect((await radlOf(t(3), { current })).radl.deploys).toEqual([]);
  });

  it('metadata infra_name and namespace → the RADL description', async () => {
    const { radl } = await radlOf(tpl({ vm: compute() }, {}, { metadata: { infra_name: 'My infra', namespace: 'ns1', template_name: 'T' } }));
    expect([radl.description?.getString('name'), radl.description?.getString('namespace')]).toEqual(['My infra', 'ns1']);
  });
});

describe('outputs and the stored template', () => {
  const vm = (id: number, pub: string, priv: string): LiveVm => ({
    id,
    providerId: `i-${id}`,
    publicIps: [pub],
    privateIps: [priv],
    credential: { user: 'cloudadm', token_type: 'private_key', token: `KEY${id}` },
    ctxtLog: 'Launch task: wn_conf_wn\nTASK [kube_conf]\nok: [vnode-1] => {"msg": "the config"}\n',
  });

  it('evaluates outputs against live VMs (lists for scaled indigo.Compute nodes)', async () => {
    const { tosca } = await radlOf(
      tpl(
        { wn: compute({ scalable: { properties: { count: 2 } } }), plain: { type: 'tosca.nodes.Compute' } },
        {
          inputs: { port: { type: 'integer', default: 8080 } },
          outputs: {
            ips: { value: { get_attribute: ['wn', 'public_address'] } },
            second: { value: { get_attribute: ['wn', 'private_address', 1] } },
            creds: { value: { get_attribute: ['wn', 'endpoint', 'credential', 0] } },
            ids: { value: { get_attribute: ['wn', 'tosca_id'] } },
            url: { value: { concat: ['http://', { get_attribute: ['wn', 'public_address', 0] }, ':', { get_input: 'port' }] } },
            out: { value: { get_attribute: ['wn', 'ansible_output', 'wn_conf_wn', 'tasks', 'kube_conf', 'output'] } },
            plain_ip: { value: { get_attribute: ['plain', 'ip_address'] } },
            missing: { value: { get_attribute: ['wn', 'no_such_attribute'] } },
          },
        },
      ),
    );
    const live = { vms: (s: string) => (s === 'wn' ? [vm(0, '1.1.1.1', '10.0.0.1'), vm(1, '1.1.1.2', '10.0.0.2')] : s === 'plain' ? [vm(2, '2.2.2.2', '10.0.0.3')] : []) };
    expect(evaluateOutputs(tosca, live)).toEqual({
      ips: ['1.1.1.1', '1.1.1.2'],
      second: '10.0.0.2',
      creds: { user: 'cloudadm', token_type: 'private_key', token: 'KEY0' },
      ids: ['i-0', 'i-1'],
      url: 'http://1.1.1.1:8080',
      out: 'the config',
      plain_ip: '2.2.2.2',
      missing: null,
    });
  });

  it('templateWithCounts sets each node’s count and drops removal_list; mergeTosca merges maps and lists by position', () => {
    const text = tpl({ wn: compute({ scalable: { properties: { count: 5, removal_list: ['1'] } } }) });
    const doc = yaml.load(templateWithCounts(text, new Map([['wn', 2]]))) as { topology_template: { node_templates: { wn: { capabilities: { scalable: { properties: object } } } } } };
    expect(doc.topology_template.node_templates.wn.capabilities.scalable.properties).toEqual({ count: 2 });
    expect(mergeTosca({ a: { b: 1, c: [1, { d: 2 }] }, e: 1 }, { a: { c: [9, { f: 3 }, 4] }, g: 2 })).toEqual({ a: { b: 1, c: [9, { d: 2, f: 3 }, 4] }, e: 1, g: 2 });
  });

  it('toscaName: template_name, else the icon basename', () => {
    expect(toscaName('metadata:\n  template_name: Slurm\n  icon: images/slurm.png\n')).toBe('Slurm');
    expect(toscaName('metadata:\n  icon: images/slurm.png\n')).toBe('slurm');
    expect(toscaName('a: b\n')).toBe('');
  });
});
