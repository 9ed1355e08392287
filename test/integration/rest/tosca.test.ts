/**
 * TOSCA over REST on local mode (Dummy cloud): create (sync, async, dry_run) from YAML bodies, state,
 * outputs and the stored template with current counts, scale up, scale down with removal_list,
 * reconfigure and alter VM with TOSCA, /stats tosca_name, errors, XML-RPC's RADL-only rule, destroy.
 * Imported types come from the fixtures' urls/ folder through TOSCA_URL_DIR (no network).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { startTestServer, type TestServer } from '../../helpers/local-server.ts';
import { client, idOf, type Call } from './client.ts';

const URL_DIR = new URL('../../../../shared/fixtures/tosca/urls', import.meta.url).pathname;

/** One public indigo.Compute node (interface 0 public, so Dummy's address is its public IP). */
function template(opts: { count?: number; removal?: string[]; mem?: string; software?: boolean } = {}): string {
  const scalable: Record<string, unknown> = { count: opts.count ?? 2 };
  if (opts.removal) scalable.removal_list = opts.removal;
  const doc: Record<string, unknown> = {
    tosca_definitions_version: 'tosca_simple_yaml_1_0',
    imports: [{ grycap_custom_types: 'https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml' }],
    metadata: { template_name: 'Scalable VMs', infra_name: 'tosca-it' },
    topology_template: {
      inputs: { mem: { type: 'scalar-unit.size', default: opts.mem ?? '2 GB' } },
      node_templates: {
        node: {
          type: 'tosca.nodes.indigo.Compute',
          capabilities: {
            endpoint: { properties: { network_name: 'PUBLIC', private_ip: false, ports: { ssh: { source: 22 } } } },
            scalable: { properties: scalable },
            host: { properties: { num_cpus: 1, mem_size: { get_input: 'mem' } } },
            os: { properties: { type: 'linux', image: 'mock0://linux.for.ev.er/image' } },
          },
        },
        ...(opts.software
          ? {
              app: {
                type: 'tosca.nodes.indigo.AnsibleRecipe',
                properties: { tasks: [{ debug: { msg: 'hello' } }] },
                requirements: [{ host: 'node' }],
              },
            }
          : {}),
      },
      outputs: {
        node_ip: { value: { get_attribute: ['node', 'public_address'] } },
        first_ip: { value: { get_attribute: ['node', 'public_address', 0] } },
        node_creds: { value: { get_attribute: ['node', 'endpoint', 'credential', 0] } },
        mem: { value: { get_input: 'mem' } },
      },
    },
  };
  return yaml.dump(doc);
}

let srv: TestServer;
let call: Call;

beforeAll(async () => {
  srv = await startTestServer({ env: { TOSCA_URL_DIR: URL_DIR, TOSCA_FETCH_REMOTE: 'false' } });
  call = client(srv.baseUrl);
});
afterAll(async () => {
  await srv?.stop();
});

const vmIds = async (infId: string) =>
  (await call('GET', `/infrastructures/${infId}`, { accept: 'application/json' })).json<{ 'uri-list': { uri: string }[] }>()['uri-list'].map((u) => Number(idOf(u.uri)));

describe('TOSCA over REST', () => {
  let infId: string;

  it('creates from text/yaml (sync): state, outputs and the stored template', async () => {
    const r = await call('POST', '/infrastructures', { body: template(), contentType: 'text/yaml' });
    expect(r.status, r.text).toBe(200);
    infId = idOf(r.text);
    expect(r.headers.get('InfID')).toBe(infId);
    expect(await vmIds(infId)).toEqual([0, 1]);

    const state = await call('GET', `/infrastructures/${infId}/state`);
    expect(state.status).toBe(200);
    expect(Object.keys(state.json<{ state: { vm_states: Record<string, string> } }>().state.vm_states)).toEqual(['0', '1']);

    const radl = await call('GET', `/infrastructures/${infId}/radl`);
    expect(radl.text).toContain("outports = '22/tcp-22/tcp'");
    expect(radl.text).toContain('memory.size >= 2000000000');

    const out = await call('GET', `/infrastructures/${infId}/outputs`);
    expect(out.status, out.text).toBe(200);
    expect(out.json()).toEqual({
      outputs: {
        node_ip: ['10.0.0.1', '10.0.0.1'],
        first_ip: '10.0.0.1',
        node_creds: { user: 'username', token_type: 'password', token: 'password' },
        mem: '2 GB',
      },
    });

    const tosca = await call('GET', `/infrastructures/${infId}/tosca`);
    expect(tosca.status).toBe(200);
    expect(tosca.headers.get('content-type')).toContain('text/plain');
    const doc = yaml.load(tosca.text) as { topology_template: { node_templates: { node: { capabilities: { scalable: { properties: { count: number } } } } } } };
    expect(doc.topology_template.node_templates.node.capabilities.scalable.properties.count).toBe(2);
    const json = await call('GET', `/infrastructures/${infId}/tosca`, { accept: 'application/json' });
    expect(json.json<{ tosca: string }>().tosca).toBe(tosca.text);
  });

  it('scales up by the count difference', async () => {
    const r = await call('POST', `/infrastructures/${infId}`, { body: template({ count: 3 }), contentType: 'application/yaml', accept: 'application/json' });
    expect(r.status, r.text).toBe(200);
    expect(r.json<{ 'uri-list': { uri: string }[] }>()['uri-list'].map((u) => idOf(u.uri))).toEqual(['2']);
    expect(await vmIds(infId)).toEqual([0, 1, 2]);
    const tosca = await call('GET', `/infrastructures/${infId}/tosca`);
    expect(tosca.text).toMatch(/count: 3/);
  });

  it('scales down with removal_list (those VMs go, the others stay)', async () => {
    const r = await call('POST', `/infrastructures/${infId}`, { body: template({ count: 1, removal: ['2', '0'] }), contentType: 'text/x-yaml' });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toBe('');
    expect(await vmIds(infId)).toEqual([1]);
    const tosca = await call('GET', `/infrastructures/${infId}/tosca`);
    expect(tosca.text).toMatch(/count: 1/);
    expect(tosca.text).not.toMatch(/removal_list/);
    const out = await call('GET', `/infrastructures/${infId}/outputs`);
    expect(out.json<{ outputs: { node_ip: string[] } }>().outputs.node_ip).toEqual(['10.0.0.1']);
  });

  it('scales down without removal_list: the oldest VMs go', async () => {
    await call('POST', `/infrastructures/${infId}`, { body: template({ count: 3 }), contentType: 'text/yaml' });
    expect(await vmIds(infId)).toEqual([1, 3, 4]);
    const r = await call('POST', `/infrastructures/${infId}`, { body: template({ count: 2 }), contentType: 'text/yaml' });
    expect(r.status, r.text).toBe(200);
    expect(await vmIds(infId)).toEqual([3, 4]);
  });

  it('reconfigures with TOSCA: the new configure is stored', async () => {
    const r = await call('PUT', `/infrastructures/${infId}/reconfigure`, { body: template({ count: 2, software: true }), contentType: 'text/yaml' });
    expect(r.status, r.text).toBe(200);
    expect(r.headers.get('InfID')).toBe(infId);
    const radl = await call('GET', `/infrastructures/${infId}/radl`);
    expect(radl.text).toContain('configure app_node_conf');
    expect(radl.text).toContain('msg: hello');
    expect(await vmIds(infId)).toEqual([3, 4]);
  });

  it('alters a VM with TOSCA', async () => {
    const r = await call('PUT', `/infrastructures/${infId}/vms/3`, { body: template({ mem: '4 GB' }), contentType: 'text/yaml' });
    expect(r.status, r.text).toBe(200);
    expect(r.text).toContain('memory.size');
  });

  it('reports tosca_name in /stats', async () => {
    const r = await call('GET', '/stats');
    const items = r.json<{ stats: { inf_id: string; tosca_name: string }[] }>().stats;
    expect(items.find((i) => i.inf_id === infId)?.tosca_name).toBe('Scalable VMs');
  });

  it('destroys the infrastructure', async () => {
    const r = await call('DELETE', `/infrastructures/${infId}`);
    expect(r.status, r.text).toBe(200);
    expect((await call('GET', `/infrastructures/${infId}/tosca`)).status).toBe(404);
  });

  it('creates from application/yaml with async=true', async () => {
    const r = await call('POST', '/infrastructures', { body: template({ count: 1 }), contentType: 'application/yaml', query: { async: 'true' } });
    expect(r.status, r.text).toBe(200);
    const id = idOf(r.text);
    let ids: number[] = [];
    for (let i = 0; i < 50 && ids.length === 0; i++) {
      ids = await vmIds(id);
      if (ids.length === 0) await new Promise((res) => setTimeout(res, 100));
    }
    expect(ids).toEqual([0]);
    // Destroy answers 409 while the launch is still adding resources.
    let del = await call('DELETE', `/infrastructures/${id}`);
    for (let i = 0; i < 100 && del.status === 409; i++) {
      await new Promise((res) => setTimeout(res, 100));
      del = await call('DELETE', `/infrastructures/${id}`);
    }
    expect(del.status, del.text).toBe(200);
  });

  it('estimates a TOSCA template with dry_run (nothing created)', async () => {
    const before = (await call('GET', '/infrastructures', { accept: 'application/json' })).json<{ 'uri-list': unknown[] }>()['uri-list'].length;
    const r = await call('POST', '/infrastructures', { body: template({ count: 2 }), contentType: 'text/yaml', query: { dry_run: 'true' } });
    expect(r.status, r.text).toBe(200);
    const est = r.json<Record<string, { cloudType: string; compute: { cpuCores: number; memoryInMegabytes: number; publicIP?: number }[] }>>();
    expect(est.one.cloudType).toBe('Dummy');
    expect(est.one.compute).toEqual([
      { cpuCores: 1, memoryInMegabytes: 2000, publicIP: 1 },
      { cpuCores: 1, memoryInMegabytes: 2000, publicIP: 1 },
    ]);
    const after = (await call('GET', '/infrastructures', { accept: 'application/json' })).json<{ 'uri-list': unknown[] }>()['uri-list'].length;
    expect(after).toBe(before);
  });

  it('answers 400 with every problem of an invalid template', async () => {
    const bad = template().replace('num_cpus: 1', 'num_cpus: one').replace(/^(\s*)type: linux$/m, '$1type: linux\n$1colour: blue');
    const r = await call('POST', '/infrastructures', { body: bad, contentType: 'text/yaml' });
    expect(r.status).toBe(400);
    expect(r.text).toContain('Error parsing TOSCA template: 2 problems:');
    expect(r.text).toContain('node "node", property "num_cpus": "one" is not an integer.');
    expect(r.text).toContain('node "node", property "colour": "properties" of template "node" contains unknown field "colour"');
    expect(r.text).not.toMatch(/\bat \w+ \(/);
  });

  it('keeps XML-RPC RADL only: a TOSCA document is a RADL parse error', async () => {
    const body = `<?xml version="1.0"?><methodCall><methodName>CreateInfrastructure</methodName><params>
<param><value><string>${template().replace(/&/g, '&amp;').replace(/</g, '&lt;')}</string></value></param>
<param><value><array><data><value><struct>
<member><name>type</name><value><string>InfrastructureManager</string></value></member>
<member><name>username</name><value><string>user</string></value></member>
<member><name>password</name><value><string>pass</string></value></member>
</struct></value></data></array></value></param>
</params></methodCall>`;
    const res = await fetch(`${srv.xmlrpcUrl}/RPC2`, { method: 'POST', headers: { 'Content-Type': 'text/xml' }, body });
    const text = await res.text();
    expect(text).toContain('<boolean>0</boolean>');
    expect(text).not.toContain('Error parsing TOSCA template');
  });
});
