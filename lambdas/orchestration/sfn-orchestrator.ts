/**
 * The AWS orchestrator: Step Functions StartExecution, and DescribeExecution polling for wait.
 */
import { DescribeExecutionCommand, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { errors } from '#core/errors';
import type { ExecutionResult, ExecutionStatus, Orchestrator, WorkflowInput, WorkflowName } from '#core/types';

export interface SfnOrchestratorOptions {
  client: SFNClient;
  /** State machine ARN of each workflow. */
  arns: Record<WorkflowName, string>;
  /** First poll interval of wait (ms, default 250), doubling up to maxPollMs. */
  pollMs?: number;
  /** Longest poll interval of wait (ms, default 2000). */
  maxPollMs?: number;
}

const STATUSES: ReadonlySet<string> = new Set(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

function toStatus(s: string | undefined): ExecutionStatus {
  // PENDING_REDRIVE: a failed execution that may be redriven; it is not running.
  if (s === 'PENDING_REDRIVE') return 'FAILED';
  return s && STATUSES.has(s) ? (s as ExecutionStatus) : 'RUNNING';
}

/** Creates the Step Functions orchestrator (its describe() gives output / error / cause). */
export function createSfnOrchestrator(opts: SfnOrchestratorOptions): Orchestrator & { describe(executionId: string): Promise<ExecutionResult> } {
  const { client, arns } = opts;
  const firstPoll = opts.pollMs ?? 250;
  const maxPoll = opts.maxPollMs ?? 2000;

  // The results of executions that wait() saw end (bounded): describe() right after wait() costs no call.
  const finished = new Map<string, ExecutionResult>();
  const remember = (arn: string, r: ExecutionResult) => {
    if (r.status === 'RUNNING') return;
    finished.set(arn, r);
    if (finished.size > 200) finished.delete(finished.keys().next().value as string);
  };

  async function describe(executionArn: string): Promise<ExecutionResult> {
    const known = finished.get(executionArn);
    if (known) return known;
    const r = await client.send(new DescribeExecutionCommand({ executionArn }));
    const out: ExecutionResult = { status: toStatus(r.status) };
    if (r.output !== undefined) {
      try {
        out.output = JSON.parse(r.output);
      } catch {
        out.output = r.output;
      }
    }
    if (r.error !== undefined) out.error = r.error;
    if (r.cause !== undefined) out.cause = r.cause;
    return out;
  }

  return {
    async start(workflow: WorkflowName, input: WorkflowInput): Promise<string> {
      const stateMachineArn = arns[workflow];
      if (!stateMachineArn) throw errors.internal(`No state machine ARN for workflow ${workflow}`);
      const r = await client.send(new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }));
      if (!r.executionArn) throw errors.internal('StartExecution returned no executionArn');
      return r.executionArn;
    },

    async wait(executionId: string, timeoutMs: number): Promise<ExecutionStatus> {
      const deadline = Date.now() + Math.max(0, timeoutMs);
      let interval = firstPoll;
      for (;;) {
        const result = await describe(executionId);
        remember(executionId, result);
        const { status } = result;
        const left = deadline - Date.now();
        if (status !== 'RUNNING' || left <= 0) return status;
        await new Promise((r) => setTimeout(r, Math.min(interval, left)));
        interval = Math.min(maxPoll, interval * 2);
      }
    },

    describe,
  };
}
