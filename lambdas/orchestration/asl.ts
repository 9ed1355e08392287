/**
 * The state-machine definitions (statemachines/<workflow>.asl.json) as data: where they live, the
 * `${...}` placeholders the CDK app substitutes (DefinitionSubstitutions), and the configuration
 * option behind each Wait state (the local orchestrator overrides Wait durations with it).
 *
 * The files are valid JSON before and after substitution: placeholders only appear inside JSON
 * strings, and every integer that depends on the configuration is read at run time through a
 * `...Path` field from the output of the flow's first Task (e.g. `MaxConcurrencyPath`).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from '#core/config';
import type { WorkflowName } from '#core/types';

/** Every workflow, one ASL file each. */
export const WORKFLOWS: readonly WorkflowName[] = ['launch', 'destroy', 'remove', 'stop', 'start', 'contextualize'];

/**
 * Every `${Name}` used in the ASL files. The CDK app must give each one a value in
 * DefinitionSubstitutions: TasksFunctionArn = the tasks Lambda's ARN; ContextualizeStateMachineArn =
 * the contextualize state machine's ARN (the launch flow runs it as a nested execution); ClusterArn,
 * TaskDefinitionArn, ContainerName, Subnets (comma-separated), SecurityGroup and AssignPublicIp
 * (ENABLED / DISABLED) = how the contextualize flow runs the contextualization runner (ECS RunTask
 * .sync on Fargate).
 */
export const SUBSTITUTIONS = [
  'TasksFunctionArn',
  'ContextualizeStateMachineArn',
  'ClusterArn',
  'TaskDefinitionArn',
  'ContainerName',
  'Subnets',
  'SecurityGroup',
  'AssignPublicIp',
] as const;

export type SubstitutionName = (typeof SUBSTITUTIONS)[number];

/**
 * The configuration option (seconds) that sets the duration of each Wait state. In AWS the duration
 * comes from the state input (SecondsPath, computed from the same option by the flow's first Task);
 * locally the orchestrator overrides each Wait with the option's value.
 */
export const WAIT_STATE_OPTIONS = {
  WaitBeforeRelaunch: 'DELAY_BETWEEN_VM_RETRIES',
  WaitUntilRunning: 'VM_INFO_UPDATE_FREQUENCY',
} as const satisfies Record<string, keyof Config>;

/**
 * Folder holding the ASL files (with a trailing slash), next to lambdas/ when this module runs from
 * source (infra/, the local orchestrator, tests). In a CommonJS bundle `import.meta.url` is undefined
 * (esbuild empties `import.meta` and warns, which the bundle tests treat as an error: keep this module
 * off the Lambda paths) and the folder is `<cwd>/statemachines/`.
 */
export const STATE_MACHINES_DIR: string = import.meta.url
  ? fileURLToPath(new URL('../../statemachines/', import.meta.url))
  : `${process.cwd()}/statemachines/`;

/** Minimal typing of an ASL definition (what the loaders and tests look at). */
export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  Retry?: { ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; Next: string; ResultPath?: string | null }[];
  ItemProcessor?: AslDefinition;
  Iterator?: AslDefinition;
  Branches?: AslDefinition[];
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  [k: string]: unknown;
}

export interface AslDefinition {
  Comment?: string;
  StartAt: string;
  States: Record<string, AslState>;
  [k: string]: unknown;
}

/** Path of a workflow's ASL file. */
export function aslPath(workflow: WorkflowName): string {
  return `${STATE_MACHINES_DIR}${workflow}.asl.json`;
}

/** The raw text of a workflow's ASL file (placeholders not substituted). */
export function readAsl(workflow: WorkflowName): string {
  return readFileSync(aslPath(workflow), 'utf8');
}

/** The `${Name}` placeholders found in a text. */
export function placeholders(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(/\$\{([A-Za-z0-9_]+)\}/g), (m) => m[1]))];
}

/**
 * Replaces every `${Name}` with its value (JSON-string escaped, since placeholders sit inside JSON
 * strings). Throws when a placeholder has no value.
 */
export function substitute(text: string, values: Readonly<Record<string, string>>): string {
  return text.replace(/\$\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`No value for the ASL placeholder \${${name}}`);
    return JSON.stringify(v).slice(1, -1);
  });
}

/** Loads and substitutes a workflow's definition. */
export function loadDefinition(workflow: WorkflowName, values: Readonly<Record<string, string>>): AslDefinition {
  return JSON.parse(substitute(readAsl(workflow), values)) as AslDefinition;
}

/** Visits every state, nested ones (Map ItemProcessor/Iterator, Parallel branches) included. */
export function forEachState(def: AslDefinition, fn: (name: string, state: AslState, depth: number) => void, depth = 0): void {
  for (const [name, state] of Object.entries(def.States)) {
    fn(name, state, depth);
    const nested = state.ItemProcessor ?? state.Iterator;
    if (nested) forEachState(nested, fn, depth + 1);
    for (const b of state.Branches ?? []) forEachState(b, fn, depth + 1);
  }
}

/** The `action` of a lambda:invoke Task (its Payload.action), if any. */
export function taskAction(state: AslState): string | undefined {
  const payload = (state.Parameters as { Payload?: { action?: unknown } } | undefined)?.Payload;
  return typeof payload?.action === 'string' ? payload.action : undefined;
}

/** Resource of the Lambda invocations. */
export const LAMBDA_INVOKE = 'arn:aws:states:::lambda:invoke';
/** Resource of the nested executions (output is JSON). */
export const START_EXECUTION_SYNC = 'arn:aws:states:::states:startExecution.sync:2';
/** Resource of the contextualization runner's Fargate task (locally a child process). */
export const ECS_RUN_TASK_SYNC = 'arn:aws:states:::ecs:runTask.sync';
