/**
 * Helpers shared by the use cases: BOOT_MODE gating, loading an infrastructure / VM for a caller
 * (404 before 403, as IM), RADL input parsing, the cloud credentials of a caller, log lines and
 * the VM handle that connectors take.
 */
import { ImError, errors } from '#core/errors';
import { type AuthItem, type InfraRecord, type Services, type VmRecord } from '#core/types';
import { mutateInfrastructureFrom } from '#core/mutate';
import { contMsgLine, logTimestamp } from '#core/contmsg';
import { authenticate, isAuthorized, type Caller } from '#core/auth';
import { currentCloudAuth, sealCloudAuth } from '#core/cloud-auth';
import { Radl, checkRadl, parseRadl, parseRadlJson, type System } from '#radl/index';

/** A RADL document as received: RADL text, RADL-JSON text, or TOSCA YAML. */
export interface RadlInput {
  text: string;
  format: 'radl' | 'json' | 'tosca';
}

// ---------------------------------------------------------------------------------------------
// BOOT_MODE (lifecycle.md §6)
// ---------------------------------------------------------------------------------------------

/** Operations that write (refused in BOOT_MODE 1 and 2). */
export function requireWriteMode(services: Pick<Services, 'config'>): void {
  if (services.config.BOOT_MODE !== 0) throw errors.disabled();
}

/** Destroy and export-with-delete (refused in BOOT_MODE 1 only). */
export function requireDeleteMode(services: Pick<Services, 'config'>): void {
  if (services.config.BOOT_MODE === 1) throw errors.disabled();
}

// ---------------------------------------------------------------------------------------------
// Infrastructures and VMs of a caller
// ---------------------------------------------------------------------------------------------

export { authenticate };

/** Longer ids cannot exist (ids are UUIDs; imported ones must be too). */
const MAX_INF_ID_LENGTH = 256;

/**
 * The infrastructure if the caller may use it: unknown → 404 `Invalid infrastructure ID or
 * access not granted.`; not owner/admin → 403; deleted → 404 `Deleted infrastructure.` (to the
 * owners; others get the unknown-id answer so that nothing leaks).
 */
export async function getInfraForCaller(services: Services, caller: Caller, infId: string): Promise<InfraRecord> {
  // No infrastructure has such an id (ids are UUIDs): the store is not asked (DynamoDB refuses keys over 2 KB).
  if (infId.length > MAX_INF_ID_LENGTH) throw errors.infNotFound();
  const inf = await services.store.getInfrastructure(infId);
  if (!inf) throw errors.infNotFound();
  const allowed = await isAuthorized(inf, caller);
  if (inf.status === 'deleted') throw allowed ? errors.infDeleted() : errors.infNotFound();
  if (!allowed) throw errors.forbidden();
  return inf;
}

/** Authenticates and loads the infrastructure in one go. */
export async function callerAndInfra(services: Services, auth: AuthItem[], infId: string): Promise<{ caller: Caller; inf: InfraRecord }> {
  const caller = await authenticate(services, auth);
  const inf = await getInfraForCaller(services, caller, infId);
  return { caller, inf };
}

/**
 * callerAndInfra plus another read started at the same time (one round trip less of latency).
 * The access checks are decided first: the other read's result or error is only used afterwards,
 * so nothing leaks to a caller without access.
 */
export async function callerInfraAnd<T>(
  services: Services,
  auth: AuthItem[],
  infId: string,
  read: () => Promise<T>,
): Promise<{ caller: Caller; inf: InfraRecord; value: T }> {
  const pending = read();
  pending.catch(() => undefined);
  const { caller, inf } = await callerAndInfra(services, auth, infId);
  return { caller, inf, value: await pending };
}

/**
 * Applies `fn` to a record just read, conditionally on its version (no second read when nobody
 * else wrote meanwhile); on a version conflict, read-modify-write with retries.
 */
export async function updateInfFrom(
  services: Services,
  inf: InfraRecord,
  fn: (inf: InfraRecord) => Partial<InfraRecord> | undefined | Promise<Partial<InfraRecord> | undefined>,
): Promise<InfraRecord> {
  return mutateInfrastructureFrom(services.store, inf, fn);
}

/** VM id as given by clients (string or number) → integer, else 404 `Invalid VM ID`. */
export function parseVmId(vmId: string | number): number {
  const s = String(vmId).trim();
  if (!/^\d+$/.test(s)) throw errors.invalidVm();
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw errors.invalidVm();
  return n;
}

/** A live VM of the infrastructure: unknown → `Invalid VM ID`, destroyed → `Deleted VM.` (404). */
export async function getLiveVm(services: Services, infId: string, vmId: string | number): Promise<VmRecord> {
  const id = parseVmId(vmId);
  const vm = await services.store.getVm(infId, id);
  if (!vm) throw errors.invalidVm();
  if (vm.destroyed) throw errors.deletedVm();
  return vm;
}

/** Writes new VM records (one batch when the store supports it). */
export async function putVmRecords(services: Services, vms: VmRecord[]): Promise<void> {
  const store = services.store as Services['store'] & { putVms?: (vms: VmRecord[]) => Promise<void> };
  if (vms.length === 0) return;
  if (typeof store.putVms === 'function' && vms.length > 1) await store.putVms(vms);
  else await Promise.all(vms.map((vm) => store.putVm(vm)));
}

/** Non-destroyed VMs in id order. */
export async function liveVms(services: Services, infId: string): Promise<VmRecord[]> {
  return (await services.store.listVms(infId)).filter((vm) => !vm.destroyed);
}

// ---------------------------------------------------------------------------------------------
// RADL
// ---------------------------------------------------------------------------------------------

/** TOSCA bodies are translated by the use cases (core/usecases/tosca.ts); this parser takes RADL only. */
export const toscaUnsupported = () => new ImError('UNSUPPORTED_MEDIA_TYPE', 'TOSCA input is not supported by this operation');

/** Parses the input without validating it (RadlError → 400 through the error table). */
export function parseRadlInput(input: RadlInput): Radl {
  if (input.format === 'tosca') throw toscaUnsupported();
  if (input.text.trim() === '') return new Radl();
  return input.format === 'json' ? parseRadlJson(input.text) : parseRadl(input.text);
}

/** Parses and checks. */
export function parseCheckedRadl(input: RadlInput): Radl {
  const radl = parseRadlInput(input);
  checkRadl(radl);
  return radl;
}

/** The stored infrastructure RADL (a RADL-JSON string). */
export function infraRadl(inf: Pick<InfraRecord, 'radl'>): Radl {
  return inf.radl ? parseRadlJson(inf.radl) : new Radl();
}

/** The VM's RADL (its networks and its single system). */
export function vmRadl(vm: Pick<VmRecord, 'info'>): Radl {
  return vm.info ? parseRadlJson(vm.info) : new Radl();
}

export function vmSystem(vm: Pick<VmRecord, 'info' | 'systemName'>): System {
  const radl = vmRadl(vm);
  const sys = radl.systems[0];
  if (!sys) throw errors.internal(`VM record without a system (${vm.systemName})`);
  return sys;
}

// ---------------------------------------------------------------------------------------------
// Cloud credentials
// ---------------------------------------------------------------------------------------------

/**
 * Cloud items to use for work on this infrastructure: the stored (sealed) ones, with the
 * caller's items of the same id taking precedence and new ids added (stored items that carried the
 * previous caller's OIDC token carry this caller's).
 */
export function effectiveCloudItems(services: Services, inf: Pick<InfraRecord, 'cloudAuth'>, caller: Caller): AuthItem[] {
  return currentCloudAuth(services, inf, caller.items).items;
}

/** The new sealed cloud auth if the caller brought new or changed cloud items or a new token, else undefined. */
export function refreshedCloudAuth(services: Services, inf: Pick<InfraRecord, 'cloudAuth'>, caller: Caller): string | undefined {
  const current = currentCloudAuth(services, inf, caller.items);
  return current.changed ? sealCloudAuth(services, current.items, current.token) : undefined;
}

/** The auth item of a VM's cloud; 400 `No auth data for cloud with ID: X` when absent. */
export function cloudAuthOf(items: AuthItem[], cloudId: string): AuthItem {
  const item = items.find((i) => i.id === cloudId);
  if (!item) throw errors.badRequest(`No auth data for cloud with ID: ${cloudId}`);
  return item;
}

/** The connector of a VM's cloud type; 400 when this server has none. */
export function connectorFor(services: Services, type: string) {
  const c = services.connectors.get(type);
  if (!c) throw errors.badRequest(`Cloud provider type '${type}' is not supported by this server.`);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Logs (contmsg)
// ---------------------------------------------------------------------------------------------

/** Appends `<timestamp>: <msg>\n` to the infrastructure (or a VM) log. */
export async function addContMsg(services: Services, infId: string, msg: string, scope: 'inf' | number = 'inf'): Promise<void> {
  await services.store.appendLog(infId, scope, contMsgLine(services.now(), msg));
}

/** `YYYY-MM-DD HH:MM:SS` (UTC). */
export function formatDateTime(ms: number): string {
  return logTimestamp(ms).slice(0, 19);
}

/** Epoch seconds at which a record marked deleted now expires (TTL). */
export function deletedExpiry(services: Services): number {
  return Math.floor(services.now() / 1000 + services.config.DELETED_RETENTION_DAYS * 86400);
}

/** The patch that marks an infrastructure deleted (kept DELETED_RETENTION_DAYS for stats). */
export function deletedPatch(services: Services): Pick<InfraRecord, 'status' | 'deletedAt' | 'expiresAt'> {
  return { status: 'deleted', deletedAt: services.now(), expiresAt: deletedExpiry(services) };
}

/** Waits for a workflow execution for at most SYNC_WAIT_SECONDS. */
export function waitSync(services: Services, executionId: string) {
  return services.orchestrator.wait(executionId, services.config.SYNC_WAIT_SECONDS * 1000);
}
