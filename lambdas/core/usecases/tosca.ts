/**
 * TOSCA in the use cases: the document fetcher of the services, loading a posted template (with the
 * caller's OIDC token for `access_token()`), the RADL it deploys (with the current VMs on
 * add-resources), the live VM data its outputs read, and the stored template with current counts.
 */
import { errors } from '#core/errors';
import type { InfraRecord, Services, VmRecord } from '#core/types';
import type { Caller } from '#core/auth';
import type { Radl } from '#radl/index';
import { parseRadlJson } from '#radl/index';
import {
  evaluateOutputs,
  loadTosca,
  mergeTosca,
  parseToscaDocument,
  serializeTosca,
  templateWithCounts,
  toRadl,
  type DocumentFetcher,
  type LiveInfo,
  type LiveVm,
  type Tosca,
} from '#tosca/index';
import { toscaFetcher } from '#tosca/url-fetcher';
import { dumpYaml } from '#tosca/yaml';

const fetchers = new WeakMap<object, DocumentFetcher>();

/** The services' document fetcher (the TOSCA_* options when none was given). */
export function documentsOf(services: Pick<Services, 'config' | 'documents'>): DocumentFetcher {
  if (services.documents) return services.documents;
  let f = fetchers.get(services.config);
  if (!f) {
    f = toscaFetcher(services.config);
    fetchers.set(services.config, f);
  }
  return f;
}

/** The caller's OIDC access token, when the IM identity came from one. */
function accessToken(caller?: Caller): string | undefined {
  const item = caller?.items.find((i) => i.type === 'InfrastructureManager' && typeof i.token === 'string' && i.token !== '');
  return item?.token;
}

/**
 * Loads (parses, resolves, checks) a template; ToscaError (400) with every problem. `stored`: a template
 * read back from the store (outputs), whose `access_token()` inputs are not resolved again.
 */
export function loadInput(services: Pick<Services, 'config' | 'documents'>, text: string, caller?: Caller, stored = false): Promise<Tosca> {
  const token = accessToken(caller) ?? (stored ? 'access_token()' : undefined);
  const repo = services.config.OAIPMH_REPO_BASE_IDENTIFIER_URL;
  return loadTosca(text, { fetcher: documentsOf(services), ...(token ? { accessToken: token } : {}), ...(repo ? { repoBase: repo } : {}) });
}

/** Node kinds that need a connector this server may not have. */
function checkServable(services: Pick<Services, 'connectors'>, tosca: Tosca): void {
  const types = tosca.topo.types;
  for (const node of tosca.topo.nodes.values()) {
    if (!node.known) continue;
    if (types.isA('node_types', node.type, 'tosca.nodes.Container.Application') && !services.connectors.get('Kubernetes')) {
      throw errors.badRequest(
        `Error parsing TOSCA template: node "${node.name}" is a container (${node.type}): it is deployed by the Kubernetes connector, which this server does not have.`,
      );
    }
  }
}

/** Current VM ids (oldest first) per system, from live VM records. */
export function vmsBySystem(vms: VmRecord[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const vm of vms) {
    if (vm.destroyed || vm.deleting) continue;
    const l = out.get(vm.systemName) ?? [];
    l.push(vm.vmId);
    out.set(vm.systemName, l);
  }
  return out;
}

/** The RADL a create deploys. */
export function createRadl(services: Pick<Services, 'connectors'>, tosca: Tosca, infId?: string): Radl {
  checkServable(services, tosca);
  return toRadl(tosca, infId ? { containerId: infId.replace(/-/g, '') } : {}).radl;
}

/** add-resources: the stored template merged with the posted one, and the RADL of the differences. */
export async function addResourcesRadl(
  services: Pick<Services, 'config' | 'documents' | 'connectors'>,
  inf: InfraRecord,
  vms: VmRecord[],
  text: string,
  caller: Caller,
): Promise<{ tosca: Tosca; stored: string; radl: Radl; removeVmIds: number[] }> {
  const posted = parseToscaDocument(text);
  const merged = inf.tosca ? mergeTosca(parseToscaDocument(inf.tosca), posted) : posted;
  const tosca = await loadInput(services, dumpYaml(merged, { lineWidth: 80 }), caller);
  checkServable(services, tosca);
  const { radl, removeVmIds } = toRadl(tosca, { current: vmsBySystem(vms), containerId: inf.id.replace(/-/g, '') });
  return { tosca, stored: serializeTosca(tosca), radl, removeVmIds };
}

/** What outputs read of a VM record. */
function liveVm(vm: VmRecord): LiveVm {
  const out: LiveVm = { id: vm.vmId, publicIps: [], privateIps: [] };
  if (vm.providerId) out.providerId = vm.providerId;
  let radl: Radl;
  try {
    radl = parseRadlJson(vm.info);
  } catch {
    return out;
  }
  const sys = radl.systems[0];
  if (!sys) return out;
  const ids = sys.getNetworkIds();
  ids.forEach((netId, i) => {
    const ip = sys.getString(`net_interface.${i}.ip`);
    if (!ip) return;
    if (radl.getNetworkById(netId)?.isPublic()) out.publicIps.push(ip);
    else out.privateIps.push(ip);
  });
  const user = sys.getString('disk.0.os.credentials.username');
  const key = sys.getString('disk.0.os.credentials.private_key');
  const password = sys.getString('disk.0.os.credentials.password');
  if (user || key || password) {
    out.credential = key ? { user: user ?? '', token_type: 'private_key', token: key } : { user: user ?? '', token_type: 'password', token: password ?? '' };
  }
  const certs: Record<string, { cert: string; key: string }> = {};
  for (let i = 0; i < ids.length; i++) {
    for (let m = 0; sys.hasFeature(`net_interface.${i}.dns.${m}.name`); m++) {
      const name = sys.getString(`net_interface.${i}.dns.${m}.name`) ?? '';
      const cert = sys.getString(`net_interface.${i}.dns.${m}.tls.certificate`);
      const k = sys.getString(`net_interface.${i}.dns.${m}.tls.private_key`);
      if (cert && k) certs[name] = { cert, key: k };
    }
  }
  if (Object.keys(certs).length > 0) out.tlsCertificates = certs;
  const features: Record<string, unknown> = {};
  for (const p of ['endpoint', 'endpoints']) {
    const v = sys.getValue(p);
    if (v !== undefined) features[p] = v;
  }
  out.features = features;
  return out;
}

/** The outputs of a TOSCA infrastructure against its live VMs (their contextualization logs included). */
export async function infrastructureOutputs(services: Services, inf: InfraRecord & { tosca: string }, vms: VmRecord[]): Promise<Record<string, unknown>> {
  const tosca = await loadInput(services, inf.tosca, undefined, true);
  const bySystem = new Map<string, LiveVm[]>();
  const needLogs = /ctxt_log|ansible_output/.test(inf.tosca);
  for (const vm of vms) {
    if (vm.destroyed) continue;
    const l = liveVm(vm);
    if (needLogs) l.ctxtLog = await services.store.getLog(inf.id, vm.vmId);
    const list = bySystem.get(vm.systemName) ?? [];
    list.push(l);
    bySystem.set(vm.systemName, list);
  }
  const live: LiveInfo = { vms: (system) => bySystem.get(system) ?? [] };
  return evaluateOutputs(tosca, live);
}

/** The stored template with each system's current number of VMs as its count. */
export function toscaWithCounts(inf: InfraRecord & { tosca: string }, vms: VmRecord[]): string {
  const counts = new Map<string, number>();
  let radl: Radl | undefined;
  try {
    radl = parseRadlJson(inf.radl);
  } catch {
    radl = undefined;
  }
  for (const s of radl?.systems ?? []) counts.set(s.name, 0);
  for (const [name, ids] of vmsBySystem(vms)) counts.set(name, ids.length);
  return templateWithCounts(inf.tosca, counts);
}
