/**
 * The type registry: normative types plus the custom types of the imports and of the template itself,
 * with TOSCA's short names (`Compute`, `tosca:Compute`, `PortSpec`, `AttachesTo`), `derived_from`
 * chains and the inherited definitions (a child's entry replaces its parent's of the same name; the
 * child's come first, as tosca-parser orders them).
 */
import { normativeTypes, TYPE_SECTIONS, type TypeSection } from '#tosca/normative';
import { isMap } from '#tosca/yaml';

export type Def = Record<string, unknown>;

const PREFIXES: Record<TypeSection, string[]> = {
  node_types: ['tosca.nodes.'],
  capability_types: ['tosca.capabilities.'],
  relationship_types: ['tosca.relationships.'],
  data_types: ['tosca.datatypes.', 'tosca.datatypes.network.'],
  artifact_types: ['tosca.artifacts.'],
  interface_types: ['tosca.interfaces.'],
  group_types: ['tosca.groups.'],
  policy_types: ['tosca.policies.'],
};

/** Primitive (schema) types of properties. */
export const PRIMITIVE_TYPES = new Set([
  'string',
  'integer',
  'float',
  'number',
  'boolean',
  'timestamp',
  'null',
  'version',
  'range',
  'list',
  'map',
  'scalar-unit.size',
  'scalar-unit.time',
  'scalar-unit.frequency',
  'json',
  'any',
]);

/** A requirement definition of a node type: its name and its (normalised) fields. */
export interface RequirementDef {
  name: string;
  capability?: string;
  node?: string;
  relationship?: string;
  occurrences?: unknown;
}

export class TypeRegistry {
  private readonly sections: Record<TypeSection, Map<string, Def>>;
  private readonly cache = new Map<string, unknown>();

  /** `custom`: the type sections of the imports and of the template, later ones replacing earlier ones. */
  constructor(custom: Partial<Record<TypeSection, Record<string, unknown>>>[] = []) {
    const norm = normativeTypes();
    this.sections = {} as Record<TypeSection, Map<string, Def>>;
    for (const s of TYPE_SECTIONS) {
      const m = new Map<string, Def>();
      for (const [k, v] of Object.entries(norm[s] ?? {})) m.set(k, v);
      for (const c of custom) {
        const defs = c[s];
        if (!isMap(defs)) continue;
        for (const [k, v] of Object.entries(defs)) m.set(k, isMap(v) ? v : {});
      }
      this.sections[s] = m;
    }
  }

  /** The canonical name of a type (exact, `tosca:` prefixed or short), or undefined when unknown. */
  resolve(section: TypeSection, name: unknown): string | undefined {
    if (typeof name !== 'string' || name === '') return undefined;
    const m = this.sections[section];
    if (m.has(name)) return name;
    const short = name.startsWith('tosca:') ? name.slice(6) : name;
    if (m.has(short)) return short;
    for (const p of PREFIXES[section]) if (m.has(p + short)) return p + short;
    return undefined;
  }

  def(section: TypeSection, name: string): Def | undefined {
    const r = this.resolve(section, name);
    return r === undefined ? undefined : this.sections[section].get(r);
  }

  /** [type, parent, grandparent, …] (canonical names); stops at an unknown parent or a cycle. */
  ancestors(section: TypeSection, name: string): string[] {
    const key = `a:${section}:${name}`;
    const hit = this.cache.get(key) as string[] | undefined;
    if (hit) return hit;
    const out: string[] = [];
    let cur = this.resolve(section, name);
    while (cur !== undefined && !out.includes(cur)) {
      out.push(cur);
      const d = this.sections[section].get(cur) as Def;
      cur = this.resolve(section, d.derived_from);
    }
    this.cache.set(key, out);
    return out;
  }

  /** True when `name` is `base` or derives from it. */
  isA(section: TypeSection, name: string | undefined, base: string): boolean {
    if (name === undefined) return false;
    const key = `i:${section}:${name}:${base}`;
    const hit = this.cache.get(key) as boolean | undefined;
    if (hit !== undefined) return hit;
    const b = this.resolve(section, base) ?? base;
    const r = this.ancestors(section, name).includes(b);
    this.cache.set(key, r);
    return r;
  }

  /** The parent name (`derived_from`) as written, if any. */
  parentOf(section: TypeSection, name: string): string | undefined {
    const d = this.def(section, name);
    return d && typeof d.derived_from === 'string' ? d.derived_from : undefined;
  }

  /** The merged map `field` (properties, attributes, capabilities, interfaces, artifacts) of a type chain. */
  merged(section: TypeSection, name: string, field: string): Record<string, unknown> {
    const key = `m:${section}:${name}:${field}`;
    const hit = this.cache.get(key) as Record<string, unknown> | undefined;
    if (hit) return hit;
    const out: Record<string, unknown> = {};
    for (const t of this.ancestors(section, name)) {
      const v = (this.sections[section].get(t) as Def)[field];
      if (!isMap(v)) continue;
      for (const [k, d] of Object.entries(v)) if (!(k in out)) out[k] = d;
    }
    this.cache.set(key, out);
    return out;
  }

  /** The merged property definitions of a type (normalised to maps). */
  properties(section: TypeSection, name: string): Record<string, Def> {
    return this.merged(section, name, 'properties') as Record<string, Def>;
  }

  /** The requirement definitions of a node type chain: the child's first, one per name. */
  requirements(name: string): RequirementDef[] {
    const key = `r:${name}`;
    const hit = this.cache.get(key) as RequirementDef[] | undefined;
    if (hit) return hit;
    const out: RequirementDef[] = [];
    for (const t of this.ancestors('node_types', name)) {
      const reqs = (this.sections.node_types.get(t) as Def).requirements;
      if (!Array.isArray(reqs)) continue;
      for (const item of reqs) {
        if (!isMap(item)) continue;
        for (const [rname, v] of Object.entries(item)) {
          if (out.some((r) => r.name === rname)) continue;
          const d: RequirementDef = { name: rname };
          if (typeof v === 'string') d.capability = v;
          else if (isMap(v)) {
            if (typeof v.capability === 'string') d.capability = v.capability;
            if (typeof v.node === 'string') d.node = v.node;
            if (typeof v.relationship === 'string') d.relationship = v.relationship;
            else if (isMap(v.relationship) && typeof v.relationship.type === 'string') d.relationship = v.relationship.type;
            if (v.occurrences !== undefined) d.occurrences = v.occurrences;
          }
          out.push(d);
        }
      }
    }
    this.cache.set(key, out);
    return out;
  }

  /** The capability definitions of a node type chain (name → {type, properties, …}). */
  capabilities(nodeType: string): Record<string, Def> {
    const caps = this.merged('node_types', nodeType, 'capabilities');
    const out: Record<string, Def> = {};
    for (const [k, v] of Object.entries(caps)) out[k] = typeof v === 'string' ? { type: v } : isMap(v) ? v : {};
    return out;
  }

  /**
   * The root type of a node type: the ancestor just below `tosca.nodes.Root` (IM's dispatch), or the
   * type itself when it has no parent.
   */
  rootType(section: TypeSection, name: string, root: string): string {
    const key = `t:${section}:${name}:${root}`;
    const hit = this.cache.get(key) as string | undefined;
    if (hit !== undefined) return hit;
    const chain = this.ancestors(section, name);
    const i = chain.indexOf(root);
    const r = i > 0 ? chain[i - 1] : (chain[chain.length - 1] ?? name);
    this.cache.set(key, r);
    return r;
  }

  /** True when the data type (or any ancestor) is known. */
  has(section: TypeSection, name: string): boolean {
    return this.resolve(section, name) !== undefined;
  }
}

export { TYPE_SECTIONS, type TypeSection };
