/**
 * Compute nodes → RADL systems: the `os` and `host` capabilities (operators, scalar units, GPUs, SGX,
 * spot, instance types, image and credentials), instance name and tags, Galaxy roles and collections of
 * the node and of the nodes hosted on it, placement, and the attached BlockStorage disks.
 */
import { Feature, Features, System, type Comparator } from '#radl/index';
import { findHost, isCompute, relIsA, rootOf } from '#tosca/functions';
import type { NodeTemplate } from '#tosca/template';
import { scalarToBase } from '#tosca/values';
import { isMap } from '#tosca/yaml';
import { nodePath, problem, value, type Translation } from '#tosca/translate/context';

const PROPERTY_MAP: Record<string, string> = {
  architecture: 'cpu.arch',
  type: 'disk.0.os.name',
  distribution: 'disk.0.os.flavour',
  version: 'disk.0.os.version',
  image: 'disk.0.image.url',
  credential: 'disk.0.os.credentials.username',
  num_cpus: 'cpu.count',
  disk_size: 'disk.0.size',
  mem_size: 'memory.size',
  cpu_frequency: 'cpu.performance',
  instance_type: 'instance_type',
  preemtible_instance: 'spot',
  num_gpus: 'gpu.count',
  gpu_vendor: 'gpu.vendor',
  gpu_model: 'gpu.model',
  sgx: 'cpu.sgx',
  sgx_epc_size: 'cpu.sgx.epc_size',
  disk_type: 'disk.0.type',
};

const SIZES = new Set(['disk_size', 'mem_size', 'sgx_epc_size']);

const OPERATORS: Record<string, Comparator> = {
  equal: '=',
  greater_than: '>',
  greater_or_equal: '>=',
  less_than: '<',
  less_or_equal: '<=',
};

/** A size (`4 GB`, `20 GiB`, a number of bytes) in bytes; undefined when not a size. */
export function sizeInBytes(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const b = scalarToBase('scalar-unit.size', s);
  return b === undefined ? undefined : Math.round(b);
}

function addCapabilityFeature(t: Translation, sys: System, node: NodeTemplate, prop: string, raw: unknown): void {
  const name = PROPERTY_MAP[prop];
  let v = value(t, raw, node);
  if (v === null || v === undefined) return;
  let operator: Comparator | undefined;
  if (isMap(v) && Object.keys(v).length === 1 && Object.keys(v)[0] in OPERATORS) {
    operator = OPERATORS[Object.keys(v)[0]];
    v = Object.values(v)[0];
  }
  const feature = name;
  if (SIZES.has(prop)) {
    const bytes = sizeInBytes(v);
    if (bytes === undefined) {
      problem(t, `Invalid size "${String(v)}" in property "${prop}".`, node.name, nodePath(node.name, 'capabilities'));
      return;
    }
    v = bytes;
  } else if (prop === 'cpu_frequency') {
    const hz = typeof v === 'number' ? v : scalarToBase('scalar-unit.frequency', v);
    if (hz === undefined) return;
    // RADL's unit for frequencies is HRZ (hertz).
    sys.addFeature(new Feature(feature, operator ?? '>=', hz, 'HRZ'), 'other');
    return;
  } else if (prop === 'version') {
    v = String(v);
  } else if (prop === 'image') {
    v = String(v);
    if (!(v as string).includes('://')) v = `docker://${v as string}`;
  } else if (prop === 'credential') {
    if (!isMap(v)) return;
    const tokenType = typeof v.token_type === 'string' && v.token_type ? v.token_type : 'password';
    const token = v.token;
    if (typeof token === 'string' && token) {
      if (tokenType === 'password' || tokenType === 'private_key' || tokenType === 'public_key') {
        sys.setValue(`disk.0.os.credentials.${tokenType}`, token);
      }
    }
    if (typeof v.user !== 'string' || !v.user) {
      problem(t, 'User must be specified in the image credentials.', node.name, nodePath(node.name, 'capabilities', 'os'));
      return;
    }
    v = v.user;
  } else if (prop === 'preemtible_instance' || prop === 'sgx') {
    v = v === true || v === 'true' ? 'yes' : 'no';
  } else if (typeof v === 'boolean') {
    v = v ? 'yes' : 'no';
  }
  if (typeof v !== 'number' && typeof v !== 'string') v = JSON.stringify(v);
  operator ??= typeof v === 'number' ? '>=' : '=';
  if (typeof v === 'string' && operator !== '=' && !feature.includes('version')) operator = '=';
  try {
    sys.addFeature(new Feature(feature, operator, v as string | number), 'other');
  } catch (e) {
    problem(t, `Invalid value for "${prop}": ${(e as Error).message}`, node.name);
  }
}

/** Ansible Galaxy roles and collections of a node's artifacts (type chain, then template). */
export function galaxyArtifacts(node: NodeTemplate): { kind: 'roles' | 'collections'; file: string }[] {
  const out: { kind: 'roles' | 'collections'; file: string }[] = [];
  for (const a of Object.values(node.artifacts)) {
    if (!isMap(a) || typeof a.file !== 'string' || a.file === '') continue;
    if (a.type === 'tosca.artifacts.AnsibleGalaxy.role') out.push({ kind: 'roles', file: a.file });
    else if (a.type === 'tosca.artifacts.AnsibleGalaxy.collection' || a.type === 'tosca.artifacts.AnsibleGalaxy.collections') {
      out.push({ kind: 'collections', file: a.file });
    }
  }
  return out;
}

function addApplications(t: Translation, sys: System, compute: NodeTemplate): void {
  const seen = new Set<string>();
  for (const other of t.topo.nodes.values()) {
    const host = isCompute(t.topo, other) ? other : findHost(t.topo, other);
    if (host !== compute) continue;
    for (const a of galaxyArtifacts(other)) {
      const name = `ansible.${a.kind}.${a.file}`;
      if (seen.has(name)) continue;
      seen.add(name);
      sys.addContains('disk.0.applications', new Features([new Feature('name', '=', name)]), 'other');
    }
  }
}

/** `_get_placement_property`: the first Placement policy that targets the node (or a group with it). */
export function placement(t: Translation, nodeName: string, prop: string): string | undefined {
  for (const p of t.topo.policies) {
    if (!t.topo.types.isA('policy_types', p.type, 'tosca.policies.Placement')) continue;
    const nodes: string[] = [];
    for (const target of p.targets) {
      const g = t.topo.groups[target];
      if (g) nodes.push(...(Array.isArray(g.members) ? g.members.filter((m): m is string => typeof m === 'string') : []));
      else nodes.push(target);
    }
    if (!nodes.includes(nodeName)) continue;
    const v = value(t, p.properties[prop]);
    if (v !== null && v !== undefined && v !== '') return String(v);
  }
  return undefined;
}

/** BlockStorage attached with `local_storage` (AttachesTo): `disk.N.*` in requirement order. */
function addDisks(t: Translation, sys: System, node: NodeTemplate): void {
  let n = 1;
  for (const r of node.requirements) {
    if (!r.node || !relIsA(t.topo, r.relationship, 'tosca.relationships.AttachesTo')) continue;
    const storage = t.topo.nodes.get(r.node);
    if (!storage || rootOf(t.topo, storage) !== 'tosca.nodes.BlockStorage') continue;
    const size = value(t, storage.properties.size, storage);
    const volumeId = value(t, storage.properties.volume_id, storage);
    const snapshotId = value(t, storage.properties.snapshot_id, storage);
    const bytes = size === null || size === undefined || size === '' ? undefined : sizeInBytes(size);
    if (!bytes && !volumeId && !snapshotId) continue;
    if (volumeId) sys.setValue(`disk.${n}.image.url`, String(volumeId));
    else if (snapshotId) sys.setValue(`disk.${n}.image.url`, String(snapshotId));
    if (bytes) sys.setValue(`disk.${n}.size`, bytes);
    const type = value(t, storage.properties.type, storage);
    if (type) sys.setValue(`disk.${n}.type`, String(type));
    const location = value(t, r.relProperties.location, node);
    if (location) {
      sys.setValue(`disk.${n}.mount_path`, String(location));
      const fs = value(t, r.relProperties.fs_type, node);
      sys.setValue(`disk.${n}.fstype`, fs ? String(fs) : 'ext4');
    }
    const device = value(t, r.relProperties.device, node);
    if (device) sys.setValue(`disk.${n}.device`, String(device));
    n++;
  }
}

/** The RADL system of a Compute node (networks are added by the network step). */
export function computeSystem(t: Translation, node: NodeTemplate): System {
  const sys = new System(node.name);
  for (const cap of ['os', 'host']) {
    const props = node.capabilities[cap];
    if (!props) continue;
    for (const [prop, raw] of Object.entries(props)) {
      if (PROPERTY_MAP[prop] && raw !== null && raw !== undefined) addCapabilityFeature(t, sys, node, prop, raw);
    }
  }
  const instanceName = value(t, node.properties.instance_name, node);
  sys.setValue('instance_name', typeof instanceName === 'string' && instanceName ? instanceName : node.name);
  if ('tags' in node.properties) {
    const tags = value(t, node.properties.tags, node);
    if (tags !== null && tags !== undefined) {
      if (!isMap(tags)) problem(t, 'tags property must be a dictionary.', node.name, nodePath(node.name, 'properties', 'tags'));
      else if (Object.keys(tags).length > 0) {
        sys.setValue(
          'instance_tags',
          Object.entries(tags)
            .map(([k, v]) => `${k}=${String(v)}`)
            .join(','),
        );
      }
    }
  }
  const az = placement(t, node.name, 'availability_zone');
  if (az) sys.setValue('availability_zone', az);
  addApplications(t, sys, node);
  addDisks(t, sys, node);
  return sys;
}

/**
 * `scalable` count: count | default_instances | min_instances (the first non-null, type defaults
 * included), else 1; and the removal_list.
 */
export function scalable(t: Translation, node: NodeTemplate): { count: number; removalList: unknown[] } {
  const props = node.capabilities.scalable ?? {};
  const num = (key: string): number | undefined => {
    const v = props[key] === undefined || props[key] === null ? undefined : value(t, props[key], node);
    if (typeof v === 'number') return v;
    return typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : undefined;
  };
  const count = num('count') ?? num('default_instances') ?? num('min_instances') ?? 1;
  const rl = props.removal_list === undefined ? undefined : value(t, props.removal_list, node);
  return { count, removalList: Array.isArray(rl) ? rl : [] };
}
