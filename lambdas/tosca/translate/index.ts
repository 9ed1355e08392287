/**
 * TOSCA topology → RADL, in IM's order: networks first; then every node by its root type (Compute →
 * system + deploy, containers, FaaS functions, AnsibleHost, everything else → a configure on its host);
 * contextualize items by dependency level; deploys ordered, private networks split per cloud, and
 * missing interfaces completed.
 */
import { AnsibleHost, Contextualize, Deploy, Description, Radl, type ContextualizeItem, type System } from '#radl/index';
import { findHost, rootOf } from '#tosca/functions';
import type { NodeTemplate, Topology } from '#tosca/template';
import { isMap } from '#tosca/yaml';
import { computeSystem, placement, scalable } from '#tosca/translate/compute';
import { configureOf, dependencyLevel } from '#tosca/translate/configure';
import { containerSystem } from '#tosca/translate/containers';
import { faasSystem, oscarConfigure, oscarHost } from '#tosca/translate/faas';
import { addNodeNets, completeNetworks, networkFromNode, orderDeploys, splitPrivateNetworks } from '#tosca/translate/network';
import { nodePath, problem, value, type Translation } from '#tosca/translate/context';

export interface RadlOptions {
  /** Current VMs (ids, oldest first) per system: the deploy counts become differences (add-resources). */
  current?: Map<string, number[]>;
  /** The systems already deployed, for the per-cloud split of private networks. */
  deployed?: { system: System; radl: Radl }[];
  /** Suffix source of container system names (IM: the first 8 characters of an id). */
  containerId: string;
}

function count(t: Translation, node: NodeTemplate, system: string, removalList: unknown[], desired: number, cloud?: string): void {
  const cur = t.current?.get(system) ?? [];
  const n = desired - cur.length;
  if (n > 0) t.radl.deploys.push(new Deploy(system, n, cloud));
  if (n < 0) {
    const wanted = removalList.map((x) => Number(x)).filter((x) => Number.isInteger(x) && cur.includes(x));
    // removal_list first; the rest from the oldest VMs of the system.
    const ids = [...wanted, ...cur.filter((id) => !wanted.includes(id))].slice(0, -n);
    t.removals.push(...ids);
  }
  void node;
}

function ansibleHost(t: Translation, node: NodeTemplate): void {
  if (t.radl.ansibleHosts.length > 0) {
    problem(t, 'Only one tosca.nodes.im.AnsibleHost node can be defined.', node.name, nodePath(node.name));
    return;
  }
  const a = new AnsibleHost('ansible_host');
  const host = value(t, node.properties.host, node);
  if (host) a.setValue('host', String(host));
  const cred = value(t, node.properties.credential, node);
  if (isMap(cred)) {
    if (cred.user) a.setValue('credentials.username', String(cred.user));
    const type = typeof cred.token_type === 'string' && cred.token_type ? cred.token_type : 'password';
    if (cred.token) a.setValue(type === 'private_key' ? 'credentials.private_key' : 'credentials.password', String(cred.token));
  }
  t.radl.ansibleHosts.push(a);
}

/** Builds the RADL of a topology (problems are pushed to `t.problems`). */
export function buildRadl(t: Translation, topo: Topology, opts: RadlOptions): void {
  const radl = t.radl;
  t.containerId = opts.containerId;
  const items: ContextualizeItem[] = [];
  for (const node of topo.nodes.values()) {
    if (node.known && rootOf(topo, node) === 'tosca.nodes.network.Network') radl.networks.push(networkFromNode(t, node));
  }
  for (const node of topo.nodes.values()) {
    if (!node.known) continue;
    const root = rootOf(topo, node);
    if (root === 'tosca.nodes.BlockStorage' || root === 'tosca.nodes.network.Port' || root === 'tosca.nodes.network.Network') continue;
    let compute: NodeTemplate | undefined;
    if (root === 'tosca.nodes.Compute') {
      const sys = computeSystem(t, node);
      addNodeNets(t, node, sys);
      radl.systems.push(sys);
      const { count: desired, removalList } = scalable(t, node);
      count(t, node, sys.name, removalList, desired, placement(t, node.name, 'cloud_id'));
      compute = node;
    } else if (topo.types.isA('node_types', node.type, 'tosca.nodes.Container.Application')) {
      const sys = containerSystem(t, node, opts.containerId);
      radl.systems.push(sys);
      const { count: desired, removalList } = scalable(t, node);
      if (desired > 1) problem(t, 'The scalable count of a container can only be 0 or 1.', node.name, nodePath(node.name, 'capabilities', 'scalable'));
      count(t, node, sys.name, removalList, Math.min(desired, 1), placement(t, node.name, 'cloud_id'));
      continue;
    } else if (topo.types.isA('node_types', node.type, 'tosca.nodes.aisprint.FaaS.Function')) {
      const { count: desired, removalList } = scalable(t, node);
      if (desired > 1) problem(t, 'The scalable count of a function can only be 0 or 1.', node.name, nodePath(node.name, 'capabilities', 'scalable'));
      const oscar = oscarHost(t, node);
      if (oscar) {
        const { conf, compute: host } = oscarConfigure(t, node, oscar, desired);
        radl.configures.push(conf);
        if (host) items.push({ systemId: host.name, configureId: conf.name, step: dependencyLevel(t, node) });
      } else {
        const sys = faasSystem(t, node);
        radl.systems.push(sys);
        count(t, node, sys.name, removalList, Math.min(desired, 1), placement(t, node.name, 'cloud_id'));
      }
      continue;
    } else if (topo.types.isA('node_types', node.type, 'tosca.nodes.im.AnsibleHost')) {
      ansibleHost(t, node);
      continue;
    } else {
      compute = findHost(topo, node);
    }
    const conf = configureOf(t, node, compute);
    if (!conf) continue;
    radl.configures.push(conf);
    if (compute) items.push({ systemId: compute.name, configureId: conf.name, step: dependencyLevel(t, node) });
  }
  radl.contextualize = new Contextualize(items);
  orderDeploys(radl);
  splitPrivateNetworks(radl, opts.deployed);
  completeNetworks(radl);
  const md = topo.metadata;
  const name = value(t, md.infra_name);
  const namespace = value(t, md.namespace);
  if ((name !== null && name !== undefined) || (namespace !== null && namespace !== undefined)) {
    const d = new Description('desc');
    if (name !== null && name !== undefined) d.setValue('name', String(name));
    if (namespace !== null && namespace !== undefined) d.setValue('namespace', String(namespace));
    radl.description = d;
  }
}

export function newTranslation(topo: Topology, inputs: Record<string, unknown>, documents: Map<string, string | Error>, current?: Map<string, number[]>): Translation {
  return { topo, inputs, documents, radl: new Radl(), problems: [], removals: [], ...(current ? { current } : {}) };
}
