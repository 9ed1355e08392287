/**
 * Shared helpers of the infra tests (CDK assertions).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { RemovalPolicy } from 'aws-cdk-lib';
import { REPO_ROOT } from '../../infra/lib/bundling.ts';
import { Storage } from '../../infra/lib/constructs/storage.ts';

/** The context of cdk.json (feature flags and defaults), as the CLI would pass it. */
export function cdkJsonContext(): Record<string, unknown> {
  return (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
}

/** Only the CDK feature flags of cdk.json (keys with '@' or ':'). */
export function featureFlags(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(cdkJsonContext()).filter(([k]) => /[@:]/.test(k)));
}

/** An empty stack in an app with the project's feature flags. */
export function testStack(id = 'Test'): Stack {
  return new Stack(new App({ context: featureFlags() }), id);
}

export function testStorage(stack: Stack): Storage {
  return new Storage(stack, 'Storage', { removalPolicy: RemovalPolicy.DESTROY });
}

export const FIXTURE_STATE_MACHINES = join(REPO_ROOT, 'test', 'infra', 'fixtures', 'statemachines');

export interface IamStatement {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: unknown;
}

/** Every statement of every policy: AWS::IAM::Policy, AWS::IAM::ManagedPolicy and roles' inline policies. */
export function iamStatements(template: Template): { source: string; statement: IamStatement }[] {
  const out: { source: string; statement: IamStatement }[] = [];
  const push = (source: string, doc: { Statement?: IamStatement[] } | undefined) => {
    for (const statement of doc?.Statement ?? []) out.push({ source, statement });
  };
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::Policy'))) push(id, r.Properties.PolicyDocument);
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::ManagedPolicy'))) push(id, r.Properties.PolicyDocument);
  for (const [id, r] of Object.entries(template.findResources('AWS::IAM::Role'))) {
    for (const p of (r.Properties.Policies ?? []) as { PolicyDocument: { Statement?: IamStatement[] } }[]) {
      push(`${id} (inline)`, p.PolicyDocument);
    }
  }
  return out;
}

export const actionsOf = (s: IamStatement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** Actions `*` or `service:*` (any action of a service). */
export function wildcardActions(template: Template): string[] {
  return iamStatements(template).flatMap(({ source, statement }) =>
    actionsOf(statement)
      .filter((a) => a === '*' || /^[a-z0-9-]+:\*$/i.test(a))
      .map((a) => `${source}: ${a}`),
  );
}

/** Logical id of the only resource of a type whose id starts with a prefix. */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
  return ids[0];
}

/** The statements of the policies attached to a role (by the role's logical id). */
export function statementsOfRole(template: Template, roleLogicalId: string): IamStatement[] {
  const out: IamStatement[] = [];
  for (const r of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = (r.Properties.Roles ?? []) as { Ref?: string }[];
    if (roles.some((x) => x.Ref === roleLogicalId)) out.push(...(r.Properties.PolicyDocument.Statement as IamStatement[]));
  }
  return out;
}

/** JSON text of a value: handy to check that a token refers to a resource. */
export const json = (v: unknown): string => JSON.stringify(v);
