/**
 * TOSCA public API (pure domain code: documents come through the DocumentFetcher port).
 *
 *   loadTosca(text, opts)          parse, resolve imports, check; throws ToscaError with every problem
 *   toRadl(tosca, opts)            the RADL to deploy (+ the VM ids to remove when scaling down)
 *   translateTosca(text, opts)     loadTosca + toRadl
 *   evaluateOutputs(tosca, live)   the template outputs against the live VMs
 *   mergeTosca(stored, update)     add-resources: dicts merged recursively, lists by position
 *   templateWithCounts(text, n)    the stored template with each node's current VM count
 *   toscaName(text)                metadata template_name, else the icon's basename (for /stats)
 */
import { randomInt, randomUUID } from 'node:crypto';
import type { Radl, System } from '#radl/index';
import { NO_DOCUMENTS, loadImports, mergeParentTemplate, typeSections, type DocumentFetcher, type TypeSections } from '#tosca/documents';
import { ToscaError, type Problem } from '#tosca/errors';
import { evaluate, type LiveInfo } from '#tosca/functions';
import { readTopology, type Topology } from '#tosca/template';
import { TypeRegistry } from '#tosca/types';
import { dumpYaml, isMap, lineOf, loadYaml, plain } from '#tosca/yaml';
import { ARTIFACTS_REMOTE_REPO, implementationCandidates, implementationUrl, operationsOf } from '#tosca/translate/configure';
import { buildRadl, newTranslation } from '#tosca/translate/index';
import { nodePath } from '#tosca/translate/context';

export { ToscaError, TOSCA_ERROR_PREFIX, type Problem } from '#tosca/errors';
export { NO_DOCUMENTS, type DocumentFetcher } from '#tosca/documents';
export type { LiveInfo, LiveVm } from '#tosca/functions';

export interface LoadOptions {
  fetcher?: DocumentFetcher;
  /** The caller's OIDC access token, for `access_token()` input defaults. */
  accessToken?: string;
  /** N random characters for `random(N)` (default: crypto-random alphanumerics). */
  random?: (n: number) => string;
  /** OAIPMH_REPO_BASE_IDENTIFIER_URL: base of relative parent templates, and the only allowed origin of absolute ones. */
  repoBase?: string;
}

/** A checked template, ready to translate. */
export interface Tosca {
  /** The document as stored (parent template merged, `random(N)` inputs replaced). */
  doc: Record<string, unknown>;
  topo: Topology;
  inputs: Record<string, unknown>;
  /** Playbooks and files the operations name, fetched. */
  documents: Map<string, string | Error>;
  /** The RADL built while checking (reused by toRadl when it does not depend on the options). */
  checked?: { radl: Radl; containerDependent: boolean };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const defaultRandom = (n: number) => Array.from({ length: n }, () => ALNUM[randomInt(ALNUM.length)]).join('');

const registries = new Map<string, { sections: TypeSections[]; registry: TypeRegistry }>();

function registryFor(imported: TypeSections[], local: TypeSections): TypeRegistry {
  const all = [...imported, local];
  if (Object.keys(local).length > 0) return new TypeRegistry(all);
  const key = String(imported.length);
  const hit = registries.get(key);
  if (hit && hit.sections.length === imported.length && hit.sections.every((s, i) => s === imported[i])) return hit.registry;
  const registry = new TypeRegistry(all);
  if (registries.size > 16) registries.clear();
  registries.set(key, { sections: imported, registry });
  return registry;
}

function fail(text: string, problems: Problem[]): never {
  for (const p of problems) {
    if (p.line !== undefined) continue;
    const path = p.path ?? (p.node ? nodePath(p.node) : undefined);
    if (path) {
      const l = lineOf(text, path);
      if (l !== undefined) p.line = l;
    }
  }
  // In the order of the document (problems without a line last).
  const sorted = problems.map((p, i) => ({ p, i })).sort((a, b) => (a.p.line ?? Infinity) - (b.p.line ?? Infinity) || a.i - b.i);
  throw new ToscaError(sorted.map((x) => x.p));
}

function parseDoc(text: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch (e) {
    const mark = (e as { mark?: { line?: number } }).mark;
    const reason = (e as { reason?: string }).reason ?? (e as Error).message.split('\n')[0];
    throw new ToscaError([{ message: `Invalid YAML: ${reason}`, ...(mark?.line !== undefined ? { line: mark.line + 1 } : {}) }]);
  }
  if (!isMap(doc)) throw new ToscaError('The template must be a YAML map.');
  return doc;
}

/** Input values: defaults, with `random(N)` (written back into the document) and `access_token()`. */
function inputValues(doc: Record<string, unknown>, topo: Topology, opts: LoadOptions, problems: Problem[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const rawInputs = isMap(doc.topology_template) && isMap(doc.topology_template.inputs) ? doc.topology_template.inputs : {};
  for (const [name, def] of topo.inputs) {
    let v = def.default ?? null;
    if (typeof v === 'string') {
      const r = /^random\((\d+)\)$/.exec(v.trim());
      if (r) {
        v = (opts.random ?? defaultRandom)(Number(r[1]));
        const raw = rawInputs[name];
        if (isMap(raw)) raw.default = v;
      } else if (v.trim() === 'access_token()') {
        if (opts.accessToken) v = opts.accessToken;
        else {
          problems.push({
            message: `The input "${name}" needs the caller's OIDC access token (access_token()), and this request was not authenticated with one.`,
            path: ['topology_template', 'inputs', name, 'default'],
            property: name,
          });
          v = null;
        }
      }
    }
    out[name] = plain(v);
  }
  return out;
}

/** URLs of the documents the operations and container files need. */
function documentUrls(tosca: Omit<Tosca, 'documents'>): string[] {
  const t = newTranslation(tosca.topo, tosca.inputs, new Map());
  const urls = new Set<string>();
  for (const node of tosca.topo.nodes.values()) {
    if (!node.known) continue;
    for (const op of operationsOf(t, node)) {
      const u = implementationUrl(t, op);
      if (u && /^(https?|ftp):\/\//i.test(u)) for (const c of implementationCandidates(u)) urls.add(c);
    }
    for (const a of Object.values(node.artifacts)) {
      if (isMap(a) && a.type === 'tosca.artifacts.File' && typeof a.file === 'string' && typeof a.deploy_path === 'string') {
        const content = isMap(a.properties) ? a.properties.content : undefined;
        if (typeof content !== 'string' && /^https?:\/\//i.test(a.file)) urls.add(a.file);
      }
    }
  }
  return [...urls];
}

/** Parses and checks a template; every problem is reported at once (ToscaError). */
export async function loadTosca(text: string, opts: LoadOptions = {}): Promise<Tosca> {
  const fetcher = opts.fetcher ?? NO_DOCUMENTS;
  try {
    let doc = parseDoc(text);
    const inherited = await mergeParentTemplate(doc, fetcher, opts.repoBase);
    const merged = inherited !== doc;
    doc = inherited;
    const problems: Problem[] = [];
    const imported = await loadImports(doc, fetcher, problems);
    const topo = readTopology(doc, registryFor(imported, typeSections(doc)), (p) => problems.push(p));
    const inputs = inputValues(doc, topo, opts, problems);
    const partial = { doc, topo, inputs };
    const urls = problems.length === 0 ? documentUrls(partial) : [];
    const texts = await Promise.all(urls.map((u) => fetcher.fetch(u).then((x) => x, (e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
    const documents = new Map<string, string | Error>(urls.map((u, i) => [u, texts[i]]));
    // Functions are checked by translating once (unknown inputs, properties, nodes).
    let checked: Tosca['checked'];
    if (problems.length === 0) {
      const t = newTranslation(topo, inputs, documents);
      buildRadl(t, topo, { containerId: CHECK_ID });
      problems.push(...t.problems);
      for (const o of Object.values(topo.outputs)) evaluate(o.value, { topo, inputs, problems });
      const containerDependent = [...topo.nodes.values()].some((n) => n.known && topo.types.isA('node_types', n.type, 'tosca.nodes.Container.Application'));
      checked = { radl: t.radl, containerDependent };
    }
    if (problems.length > 0) fail(merged ? dumpYaml(doc) : text, problems);
    return { doc, topo, inputs, documents, ...(checked ? { checked } : {}) };
  } catch (e) {
    if (e instanceof ToscaError) throw e;
    throw new ToscaError(`Unexpected error while reading the template: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface RadlResult {
  radl: Radl;
  /** VMs to remove first (scale down: removal_list, then the oldest). */
  removeVmIds: number[];
}

export interface ToRadlOptions {
  /** Current VM ids (oldest first) per system: deploys become the differences (add-resources). */
  current?: Map<string, number[]>;
  /** Systems already deployed (for the per-cloud split of private networks). */
  deployed?: { system: System; radl: Radl }[];
  /** Suffix source of container system names (default: a new random id). */
  containerId?: string;
}

const CHECK_ID = '00000000';

export function toRadl(tosca: Tosca, opts: ToRadlOptions = {}): RadlResult {
  const c = tosca.checked;
  if (c && !opts.current && !opts.deployed && (!c.containerDependent || opts.containerId === CHECK_ID)) {
    return { radl: c.radl.clone(), removeVmIds: [] };
  }
  const t = newTranslation(tosca.topo, tosca.inputs, tosca.documents, opts.current);
  buildRadl(t, tosca.topo, { containerId: opts.containerId ?? randomUUID().replace(/-/g, ''), ...(opts.deployed ? { deployed: opts.deployed } : {}) });
  if (t.problems.length > 0) throw new ToscaError(t.problems);
  return { radl: t.radl, removeVmIds: t.removals };
}

export async function translateTosca(text: string, opts: LoadOptions & ToRadlOptions = {}): Promise<RadlResult & { tosca: Tosca }> {
  const tosca = await loadTosca(text, opts);
  return { ...toRadl(tosca, opts), tosca };
}

/** The stored form of a template: `yaml.safe_dump` of the document. */
export function serializeTosca(tosca: Tosca): string {
  return dumpYaml(plain(tosca.doc), { lineWidth: 80 });
}

/** Outputs evaluated against the live VMs (JSON values). */
export function evaluateOutputs(tosca: Tosca, live: LiveInfo): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, o] of Object.entries(tosca.topo.outputs)) {
    out[k] = plain(evaluate(o.value, { topo: tosca.topo, inputs: tosca.inputs, live })) ?? null;
  }
  return out;
}

/** IM's merge of a stored template with an update: maps recursively, lists by position. */
export function mergeTosca(stored: unknown, update: unknown): unknown {
  if (isMap(stored) && isMap(update)) {
    const out: Record<string, unknown> = { ...stored };
    for (const [k, v] of Object.entries(update)) out[k] = k in stored ? mergeTosca(stored[k], v) : v;
    return out;
  }
  if (Array.isArray(stored) && Array.isArray(update)) {
    const out = stored.slice();
    update.forEach((v, i) => {
      out[i] = i < stored.length ? mergeTosca(stored[i], v) : v;
    });
    return out;
  }
  return update;
}

/** Parses a stored or posted template to a document (ToscaError on invalid YAML). */
export function parseToscaDocument(text: string): Record<string, unknown> {
  return parseDoc(text);
}

/** The template with `scalable.count` set to the current number of VMs of each named system (removal_list dropped). */
export function templateWithCounts(text: string, counts: Map<string, number>): string {
  const doc = parseDoc(text);
  const nodes = isMap(doc.topology_template) && isMap(doc.topology_template.node_templates) ? doc.topology_template.node_templates : {};
  for (const [name, n] of counts) {
    const node = nodes[name];
    if (!isMap(node)) continue;
    const caps = isMap(node.capabilities) ? node.capabilities : (node.capabilities = {});
    const sc = isMap(caps.scalable) ? caps.scalable : (caps.scalable = {});
    const props = isMap(sc.properties) ? sc.properties : (sc.properties = {});
    props.count = n;
    delete props.removal_list;
  }
  return dumpYaml(plain(doc), { lineWidth: 80 });
}

/** `/stats` tosca_name: metadata template_name, else the icon file's basename without extension, else ''. */
export function toscaName(text: string): string {
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch {
    return '';
  }
  const md = isMap(doc) && isMap(doc.metadata) ? doc.metadata : {};
  if (typeof md.template_name === 'string' && md.template_name) return md.template_name;
  if (typeof md.icon === 'string' && md.icon) {
    const base = md.icon.slice(md.icon.lastIndexOf('/') + 1);
    const dot = base.lastIndexOf('.');
    return dot > 0 ? base.slice(0, dot) : base;
  }
  return '';
}

export { ARTIFACTS_REMOTE_REPO };
