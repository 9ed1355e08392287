/**
 * Read-modify-write helpers over the optimistic locking of {@link InfrastructureStore}.
 *
 * `fn` gets the current record and returns the fields to change (or undefined for "no change").
 * Only fields whose value really differs are written; on a {@link VersionConflictError} the
 * record is read again and `fn` runs again, after a jittered exponential backoff. `fn` may thus
 * run several times: keep it free of side effects (and never call these helpers from it).
 *
 * Within one process, read-modify-writes of the same record (per store object) take turns: fifty
 * concurrent AddResource calls then write one after another instead of conflicting fifty ways, and
 * the optimistic locking only has to settle the races with other processes (other Lambda
 * instances, the runner). When the retries do run out, the VersionConflictError becomes a 409
 * (errors.ts), never an internal error.
 */
import { errors } from '#core/errors';
import { VersionConflictError, type InfraRecord, type InfrastructureStore, type VmRecord } from '#core/types';

export interface MutateOptions {
  /** Retries after a version conflict (default 60). */
  retries?: number;
  /** Base of the backoff in ms (default 5); the wait before retry n is random in [0, min(250, base·2ⁿ)). */
  baseDelayMs?: number;
}

type MaybePromise<T> = T | Promise<T>;

const DEFAULT_RETRIES = 60;
const DEFAULT_BASE_DELAY_MS = 5;
const MAX_DELAY_MS = 500;

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The entries of `patch` that differ from `current` (keys in `skip` dropped). */
function changes<T extends object>(current: T, patch: Partial<T>, skip: readonly string[]): Partial<T> {
  const out: Record<string, unknown> = {};
  const cur = current as Record<string, unknown>;
  for (const [key, value] of Object.entries(patch)) {
    if (skip.includes(key)) continue;
    if (value === undefined ? key in cur && cur[key] !== undefined : !sameValue(cur[key], value)) out[key] = value;
  }
  return out as Partial<T>;
}

/** The read-modify-writes of each record in flight, per store object (one process's turns). */
const lanes = new WeakMap<InfrastructureStore, Map<string, Promise<unknown>>>();

/** Runs `fn` after the previous read-modify-write of the same record (in this process) has ended. */
async function inTurn<R>(store: InfrastructureStore, key: string, fn: () => Promise<R>): Promise<R> {
  let byKey = lanes.get(store);
  if (!byKey) lanes.set(store, (byKey = new Map()));
  const previous = byKey.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  byKey.set(key, settled);
  void settled.then(() => {
    if (byKey.get(key) === settled) byKey.delete(key);
  });
  return run;
}

async function retrying<R>(opts: MutateOptions | undefined, attempt: () => Promise<R>): Promise<R> {
  const retries = opts?.retries ?? DEFAULT_RETRIES;
  const base = opts?.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof VersionConflictError) || n >= retries) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(MAX_DELAY_MS, base * 2 ** n)));
    }
  }
}

/**
 * Reads the infrastructure, applies `fn`, writes the changes conditionally on the version read,
 * and retries on conflict.
 *
 * @returns the new record, or the current one when `fn` returned undefined or changed nothing.
 * @throws ImError INF_NOT_FOUND when the infrastructure does not exist (or has expired).
 * @throws VersionConflictError when still conflicting after `retries` retries.
 */
export async function mutateInfrastructure(
  store: InfrastructureStore,
  infId: string,
  fn: (inf: InfraRecord) => MaybePromise<Partial<InfraRecord> | undefined>,
  opts?: MutateOptions,
): Promise<InfraRecord> {
  return inTurn(store, `inf\u0000${infId}`, () => retrying(opts, async () => {
    const inf = await store.getInfrastructure(infId);
    if (!inf) throw errors.infNotFound();
    const patch = await fn(inf);
    if (!patch) return inf;
    const diff = changes(inf, patch, ['id', 'version']);
    if (Object.keys(diff).length === 0) return inf;
    return store.updateInfrastructure(infId, inf.version, diff, inf);
  }));
}

/**
 * The same for one VM.
 *
 * @returns the new VM record, or the current one when `fn` returned undefined or changed nothing.
 * @throws ImError VM_NOT_FOUND when the VM does not exist.
 * @throws VersionConflictError when still conflicting after `retries` retries.
 */
export async function mutateVm(
  store: InfrastructureStore,
  infId: string,
  vmId: number,
  fn: (vm: VmRecord) => MaybePromise<Partial<VmRecord> | undefined>,
  opts?: MutateOptions,
): Promise<VmRecord> {
  return inTurn(store, `vm\u0000${infId}\u0000${vmId}`, () => retrying(opts, async () => {
    const vm = await store.getVm(infId, vmId);
    if (!vm) throw errors.invalidVm();
    const patch = await fn(vm);
    if (!patch) return vm;
    const diff = changes(vm, patch, ['infId', 'vmId', 'version']);
    if (Object.keys(diff).length === 0) return vm;
    return store.updateVm(infId, vmId, vm.version, diff);
  }));
}

/** Removes an add-resource operation from `addingOps` (idempotent: an unknown id changes nothing). */
export async function releaseAddingOp(store: InfrastructureStore, infId: string, op: string): Promise<void> {
  await mutateInfrastructure(store, infId, (i) => ((i.addingOps ?? []).includes(op) ? { addingOps: i.addingOps.filter((x) => x !== op) } : undefined));
}

/**
 * Read-modify-writes of many VMs of one infrastructure in one batched conditional write (the records
 * given are the ones `fn` decides from). When some VM changed meanwhile the batch conflicts as a whole:
 * the updates then go one by one, each retried as mutateVm does. Returns the current records of the VMs
 * given (updated or not), in order.
 */
export async function mutateVms(
  store: InfrastructureStore,
  vms: VmRecord[],
  fn: (vm: VmRecord) => Partial<VmRecord> | undefined,
  opts?: MutateOptions,
): Promise<VmRecord[]> {
  const updates: { vm: VmRecord; patch: Partial<VmRecord> }[] = [];
  for (const vm of vms) {
    const patch = fn(vm);
    if (!patch) continue;
    const diff = changes(vm, patch, ['infId', 'vmId', 'version']);
    if (Object.keys(diff).length > 0) updates.push({ vm, patch: diff });
  }
  const byId = new Map(vms.map((v) => [v.vmId, v]));
  if (updates.length > 0) {
    try {
      for (const vm of await store.updateVms(updates)) byId.set(vm.vmId, vm);
    } catch (err) {
      if (!(err instanceof VersionConflictError)) throw err;
      const each = await Promise.all(updates.map(({ vm }) => mutateVm(store, vm.infId, vm.vmId, fn, opts).catch((e: unknown) => (isGone(e) ? undefined : Promise.reject(e)))));
      for (const vm of each) if (vm) byId.set(vm.vmId, vm);
    }
  }
  return vms.map((v) => byId.get(v.vmId)!);
}

const isGone = (e: unknown) => (e as { code?: string } | undefined)?.code === 'VM_NOT_FOUND';

/**
 * Writes `fn(inf)` conditionally on the version of `inf` (no read when nobody else wrote); on a
 * version conflict falls back to {@link mutateInfrastructure}.
 */
export async function mutateInfrastructureFrom(
  store: InfrastructureStore,
  inf: InfraRecord,
  fn: (inf: InfraRecord) => MaybePromise<Partial<InfraRecord> | undefined>,
): Promise<InfraRecord> {
  const patch = await fn(inf);
  if (!patch) return inf;
  const diff = changes(inf, patch, ['id', 'version']);
  if (Object.keys(diff).length === 0) return inf;
  try {
    return await store.updateInfrastructure(inf.id, inf.version, diff, inf);
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    return mutateInfrastructure(store, inf.id, fn);
  }
}
