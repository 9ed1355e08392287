/**
 * Docker containers for the Kubernetes connector: `tosca.nodes.Container.Application.Docker` hosted on a
 * `tosca.nodes.Container.Runtime.Docker` → a container system (image, files, environment, command,
 * cpus, memory, GPUs, volumes, published and exposed ports).
 */
import { Feature, Network, System } from '#radl/index';
import { hostsOf } from '#tosca/functions';
import type { NodeTemplate } from '#tosca/template';
import { isMap } from '#tosca/yaml';
import { sizeInBytes } from '#tosca/translate/compute';
import { nodePath, problem, value, type Translation } from '#tosca/translate/context';

/** `<name with special chars as '-'>-<first 8 chars of the id>` (Kubernetes object names). */
export function containerSystemName(node: string, id: string): string {
  return `${node.replace(/[^A-Za-z0-9-]/g, '-')}-${id.slice(0, 8)}`;
}

function outports(ports: unknown[]): string {
  return ports
    .filter(isMap)
    .map((p) => {
      const protocol = typeof p.protocol === 'string' ? p.protocol : 'tcp';
      const source = p.source ?? p.target;
      const target = p.target ?? p.source;
      return `${String(source)}/${protocol}-${String(target)}/${protocol}`;
    })
    .join(',');
}

export function containerSystem(t: Translation, node: NodeTemplate, id: string): System {
  const name = containerSystemName(node.name, id);
  const sys = new System(name);
  const runtime = hostsOf(t.topo, node, false)[0];
  let image: string | undefined;
  let disk = 1;
  for (const a of Object.values(node.artifacts)) {
    if (!isMap(a)) continue;
    const file = value(t, a.file, node);
    if (a.type === 'tosca.artifacts.Deployment.Image.Container.Docker' && typeof file === 'string' && file) {
      image = file;
      if (typeof a.repository === 'string') {
        const repos = t.topo.doc.repositories;
        const repo = isMap(repos) ? repos[a.repository] : undefined;
        const url = typeof repo === 'string' ? repo : isMap(repo) && typeof repo.url === 'string' ? repo.url : undefined;
        if (url) image = `${url.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '')}/${file}`;
      }
    } else if (a.type === 'tosca.artifacts.File' && typeof a.deploy_path === 'string') {
      const props = isMap(a.properties) ? a.properties : {};
      let content = typeof props.content === 'string' ? props.content : undefined;
      if (content === undefined && typeof a.file === 'string') {
        const doc = t.documents.get(a.file);
        if (typeof doc === 'string') content = doc;
        else problem(t, `Error downloading the file '${a.file}': ${doc instanceof Error ? doc.message : 'not fetched'}`, node.name);
      }
      if (content !== undefined) {
        sys.setValue(`disk.${disk}.content`, content);
        sys.setValue(`disk.${disk}.mount_path`, a.deploy_path);
        disk++;
      }
    }
  }
  if (!image) problem(t, 'No image specified for K8s container.', node.name, nodePath(node.name, 'artifacts'));
  else sys.setValue('disk.0.image.url', `docker://${image}`);
  const env = value(t, node.properties.environment, node);
  if (isMap(env) && Object.keys(env).length > 0) {
    sys.setValue(
      'environment.variables',
      Object.entries(env)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(','),
    );
  }
  const command = value(t, node.properties.command, node);
  if (Array.isArray(command) && command.length > 0) sys.setValue('command', command.map(String));
  else if (typeof command === 'string' && command) sys.setValue('command', command);
  if (runtime) {
    const host = runtime.capabilities.host ?? {};
    const h = (k: string) => (host[k] === undefined || host[k] === null ? undefined : value(t, host[k], runtime));
    const cpus = h('num_cpus');
    if (typeof cpus === 'number') sys.addFeature(new Feature('cpu.count', '>=', cpus), 'other');
    const gpus = h('num_gpus');
    if (typeof gpus === 'number') sys.addFeature(new Feature('gpu.count', '>=', gpus), 'other');
    const mem = h('mem_size');
    const bytes = mem === undefined ? undefined : sizeInBytes(mem);
    if (bytes !== undefined) sys.addFeature(new Feature('memory.size', '>=', bytes), 'other');
    const volumes = h('volumes');
    if (Array.isArray(volumes)) {
      for (const v of volumes) {
        const [storageName, path] = String(v).split(':', 2);
        const storage = t.topo.nodes.get(storageName);
        if (!storage || !path) continue;
        const size = value(t, storage.properties.size, storage);
        const b = size === null || size === undefined ? undefined : sizeInBytes(size);
        if (b) sys.setValue(`disk.${disk}.size`, b);
        const vid = value(t, storage.properties.volume_id, storage);
        if (vid) sys.setValue(`disk.${disk}.image.url`, String(vid));
        sys.setValue(`disk.${disk}.mount_path`, path);
        disk++;
      }
    }
    let iface = 0;
    const publish = h('publish_ports');
    if (Array.isArray(publish) && publish.length > 0) {
      const n = new Network(`${name}_pub`);
      n.setValue('outbound', 'yes');
      n.setValue('outports', outports(publish));
      t.radl.networks.push(n);
      sys.setValue(`net_interface.${iface}.connection`, n.id);
      const first = publish[0];
      if (isMap(first) && typeof first.endpoint === 'string' && first.endpoint) sys.setValue(`net_interface.${iface}.dns_name`, first.endpoint);
      iface++;
    }
    const expose = h('expose_ports');
    if (Array.isArray(expose) && expose.length > 0) {
      const n = new Network(`${name}_priv`);
      n.setValue('outbound', 'no');
      n.setValue('outports', outports(expose));
      t.radl.networks.push(n);
      sys.setValue(`net_interface.${iface}.connection`, n.id);
    }
  }
  return sys;
}
