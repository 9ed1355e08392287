/**
 * Software components → Ansible `configure` recipes, as IM builds them: the operations of the node's
 * interfaces (template, then its type chain) and of its relationships, in IM's order; each operation's
 * implementation (a playbook by URL, an artifact, a name in IM's artifacts repository) is inlined with
 * its `hosts`/`connection` stripped and merged into one recipe whose `vars` are the operation inputs;
 * `get_artifact` inputs are downloaded to /tmp by `get_url` tasks; other scripts become copy + shell
 * tasks with the inputs as environment.
 */
import { Configure } from '#radl/index';
import { artifactFile, evaluate, relIsA, type EvalContext } from '#tosca/functions';
import type { NodeTemplate, Requirement } from '#tosca/template';
import { dumpYaml, isMap, loadYaml, plain } from '#tosca/yaml';
import { evalCtx, problem, type Translation } from '#tosca/translate/context';

export const ARTIFACTS_REMOTE_REPO = 'https://raw.githubusercontent.com/grycap/tosca/main/artifacts/';
/** Where IM's own artifacts folder came from (its playbooks are INDIGO's): the second place a name is looked up. */
export const ARTIFACTS_FALLBACK_REPO = 'https://raw.githubusercontent.com/indigo-dc/tosca-types/master/artifacts/';

/** The URLs an implementation may be read from, in order. */
export function implementationCandidates(url: string): string[] {
  return url.startsWith(ARTIFACTS_REMOTE_REPO) ? [url, ARTIFACTS_FALLBACK_REPO + url.slice(ARTIFACTS_REMOTE_REPO.length)] : [url];
}
const REMOTE_ARTIFACTS_PATH = '/tmp';

const ORDER = [
  'create',
  'pre_configure_source',
  'pre_configure_target',
  'configure_rel',
  'configure',
  'post_configure_source',
  'post_configure_target',
  'start',
  'add_target',
  'add_source',
  'target_changed',
  'remove_target',
];

export interface Operation {
  name: string;
  implementation?: string;
  inputs: Record<string, unknown>;
  /** The node whose SELF the inputs see (the node, or the relationship's end). */
  ctx: EvalContext;
  /** Node whose artifacts the implementation may name. */
  owner: NodeTemplate;
}

function opParts(def: unknown): { implementation?: string; inputs: Record<string, unknown> } {
  if (typeof def === 'string') return { implementation: def, inputs: {} };
  if (!isMap(def)) return { inputs: {} };
  let impl = def.implementation;
  if (isMap(impl)) impl = impl.primary ?? impl.file;
  return { ...(typeof impl === 'string' ? { implementation: impl } : {}), inputs: isMap(def.inputs) ? def.inputs : {} };
}

function mergeOp(base: { implementation?: string; inputs: Record<string, unknown> }, over: { implementation?: string; inputs: Record<string, unknown> }) {
  return { implementation: over.implementation ?? base.implementation, inputs: { ...base.inputs, ...over.inputs } };
}

/** Operations `ops` of a node's interfaces (`Standard`, or `Configure` for relationship ends). */
function nodeOps(t: Translation, node: NodeTemplate, ops: string[], ifaceNames: string[]): Map<string, { implementation?: string; inputs: Record<string, unknown> }> {
  const out = new Map<string, { implementation?: string; inputs: Record<string, unknown> }>();
  const typeIfaces = node.known ? t.topo.types.merged('node_types', node.type, 'interfaces') : {};
  // The type chain: the child's operation wins (tosca-parser keeps one definition per interface).
  for (const typeName of node.known ? t.topo.types.ancestors('node_types', node.type) : []) {
    const d = t.topo.types.def('node_types', typeName)?.interfaces;
    if (!isMap(d)) continue;
    for (const iname of ifaceNames) {
      const iface = d[iname];
      if (!isMap(iface)) continue;
      for (const op of ops) if (op in iface && !out.has(op)) out.set(op, opParts(iface[op]));
    }
  }
  void typeIfaces;
  const tpl = node.raw.interfaces;
  if (isMap(tpl)) {
    for (const [iname, iface] of Object.entries(tpl)) {
      if (!isMap(iface)) continue;
      const short = iname.split('.').pop() as string;
      if (!ifaceNames.includes(iname) && !ifaceNames.some((n) => n.split('.').pop() === short)) continue;
      for (const op of ops) if (op in iface) out.set(op, mergeOp(out.get(op) ?? { inputs: {} }, opParts(iface[op])));
    }
  }
  return out;
}

const STANDARD = ['Standard', 'tosca.interfaces.node.lifecycle.Standard'];
const CONFIGURE = ['Configure', 'tosca.interfaces.relationship.Configure'];
const SOURCE_OPS = ['pre_configure_source', 'post_configure_source', 'add_source'];
const TARGET_OPS = ['pre_configure_target', 'post_configure_target', 'add_target', 'target_changed', 'remove_target'];

/** Operations of a relationship (its template, its type) for the given ops. */
function relationshipOps(t: Translation, r: Requirement, ops: string[]): Map<string, { implementation?: string; inputs: Record<string, unknown> }> {
  const out = new Map<string, { implementation?: string; inputs: Record<string, unknown> }>();
  if (r.relationship) {
    for (const typeName of [...t.topo.types.ancestors('relationship_types', r.relationship)].reverse()) {
      const d = t.topo.types.def('relationship_types', typeName)?.interfaces;
      if (!isMap(d)) continue;
      for (const iname of [...CONFIGURE, ...STANDARD]) {
        const iface = d[iname];
        if (isMap(iface)) for (const op of ops) if (op in iface) out.set(op, opParts(iface[op]));
      }
    }
  }
  for (const iname of Object.keys(r.relInterfaces)) {
    const iface = r.relInterfaces[iname];
    if (isMap(iface)) for (const op of ops) if (op in iface) out.set(op, mergeOp(out.get(op) ?? { inputs: {} }, opParts(iface[op])));
  }
  return out;
}

/** Every operation that makes up the recipe of `node`, in IM's order. */
export function operationsOf(t: Translation, node: NodeTemplate): Operation[] {
  const found = new Map<string, Operation>();
  for (const [op, d] of nodeOps(t, node, ['create', 'configure', 'start'], STANDARD)) {
    found.set(op, { name: op, ...d, ctx: evalCtx(t, node), owner: node });
  }
  for (const src of t.topo.nodes.values()) {
    for (const r of src.requirements) {
      if (!r.node || !r.relationship) continue;
      const target = t.topo.nodes.get(r.node);
      if (!target) continue;
      const relCtx: EvalContext = { ...evalCtx(t), rel: { req: r, source: src, target } };
      if (src === node) {
        for (const [op, d] of nodeOps(t, target, ['pre_configure_source', 'post_configure_source'], CONFIGURE)) found.set(op, { name: op, ...d, ctx: evalCtx(t, target), owner: target });
        for (const [op, d] of relationshipOps(t, r, SOURCE_OPS)) found.set(op, { name: op, ...d, ctx: relCtx, owner: node });
      } else if (target === node) {
        for (const [op, d] of nodeOps(t, src, ['pre_configure_target', 'post_configure_target'], CONFIGURE)) found.set(op, { name: op, ...d, ctx: evalCtx(t, src), owner: src });
        for (const [op, d] of relationshipOps(t, r, TARGET_OPS)) found.set(op, { name: op, ...d, ctx: relCtx, owner: node });
      }
    }
  }
  return ORDER.filter((o) => found.has(o)).map((o) => found.get(o) as Operation);
}

/** An implementation written in the template itself: a multi-line playbook. */
export function isInlinePlaybook(impl: string | undefined): impl is string {
  return impl !== undefined && impl.includes('\n') && /^\s*(---|-\s)/.test(impl);
}

/** Inline content of the artifact an implementation names (`properties.content`), if any. */
function artifactContent(op: Operation): string | undefined {
  const a = op.implementation ? op.owner.artifacts[op.implementation] : undefined;
  return isMap(a) && isMap(a.properties) && typeof a.properties.content === 'string' ? a.properties.content : undefined;
}

/** The URL (or artifacts-repository name) an implementation stands for. */
export function implementationUrl(t: Translation, op: Operation): string | undefined {
  const impl = op.implementation;
  if (!impl || isInlinePlaybook(impl) || artifactContent(op) !== undefined) return undefined;
  const a = artifactFile({ ...op.ctx, self: op.owner }, ['SELF', impl], t.topo.doc.repositories);
  const file = a ?? impl;
  if (/^(https?|ftp):\/\//i.test(file)) return file;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) return file;
  return ARTIFACTS_REMOTE_REPO + file.replace(/^\/+/, '');
}

function isGetArtifact(v: unknown): v is { get_artifact: unknown } {
  return isMap(v) && Object.keys(v).length === 1 && 'get_artifact' in v;
}

function basename(url: string): string {
  const path = url.split('?')[0].replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}

type Play = Record<string, unknown>;

/** IM's merge of two recipes: every play of `second` on top of the first play of `first`. */
export function mergeRecipes(first: Play[], second: unknown): Play[] {
  const base = first[0] ?? {};
  const plays = Array.isArray(second) && second.every(isMap) ? (second as Play[]) : [];
  const truthy = (v: unknown) => v !== undefined && v !== null && v !== false && v !== 0 && v !== '' && !(Array.isArray(v) && v.length === 0) && !(isMap(v) && Object.keys(v).length === 0);
  return plays.map((p2) => {
    const p = structuredClone(base);
    for (const key of new Set([...Object.keys(p), ...Object.keys(p2)])) {
      if (truthy(p[key])) {
        if (!truthy(p2[key])) continue;
        if (isMap(p[key]) && isMap(p2[key])) Object.assign(p[key] as Play, p2[key]);
        else if (Array.isArray(p[key]) && Array.isArray(p2[key])) (p[key] as unknown[]).push(...(p2[key] as unknown[]));
        else p[key] = [p[key], p2[key]];
      } else if (truthy(p2[key])) p[key] = p2[key];
    }
    return p;
  });
}

/** Playbooks already read, by text (the same few playbooks serve every request). */
const stripped = new Map<string, unknown>();

/** A playbook without `hosts` / `connection` (IM's _remove_recipe_header); undefined when not a list of plays. */
function stripHeader(text: string): unknown {
  if (stripped.has(text)) return structuredClone(stripped.get(text));
  let doc: unknown;
  try {
    doc = loadYaml(text);
  } catch {
    doc = undefined;
  }
  if (Array.isArray(doc)) {
    for (const p of doc) {
      if (isMap(p)) {
        delete p.hosts;
        delete p.connection;
      }
    }
  } else doc = undefined;
  if (stripped.size > 256) stripped.clear();
  stripped.set(text, doc);
  return structuredClone(doc);
}

/** Name of the configure of `node` on `compute`. */
export function configureName(node: NodeTemplate, compute?: NodeTemplate): string {
  return compute && compute.name !== node.name ? `${node.name}_${compute.name}_conf` : `${node.name}_conf`;
}

/** The configure of a node, or undefined when it has no operation with an implementation. */
export function configureOf(t: Translation, node: NodeTemplate, compute?: NodeTemplate): Configure | undefined {
  const ops = operationsOf(t, node);
  if (ops.length === 0) return undefined;
  const variables: Record<string, unknown> = {};
  const tasks: Play[] = [];
  const recipes: unknown[] = [];
  for (const op of ops) {
    const env: Record<string, unknown> = {};
    const artifacts: string[] = [];
    for (const [k, raw] of Object.entries(op.inputs)) {
      if (isGetArtifact(raw)) {
        const uri = artifactFile({ ...op.ctx, self: op.ctx.self ?? op.owner }, raw.get_artifact, t.topo.doc.repositories);
        if (uri) {
          env[k] = `${REMOTE_ARTIFACTS_PATH}/${basename(uri)}`;
          artifacts.push(uri);
        }
        continue;
      }
      const v = plain(evaluate(raw, op.ctx));
      if (v !== null && v !== undefined) env[k] = v;
    }
    for (const a of artifacts) tasks.push({ name: `Download artifact ${a}`, get_url: `dest=${REMOTE_ARTIFACTS_PATH}/${basename(a)} url='${a}'` });
    const inline = isInlinePlaybook(op.implementation) ? op.implementation : artifactContent(op);
    let url = inline !== undefined ? 'inline.yml' : implementationUrl(t, op);
    if (!url) continue;
    if (inline === undefined) url = implementationCandidates(url).find((u) => typeof t.documents.get(u) === 'string') ?? url;
    const text = inline ?? t.documents.get(url);
    if (text === undefined || text instanceof Error) {
      const why = text instanceof Error ? text.message : 'not fetched';
      if (url.startsWith(ARTIFACTS_REMOTE_REPO) && op.implementation && !op.implementation.startsWith(ARTIFACTS_REMOTE_REPO) && !/^[a-z]+:\/\//i.test(op.implementation)) {
        problem(t, `Implementation file: '${op.implementation}' is not located in the artifacts folder or in the artifacts remote url '${ARTIFACTS_REMOTE_REPO}'.`, node.name);
      } else {
        problem(t, `Error downloading the implementation script '${url}': ${why}`, node.name);
      }
      continue;
    }
    const path = url.split('?')[0];
    if (path.endsWith('.yaml') || path.endsWith('.yml')) {
      Object.assign(variables, env);
      const plays = stripHeader(text);
      if (plays === undefined) {
        problem(t, `Error parsing the implementation playbook '${url}': it is not a list of Ansible plays.`, node.name);
        continue;
      }
      recipes.push(plays);
    } else {
      const name = `${node.name}_${op.name}`;
      const script = basename(path);
      const shell: Play = { name, shell: `/tmp/${script}` };
      if (Object.keys(env).length > 0) shell.environment = env;
      recipes.push([{ tasks: [{ name: `Copy contents of script of interface ${name}`, copy: { dest: `/tmp/${script}`, content: text, mode: '0755' } }, shell] }]);
    }
  }
  if (tasks.length === 0 && recipes.length === 0) return undefined;
  let plays: Play[] = [];
  const first: Play = {};
  if (Object.keys(variables).length > 0) first.vars = variables;
  if (tasks.length > 0) first.tasks = tasks;
  if (Object.keys(first).length > 0) plays = [first];
  for (const r of recipes) plays = mergeRecipes(plays, r);
  return new Configure(configureName(node, compute), dumpYaml(plays, { explicitStart: true }));
}

/** IM's contextualization level: 1 + the deepest HostedOn / DependsOn / ConnectsTo target. */
export function dependencyLevel(t: Translation, node: NodeTemplate, seen = new Set<string>()): number {
  if (node.requirements.length === 0) return 1;
  if (seen.has(node.name)) return 1;
  seen.add(node.name);
  let max = 0;
  for (const r of node.requirements) {
    if (!r.node) continue;
    const target = t.topo.nodes.get(r.node);
    if (!target) continue;
    const rel = r.relationship;
    if (relIsA(t.topo, rel, 'tosca.relationships.HostedOn') || relIsA(t.topo, rel, 'tosca.relationships.DependsOn') || relIsA(t.topo, rel, 'tosca.relationships.ConnectsTo')) {
      max = Math.max(max, dependencyLevel(t, target, new Set(seen)));
    }
  }
  return max + 1;
}
