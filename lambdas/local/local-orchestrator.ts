/**
 * The in-process orchestrator of local mode: the same ASL files as in AWS, run by
 * aws-local-stepfunctions, with every Task mapped to a local function (no Task can reach AWS):
 *  - `lambda:invoke` Tasks → runTask(getServices(), Payload), result wrapped as `{Payload}` and
 *    errors raised with the name and `{errorType, errorMessage}` cause a Lambda would give;
 *  - `states:startExecution.sync:2` Tasks → the target workflow run in process, as `{Output}`;
 *  - the `ecs:runTask.sync` Task of the contextualize flow (the contextualization runner's Fargate
 *    task) → `ecsRunTask` (local mode: the runner entry point as a child process, lambdas/runner/
 *    local-task.ts); without one the Task fails, so the flow's Catch marks the VMs unconfigured.
 * Creating the orchestrator reads every file once and fails when a Task has no local mapping or a
 * Wait state has no configured duration; each definition is validated (asl-validator) on its
 * first run. Wait states last what the configuration says (WAIT_STATE_OPTIONS), retries wait their
 * IntervalSeconds, both times `waitTimeScale`. Executions live in a Map (wait / describe); a failed
 * execution is logged, never thrown at the process.
 *
 * Durable: with a {@link ExecutionJournal}, every top-level execution is recorded before it starts
 * and removed when it ends. After a crash, {@link LocalOrchestrator.resumeInterrupted} runs what is
 * left again from its start, under its own id: every Task is idempotent (a launched VM is not
 * launched twice, a finalized one is not finalized twice, a newer contextualization supersedes an
 * older one), so a re-run ends where the interrupted run would have. An execution resumed
 * `maxResumes` times without ending (it keeps killing the process) is closed instead: its
 * `closeInterrupted` task gives everything it touched a final state with the reason.
 */
import { randomUUID } from 'node:crypto';
import { ExecutionAbortedError, ExecutionError, ExecutionTimeoutError, StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { errors } from '#core/errors';
import type { ExecutionJournal, ExecutionRecord, ExecutionResult, ExecutionStatus, Orchestrator, Services, WorkflowInput, WorkflowName } from '#core/types';
import {
  ECS_RUN_TASK_SYNC,
  LAMBDA_INVOKE,
  START_EXECUTION_SYNC,
  SUBSTITUTIONS,
  WAIT_STATE_OPTIONS,
  WORKFLOWS,
  forEachState,
  loadDefinition,
  type AslDefinition,
  type SubstitutionName,
} from '#orchestration/asl';
import type { SshProbe } from '#orchestration/ssh-probe';
import { runTask, toTaskError, type TaskPayload } from '#orchestration/tasks';

// aws-local-stepfunctions needs Promise.withResolvers (Node 22+).
const P = Promise as unknown as { withResolvers?: <T>() => { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } };
if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (v: T) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export interface LocalOrchestratorOptions {
  /** Multiplies every Wait duration and retry interval (tests use small values). Default 1. */
  waitTimeScale?: number;
  /** SSH login attempts of the launch flow (default: ssh2). */
  sshProbe?: SshProbe;
  /** Finished executions remembered for wait/describe (default 1000). */
  keepFinished?: number;
  /**
   * What the contextualize flow's ECS RunTask Task runs, given the Task's parameters (container
   * overrides with INF_ID / CTXT_INPUT). Local mode spawns the runner; default: the Task fails.
   */
  ecsRunTask?: (params: unknown) => Promise<unknown>;
  /** Where running executions are recorded (local mode: the store); none = not durable (unit tests). */
  journal?: ExecutionJournal;
  /** Resumes of one execution before it is closed instead (default 3). */
  maxResumes?: number;
  /** Observer of every event of every execution, nested ones and Map iterations included (bench/cost.ts). */
  onEvent?: (workflow: WorkflowName, executionArn: string, event: ExecutionEvent) => void;
}

/** An event of aws-local-stepfunctions (StateEntered, StateExited, MapIterationStarted, …). */
export type ExecutionEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** The local orchestrator, with what tests inspect. */
export interface LocalOrchestrator extends Orchestrator {
  describe(executionId: string): Promise<ExecutionResult>;
  /** Every Task state of every workflow and what it is mapped to (`runTask`, `ecsRunTask` or `workflow:<name>`). */
  readonly taskMappings: ReadonlyMap<string, string>;
  /** Resolves when every execution started so far has finished. */
  idle(): Promise<void>;
  /**
   * Resumes (or closes) every execution the journal still holds: those a crash interrupted. Call
   * once at start-up, before serving. Returns what it did.
   */
  resumeInterrupted(): Promise<{ resumed: string[]; closed: string[] }>;
}

const ACCOUNT = '000000000000';
/** The pseudo ARN of a workflow's state machine in local mode. */
export const localStateMachineArn = (w: WorkflowName) => `arn:aws:states:local:${ACCOUNT}:stateMachine:im-${w}`;
/** The pseudo ARN of the tasks function in local mode. */
export const LOCAL_TASKS_FUNCTION_ARN = `arn:aws:lambda:local:${ACCOUNT}:function:im-tasks`;

const LOCAL_VALUES: Record<SubstitutionName, string> = {
  TasksFunctionArn: LOCAL_TASKS_FUNCTION_ARN,
  ContextualizeStateMachineArn: localStateMachineArn('contextualize'),
  ClusterArn: `arn:aws:ecs:local:${ACCOUNT}:cluster/im-local`,
  TaskDefinitionArn: `arn:aws:ecs:local:${ACCOUNT}:task-definition/im-ctxt-runner:1`,
  ContainerName: 'runner',
  Subnets: 'subnet-local',
  SecurityGroup: 'sg-local',
  AssignPublicIp: 'DISABLED',
};

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };
type LocalHandler = (input: JsonValue) => Promise<JsonValue>;

interface Mapping {
  /** Task state name → `runTask`, `ecsRunTask` or `workflow:<name>`. */
  tasks: Map<string, string>;
  waits: Map<string, keyof typeof WAIT_STATE_OPTIONS>;
  /** State name → IntervalSeconds of each retrier. */
  retries: Map<string, number[]>;
}

/**
 * Maps every Task of a definition to a local function (`runTask`, `ecsRunTask` or `workflow:<name>`), every Wait
 * to its configuration option, and collects retry intervals. Throws on a Task that would call AWS or
 * a Wait without a configured duration.
 */
export function mapLocalTasks(workflow: WorkflowName, def: AslDefinition, arnToWorkflow: Map<string, WorkflowName>): Mapping {
  const m: Mapping = { tasks: new Map(), waits: new Map(), retries: new Map() };
  forEachState(def, (name, state) => {
    if (state.Retry) m.retries.set(name, state.Retry.map((r) => r.IntervalSeconds ?? 1));
    if (state.Type === 'Wait') {
      if (!Object.hasOwn(WAIT_STATE_OPTIONS, name)) throw new Error(`Wait state ${workflow}/${name} has no configured duration (WAIT_STATE_OPTIONS)`);
      m.waits.set(name, name as keyof typeof WAIT_STATE_OPTIONS);
    }
    if (state.Type !== 'Task') return;
    let target: string;
    if (state.Resource === LAMBDA_INVOKE) {
      target = 'runTask';
    } else if (state.Resource === ECS_RUN_TASK_SYNC) {
      target = 'ecsRunTask';
    } else if (state.Resource === START_EXECUTION_SYNC) {
      const arn = (state.Parameters as { StateMachineArn?: string } | undefined)?.StateMachineArn;
      const w = arn ? arnToWorkflow.get(arn) : undefined;
      if (!w) throw new Error(`Task state ${workflow}/${name} starts an unknown state machine (${String(arn)})`);
      target = `workflow:${w}`;
    } else {
      throw new Error(`Task state ${workflow}/${name} has no local mapping (${String(state.Resource)}): it would call AWS`);
    }
    const prev = m.tasks.get(name);
    if (prev !== undefined && prev !== target) throw new Error(`Task state name ${workflow}/${name} is mapped twice`);
    m.tasks.set(name, target);
  });
  return m;
}

/**
 * Validated state machines by definition text, built on first use: asl-validator takes ~0.5 s per
 * definition, so validating lazily keeps start-up fast.
 */
const machineCache = new Map<string, StateMachine>();
/** The same by definition object (an orchestrator loads its definitions once and never changes them): no JSON text per execution. */
const machineByObject = new WeakMap<AslDefinition, StateMachine>();

function stateMachine(def: AslDefinition): StateMachine {
  let m = machineByObject.get(def);
  if (m) return m;
  const key = JSON.stringify(def);
  m = machineCache.get(key);
  if (!m) {
    m = new StateMachine(def as unknown as StateMachineDefinition, { validationOptions: { checkArn: true, checkPaths: true } });
    machineCache.set(key, m);
  }
  machineByObject.set(def, m);
  return m;
}

/** A Lambda-like error: the name is the error type, the message the JSON cause Step Functions shows. */
function lambdaError(err: unknown): Error {
  const e = toTaskError(err);
  const out = new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message }));
  out.name = e.name;
  return out;
}

interface LocalExecution {
  id: string;
  workflow: WorkflowName;
  status: ExecutionStatus;
  output?: unknown;
  error?: string;
  cause?: string;
  done: Promise<void>;
}

/** Error name and cause of a failed local execution. */
function failureOf(err: unknown): { status: ExecutionStatus; error: string; cause: string } {
  if (err instanceof ExecutionTimeoutError) return { status: 'TIMED_OUT', error: 'States.Timeout', cause: err.message };
  if (err instanceof ExecutionAbortedError) return { status: 'ABORTED', error: 'States.Aborted', cause: err.message };
  const inner = err instanceof ExecutionError && err.cause instanceof Error ? err.cause : err;
  if (inner instanceof Error) return { status: 'FAILED', error: inner.name, cause: inner.message };
  return { status: 'FAILED', error: 'Error', cause: String(inner) };
}

/**
 * Creates the local orchestrator (the ASL files are read and their Tasks mapped here, once).
 *
 * @param getServices called for each Task (the services usually hold this orchestrator).
 */
export function createLocalOrchestrator(getServices: () => Services, opts: LocalOrchestratorOptions = {}): LocalOrchestrator {
  const scale = opts.waitTimeScale ?? 1;
  const keep = opts.keepFinished ?? 1000;
  const arnToWorkflow = new Map(WORKFLOWS.map((w) => [localStateMachineArn(w), w] as const));
  const definitions = new Map<WorkflowName, AslDefinition>();
  const mappings = new Map<WorkflowName, Mapping>();
  const taskMappings = new Map<string, string>();
  for (const w of WORKFLOWS) {
    for (const name of SUBSTITUTIONS) if (!LOCAL_VALUES[name]) throw new Error(`No local value for \${${name}}`);
    const def = loadDefinition(w, LOCAL_VALUES);
    const mapping = mapLocalTasks(w, def, arnToWorkflow);
    mappings.set(w, mapping);
    for (const [name, target] of mapping.tasks) taskMappings.set(`${w}/${name}`, target);
    definitions.set(w, def);
  }

  const executions = new Map<string, LocalExecution>();
  const running = new Set<Promise<void>>();

  const invokeLambda: LocalHandler = async (input) => {
    const payload = (input as { Payload?: TaskPayload }).Payload;
    try {
      const result = await runTask(getServices(), payload as TaskPayload, opts.sshProbe ? { sshProbe: opts.sshProbe } : {});
      return { Payload: JSON.parse(JSON.stringify(result ?? null)) as JsonValue, StatusCode: 200 };
    } catch (err) {
      throw lambdaError(err);
    }
  };

  const ecsRunTask: LocalHandler = async (input) => {
    if (!opts.ecsRunTask) {
      const e = new Error('No contextualization runner in this environment (the ECS task has no local mapping).');
      e.name = 'States.TaskFailed';
      throw e;
    }
    return JSON.parse(JSON.stringify((await opts.ecsRunTask(input)) ?? null)) as JsonValue;
  };

  /** Runs a workflow to its end; rejects like aws-local-stepfunctions does. */
  function run(workflow: WorkflowName, input: JsonValue, executionArn: string): Promise<JsonValue> {
    const mapping = mappings.get(workflow)!;
    const config = getServices().config;
    const handlers: Record<string, LocalHandler> = {};
    for (const [name, target] of mapping.tasks) {
      handlers[name] =
        target === 'runTask' ? invokeLambda : target === 'ecsRunTask' ? ecsRunTask : childHandler(target.slice('workflow:'.length) as WorkflowName, executionArn);
    }
    const waits: Record<string, number> = {};
    for (const [name, option] of mapping.waits) waits[name] = Math.max(0, Number(config[WAIT_STATE_OPTIONS[option]]) * 1000 * scale);
    const retries: Record<string, number[]> = {};
    for (const [name, intervals] of mapping.retries) retries[name] = intervals.map((s) => s * 1000 * scale);
    const name = executionArn.slice(executionArn.lastIndexOf(':') + 1);
    const execution = stateMachine(definitions.get(workflow)!).run(input, {
      // At scale 1 the retriers keep their own intervals, backoff and jitter; scaled (tests) they wait a fixed, short time.
      overrides: { taskResourceLocalHandlers: handlers, waitTimeOverrides: waits, ...(scale === 1 ? {} : { retryIntervalOverrides: retries }) },
      context: { Execution: { Id: executionArn, Name: name } },
    });
    const observer = opts.onEvent;
    if (observer) void (async () => { for await (const e of execution.eventLogs) observer(workflow, executionArn, e); })().catch(() => undefined);
    return execution.result;
  }

  function childHandler(workflow: WorkflowName, parentArn: string): LocalHandler {
    return async (input) => {
      const childArn = `${localStateMachineArn(workflow).replace(':stateMachine:', ':execution:')}:${randomUUID()}`;
      const childInput = ((input as { Input?: JsonValue }).Input ?? {}) as JsonValue;
      try {
        const output = await run(workflow, childInput, childArn);
        return { Output: output, Status: 'SUCCEEDED', ExecutionArn: childArn };
      } catch (err) {
        const f = failureOf(err);
        const out = new Error(JSON.stringify({ ExecutionArn: childArn, Status: f.status, Error: f.error, Cause: f.cause, ParentArn: parentArn }));
        out.name = 'States.TaskFailed';
        throw out;
      }
    };
  }

  function prune(): void {
    if (executions.size <= keep) return;
    for (const [id, e] of executions) {
      if (executions.size <= keep) break;
      if (e.status !== 'RUNNING') executions.delete(id);
    }
  }

  function get(executionId: string): LocalExecution {
    const e = executions.get(executionId);
    if (!e) throw errors.internal(`Unknown execution: ${executionId}`);
    return e;
  }

  /** Records an execution whose first record failed, unless it has ended meanwhile. */
  async function retryRecord(record: ExecutionRecord): Promise<void> {
    for (let attempt = 0; attempt < 30; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(10_000, 200 * 2 ** attempt)).unref());
      if (executions.get(record.id)?.status !== 'RUNNING') return;
      try {
        await opts.journal?.record(record);
        return;
      } catch {
        // still unavailable
      }
    }
  }

  /** Removes a finished execution from the journal, retrying while the store is unavailable. */
  async function forget(id: string): Promise<void> {
    if (!opts.journal) return;
    for (let attempt = 0; ; attempt++) {
      try {
        await opts.journal.remove(id);
        return;
      } catch (err) {
        // Left in the journal, it is resumed (harmlessly) at the next start.
        if (attempt >= 30) return log('warn', 'Cannot remove a finished execution from the journal', { executionId: id, error: err });
        await new Promise((r) => setTimeout(r, Math.min(10_000, 200 * 2 ** attempt)).unref());
      }
    }
  }

  function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>): void {
    try {
      getServices().logger[level](msg, fields);
    } catch {
      // Never let a logging problem surface as an unhandled rejection.
    }
  }

  /** Whether an execution failed because the store stopped answering (its retries ran out). */
  function failedOnStore(exec: LocalExecution): boolean {
    return exec.status !== 'SUCCEEDED' && `${exec.error ?? ''} ${exec.cause ?? ''}`.includes('STORE_UNAVAILABLE');
  }

  /**
   * After an execution failed on a store outage (its records could not even be marked failed): waits
   * until the store answers again and runs it once more, so that it still ends in a final state.
   */
  async function rerunWhenStoreAnswers(id: string, workflow: WorkflowName, input: WorkflowInput, reruns: number): Promise<void> {
    const max = opts.maxResumes ?? 3;
    for (let i = 0; i < 1800; i++) {
      await new Promise((r) => setTimeout(r, 2000).unref());
      const health = await getServices().store.health().catch(() => ({ ok: false }));
      if (!health.ok) continue;
      if (reruns >= max) {
        await closeExecution({ id, workflow, input, startedAt: 0, resumes: reruns });
        return;
      }
      log('info', 'The store answers again: running the interrupted execution again', { executionId: id, workflow });
      await opts.journal?.resumed(id, reruns + 1).catch(() => undefined);
      launch(id, workflow, input, reruns + 1);
      return;
    }
  }

  /** Closes an execution for good (its closeInterrupted task), then forgets it. */
  async function closeExecution(e: ExecutionRecord): Promise<boolean> {
    const reason = `The ${e.workflow} workflow was interrupted ${e.resumes + 1} times and was closed.`;
    try {
      await runTask(getServices(), { action: 'closeInterrupted', workflow: e.workflow, input: e.input, reason } as TaskPayload);
      await opts.journal?.remove(e.id);
      return true;
    } catch (err) {
      log('error', 'Cannot close an interrupted execution', { executionId: e.id, workflow: e.workflow, error: err });
      return false;
    }
  }

  /** Runs an execution in the background under `id`; its end is recorded and it leaves the journal. */
  function launch(id: string, workflow: WorkflowName, input: WorkflowInput, reruns = 0): void {
    const exec: LocalExecution = { id, workflow, status: 'RUNNING', done: Promise.resolve() };
    exec.done = run(workflow, input as unknown as JsonValue, id).then(
      (output) => {
        exec.status = 'SUCCEEDED';
        exec.output = output;
      },
      (err: unknown) => {
        Object.assign(exec, failureOf(err));
        const level = exec.status === 'FAILED' && exec.error?.endsWith('Failed') ? 'info' : 'error';
        log(level, 'Execution did not succeed', { executionId: id, workflow, status: exec.status, error: exec.error, cause: exec.cause });
      },
    );
    // Tracked until its journal entry is gone too, so that a clean stop leaves nothing to resume.
    const tracked = exec.done.then(() => {
      // Ended on a store outage: it stays journaled and runs again once the store answers.
      if (opts.journal && failedOnStore(exec)) void rerunWhenStoreAnswers(id, workflow, input, reruns);
      else return forget(id);
    });
    running.add(tracked);
    void tracked.finally(() => {
      running.delete(tracked);
      prune();
    });
    executions.set(id, exec);
  }

  return {
    taskMappings,

    async resumeInterrupted(): Promise<{ resumed: string[]; closed: string[] }> {
      const out = { resumed: [] as string[], closed: [] as string[] };
      if (!opts.journal) return out;
      const max = opts.maxResumes ?? 3;
      for (const e of await opts.journal.listRunning()) {
        if (executions.has(e.id) || !definitions.has(e.workflow)) continue;
        if (e.resumes >= max) {
          if (await closeExecution(e)) out.closed.push(e.id);
          continue;
        }
        await opts.journal.resumed(e.id, e.resumes + 1);
        log('info', 'Resuming an interrupted execution', { executionId: e.id, workflow: e.workflow, resumes: e.resumes + 1 });
        launch(e.id, e.workflow, e.input, e.resumes + 1);
        out.resumed.push(e.id);
      }
      return out;
    },

    async start(workflow: WorkflowName, input: WorkflowInput): Promise<string> {
      if (!definitions.has(workflow)) throw errors.internal(`Unknown workflow: ${workflow}`);
      const id = `${localStateMachineArn(workflow).replace(':stateMachine:', ':execution:')}:${randomUUID()}`;
      const cleanInput = JSON.parse(JSON.stringify(input)) as WorkflowInput;
      // Recorded before it runs, so that a restart knows it. The use case has just written its intent to
      // the same store; if the store stops answering right now, the execution runs anyway (its Tasks retry
      // store outages) and the record is written as soon as the store answers again.
      const record = { id, workflow, input: cleanInput, startedAt: Date.now(), resumes: 0 };
      try {
        await opts.journal?.record(record);
      } catch (err) {
        log('warn', 'Execution not recorded yet: the store does not answer', { executionId: id, workflow, error: err });
        void retryRecord(record);
      }
      launch(id, workflow, cleanInput);
      return id;
    },

    async wait(executionId: string, timeoutMs: number): Promise<ExecutionStatus> {
      const e = get(executionId);
      if (e.status !== 'RUNNING') return e.status;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([e.done, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, timeoutMs))))]);
      clearTimeout(timer);
      return e.status;
    },

    async describe(executionId: string): Promise<ExecutionResult> {
      const e = get(executionId);
      const r: ExecutionResult = { status: e.status };
      if (e.output !== undefined) r.output = e.output;
      if (e.error !== undefined) r.error = e.error;
      if (e.cause !== undefined) r.cause = e.cause;
      return r;
    },

    async idle(): Promise<void> {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
