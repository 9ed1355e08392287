/**
 * FaaS functions (`tosca.nodes.aisprint.FaaS.Function`, count 0 or 1): hosted on an OSCAR
 * SoftwareComponent → a configure `oscar_<node>` that creates (count 0: deletes) the service through
 * the OSCAR API from the cluster's master; otherwise a RADL system for the OSCAR / Lambda connectors.
 */
import { Configure, Feature, System } from '#radl/index';
import { findHost, hostsOf } from '#tosca/functions';
import type { NodeTemplate } from '#tosca/template';
import { isMap } from '#tosca/yaml';
import { sizeInBytes } from '#tosca/translate/compute';
import { value, type Translation } from '#tosca/translate/context';

/** Python's json.dumps layout (`", "` and `": "`, non-ASCII escaped). */
export function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (typeof v === 'number' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (isMap(v)) return `{${Object.entries(v).map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`).join(', ')}}`;
  return JSON.stringify(String(v));
}

const empty = (v: unknown) => v === null || v === undefined || (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0);

/** The OSCAR service definition of a function node. */
export function oscarService(t: Translation, node: NodeTemplate): Record<string, unknown> {
  const res: Record<string, unknown> = {};
  for (const [k, raw] of Object.entries(node.properties)) {
    const v = value(t, raw, node);
    if (empty(v)) continue;
    switch (k) {
      case 'cpu':
        res.cpu = String(v);
        break;
      case 'env_variables':
        res.environment = { Variables: v };
        break;
      case 'exposed':
        res.expose = v;
        break;
      case 'enable_sgx':
        break;
      default:
        res[k] = v;
    }
  }
  return res;
}

const squote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const dquote = (s: string) => JSON.stringify(s);

/** The OSCAR host of a function (the OSCAR SoftwareComponent it is hosted on), if any. */
export function oscarHost(t: Translation, node: NodeTemplate): NodeTemplate | undefined {
  return hostsOf(t.topo, node, false).find((h) => h.known && t.topo.types.isA('node_types', h.type, 'tosca.nodes.indigo.OSCAR'));
}

/** The configure that creates (or deletes) the function's service on its OSCAR cluster. */
export function oscarConfigure(t: Translation, node: NodeTemplate, oscar: NodeTemplate, count: number): { conf: Configure; compute?: NodeTemplate } {
  const compute = findHost(t.topo, oscar);
  const dns = value(t, oscar.properties.dns_host, oscar);
  const host = typeof dns === 'string' && dns !== '' && dns !== "''" ? dns : compute ? `{{ hostvars[groups['${compute.name}'][0]]['IM_NODE_PUBLIC_IP'] }}` : 'localhost';
  const password = value(t, oscar.properties.password, oscar);
  const service = oscarService(t, node);
  const lines = [
    '  - tasks:',
    `    - include_tasks: utils/tasks/${count > 0 ? 'oscar_function' : 'del_oscar_function'}.yml`,
    '      vars:',
    `        oscar_endpoint: ${dquote(`https://${host}`)}`,
    `        oscar_username: ${dquote('oscar')}`,
    `        oscar_password: ${dquote(String(password ?? ''))}`,
  ];
  if (count > 0) lines.push(`        oscar_service_json: ${squote(pyJson(service))}`);
  else lines.push(`        oscar_service_name: ${dquote(String(service.name ?? node.name))}`);
  return { conf: new Configure(`oscar_${node.name}`, `${lines.join('\n')}\n`), ...(compute ? { compute } : {}) };
}

/** A function not hosted on OSCAR: a system for the OSCAR / Lambda connectors. */
export function faasSystem(t: Translation, node: NodeTemplate): System {
  const sys = new System(node.name);
  const p = (k: string) => value(t, node.properties[k], node);
  const name = p('name');
  sys.setValue('name', typeof name === 'string' && name ? name : node.name);
  const cpu = p('cpu');
  if (typeof cpu === 'number') sys.addFeature(new Feature('cpu.count', '>=', cpu), 'other');
  const mem = p('memory');
  const bytes = typeof mem === 'string' ? sizeInBytes(mem.replace(/([KMGT])i$/, '$1iB').replace(/([KMGT])$/, '$1B')) : undefined;
  if (bytes !== undefined) sys.addFeature(new Feature('memory.size', '>=', bytes), 'other');
  const image = p('image');
  if (typeof image === 'string' && image) sys.setValue('disk.0.image.url', image);
  const script = p('script');
  if (typeof script === 'string' && script) sys.setValue('script', script);
  if (p('alpine') === true) sys.setValue('alpine', 'yes');
  if (p('enable_gpu') === true) sys.addFeature(new Feature('gpu.count', '>=', 1), 'other');
  if (p('enable_sgx') === true) sys.setValue('cpu.sgx', 'yes');
  const env = p('env_variables');
  if (isMap(env) && Object.keys(env).length > 0) {
    sys.setValue(
      'environment.variables',
      Object.entries(env)
        .map(([k, v]) => `${k}:${String(v)}`)
        .join(','),
    );
  }
  const io = (kind: 'input' | 'output') => {
    const list = p(kind);
    if (!Array.isArray(list)) return;
    list.forEach((item, i) => {
      if (!isMap(item)) return;
      for (const [k, v] of Object.entries(item)) if (v !== null && v !== undefined) sys.setValue(`${kind}.${i}.${k}`, String(v));
    });
  };
  io('input');
  io('output');
  const providers = p('storage_providers');
  if (isMap(providers)) {
    for (const kind of ['minio', 's3', 'onedata']) {
      const m = providers[kind];
      if (!isMap(m)) continue;
      Object.entries(m).forEach(([id, conf], i) => {
        sys.setValue(`${kind}.${i}.id`, id);
        if (isMap(conf)) for (const [k, v] of Object.entries(conf)) if (v !== null && v !== undefined) sys.setValue(`${kind}.${i}.${k}`, String(v));
      });
    }
  }
  const exposed = p('exposed');
  if (isMap(exposed)) for (const [k, v] of Object.entries(exposed)) if (v !== null && v !== undefined) sys.setValue(`expose.${k}`, String(v));
  const secrets = p('image_pull_secrets');
  if (Array.isArray(secrets) && secrets.length > 0) sys.setValue('image_pull_secrets', secrets.map(String).join(','));
  return sys;
}
