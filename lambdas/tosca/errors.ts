/**
 * TOSCA problems and the one error of the TOSCA package.
 *
 * Every problem of a template is collected (IM stops at the first): each names what it can — the node
 * template, the property — and the line of the YAML where it is. The error message is
 * `Error parsing TOSCA template: <problems>`, one problem per line when there are several.
 * lambdas/core/errors.ts maps it, by name ('ToscaError'), to BAD_REQUEST.
 */

export interface Problem {
  message: string;
  /** Node (or other template entity) the problem is about. */
  node?: string;
  property?: string;
  /** Key path in the YAML, to find the line. */
  path?: (string | number)[];
  line?: number;
}

export const TOSCA_ERROR_PREFIX = 'Error parsing TOSCA template: ';

export function formatProblem(p: Problem): string {
  const where: string[] = [];
  if (p.line !== undefined) where.push(`line ${p.line}`);
  if (p.node !== undefined) where.push(`node "${p.node}"`);
  if (p.property !== undefined) where.push(`property "${p.property}"`);
  return where.length > 0 ? `${where.join(', ')}: ${p.message}` : p.message;
}

export class ToscaError extends Error {
  override readonly name = 'ToscaError';
  readonly problems: Problem[];

  constructor(problems: Problem[] | string) {
    const list = typeof problems === 'string' ? [{ message: problems }] : problems;
    const text = list.length === 1 ? formatProblem(list[0]) : `${list.length} problems:\n${list.map((p) => `  ${formatProblem(p)}`).join('\n')}`;
    super(TOSCA_ERROR_PREFIX + text);
    this.problems = list;
  }
}
