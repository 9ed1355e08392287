/**
 * Every fixture template translates to what IM's own translator deploys (expected/, compared by meaning:
 * see radl-compare.ts); random(N) inputs are N letters `a` and container suffixes 00000000, as there.
 * The stale TOSCA examples of IM fail with clear messages, as they do in IM.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkRadl, parseRadl, radlToJson, radlToText } from '#radl/index';
import { translateTosca } from '#tosca/index';
import { UrlFetcher } from '#tosca/url-fetcher';
import { compareRadlJson } from './radl-compare.ts';

const SHARED = new URL('../../../../shared/fixtures/', import.meta.url).pathname;
const DIR = `${SHARED}tosca`;
const fetcher = new UrlFetcher({ dir: `${DIR}/urls` });
const templates = readdirSync(`${DIR}/templates`).filter((f) => /\.ya?ml$/.test(f));

describe('fixture templates translate to IM’s deployments', () => {
  it('has the six fixtures', () => expect(templates.length).toBe(6));
  for (const f of templates) {
    it(f, async () => {
      const { radl } = await translateTosca(readFileSync(`${DIR}/templates/${f}`, 'utf8'), { fetcher, random: (n) => 'a'.repeat(n), containerId: '00000000' });
      checkRadl(radl);
      const expected = JSON.parse(readFileSync(`${DIR}/expected/${f}.radl.json`, 'utf8')) as Record<string, unknown>[];
      expect(compareRadlJson(JSON.parse(JSON.stringify(radlToJson(radl))), expected)).toEqual([]);
      // The text form parses back to the same deployment.
      const again = parseRadl(radlToText(radl));
      expect(compareRadlJson(JSON.parse(JSON.stringify(radlToJson(again))), expected)).toEqual([]);
    });
  }
});

describe('the comparison can fail', () => {
  it('notices a different outport, recipe, deploy order and missing aspect', async () => {
    const f = 'slurm_cluster+slurm_elastic.yaml';
    const { radl } = await translateTosca(readFileSync(`${DIR}/templates/${f}`, 'utf8'), { fetcher });
    const got = JSON.parse(JSON.stringify(radlToJson(radl))) as Record<string, unknown>[];
    const expected = JSON.parse(readFileSync(`${DIR}/expected/${f}.radl.json`, 'utf8')) as Record<string, unknown>[];
    const net = expected.find((i) => i.id === 'public_net') as Record<string, unknown>;
    net.outports = '22/tcp-22/tcp';
    const conf = expected.find((i) => i.class === 'configure') as Record<string, unknown>;
    conf.recipes = String(conf.recipes).replace('slurm_wn_mem: 1024', 'slurm_wn_mem: 2048');
    const deploys = expected.filter((i) => i.class === 'deploy');
    [deploys[0].system, deploys[1].system] = [deploys[1].system, deploys[0].system];
    const diffs = compareRadlJson(got, expected.filter((i) => i.id !== 'lrms_wn'));
    expect(diffs.some((d) => d.startsWith('network:public_net outports'))).toBe(true);
    expect(diffs.some((d) => d.startsWith(`configure:${String(conf.id)} recipes`))).toBe(true);
    expect(diffs.some((d) => d.startsWith('deploys'))).toBe(true);
    expect(diffs).toContain('system:lrms_wn: unexpected');
  });
});

describe('IM’s stale TOSCA examples fail as in IM', () => {
  const ex = (f: string) => readFileSync(`${SHARED}im-examples/${f}`, 'utf8');
  const error = async (f: string) => {
    try {
      await translateTosca(ex(f), { fetcher });
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };
  it('clues_tosca.yml: node types unknown (no imports)', async () => {
    const m = await error('clues_tosca.yml');
    expect(m).toMatch(/^Error parsing TOSCA template: 3 problems:/);
    expect(m).toContain('line 10, node "elastic_cluster": Type "tosca.nodes.indigo.ElasticCluster" is not a valid type.');
    expect(m).toContain('node "torque_server": Type "tosca.nodes.indigo.Compute" is not a valid type.');
  });
  it('galaxy_tosca.yml: node types unknown', async () => {
    expect(await error('galaxy_tosca.yml')).toContain('node "galaxy": Type "tosca.nodes.indigo.GalaxyPortal" is not a valid type.');
  });
  it('tosca.yml: node types unknown', async () => {
    const m = await error('tosca.yml');
    expect(m).toContain('node "apache": Type "tosca.nodes.WebServer.Apache" is not a valid type.');
    expect(m).toContain('node "mysql": Type "tosca.nodes.DBMS.MySQL" is not a valid type.');
  });
  it('tosca_radiomics.yaml: 1 where a float is wanted', async () => {
    const m = await error('tosca_radiomics.yaml');
    expect(m).toContain('node "radiomicsanon_service", property "cpu": "1" is not a float.');
  });
  it('faas.yml (valid) translates to a FaaS system', async () => {
    const { radl } = await translateTosca(ex('faas.yml'), { fetcher });
    const sys = radl.getSystemByName('plants');
    expect(sys?.getString('name')).toBe('plants');
    expect(sys?.getString('disk.0.image.url')).toBe('docker://grycap/imagemagick');
    expect(sys?.getNumber('memory.size')).toBe(512_000_000);
    expect(radl.deploys.map((d) => `${d.systemId} ${d.vmNumber}`)).toEqual(['plants 1']);
  });
});
