/** Software components → configure recipes: playbooks by URL and inline, scripts, artifacts, Galaxy, levels. */
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import { compute, errorOf, radlOf, recipeOf, tpl } from './helpers.ts';

const PLAY = `---
- hosts: localhost
  connection: local
  vars:
    own: 1
  tasks:
    - debug: msg="{{ greeting }}"
`;

describe('software components', () => {
  it('a playbook by URL is inlined without hosts/connection, the operation inputs as vars', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(),
        app: {
          type: 'tosca.nodes.SoftwareComponent',
          requirements: [{ host: 'vm' }],
          interfaces: { Standard: { configure: { implementation: 'https://example.org/play.yml', inputs: { greeting: 'hi', list: [1, 2] } } } },
        },
      }),
      { extra: { 'https://example.org/play.yml': PLAY } },
    );
    expect(recipeOf(radl, 'app_vm_conf')).toEqual([{ vars: { greeting: 'hi', list: [1, 2], own: 1 }, tasks: [{ debug: 'msg="{{ greeting }}"' }] }]);
    expect(radl.contextualize?.items).toEqual([{ systemId: 'vm', configureId: 'app_vm_conf', step: 2 }]);
  });

  it('create, configure and start are merged in that order; an inline playbook; a script becomes copy + shell', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(),
        app: {
          type: 'tosca.nodes.SoftwareComponent',
          requirements: [{ host: 'vm' }],
          interfaces: {
            Standard: {
              start: { implementation: 'https://example.org/start.sh', inputs: { PORT: 80 } },
              create: '---\n- tasks:\n  - debug: msg=created\n',
              configure: { implementation: 'https://example.org/play.yml', inputs: { greeting: 'hi' } },
            },
          },
        },
      }),
      { extra: { 'https://example.org/play.yml': PLAY, 'https://example.org/start.sh': '#!/bin/sh\necho started\n' } },
    );
    expect(recipeOf(radl, 'app_vm_conf')).toEqual([
      {
        vars: { greeting: 'hi', own: 1 },
        tasks: [
          { debug: 'msg=created' },
          { debug: 'msg="{{ greeting }}"' },
          { name: 'Copy contents of script of interface app_start', copy: { dest: '/tmp/start.sh', content: '#!/bin/sh\necho started\n', mode: '0755' } },
          { name: 'app_start', shell: '/tmp/start.sh', environment: { PORT: 80 } },
        ],
      },
    ]);
  });

  it('type operations and artifacts: a name in the artifacts repository, get_artifact downloads, Galaxy roles and collections', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(),
        app: {
          type: 'tosca.nodes.SoftwareComponent',
          requirements: [{ host: 'vm' }],
          artifacts: {
            role: { file: 'grycap.docker', type: 'tosca.artifacts.AnsibleGalaxy.role' },
            coll: { file: 'community.general', type: 'tosca.artifacts.AnsibleGalaxy.collection' },
            data: { file: 'https://example.org/data.tgz', type: 'tosca.artifacts.File' },
          },
          interfaces: { Standard: { configure: { implementation: 'dummy.yml', inputs: { data: { get_artifact: ['SELF', 'data'] } } } } },
        },
      }),
    );
    expect(recipeOf(radl, 'app_vm_conf')).toEqual([
      {
        vars: { data: '/tmp/data.tgz' },
        tasks: [
          { name: 'Download artifact https://example.org/data.tgz', get_url: "dest=/tmp/data.tgz url='https://example.org/data.tgz'" },
          { name: 'Empty task', debug: 'msg="Empty task"' },
        ],
      },
    ]);
    const apps = radl.getSystemByName('vm')?.getApplications().map((a) => a.getString('name'));
    expect(apps).toEqual(['ansible.roles.grycap.docker', 'ansible.collections.community.general']);
  });

  it('a relative name is looked up in grycap’s artifacts, then in INDIGO’s (IM’s artifacts folder); imports by repository', async () => {
    const text = yaml.dump({
      tosca_definitions_version: 'tosca_simple_yaml_1_0',
      repositories: { indigo: { description: 'INDIGO types', url: 'https://raw.githubusercontent.com/indigo-dc/tosca-types/master/' } },
      imports: [{ indigo_types: { file: 'custom_types.yaml', repository: 'indigo' } }],
      topology_template: {
        node_templates: {
          vm: { type: 'tosca.nodes.Compute' },
          app: { type: 'tosca.nodes.SoftwareComponent', requirements: [{ host: 'vm' }], interfaces: { Standard: { configure: 'mysql/mysql_db_import.yml' } } },
        },
      },
    });
    const { radl } = await radlOf(text);
    const plays = recipeOf(radl, 'app_vm_conf') as Record<string, unknown>[];
    expect(plays[0].hosts).toBeUndefined();
    expect(JSON.stringify(plays)).toContain('mysql_db');
  });

  it('levels follow HostedOn / DependsOn / ConnectsTo; no configure at all disables contextualization', async () => {
    const { radl } = await radlOf(
      tpl({
        vm: compute(),
        a: { type: 'tosca.nodes.indigo.AnsibleRecipe', properties: { tasks: [{ debug: { msg: 'a' } }] }, requirements: [{ host: 'vm' }] },
        b: { type: 'tosca.nodes.indigo.AnsibleRecipe', properties: { tasks: [] }, requirements: [{ host: 'vm' }, { dependency: 'a' }] },
      }),
    );
    expect(radl.contextualize?.items.map((i) => `${i.configureId}@${i.step}`)).toEqual(['a_vm_conf@2', 'b_vm_conf@3']);
    expect((recipeOf(radl, 'a_vm_conf') as { vars: Record<string, unknown> }[])[0].vars).toEqual({ ansible_name: 'a', ansible_tasks: [{ debug: { msg: 'a' } }] });
    const none = await radlOf(tpl({ vm: compute() }));
    expect(none.radl.contextualize?.isEmpty()).toBe(true);
  });

  it('a playbook that cannot be read fails with IM’s text', async () => {
    const m = await errorOf(
      tpl({ vm: compute(), app: { type: 'tosca.nodes.SoftwareComponent', requirements: [{ host: 'vm' }], interfaces: { Standard: { configure: 'https://example.org/missing.yml' } } } }),
      { extra: { 'https://example.org/missing.yml': new Error('HTTP 404') } },
    );
    expect(m).toBe("Error parsing TOSCA template: line 12, node \"app\": Error downloading the implementation script 'https://example.org/missing.yml': HTTP 404");
  });
});
