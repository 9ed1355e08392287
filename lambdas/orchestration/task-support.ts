/**
 * Small helpers shared by the state-machine tasks: payload fields, error texts, and conditional
 * VM writes that start from a record already in hand (one round trip when nobody else wrote).
 */
import { ImError } from '#core/errors';
import { parseVmInfo, refineState, vmInfoWith, vmSystem, applyVmState } from '#core/vm-refresh';
import {
  VersionConflictError,
  type CtxtState,
  type InfrastructureStore,
  type LogScope,
  type Services,
  type VmRecord,
  type VmState,
} from '#core/types';
import { mutateVm } from '#core/mutate';

/** What every task receives: `{action, ...ids}`. */
export type TaskPayload = { action: string } & Record<string, unknown>;

/** The `{Error, Cause}` object a Catch puts in the state. */
export interface CaughtError {
  Error?: string;
  Cause?: string;
}

function bad(message: string): ImError {
  return new ImError('BAD_REQUEST', `Invalid task payload: ${message}`);
}

/** A required string field. */
export function str(p: Record<string, unknown>, key: string): string {
  const v = p[key];
  if (typeof v !== 'string' || v === '') throw bad(`'${key}' must be a non-empty string`);
  return v;
}

/** A required integer field (numeric strings accepted). */
export function int(p: Record<string, unknown>, key: string, fallback?: number): number {
  if (p[key] === undefined && fallback !== undefined) return fallback;
  const v = typeof p[key] === 'string' ? Number(p[key]) : p[key];
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`'${key}' must be an integer`);
  return v;
}

/** An optional list of integers (undefined when absent). Duplicates removed, ascending. */
export function intList(p: Record<string, unknown>, key: string): number[] | undefined {
  const v = p[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw bad(`'${key}' must be a list of integers`);
  const out = v.map((x) => (typeof x === 'string' ? Number(x) : x));
  if (!out.every((x) => typeof x === 'number' && Number.isInteger(x))) throw bad(`'${key}' must be a list of integers`);
  return [...new Set(out as number[])].sort((a, b) => a - b);
}

/** A boolean flag: true, 'true', 'yes', '1', 1 → true; anything else false. */
export function flag(p: Record<string, unknown>, key: string): boolean {
  const v = p[key];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v === 1;
  return typeof v === 'string' && ['true', 'yes', '1'].includes(v.toLowerCase());
}

/** The nested execution input of the payload (`input`), which must carry an infId. */
export function executionInput(p: Record<string, unknown>): Record<string, unknown> & { infId: string } {
  const input = p.input;
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw bad(`'input' must be an object`);
  const obj = input as Record<string, unknown>;
  return { ...obj, infId: str(obj, 'infId') };
}

/** Message of anything thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/**
 * The message of a caught error: the Lambda error's `errorMessage` (the Cause is the JSON
 * `{errorType, errorMessage, trace}` in AWS and locally), else the Cause, else the Error name.
 */
export function caughtMessage(error: unknown): string {
  if (typeof error === 'string') return causeMessage(error);
  const e = (error ?? {}) as CaughtError;
  if (typeof e.Cause === 'string' && e.Cause !== '') return causeMessage(e.Cause);
  return e.Error ?? 'Unknown error';
}

/** errorMessage out of a Lambda error Cause (JSON), or the text itself. */
export function causeMessage(cause: string): string {
  try {
    const parsed = JSON.parse(cause) as { errorMessage?: unknown };
    if (parsed && typeof parsed.errorMessage === 'string') return parsed.errorMessage;
  } catch {
    // Not JSON: the cause is the message.
  }
  return cause;
}

/** Keeps log lines and error texts bounded (execution state and items stay small). */
export function clip(text: string, max = 2000): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/**
 * Writes `fn(vm)` conditionally on the version of `vm` (no read when nobody else wrote); on a
 * version conflict falls back to read-modify-write with retries.
 */
export async function updateVmFrom(
  store: InfrastructureStore,
  vm: VmRecord,
  fn: (vm: VmRecord) => Partial<VmRecord> | undefined,
): Promise<VmRecord> {
  const patch = fn(vm);
  if (!patch || Object.keys(patch).length === 0) return vm;
  try {
    return await store.updateVm(vm.infId, vm.vmId, vm.version, patch);
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    return mutateVm(store, vm.infId, vm.vmId, fn);
  }
}

/**
 * The patch that sets a VM's state (refined by `ctxtState` and the infrastructure's configured flag)
 * and writes it into the VM RADL.
 */
export function statePatch(
  vm: VmRecord,
  providerState: VmState,
  ctxtState: CtxtState,
  infConfigured: boolean | undefined,
): Pick<VmRecord, 'state' | 'ctxtState' | 'info'> {
  const state = refineState(providerState, ctxtState, infConfigured);
  const radl = parseVmInfo(vm);
  const system = vmSystem(radl, vm).clone();
  applyVmState(system, state, vm.vmId);
  return { state, ctxtState, info: vmInfoWith(radl, system) };
}

/** Appends one line (a newline is added) to a log, never failing the task for it. */
export async function logLine(services: Pick<Services, 'store' | 'logger'>, infId: string, scope: LogScope, line: string): Promise<void> {
  try {
    await services.store.appendLog(infId, scope, `${line}\n`);
  } catch (err) {
    services.logger.warn('Error writing a log line', { infId, scope, error: err });
  }
}
