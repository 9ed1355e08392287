/**
 * What the translation steps share: the topology, the input values, the documents fetched for the
 * operations, the RADL being built and the problems found.
 */
import type { Radl } from '#radl/index';
import type { Problem } from '#tosca/errors';
import { evaluate, type EvalContext } from '#tosca/functions';
import type { NodeTemplate, Topology } from '#tosca/template';
import { plain } from '#tosca/yaml';

export interface Translation {
  topo: Topology;
  inputs: Record<string, unknown>;
  /** Playbooks and files by URL (text, or the error that fetching gave). */
  documents: Map<string, string | Error>;
  radl: Radl;
  problems: Problem[];
  /** Current VMs per system (add-resources); absent on create. */
  current?: Map<string, number[]>;
  /** VM ids to remove (scale down). */
  removals: number[];
  /** Suffix source of container system names. */
  containerId?: string;
}

export function evalCtx(t: Translation, self?: NodeTemplate): EvalContext {
  return { topo: t.topo, inputs: t.inputs, problems: t.problems, ...(t.containerId ? { containerId: t.containerId } : {}), ...(self ? { self } : {}) };
}

/** A value with its functions evaluated (Jinja for attributes) and plain numbers. */
export function value(t: Translation, v: unknown, self?: NodeTemplate): unknown {
  return plain(evaluate(v, evalCtx(t, self)));
}

export function problem(t: Translation, message: string, node?: string, path?: (string | number)[]): void {
  t.problems.push({ message, ...(node ? { node } : {}), ...(path ? { path } : {}) });
}

export const nodePath = (name: string, ...rest: (string | number)[]) => ['topology_template', 'node_templates', name, ...rest];
