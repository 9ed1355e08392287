/**
 * The topology of a TOSCA template, read and checked as tosca-parser checks it: the template version and
 * sections, inputs, node templates (type, properties, capabilities, requirements, interfaces,
 * artifacts), relationship templates, groups, policies and outputs. Every problem is collected.
 */
import type { Problem } from '#tosca/errors';
import type { Def, RequirementDef, TypeRegistry } from '#tosca/types';
import { isFunction, isRequired, validateProperty, validateValue, pyStr } from '#tosca/values';
import { isMap } from '#tosca/yaml';

export const VALID_VERSIONS = ['tosca_simple_yaml_1_0', 'tosca_simple_yaml_1_1', 'tosca_simple_yaml_1_2', 'tosca_simple_yaml_1_3'];

const TOP_FIELDS = new Set([
  'tosca_definitions_version',
  'tosca_default_namespace',
  'template_name',
  'topology_template',
  'template_author',
  'template_version',
  'description',
  'imports',
  'dsl_definitions',
  'node_types',
  'relationship_types',
  'relationship_templates',
  'capability_types',
  'artifact_types',
  'data_types',
  'interface_types',
  'policy_types',
  'group_types',
  'repositories',
  'metadata',
]);
const TOPO_FIELDS = new Set(['description', 'inputs', 'node_templates', 'relationship_templates', 'outputs', 'groups', 'policies', 'substitution_mappings', 'workflows']);
const NODE_FIELDS = new Set(['type', 'description', 'directives', 'properties', 'attributes', 'requirements', 'capabilities', 'interfaces', 'artifacts', 'node_filter', 'copy', 'metadata']);
const INPUT_FIELDS = new Set(['type', 'description', 'default', 'constraints', 'required', 'status', 'entry_schema', 'metadata']);
const REQ_FIELDS = new Set(['node', 'capability', 'relationship', 'node_filter', 'occurrences']);
const STANDARD_OPS = new Set(['create', 'configure', 'start', 'stop', 'delete']);
const CONFIGURE_OPS = new Set([
  'pre_configure_source',
  'pre_configure_target',
  'post_configure_source',
  'post_configure_target',
  'add_target',
  'add_source',
  'target_changed',
  'remove_target',
]);

export interface InputDef {
  name: string;
  type: string;
  default: unknown;
  entrySchema?: unknown;
  required: boolean;
}

export interface Requirement {
  /** Requirement name (`host`, `local_storage`, …). */
  name: string;
  /** Target node template name. */
  node?: string;
  capability?: string;
  /** Canonical relationship type (or undefined). */
  relationship?: string;
  /** Relationship properties (template values) and interfaces. */
  relProperties: Record<string, unknown>;
  relInterfaces: Record<string, unknown>;
  /** Name of the relationship template used, if any. */
  relTemplate?: string;
  index: number;
}

export interface NodeTemplate {
  name: string;
  /** Canonical type name (as written when unknown). */
  type: string;
  known: boolean;
  raw: Record<string, unknown>;
  /** Property values: the template's (validated) and the type's defaults. */
  properties: Record<string, unknown>;
  /** Capability properties: the type's defaults, then the template's. */
  capabilities: Record<string, Record<string, unknown>>;
  requirements: Requirement[];
  /** Artifacts: the type chain's, then the template's. */
  artifacts: Record<string, unknown>;
}

export interface Topology {
  doc: Record<string, unknown>;
  types: TypeRegistry;
  inputs: Map<string, InputDef>;
  nodes: Map<string, NodeTemplate>;
  relationshipTemplates: Record<string, Record<string, unknown>>;
  groups: Record<string, Record<string, unknown>>;
  policies: { name: string; type: string; properties: Record<string, unknown>; targets: string[] }[];
  outputs: Record<string, Record<string, unknown>>;
  metadata: Record<string, unknown>;
}

type Push = (p: Problem) => void;

function unknownField(what: string, field: string): string {
  return `${what} contains unknown field "${field}". Refer to the definition to verify valid values.`;
}

function checkFields(obj: Record<string, unknown>, allowed: Set<string>, what: string, push: Push, path: (string | number)[], node?: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.has(k)) push({ message: unknownField(what, k), path: [...path, k], ...(node ? { node } : {}) });
  }
}

function readInputs(topo: Record<string, unknown>, types: TypeRegistry, push: Push): Map<string, InputDef> {
  const out = new Map<string, InputDef>();
  const inputs = topo.inputs;
  if (inputs === undefined || inputs === null) return out;
  if (!isMap(inputs)) {
    push({ message: '"inputs" must be a map.', path: ['topology_template', 'inputs'] });
    return out;
  }
  for (const [name, def] of Object.entries(inputs)) {
    const path = ['topology_template', 'inputs', name];
    if (!isMap(def)) {
      push({ message: `Input "${name}" must be a map.`, path, property: name });
      continue;
    }
    checkFields(def, INPUT_FIELDS, `Input "${name}"`, push, path);
    const type = typeof def.type === 'string' ? def.type : 'string';
    if (def.type === undefined) push({ message: `Input "${name}" is missing required field "type".`, path, property: name });
    else if (typeof def.type !== 'string' || (!types.has('data_types', def.type) && !['string', 'integer', 'float', 'boolean', 'timestamp', 'range', 'number', 'list', 'map', 'scalar-unit.size', 'scalar-unit.time', 'scalar-unit.frequency', 'version', 'PortDef', 'PortSpec', 'json', 'null'].includes(def.type))) {
      push({ message: `Invalid type "${pyStr(def.type)}".`, path: [...path, 'type'], property: name });
    }
    const input: InputDef = { name, type, default: def.default, required: def.required !== false, ...(def.entry_schema !== undefined ? { entrySchema: def.entry_schema } : {}) };
    // tosca-parser validates truthy defaults against the type (not the constraints).
    if (isTruthy(def.default) && !isSpecialDefault(def.default)) {
      input.default = validateValue({ types, report: (message) => push({ message, path: [...path, 'default'], property: name }) }, type, def.default, def.entry_schema, name);
    }
    out.set(name, input);
  }
  return out;
}

/** `random(N)` / `access_token()` defaults are replaced before the checks. */
function isSpecialDefault(v: unknown): boolean {
  return typeof v === 'string' && (/^random\(\d+\)$/.test(v.trim()) || v.trim() === 'access_token()');
}

export function isTruthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

function propertyDefaults(schemas: Record<string, Def>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(schemas)) if (isMap(s) && s.default !== undefined && s.default !== null) out[k] = structuredClone(s.default);
  return out;
}

function checkProperties(
  types: TypeRegistry,
  schemas: Record<string, Def>,
  values: unknown,
  what: string,
  push: Push,
  path: (string | number)[],
  node: string,
): Record<string, unknown> {
  const given = isMap(values) ? values : {};
  if (values !== undefined && values !== null && !isMap(values)) push({ message: `${what} must be a map.`, path, node });
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(given)) {
    const schema = schemas[k];
    if (!schema) {
      push({ message: unknownField(what, k), path: [...path, k], node, property: k });
      continue;
    }
    if (!isMap(schema)) {
      out[k] = v;
      continue;
    }
    out[k] = validateProperty({ types, report: (message) => push({ message, path: [...path, k], node, property: k }) }, schema, v, k);
  }
  const missing = Object.entries(schemas)
    .filter(([k, s]) => isMap(s) && isRequired(s) && (s.default === undefined || s.default === null) && !(k in given))
    .map(([k]) => k);
  if (missing.length > 0) push({ message: `${what} is missing required field "${pyStr(missing)}".`, path, node, property: missing.join(', ') });
  for (const [k, v] of Object.entries(propertyDefaults(schemas))) if (!(k in out)) out[k] = v;
  return out;
}

function readCapabilities(types: TypeRegistry, nodeType: string, raw: unknown, push: Push, path: (string | number)[], node: string): Record<string, Record<string, unknown>> {
  const defs = types.capabilities(nodeType);
  const out: Record<string, Record<string, unknown>> = {};
  const given = isMap(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isMap(raw)) push({ message: `"capabilities" of template "${node}" must be a map.`, path, node });
  for (const k of Object.keys(given)) {
    if (!(k in defs)) push({ message: unknownField(`"capabilities" of template "${node}"`, k), path: [...path, k], node });
  }
  for (const [cap, def] of Object.entries(defs)) {
    const capType = typeof def.type === 'string' ? def.type : 'tosca.capabilities.Root';
    const schemas = { ...types.properties('capability_types', capType) };
    // A capability definition in a node type may refine property defaults.
    if (isMap(def.properties)) {
      for (const [pk, pv] of Object.entries(def.properties)) {
        if (isMap(pv) && schemas[pk]) schemas[pk] = { ...schemas[pk], ...pv };
        else if (isMap(pv)) schemas[pk] = pv;
      }
    }
    const g = given[cap];
    const props = isMap(g) ? g.properties : undefined;
    if (isMap(g)) {
      for (const k of Object.keys(g)) {
        if (k !== 'properties' && k !== 'attributes') push({ message: unknownField(`"capabilities" "${cap}" of template "${node}"`, k), path: [...path, cap, k], node });
      }
    }
    if (!isMap(g) && g !== undefined && g !== null) push({ message: `Capability "${cap}" of template "${node}" must be a map.`, path: [...path, cap], node });
    out[cap] = props === undefined && !isMap(g) ? propertyDefaults(schemas) : checkProperties(types, schemas, props ?? {}, `"properties" of template "${node}"`, push, [...path, cap, 'properties'], node);
  }
  return out;
}

function relationshipOf(types: TypeRegistry, rel: unknown, relTemplates: Record<string, Record<string, unknown>>): { type?: string; props: Record<string, unknown>; ifaces: Record<string, unknown>; tpl?: string; written?: string } {
  if (typeof rel === 'string') {
    const tpl = relTemplates[rel];
    if (isMap(tpl)) {
      return { type: types.resolve('relationship_types', tpl.type), props: isMap(tpl.properties) ? tpl.properties : {}, ifaces: isMap(tpl.interfaces) ? tpl.interfaces : {}, tpl: rel, written: String(tpl.type) };
    }
    return { type: types.resolve('relationship_types', rel), props: {}, ifaces: {}, written: rel };
  }
  if (isMap(rel)) {
    return {
      type: types.resolve('relationship_types', rel.type),
      props: isMap(rel.properties) ? rel.properties : {},
      ifaces: isMap(rel.interfaces) ? rel.interfaces : {},
      written: typeof rel.type === 'string' ? rel.type : undefined,
    };
  }
  return { props: {}, ifaces: {} };
}

function readRequirements(
  types: TypeRegistry,
  nodeType: string,
  raw: unknown,
  names: Set<string>,
  relTemplates: Record<string, Record<string, unknown>>,
  push: Push,
  path: (string | number)[],
  node: string,
): Requirement[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    push({ message: `"requirements" of template "${node}" must be of type "list".`, path, node });
    return [];
  }
  const defs: RequirementDef[] = types.requirements(nodeType);
  const out: Requirement[] = [];
  raw.forEach((item, index) => {
    const ipath = [...path, index];
    if (!isMap(item) || Object.keys(item).length !== 1) {
      push({ message: `A requirement of template "${node}" must be a map with one key.`, path: ipath, node });
      return;
    }
    const [name, value] = Object.entries(item)[0];
    const def = defs.find((d) => d.name === name);
    if (!def && !isMap(value)) {
      push({ message: unknownField(`"requirements" of template "${node}"`, name), path: [...ipath, name], node });
      return;
    }
    const target = typeof value === 'string' ? value : isMap(value) && typeof value.node === 'string' ? value.node : undefined;
    if (isMap(value)) checkFields(value, REQ_FIELDS, `"requirements" of template "${node}"`, push, [...ipath, name], node);
    if (target !== undefined && !names.has(target)) {
      if (types.has('node_types', target)) push({ message: `Lookup by TOSCA types is not supported. Requirement for "${node}" can not be full-filled.`, path: [...ipath, name], node });
      else push({ message: `Node template "${target}" was not found.`, path: [...ipath, name], node });
    }
    const rel = relationshipOf(types, isMap(value) && value.relationship !== undefined ? value.relationship : def?.relationship, relTemplates);
    if (rel.written !== undefined && rel.type === undefined) push({ message: `Type "${rel.written}" is not a valid type.`, path: [...ipath, name], node });
    const r: Requirement = { name, relProperties: rel.props, relInterfaces: rel.ifaces, index };
    if (target !== undefined) r.node = target;
    const cap = isMap(value) && typeof value.capability === 'string' ? value.capability : def?.capability;
    if (cap !== undefined) r.capability = cap;
    if (rel.type !== undefined) r.relationship = rel.type;
    if (rel.tpl !== undefined) r.relTemplate = rel.tpl;
    if (rel.type !== undefined && Object.keys(rel.props).length > 0) {
      r.relProperties = checkProperties(types, types.properties('relationship_types', rel.type), rel.props, `"properties" of template "${node}"`, push, [...ipath, name, 'relationship', 'properties'], node);
    } else if (rel.type !== undefined) {
      r.relProperties = propertyDefaults(types.properties('relationship_types', rel.type));
    }
    out.push(r);
  });
  return out;
}

function checkInterfaces(types: TypeRegistry, nodeType: string, raw: unknown, push: Push, path: (string | number)[], node: string): void {
  if (raw === undefined || raw === null) return;
  if (!isMap(raw)) {
    push({ message: `"interfaces" of template "${node}" must be a map.`, path, node });
    return;
  }
  const typeIfaces = types.merged('node_types', nodeType, 'interfaces');
  for (const [name, ops] of Object.entries(raw)) {
    let allowed: Set<string> | undefined;
    if (name === 'Standard' || name === 'tosca.interfaces.node.lifecycle.Standard') allowed = STANDARD_OPS;
    else if (name === 'Configure' || name === 'tosca.interfaces.relationship.Configure') allowed = CONFIGURE_OPS;
    else if (name in typeIfaces) {
      const d = typeIfaces[name];
      const ifaceType = isMap(d) && typeof d.type === 'string' ? d.type : undefined;
      const opsDef = ifaceType ? types.merged('interface_types', ifaceType, '__ops__') : {};
      allowed = new Set([...Object.keys(isMap(d) ? d : {}), ...Object.keys(opsDef), 'inputs']);
      if (ifaceType) {
        for (const t of types.ancestors('interface_types', ifaceType)) {
          for (const k of Object.keys(types.def('interface_types', t) ?? {})) allowed.add(k);
        }
      }
    } else {
      push({ message: unknownField(`"interfaces" of template "${node}"`, name), path: [...path, name], node });
      continue;
    }
    if (!isMap(ops)) {
      push({ message: `Interface "${name}" of template "${node}" must be a map.`, path: [...path, name], node });
      continue;
    }
    for (const [op, def] of Object.entries(ops)) {
      if (op === 'inputs') continue;
      if (!allowed.has(op)) push({ message: unknownField(`"interfaces" of template "${node}"`, op), path: [...path, name, op], node });
      else if (!(typeof def === 'string' || isMap(def) || def === null)) push({ message: `Operation "${op}" of template "${node}" must be a string or a map.`, path: [...path, name, op], node });
    }
  }
}

function readArtifacts(types: TypeRegistry, nodeType: string, raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(types.merged('node_types', nodeType, 'artifacts'))) out[k] = v;
  if (isMap(raw)) for (const [k, v] of Object.entries(raw)) out[k] = v;
  return out;
}

/** Reads and checks the topology of a document (problems are pushed, never thrown). */
export function readTopology(doc: Record<string, unknown>, types: TypeRegistry, push: Push): Topology {
  const version = doc.tosca_definitions_version;
  if (version === undefined) push({ message: 'Template is missing required field "tosca_definitions_version".' });
  else if (!VALID_VERSIONS.includes(String(version))) {
    push({ message: `The template version "${pyStr(version)}" is invalid. Valid versions are "${VALID_VERSIONS.join(', ')}".`, path: ['tosca_definitions_version'] });
  }
  checkFields(doc, TOP_FIELDS, 'Template', push, []);
  const topo = isMap(doc.topology_template) ? doc.topology_template : {};
  if (doc.topology_template !== undefined && !isMap(doc.topology_template)) push({ message: '"topology_template" must be a map.', path: ['topology_template'] });
  checkFields(topo, TOPO_FIELDS, 'Template', push, ['topology_template']);
  const inputs = readInputs(topo, types, push);
  const relationshipTemplates: Record<string, Record<string, unknown>> = {};
  if (isMap(topo.relationship_templates)) {
    for (const [k, v] of Object.entries(topo.relationship_templates)) {
      if (!isMap(v)) continue;
      relationshipTemplates[k] = v;
      if (types.resolve('relationship_types', v.type) === undefined) {
        push({ message: `Type "${pyStr(v.type)}" is not a valid type.`, path: ['topology_template', 'relationship_templates', k, 'type'], node: k });
      }
    }
  }
  const rawNodes = isMap(topo.node_templates) ? topo.node_templates : {};
  if (topo.node_templates !== undefined && !isMap(topo.node_templates)) push({ message: '"node_templates" must be a map.', path: ['topology_template', 'node_templates'] });
  const names = new Set(Object.keys(rawNodes));
  const nodes = new Map<string, NodeTemplate>();
  for (const [name, raw] of Object.entries(rawNodes)) {
    const path = ['topology_template', 'node_templates', name];
    if (!isMap(raw)) {
      push({ message: `Node template "${name}" must be a map.`, path, node: name });
      continue;
    }
    checkFields(raw, NODE_FIELDS, `Node template "${name}"`, push, path, name);
    const written = raw.type;
    if (written === undefined) {
      push({ message: `Template "${name}" is missing required field "type".`, path, node: name });
    }
    const type = types.resolve('node_types', written);
    if (written !== undefined && type === undefined) push({ message: `Type "${pyStr(written)}" is not a valid type.`, path: [...path, 'type'], node: name });
    if (type === undefined) {
      nodes.set(name, { name, type: String(written), known: false, raw, properties: {}, capabilities: {}, requirements: [], artifacts: {} });
      continue;
    }
    const properties = checkProperties(types, types.properties('node_types', type), raw.properties, `"properties" of template "${name}"`, push, [...path, 'properties'], name);
    const capabilities = readCapabilities(types, type, raw.capabilities, push, [...path, 'capabilities'], name);
    const requirements = readRequirements(types, type, raw.requirements, names, relationshipTemplates, push, [...path, 'requirements'], name);
    checkInterfaces(types, type, raw.interfaces, push, [...path, 'interfaces'], name);
    nodes.set(name, { name, type, known: true, raw, properties, capabilities, requirements, artifacts: readArtifacts(types, type, raw.artifacts) });
  }
  const groups: Record<string, Record<string, unknown>> = {};
  if (isMap(topo.groups)) {
    for (const [k, v] of Object.entries(topo.groups)) {
      if (!isMap(v)) continue;
      groups[k] = v;
      const members = Array.isArray(v.members) ? v.members : [];
      for (const m of members) if (typeof m !== 'string' || !names.has(m)) push({ message: `Group "${k}" has a member that is not a node template: "${pyStr(m)}".`, path: ['topology_template', 'groups', k, 'members'], node: k });
    }
  }
  const policies: Topology['policies'] = [];
  const rawPolicies = topo.policies;
  const policyItems: [string, unknown, (string | number)[]][] = [];
  if (Array.isArray(rawPolicies)) {
    rawPolicies.forEach((p, i) => {
      if (isMap(p)) for (const [k, v] of Object.entries(p)) if (k !== 'type' && k !== 'properties' && k !== 'targets') policyItems.push([k, v, ['topology_template', 'policies', i, k]]);
      // The `- name:\n    type: …` layout (IM's docs) puts the fields next to the name.
      if (isMap(p) && typeof p.type === 'string') policyItems.push([Object.keys(p)[0], p, ['topology_template', 'policies', i]]);
    });
  } else if (isMap(rawPolicies)) {
    for (const [k, v] of Object.entries(rawPolicies)) policyItems.push([k, v, ['topology_template', 'policies', k]]);
  }
  for (const [name, v, path] of policyItems) {
    if (!isMap(v)) continue;
    const type = types.resolve('policy_types', v.type);
    if (type === undefined) {
      push({ message: `Type "${pyStr(v.type)}" is not a valid type.`, path, node: name });
      continue;
    }
    const targets = (Array.isArray(v.targets) ? v.targets : []).filter((t): t is string => typeof t === 'string');
    for (const t of targets) if (!names.has(t) && !(t in groups)) push({ message: `"targets" of policy "${name}" has an unknown node template or group "${t}".`, path, node: name });
    // tosca-parser does not check policy properties (IM's own templates give Placement a cloud_id).
    const properties = { ...propertyDefaults(types.properties('policy_types', type)), ...(isMap(v.properties) ? v.properties : {}) };
    policies.push({ name, type, properties, targets });
  }
  const outputs: Record<string, Record<string, unknown>> = {};
  if (isMap(topo.outputs)) {
    for (const [k, v] of Object.entries(topo.outputs)) {
      const path = ['topology_template', 'outputs', k];
      if (!isMap(v) || !('value' in v)) {
        push({ message: `Output "${k}" is missing required field "value".`, path });
        continue;
      }
      checkFields(v, new Set(['description', 'value']), `Output "${k}"`, push, path);
      outputs[k] = v;
    }
  }
  return {
    doc,
    types,
    inputs,
    nodes,
    relationshipTemplates,
    groups,
    policies,
    outputs,
    metadata: isMap(doc.metadata) ? doc.metadata : {},
  };
}

export { isFunction };
