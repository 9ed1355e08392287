/**
 * VM state computation (lifecycle.md §1.1), run on every read that refreshes a VM (VM info, state,
 * contextualization polling) and by the launch flow while it waits for a VM to run.
 *
 *  1. A VM that failed at launch (no provider id) stays `failed` and is never refreshed.
 *  2. Destroyed → `off`; being deleted → `deleting`.
 *  3. Older than VM_INFO_UPDATE_FREQUENCY (or forced): ask the connector; on error keep the old
 *     state, except that a VM still being created reads `pending`.
 *  4. Last successful refresh older than VM_INFO_UPDATE_ERROR_GRACE_PERIOD (VM not being created)
 *     → `unknown`.
 *  5. running / configured / unconfigured are refined by contextualization: not finished → running,
 *     success (or disabled) → configured, failure (or the infrastructure's failed) → unconfigured.
 *     The state is written into the VM RADL (`state`), and `#N#` in DNS names becomes the VM id.
 *
 * Domain code: no AWS SDK import.
 */
import { authForCloud, openCloudAuth } from '#core/cloud-auth';
import type { AuthItem, CloudConnector, CtxtState, InfraRecord, Services, VmHandle, VmRecord, VmState, VmUpdate } from '#core/types';
import { VersionConflictError } from '#core/types';
import { parseRadlJson, radlToJsonString, replaceNumTemplate, type Radl, type System } from '#radl/index';

/** What refreshVm uses from the services. */
export type RefreshServices = Pick<Services, 'config' | 'store' | 'connectors' | 'secrets' | 'logger' | 'now'>;

export interface RefreshOptions {
  /** Ask the provider even if the last refresh is more recent than VM_INFO_UPDATE_FREQUENCY. */
  force?: boolean;
}

/** Provider states that contextualization refines. */
const REFINED: ReadonlySet<VmState> = new Set(['running', 'configured', 'unconfigured']);

/**
 * Refines a provider state with the contextualization outcome (rule 5): pending/running/none →
 * running, ok/disabled → configured, failed (or the infrastructure's flag false) → unconfigured.
 * Other states pass through.
 */
export function refineState(state: VmState, ctxtState: CtxtState, infConfigured: boolean | undefined): VmState {
  if (!REFINED.has(state)) return state;
  if (infConfigured === false) return 'unconfigured';
  if (ctxtState === 'ok' || ctxtState === 'disabled') return 'configured';
  if (ctxtState === 'failed') return 'unconfigured';
  return 'running';
}

const DNS_NAME_RE = /^net_interface\.\d+\.(dns_name|dns\.\d+\.name)$/;

/** Writes `state` into the system and replaces `#N#` in its DNS names with the VM id (in place). */
export function applyVmState(system: System, state: VmState, vmId: number): void {
  system.setValue('state', state);
  for (const prop of system.props()) {
    if (!DNS_NAME_RE.test(prop)) continue;
    const v = system.getString(prop);
    if (v !== undefined && v.includes('#N#')) system.setValue(prop, replaceNumTemplate(v, vmId));
  }
}

/** The VM RADL (networks + its system) of a record. */
export function parseVmInfo(vm: Pick<VmRecord, 'info'>): Radl {
  return parseRadlJson(vm.info);
}

/** The system of a VM RADL (its only one). */
export function vmSystem(radl: Radl, vm: Pick<VmRecord, 'systemName' | 'vmId'>): System {
  const sys = radl.getSystemByName(vm.systemName) ?? radl.systems[0];
  if (!sys) throw new Error(`VM ${vm.vmId} has no system in its RADL`);
  return sys;
}

/** Replaces the VM RADL's system with `system` and serializes it (compact RADL-JSON). */
export function vmInfoWith(radl: Radl, system: System): string {
  const copy = radl.clone();
  const i = copy.systems.findIndex((s) => s.name === system.name);
  if (i >= 0) copy.systems[i] = system;
  else copy.systems = [system];
  return radlToJsonString(copy, 0);
}

interface InfraContext {
  radl: Radl;
  auth: AuthItem[];
}

/** Parsed RADL and opened cloud auth, per record object (callers refresh many VMs of one record). */
const infraCache = new WeakMap<InfraRecord, InfraContext>();

/** The parsed infrastructure RADL and its cloud auth items (cached per record object). */
export function infraContext(services: Pick<Services, 'secrets'>, inf: InfraRecord): InfraContext {
  let ctx = infraCache.get(inf);
  if (!ctx) {
    ctx = { radl: parseRadlJson(inf.radl), auth: openCloudAuth(services, inf) };
    infraCache.set(inf, ctx);
  }
  return ctx;
}

/**
 * The connector's view of a VM (the one meaning of {@link VmHandle} for every connector call): the
 * VM's own RADL (the networks it uses and its system, parsed from its record unless given) and that
 * system. Network changes a connector makes in `radl` are kept by callers that write
 * `vmInfoWith(handle.radl, update.system)`.
 */
export function vmHandle(vm: VmRecord, radl: Radl = parseVmInfo(vm), system: System = vmSystem(radl, vm)): VmHandle {
  const h: VmHandle = { infId: vm.infId, vmId: vm.vmId, providerId: vm.providerId ?? '', system, radl };
  if (vm.cloudData) h.cloudData = vm.cloudData;
  return h;
}

/**
 * VM records that a refresh left unchanged without asking the provider, with the infrastructure flag
 * they were refined with. The record cache (lambdas/store/cached-store.ts) hands out the same frozen
 * objects until the next write, so repeated reads (GET …/state) skip re-parsing the VM RADL.
 */
const settled = new WeakMap<VmRecord, { configured: boolean | undefined }>();

/**
 * Refreshes running now, by the record they started from (the record cache hands every concurrent
 * reader the same object): when the VM is due, N simultaneous GET …/state calls ask the provider and
 * write once, instead of N times with N − 1 version conflicts.
 */
const inFlight = new WeakMap<VmRecord, { configured: boolean | undefined; refresh: Promise<VmRecord> }>();

/**
 * Refreshes a VM (lifecycle.md §1.1) and persists what changed (conditional on the version read;
 * on a concurrent change the newer record is returned, refined, without asking the provider again).
 * A refresh of the same record already running (same infrastructure flag, not forced) is shared.
 *
 * @returns the VM record with its computed state.
 */
export function refreshVm(services: RefreshServices, inf: InfraRecord, vm: VmRecord, opts: RefreshOptions = {}): Promise<VmRecord> {
  if (opts.force !== true) {
    const running = inFlight.get(vm);
    if (running && running.configured === inf.configured) return running.refresh;
  }
  const refresh = refreshOnce(services, inf, vm, opts);
  const entry = { configured: inf.configured, refresh };
  inFlight.set(vm, entry);
  const done = () => {
    if (inFlight.get(vm) === entry) inFlight.delete(vm);
  };
  refresh.then(done, done);
  return refresh;
}

/**
 * Refreshes several VMs of one infrastructure (lifecycle.md §1.1 for each): the VMs that are due and whose
 * connector has `updateVmsInfo` are read with one batch call per cloud (e.g. one OpenStack server list instead
 * of one GET per VM); the others as {@link refreshVm} does. Results in the order of `vms`.
 */
export async function refreshVms(services: RefreshServices, inf: InfraRecord, vms: VmRecord[], opts: RefreshOptions = {}): Promise<VmRecord[]> {
  const now = services.now();
  const groups = new Map<string, VmRecord[]>();
  for (const vm of vms) {
    const due = opts.force === true || now - vm.lastUpdate > services.config.VM_INFO_UPDATE_FREQUENCY * 1000;
    if (!due || !vm.providerId || vm.destroyed || vm.deleting || !services.connectors.get(vm.cloudType)?.updateVmsInfo) continue;
    const key = `${vm.cloudType}\u0000${vm.cloudId}`;
    groups.set(key, [...(groups.get(key) ?? []), vm]);
  }
  const prefetched = new Map<VmRecord, Prefetched>();
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const connector = services.connectors.get(group[0].cloudType) as CloudConnector;
    const handles = group.map((v) => vmHandle(v));
    const batch = (async () => {
      const auth = authForCloud(infraContext(services, inf).auth, group[0].cloudId);
      const results = await (connector.updateVmsInfo as NonNullable<CloudConnector['updateVmsInfo']>)(handles, auth);
      if (results.length !== group.length) throw new Error('updateVmsInfo returned a result per VM count mismatch');
      return results;
    })();
    group.forEach((vm, i) => {
      const one = batch.then((r) => (r[i] instanceof Error ? Promise.reject(r[i]) : (r[i] as VmUpdate)));
      one.catch(() => undefined);
      prefetched.set(vm, { radl: handles[i].radl, update: one });
    });
  }
  return Promise.all(vms.map((vm) => (prefetched.has(vm) ? refreshOnce(services, inf, vm, { force: true }, prefetched.get(vm)) : refreshVm(services, inf, vm, opts))));
}

/** A batch result for one VM, with the VM RADL its handle carried (networks the connector changed there). */
interface Prefetched {
  radl: Radl;
  update: Promise<VmUpdate>;
}

async function refreshOnce(services: RefreshServices, inf: InfraRecord, vm: VmRecord, opts: RefreshOptions, prefetched?: Prefetched): Promise<VmRecord> {
  if (vm.state === 'failed' && !vm.providerId) return vm;
  if (vm.destroyed) return vm.state === 'off' ? vm : { ...vm, state: 'off' };
  // Being removed, or its infrastructure being destroyed (the destroy marks only the record).
  if (vm.deleting || inf.status === 'deleting') return vm.state === 'deleting' ? vm : { ...vm, state: 'deleting' };

  const { config, logger } = services;
  const now = services.now();
  const due = opts.force === true || now - vm.lastUpdate > config.VM_INFO_UPDATE_FREQUENCY * 1000;
  const graceOver = !vm.creating && now - vm.lastUpdate > config.VM_INFO_UPDATE_ERROR_GRACE_PERIOD * 1000;
  // Not due and within the grace period, the outcome depends on the record and the infrastructure's
  // flag only: a record already found unchanged for this flag is returned as it is.
  if (!due && !graceOver) {
    const memo = settled.get(vm);
    if (memo && memo.configured === inf.configured) return vm;
  }
  const radl = prefetched?.radl ?? parseVmInfo(vm);
  let system = vmSystem(radl, vm);
  let state: VmState = vm.state;
  let cloudData = vm.cloudData;
  let lastUpdate = vm.lastUpdate;

  if (due && vm.providerId) {
    try {
      const connector = services.connectors.get(vm.cloudType);
      if (!connector) throw new Error(`No connector for cloud type ${vm.cloudType}`);
      const ctx = infraContext(services, inf);
      const handle = vmHandle(vm, radl, system);
      const update = prefetched ? await prefetched.update : await connector.updateVmInfo(handle, authForCloud(ctx.auth, vm.cloudId));
      state = update.state;
      system = update.system;
      if (update.cloudData) cloudData = update.cloudData;
      lastUpdate = now;
      if (update.log) await services.store.appendLog(vm.infId, vm.vmId, update.log).catch((e: unknown) => logger.warn('Error saving connector messages', { infId: vm.infId, vmId: vm.vmId, error: e }));
    } catch (err) {
      logger.warn('Error updating the VM info', { infId: vm.infId, vmId: vm.vmId, error: err });
      if (vm.creating) state = 'pending';
    }
  } else if (due && vm.creating) {
    state = 'pending';
  }
  if (!vm.creating && now - lastUpdate > config.VM_INFO_UPDATE_ERROR_GRACE_PERIOD * 1000) {
    state = 'unknown';
  }
  state = refineState(state, vm.ctxtState, inf.configured);
  applyVmState(system, state, vm.vmId);

  const info = vmInfoWith(radl, system);
  const patch: Partial<VmRecord> = {};
  if (state !== vm.state) patch.state = state;
  if (info !== vm.info) patch.info = info;
  if (lastUpdate !== vm.lastUpdate) patch.lastUpdate = lastUpdate;
  if (cloudData !== vm.cloudData) patch.cloudData = cloudData;
  if (Object.keys(patch).length === 0) {
    if (!due && !graceOver) settled.set(vm, { configured: inf.configured });
    return vm;
  }
  try {
    return await services.store.updateVm(vm.infId, vm.vmId, vm.version, patch);
  } catch (err) {
    if (!(err instanceof VersionConflictError)) throw err;
    const latest = await services.store.getVm(vm.infId, vm.vmId);
    if (!latest) return { ...vm, ...patch };
    return latest.destroyed || latest.deleting || (latest.state === 'failed' && !latest.providerId)
      ? refreshOnce(services, inf, latest, { force: false })
      : { ...latest, state: refineState(latest.state, latest.ctxtState, inf.configured) };
  }
}

