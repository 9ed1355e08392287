/**
 * `get_attribute` against the live VMs (GET …/outputs): addresses, ids, credentials, TLS certificates,
 * contextualization logs and the Ansible output parsed from them, FaaS / container endpoints.
 */
import type { EvalContext } from '#tosca/functions';
import type { NodeTemplate, Topology } from '#tosca/template';
import { isMap } from '#tosca/yaml';

/** What outputs need of a VM. */
export interface LiveVm {
  /** IM VM id. */
  id: number;
  /** Provider id of the VM. */
  providerId?: string;
  publicIps: string[];
  privateIps: string[];
  credential?: { user?: string; token_type: string; token?: string };
  ctxtLog?: string;
  /** dns name → {cert, key}. */
  tlsCertificates?: Record<string, { cert: string; key: string }>;
  /** The VM's system features (for FaaS/container endpoints). */
  features?: Record<string, unknown>;
}

export interface LiveInfo {
  /** Non-destroyed VMs of a RADL system, in id order. */
  vms(system: string): LiveVm[];
  /** Name of the RADL system of a container/FaaS node, when it differs from the node name. */
  systemOf?(node: string): string | undefined;
}

export function isIndigoCompute(topo: Topology, node: NodeTemplate): boolean {
  return node.known && topo.types.isA('node_types', node.type, 'tosca.nodes.indigo.Compute');
}

export function pick<T>(list: T[], index: number | undefined, asList: boolean): T | T[] | null {
  if (index !== undefined) return list[index] ?? null;
  if (asList) return list;
  return list[0] ?? null;
}

export function liveAttribute(ctx: EvalContext, node: NodeTemplate, compute: NodeTemplate, attr: string, capability: string | undefined, index: number | undefined): unknown {
  const live = ctx.live as LiveInfo;
  const system = live.systemOf?.(node.name) ?? compute.name;
  const vms = live.vms(system);
  const indigo = isIndigoCompute(ctx.topo, compute);
  switch (attr) {
    case 'tosca_id':
      return pick(
        vms.map((v) => v.providerId ?? String(v.id)),
        index,
        indigo,
      );
    case 'private_address':
      return pick(
        vms.map((v) => v.privateIps[0] ?? null),
        index,
        indigo,
      );
    case 'public_address':
      return pick(
        vms.map((v) => v.publicIps[0] ?? null),
        index,
        indigo,
      );
    case 'ip_address':
      return pick(
        vms.map((v) => v.publicIps[0] ?? v.privateIps[0] ?? null),
        index,
        false,
      );
    case 'credential':
      return pick(
        vms.map((v) => (v.credential ? { ...v.credential } : null)),
        index,
        indigo || capability !== undefined,
      );
    case 'tls_certificates':
      return pick(
        vms.map((v) => v.tlsCertificates ?? {}),
        index,
        false,
      );
    case 'ctxt_log':
      return pick(
        vms.map((v) => v.ctxtLog ?? ''),
        index,
        false,
      );
    case 'ansible_output':
      return pick(
        vms.map((v) => parseAnsibleOutput(v.ctxtLog ?? '')),
        index,
        false,
      );
    case 'endpoint':
    case 'endpoints': {
      const f = vms[0]?.features;
      const v = f?.[attr === 'endpoint' ? 'endpoint' : 'endpoints'];
      return attr === 'endpoints' ? (Array.isArray(v) ? (index !== undefined ? (v[index] ?? null) : v) : v === undefined ? null : [v]) : (v ?? null);
    }
    default: {
      const defaults = ctx.topo.types.merged('node_types', node.type, 'attributes');
      const d = defaults[attr];
      return isMap(d) && 'default' in d ? d.default : null;
    }
  }
}

/**
 * Ansible output of the contextualization log: per step (`Launch task: <name>`, the runner's
 * `TASK [<step>]` headers) the tasks and their state and output.
 */
export function parseAnsibleOutput(log: string): Record<string, { tasks: Record<string, { state: string; output: string }> }> {
  const out: Record<string, { tasks: Record<string, { state: string; output: string }> }> = {};
  let step: string | undefined;
  let task: string | undefined;
  const lines = log.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const s = /Launch task: (\S+)/.exec(line);
    if (s) {
      step = s[1];
      out[step] ??= { tasks: {} };
      continue;
    }
    const t = /^TASK \[(.+?)\]/.exec(line);
    if (t) {
      task = t[1];
      continue;
    }
    const r = /^(ok|changed|failed|fatal|skipping): \[[^\]]*\](?:: \w+!)?(?: => (.*))?$/.exec(line);
    if (!r || !step || !task) continue;
    let output = r[2] ?? '';
    // Ansible's result dump may span lines: take them while the braces are open.
    if (output.startsWith('{')) {
      let depth = 0;
      let text = output;
      const count = (x: string) => {
        for (const c of x) depth += c === '{' ? 1 : c === '}' ? -1 : 0;
      };
      count(output);
      while (depth > 0 && i + 1 < lines.length) {
        i++;
        text += `\n${lines[i]}`;
        count(lines[i]);
      }
      try {
        const j = JSON.parse(text) as Record<string, unknown>;
        output = typeof j.msg === 'string' ? j.msg : typeof j.stdout === 'string' ? j.stdout : text;
      } catch {
        output = text;
      }
    }
    out[step].tasks[task] = { state: r[1] === 'fatal' ? 'failed' : r[1], output };
  }
  return out;
}

