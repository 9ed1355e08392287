/**
 * TOSCA functions: get_input, get_property, get_attribute, concat, join, token, get_artifact.
 *
 * Two contexts, as in IM: while translating, `get_attribute` becomes a Jinja expression over the
 * Ansible inventory (`{{ hostvars[groups['front'][0]]['IM_NODE_PUBLIC_IP'] }}`); in outputs it is
 * evaluated against the live VMs (`LiveInfo`).
 */
import type { Problem } from '#tosca/errors';
import type { NodeTemplate, Requirement, Topology } from '#tosca/template';
import { checkConstraint, isFunction, pyStr } from '#tosca/values';
import { isMap, numberOf, plain } from '#tosca/yaml';
import { isIndigoCompute, liveAttribute, pick, type LiveInfo } from '#tosca/live';

export { isIndigoCompute, parseAnsibleOutput, type LiveInfo, type LiveVm } from '#tosca/live';

export interface EvalContext {
  topo: Topology;
  /** Input values (defaults, after random(N) / access_token()). */
  inputs: Record<string, unknown>;
  self?: NodeTemplate;
  /** For relationship operations: the relationship's requirement and its ends. */
  rel?: { req: Requirement; source: NodeTemplate; target?: NodeTemplate };
  live?: LiveInfo;
  problems?: Problem[];
  /** Suffix source of container system names. */
  containerId?: string;
}

const problem = (ctx: EvalContext, message: string, node?: string) => {
  if (!ctx.problems) return;
  if (ctx.problems.some((p) => p.message === message && p.node === node)) return;
  ctx.problems.push({ message, ...(node ? { node } : {}) });
};

/** Root of a node type below tosca.nodes.Root. */
export function rootOf(topo: Topology, node: NodeTemplate): string {
  return node.known ? topo.types.rootType('node_types', node.type, 'tosca.nodes.Root') : node.type;
}

export function isCompute(topo: Topology, node: NodeTemplate | undefined): boolean {
  return !!node && rootOf(topo, node) === 'tosca.nodes.Compute';
}

export function relIsA(topo: Topology, rel: string | undefined, base: string): boolean {
  return rel !== undefined && topo.types.isA('relationship_types', rel, base);
}

/** Targets of the HostedOn (or BindsTo) requirements of a node, in requirement order. */
export function hostsOf(topo: Topology, node: NodeTemplate, withBindsTo = true): NodeTemplate[] {
  const out: NodeTemplate[] = [];
  for (const r of node.requirements) {
    if (!r.node) continue;
    if (relIsA(topo, r.relationship, 'tosca.relationships.HostedOn') || (withBindsTo && relIsA(topo, r.relationship, 'tosca.relationships.network.BindsTo'))) {
      const t = topo.nodes.get(r.node);
      if (t) out.push(t);
    }
  }
  return out;
}

/** The node whose root type is `base` that hosts `node` (following the first HostedOn/BindsTo each time). */
export function findHost(topo: Topology, node: NodeTemplate, base = 'tosca.nodes.Compute', seen = new Set<string>()): NodeTemplate | undefined {
  if (rootOf(topo, node) === base) return node;
  if (seen.has(node.name)) return undefined;
  seen.add(node.name);
  const h = hostsOf(topo, node)[0];
  if (h) return findHost(topo, h, base, seen);
  const req = node.raw.requirements;
  if (base === 'tosca.nodes.Compute' && Array.isArray(req)) {
    for (const r of req) {
      const host = isMap(r) ? r.host : undefined;
      if (isMap(host) && isMap(host.node_filter)) return computeFromFilter(topo, host.node_filter);
    }
  }
  return undefined;
}

/** The first Compute whose capability properties satisfy a `node_filter` (IM's _get_compute_from_node_filter). */
function computeFromFilter(topo: Topology, filter: Record<string, unknown>): NodeTemplate | undefined {
  const caps = Array.isArray(filter.capabilities) ? filter.capabilities : [];
  for (const node of topo.nodes.values()) {
    if (!isCompute(topo, node)) continue;
    let ok = true;
    for (const c of caps) {
      if (!isMap(c)) continue;
      for (const [cap, def] of Object.entries(c)) {
        const props = isMap(def) && Array.isArray(def.properties) ? def.properties : [];
        const have = node.capabilities[cap] ?? {};
        for (const p of props) {
          if (!isMap(p)) continue;
          for (const [name, cond] of Object.entries(p)) {
            const v = plain(have[name]);
            const schema = topo.types.properties('capability_types', String(topo.types.capabilities(node.type)[cap]?.type ?? ''))[name];
            const type = isMap(schema) && typeof schema.type === 'string' ? schema.type : 'string';
            if (v === undefined || v === null || isFunction(v)) ok = false;
            else if (isMap(cond)) checkConstraint(cond, type, v, name, () => (ok = false));
            else if (v !== cond) ok = false;
          }
        }
      }
    }
    if (ok) return node;
  }
  return undefined;
}

function entityNode(ctx: EvalContext, name: unknown): NodeTemplate | undefined {
  if (name === 'SELF') return ctx.self ?? ctx.rel?.source;
  if (name === 'SOURCE') return ctx.rel?.source;
  if (name === 'TARGET') return ctx.rel?.target;
  if (name === 'HOST') {
    const self = ctx.self ?? ctx.rel?.source;
    return self ? hostsOf(ctx.topo, self, false)[0] : undefined;
  }
  return typeof name === 'string' ? ctx.topo.nodes.get(name) : undefined;
}

function select(value: unknown, keys: unknown[]): unknown {
  let v = value;
  for (const k of keys) {
    if (Array.isArray(v)) {
      const i = numberOf(k) ?? (typeof k === 'string' && /^\d+$/.test(k) ? Number(k) : undefined);
      v = i === undefined ? undefined : v[i];
    } else if (isMap(v)) v = v[String(k)];
    else return null;
    if (v === undefined) return null;
  }
  return v;
}

function getInput(ctx: EvalContext, args: unknown): unknown {
  const list = Array.isArray(args) ? args : [args];
  const name = list[0];
  if (typeof name !== 'string' || !ctx.topo.inputs.has(name)) {
    problem(ctx, `Unknown input "${pyStr(name)}".`, ctx.self?.name);
    return null;
  }
  return select(ctx.inputs[name] ?? null, list.slice(1));
}

function capabilityProperty(ctx: EvalContext, node: NodeTemplate, cap: string, prop: string, from: string): { found: boolean; value?: unknown } {
  const c = node.capabilities[cap];
  if (!c) {
    problem(ctx, `Requirement/Capability "${cap}" referenced from node template "${from}" was not found in node template "${node.name}".`, from);
    return { found: false };
  }
  if (!(prop in c) || c[prop] === null) {
    problem(ctx, `Property "${prop}" was not found in capability "${cap}" of node template "${node.name}" referenced from node template "${from}".`, from);
    return { found: false };
  }
  return { found: true, value: c[prop] };
}

/** A node's property; with HOST the first host up the HostedOn chain that has it. */
function nodeProperty(ctx: EvalContext, entity: unknown, prop: string): { node?: NodeTemplate; found: boolean; value?: unknown } {
  const selfName = ctx.self?.name ?? ctx.rel?.source.name ?? '';
  if (entity === 'SELF' && ctx.rel && !ctx.self) {
    // SELF in a relationship operation is the relationship.
    const props = ctx.rel.req.relProperties;
    if (prop in props) return { found: true, value: props[prop] };
  }
  if (entity === 'HOST') {
    const self = ctx.self ?? ctx.rel?.source;
    let cur = self ? hostsOf(ctx.topo, self, false)[0] : undefined;
    const seen = new Set<string>();
    while (cur && !seen.has(cur.name)) {
      seen.add(cur.name);
      if (prop in cur.properties) return { node: cur, found: true, value: cur.properties[prop] };
      cur = hostsOf(ctx.topo, cur, false)[0];
    }
    problem(ctx, `Property "${prop}" was not found in capability "" of node template "HOST" referenced from node template "${selfName}".`, selfName);
    return { found: false };
  }
  const node = entityNode(ctx, entity);
  if (!node) {
    problem(ctx, `Node template "${pyStr(entity)}" was not found.`, selfName);
    return { found: false };
  }
  if (!node.known) return { node, found: false };
  if (prop in node.properties) return { node, found: true, value: node.properties[prop] };
  const defs = ctx.topo.types.properties('node_types', node.type);
  if (prop in defs) return { node, found: true, value: null };
  problem(ctx, `Property "${prop}" was not found in node template "${node.name}".`, selfName);
  return { node, found: false };
}

function getProperty(ctx: EvalContext, args: unknown): unknown {
  if (!Array.isArray(args) || args.length < 2) {
    problem(ctx, `Invalid arguments for function "get_property". Expected at least 2 arguments.`, ctx.self?.name);
    return null;
  }
  const [entity, second, ...rest] = args;
  const selfName = ctx.self?.name ?? ctx.rel?.source.name ?? '';
  if (args.length === 2 || (typeof second === 'string' && nodeHas(ctx, entity, second))) {
    const r = nodeProperty(ctx, entity, String(second));
    if (!r.found) return null;
    const v = evaluate(r.value, r.node ? { ...ctx, self: r.node, rel: undefined } : ctx);
    return select(v, rest);
  }
  // [entity, requirement or capability, property, keys…]
  const node = entityNode(ctx, entity);
  if (!node) {
    problem(ctx, `Node template "${pyStr(entity)}" was not found.`, selfName);
    return null;
  }
  const reqOrCap = String(second);
  const prop = String(rest[0]);
  const req = node.requirements.find((r) => r.name === reqOrCap && r.node);
  let owner = node;
  if (req) {
    const t = ctx.topo.nodes.get(req.node as string);
    if (!t) return null;
    owner = t;
    // The target may have no capability of that name: then look for a property of the target.
    if (!t.capabilities[reqOrCap] && prop in t.properties) return select(evaluate(t.properties[prop], { ...ctx, self: t, rel: undefined }), rest.slice(1));
  }
  const r = capabilityProperty(ctx, owner, reqOrCap, prop, selfName);
  if (!r.found) return null;
  return select(evaluate(r.value, { ...ctx, self: owner, rel: undefined }), rest.slice(1));
}

function nodeHas(ctx: EvalContext, entity: unknown, prop: string): boolean {
  if (entity === 'SELF' && ctx.rel && !ctx.self && prop in ctx.rel.req.relProperties) return true;
  if (entity === 'HOST') return true;
  const node = entityNode(ctx, entity);
  return !!node && node.known && (prop in node.properties || prop in ctx.topo.types.properties('node_types', node.type));
}

function jinjaAddress(node: NodeTemplate, indigo: boolean, self: boolean, index: number | undefined, varName: string): string {
  if (indigo && index !== undefined) return `{{ hostvars[groups['${node.name}'][${index}]]['${varName}'] }}`;
  if (indigo) return `{{ groups['${node.name}']|map('extract', hostvars,'${varName}')|list if '${node.name}' in groups else []}}`;
  if (self) return `{{ ${varName} }}`;
  return `{{ hostvars[groups['${node.name}'][0]]['${varName}'] }}`;
}

const ADDRESS_VARS: Record<string, string> = {
  private_address: 'IM_NODE_PRIVATE_IP',
  public_address: 'IM_NODE_PUBLIC_IP',
  ip_address: 'IM_NODE_PUBLIC_IP',
  tosca_id: 'IM_NODE_VMID',
};

function getAttribute(ctx: EvalContext, args: unknown): unknown {
  if (!Array.isArray(args) || args.length < 2) {
    problem(ctx, `Illegal arguments for function "get_attribute". Expected arguments: "node-template-name", "req-or-cap"(optional), "property name"`, ctx.self?.name);
    return null;
  }
  const [entity, ...rest] = args;
  const node = entityNode(ctx, entity);
  if (!node) {
    if (entity !== 'SOURCE' && entity !== 'TARGET') problem(ctx, `Node template "${pyStr(entity)}" was not found.`, ctx.self?.name);
    return null;
  }
  // [node, (capability,)? attribute, (index)?, keys…]
  let capability: string | undefined;
  let attr = String(rest[0]);
  let more = rest.slice(1);
  if (node.capabilities[attr] !== undefined && more.length > 0 && typeof more[0] === 'string') {
    capability = attr;
    attr = String(more[0]);
    more = more.slice(1);
  }
  let index: number | undefined;
  if (more.length > 0 && typeof more[0] === 'number') {
    index = more[0];
    more = more.slice(1);
  }
  if (attr === 'tosca_name') return node.name;
  if (attr === 'endpoints' && node.known && ctx.topo.types.isA('node_types', node.type, 'tosca.nodes.Container.Application')) {
    return select(pick(containerEndpoints(ctx, node), index, true), more);
  }
  const compute = isCompute(ctx.topo, node) ? node : (findHost(ctx.topo, node) ?? node);
  if (ctx.live) return select(liveAttribute(ctx, node, compute, attr, capability, index), more);
  const self = entity === 'SELF' || entity === 'HOST';
  if (capability === 'endpoint' && attr === 'tls_certificates') return '{{ IM_NODE_TLS_CERTIFICATES }}';
  const varName = ADDRESS_VARS[attr];
  if (varName !== undefined && isCompute(ctx.topo, compute)) {
    if (attr === 'tosca_id') return self ? '{{ IM_NODE_VMID }}' : `{{ hostvars[groups['${compute.name}'][0]]['IM_NODE_VMID'] }}`;
    const indigo = isIndigoCompute(ctx.topo, compute) && attr !== 'ip_address';
    return jinjaAddress(compute, indigo, self && compute === hostOrSelf(ctx, entity), index, varName);
  }
  return null;
}

/** `<system>:<port>` of a container's exposed ports and the published endpoints (URLs, else `<system>:<port>`). */
function containerEndpoints(ctx: EvalContext, node: NodeTemplate): string[] {
  const runtime = hostsOf(ctx.topo, node, false)[0];
  const host = runtime?.capabilities.host ?? {};
  const sys = `${node.name.replace(/[^A-Za-z0-9-]/g, '-')}-${(ctx.containerId ?? '00000000').slice(0, 8)}`;
  const out: string[] = [];
  const ports = (k: string) => {
    const v = plain(evaluate(host[k], runtime ? { ...ctx, self: runtime } : ctx));
    return Array.isArray(v) ? v.filter(isMap) : [];
  };
  for (const p of ports('publish_ports')) out.push(typeof p.endpoint === 'string' && p.endpoint ? p.endpoint : `${sys}:${String(p.target ?? p.source)}`);
  for (const p of ports('expose_ports')) out.push(`${sys}:${String(p.target ?? p.source)}`);
  return out;
}

function hostOrSelf(ctx: EvalContext, entity: unknown): NodeTemplate | undefined {
  const n = entityNode(ctx, entity);
  return n ? (isCompute(ctx.topo, n) ? n : findHost(ctx.topo, n)) : undefined;
}

function concat(ctx: EvalContext, args: unknown): unknown {
  if (!Array.isArray(args)) return null;
  let s = '';
  for (const a of args) s += pyStr(plain(evaluate(a, ctx)));
  return s;
}

function join(ctx: EvalContext, args: unknown): unknown {
  if (!Array.isArray(args) || args.length < 1) return null;
  const list = evaluate(args[0], ctx);
  const delim = args.length > 1 ? pyStr(evaluate(args[1], ctx)) : '';
  if (!Array.isArray(list)) return null;
  return list.map((x) => pyStr(plain(x))).join(delim);
}

function token(ctx: EvalContext, args: unknown): unknown {
  if (!Array.isArray(args) || args.length !== 3) {
    problem(ctx, 'Invalid arguments for function "token". Expected at least three arguments.', ctx.self?.name);
    return null;
  }
  const str = pyStr(plain(evaluate(args[0], ctx)));
  const sep = pyStr(evaluate(args[1], ctx));
  const idx = numberOf(evaluate(args[2], ctx));
  if (idx === undefined || sep === '') return null;
  return str.split(sep)[idx] ?? null;
}

/** The file (URL) of an artifact of a node: `[entity, artifact_name, …]`. */
export function artifactFile(ctx: EvalContext, args: unknown, repositories: unknown): string | null {
  if (!Array.isArray(args) || args.length < 2) return null;
  const node = entityNode(ctx, args[0]);
  const a = node?.artifacts[String(args[1])];
  if (typeof a === 'string') return a;
  if (!isMap(a) || typeof a.file !== 'string') return null;
  if (typeof a.repository === 'string' && isMap(repositories)) {
    const repo = repositories[a.repository];
    const url = typeof repo === 'string' ? repo : isMap(repo) && typeof repo.url === 'string' ? repo.url : undefined;
    if (url) return `${url.trim().replace(/\/+$/, '')}/${a.file}`;
  }
  return a.file;
}

/** Evaluates every function in a value (lists and maps recursively). */
export function evaluate(value: unknown, ctx: EvalContext): unknown {
  if (isFunction(value)) {
    const [name, args] = Object.entries(value)[0];
    switch (name) {
      case 'get_input':
        return evaluate(getInput(ctx, args), ctx);
      case 'get_property':
        return getProperty(ctx, args);
      case 'get_attribute':
        return getAttribute(ctx, args);
      case 'concat':
        return concat(ctx, args);
      case 'join':
        return join(ctx, args);
      case 'token':
        return token(ctx, args);
      case 'get_artifact':
        return artifactFile(ctx, args, ctx.topo.doc.repositories);
      default:
        return null;
    }
  }
  if (Array.isArray(value)) return value.map((v) => evaluate(v, ctx));
  if (isMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = evaluate(v, ctx);
    return out;
  }
  return value;
}
