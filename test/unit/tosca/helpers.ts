/** Helpers of the TOSCA unit tests: templates from plain objects, documents from the fixtures plus extras. */
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import type { Radl } from '#radl/index';
import { translateTosca, type DocumentFetcher, type LoadOptions, type ToRadlOptions, type Tosca } from '#tosca/index';
import { UrlFetcher } from '#tosca/url-fetcher';

export const FIXTURES = new URL('../../../../shared/fixtures/tosca/', import.meta.url).pathname;
export const GRYCAP = 'https://raw.githubusercontent.com/grycap/tosca/main/custom_types.yaml';
const dirFetcher = new UrlFetcher({ dir: `${FIXTURES}urls` });

/** The fixtures' urls/ plus in-memory documents (`extra`: url → text, or an Error to fail). */
export function fetcherWith(extra: Record<string, string | Error> = {}): DocumentFetcher {
  return {
    fetch: (url) => {
      const v = extra[url];
      if (v instanceof Error) return Promise.reject(v);
      return v !== undefined ? Promise.resolve(v) : dirFetcher.fetch(url);
    },
  };
}

/** A template document: grycap's types imported, `nodes` as node_templates. */
export function tpl(nodes: Record<string, unknown>, topo: Record<string, unknown> = {}, top: Record<string, unknown> = {}): string {
  return yaml.dump({
    tosca_definitions_version: 'tosca_simple_yaml_1_0',
    imports: [{ grycap_custom_types: GRYCAP }],
    ...top,
    topology_template: { node_templates: nodes, ...topo },
  });
}

export async function radlOf(text: string, opts: LoadOptions & ToRadlOptions & { extra?: Record<string, string | Error> } = {}): Promise<{ radl: Radl; removeVmIds: number[]; tosca: Tosca }> {
  return translateTosca(text, { fetcher: fetcherWith(opts.extra), random: (n) => 'x'.repeat(n), containerId: 'abcdef0123', ...opts });
}

/** The message of the error a translation throws ('' when it does not). */
export async function errorOf(text: string, opts: LoadOptions & { extra?: Record<string, string | Error> } = {}): Promise<string> {
  try {
    await radlOf(text, opts);
  } catch (e) {
    expectName(e);
    return (e as Error).message;
  }
  return '';
}

function expectName(e: unknown): void {
  if (!(e instanceof Error) || e.name !== 'ToscaError') throw e;
}

export const artifact = (path: string) => readFileSync(`${FIXTURES}urls/raw.githubusercontent.com/grycap/tosca/main/artifacts/${path}`, 'utf8');

/** A Compute node (indigo types) with capabilities. */
export const compute = (caps: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  type: 'tosca.nodes.indigo.Compute',
  capabilities: { os: { properties: { type: 'linux' } }, ...caps },
  ...extra,
});

export const recipeOf = (radl: Radl, name: string): unknown => yaml.load(radl.getConfigureByName(name)?.recipes ?? 'null');
