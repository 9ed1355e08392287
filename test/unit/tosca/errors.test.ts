/** Problems of a template: exact texts, node, property and line, every one reported at once. */
import { describe, expect, it } from 'vitest';
import { ToscaError } from '#tosca/index';
import { compute, errorOf, tpl } from './helpers.ts';

const P = 'Error parsing TOSCA template: ';

describe('TOSCA problems', () => {
  it('invalid YAML, with its line', async () => {
    expect(await errorOf('tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates: [\n')).toMatch(/^Error parsing TOSCA template: line \d+: Invalid YAML: /);
    expect(await errorOf('- a\n- b\n')).toBe(`${P}The template must be a YAML map.`);
  });

  it('template version and unknown sections', async () => {
    expect(await errorOf('topology_template: {}\n')).toBe(`${P}Template is missing required field "tosca_definitions_version".`);
    expect(await errorOf('tosca_definitions_version: tosca_simple_yaml_9\n')).toBe(
      `${P}line 1: The template version "tosca_simple_yaml_9" is invalid. Valid versions are "tosca_simple_yaml_1_0, tosca_simple_yaml_1_1, tosca_simple_yaml_1_2, tosca_simple_yaml_1_3".`,
    );
    expect(await errorOf('tosca_definitions_version: tosca_simple_yaml_1_0\nfoo: 1\n')).toBe(`${P}line 2: Template contains unknown field "foo". Refer to the definition to verify valid values.`);
  });

  it('unknown node type, unknown and missing properties, wrong types', async () => {
    expect(await errorOf(tpl({ n: { type: 'tosca.nodes.Nope' } }))).toBe(`${P}line 7, node "n": Type "tosca.nodes.Nope" is not a valid type.`);
    expect(await errorOf(tpl({ n: { type: 'tosca.nodes.Compute', properties: { foo: 1 } } }))).toBe(
      `${P}line 9, node "n", property "foo": "properties" of template "n" contains unknown field "foo". Refer to the definition to verify valid values.`,
    );
    expect(await errorOf(tpl({ wn: { type: 'tosca.nodes.indigo.LRMS.WorkerNode.Slurm' } }))).toBe(
      `${P}line 6, node "wn", property "front_end_ip": "properties" of template "wn" is missing required field "['front_end_ip']".`,
    );
    expect(await errorOf(tpl({ f: { type: 'tosca.nodes.aisprint.FaaS.Function', properties: { name: 'f', memory: '1Gi', image: 'i', script: 's', cpu: 1 } } }))).toBe(
      `${P}line 13, node "f", property "cpu": "1" is not a float.`,
    );
    expect(await errorOf(tpl({ vm: compute({ host: { properties: { mem_size: '4 XB' } } }) }))).toBe(
      `${P}line 14, node "vm", property "mem_size": The unit "XB" is not valid. Valid units are "['B', 'GB', 'GiB', 'KiB', 'MB', 'MiB', 'TB', 'TiB', 'kB']".`,
    );
    expect(await errorOf(tpl({ k: { type: 'tosca.nodes.indigo.LRMS.WorkerNode.Kubernetes', properties: { front_end_ip: 'x', cri_runtime: 'rkt' } } }))).toBe(
      `${P}line 10, node "k", property "cri_runtime": The value "rkt" of property "cri_runtime" is not valid. Expected a value from "['docker', 'containerd', 'crio']".`,
    );
  });

  it('capabilities, requirements and interfaces', async () => {
    expect(await errorOf(tpl({ vm: compute({ gpu: { properties: {} } }) }))).toContain(
      'node "vm": "capabilities" of template "vm" contains unknown field "gpu". Refer to the definition to verify valid values.',
    );
    expect(await errorOf(tpl({ a: { type: 'tosca.nodes.SoftwareComponent', requirements: [{ host: 'ghost' }] } }))).toBe(`${P}line 9, node "a": Node template "ghost" was not found.`);
    expect(await errorOf(tpl({ a: { type: 'tosca.nodes.SoftwareComponent', requirements: [{ spooky: 'a' }] } }))).toBe(
      `${P}line 9, node "a": "requirements" of template "a" contains unknown field "spooky". Refer to the definition to verify valid values.`,
    );
    expect(await errorOf(tpl({ a: { type: 'tosca.nodes.SoftwareComponent', interfaces: { Standard: { build: 'x.yml' } } } }))).toBe(
      `${P}line 10, node "a": "interfaces" of template "a" contains unknown field "build". Refer to the definition to verify valid values.`,
    );
  });

  it('inputs and functions', async () => {
    expect(await errorOf(tpl({ vm: compute({ host: { properties: { num_cpus: { get_input: 'cpus' } } } }) }))).toBe(`${P}line 6, node "vm": Unknown input "cpus".`);
    expect(await errorOf(tpl({ vm: compute() }, { inputs: { n: { type: 'integer', default: 'many' } } }))).toBe(`${P}line 15, property "n": "many" is not an integer.`);
    expect(await errorOf(tpl({ vm: compute() }, { inputs: { n: { type: 'colour', default: 'red' } } }))).toBe(`${P}line 14, property "n": Invalid type "colour".`);
    expect(await errorOf(tpl({ a: { type: 'tosca.nodes.SoftwareComponent', interfaces: { Standard: { configure: { implementation: 'dummy.yml', inputs: { x: { get_property: ['SELF', 'nope'] } } } } } } }))).toBe(
      `${P}line 6, node "a": Property "nope" was not found in node template "a".`,
    );
    expect(await errorOf(tpl({ vm: compute() }, { outputs: { o: { description: 'no value' } } }))).toBe(`${P}line 13: Output "o" is missing required field "value".`);
  });

  it('reports every problem at once, in document order, each with its node and line', async () => {
    const text = tpl({
      a: { type: 'tosca.nodes.Compute', properties: { foo: 1 } },
      b: { type: 'tosca.nodes.Nope' },
      c: compute({ host: { properties: { num_cpus: 'two' } } }),
    });
    expect((await errorOf(text)).split('\n')).toEqual([
      `${P}3 problems:`,
      '  line 9, node "a", property "foo": "properties" of template "a" contains unknown field "foo". Refer to the definition to verify valid values.',
      '  line 11, node "b": Type "tosca.nodes.Nope" is not a valid type.',
      '  line 20, node "c", property "num_cpus": "two" is not an integer.',
    ]);
  });

  it('ToscaError lists its problems', () => {
    const e = new ToscaError([{ message: 'a', node: 'n', line: 3 }, { message: 'b' }]);
    expect(e.name).toBe('ToscaError');
    expect(e.problems).toHaveLength(2);
    expect(e.message).toBe(`${P}2 problems:\n  line 3, node "n": a\n  b`);
  });

  it('an unreadable import is one problem and its types are then unknown', async () => {
    const m = await errorOf(tpl({ vm: compute() }), { extra: { 'https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml': new Error('timed out after 10000 ms') } });
    expect(m).toContain('line 3: Import "https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml" could not be read: timed out after 10000 ms');
    expect(m).toContain('node "vm": Type "tosca.nodes.indigo.Compute" is not a valid type.');
  });
});
