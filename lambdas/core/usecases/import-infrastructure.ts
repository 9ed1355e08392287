/**
 * ImportInfrastructure: recreates an exported infrastructure with its original id; its owners
 * become the caller's IM identities and its cloud credentials the caller's cloud items. Accepts
 * this service's exports and IM's (RADL text in `radl` / `info`). Bad data → 400
 * `Error importing the infrastructure, incorrect data: …`; an id that exists → 400, unless that
 * infrastructure is deleted and the caller owns it (or is an admin): then, as in IM (which only
 * refuses ids that are loaded), the import replaces the deleted record — export with delete followed
 * by import moves an infrastructure between deployments or back.
 */
import { errors } from '#core/errors';
import { VersionConflictError, type AuthItem, type CtxtState, type InfraRecord, type Services, type VmRecord, type VmState } from '#core/types';
import { authenticate, ownerKey, ownerRecords } from '#core/auth';
import { sealCloudAuth } from '#core/cloud-auth';
import { parseRadl, parseRadlJson, radlToJsonString } from '#radl/index';
import { deletedExpiry, putVmRecords, requireWriteMode } from '#core/usecases/common';

type Obj = Record<string, unknown>;

const VM_STATES: VmState[] = ['pending', 'running', 'configured', 'unconfigured', 'stopped', 'off', 'failed', 'unknown', 'deleting'];
const CTXT_STATES: CtxtState[] = ['none', 'pending', 'running', 'ok', 'failed', 'disabled'];

class IncorrectData extends Error {}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown, d: number): number => (typeof v === 'number' && Number.isFinite(v) ? v : d);

/** RADL-JSON string from a `*_json` field or from RADL text. */
function radlJson(json: unknown, text: unknown, what: string): string {
  try {
    if (typeof json === 'string' && json !== '') return radlToJsonString(parseRadlJson(json), 0);
    if (typeof text === 'string') return radlToJsonString(parseRadl(text), 0);
    return '[]';
  } catch (e) {
    throw new IncorrectData(`invalid RADL in ${what}: ${(e as Error).message}`);
  }
}

function importVm(infId: string, v: unknown, now: number): { vm: VmRecord; log: string } {
  if (!isObj(v)) throw new IncorrectData('every element of vm_list must be an object');
  const vmId = v.im_id ?? v.creation_im_id;
  if (typeof vmId !== 'number' || !Number.isInteger(vmId) || vmId < 0) throw new IncorrectData('a VM without a valid im_id');
  const cloud = isObj(v.cloud) ? v.cloud : {};
  const info = radlJson(v.info_json, v.info, `VM ${vmId}`);
  const state = VM_STATES.includes(v.state as VmState) ? (v.state as VmState) : 'unknown';
  const ctxt = CTXT_STATES.includes(v.ctxt_state as CtxtState) ? (v.ctxt_state as CtxtState) : v.configured === true ? 'ok' : v.configured === false ? 'failed' : 'none';
  let systemName = str(v.system_name);
  if (!systemName) systemName = parseRadlJson(info).systems[0]?.name ?? '';
  const vm: VmRecord = {
    infId,
    vmId,
    version: 1,
    cloudId: str(cloud.id) ?? '',
    cloudType: str(cloud.type) ?? '',
    systemName,
    state,
    // Work that was in flight when exported is not resumed.
    creating: false,
    destroyed: v.destroy === true,
    deleting: false,
    info,
    ctxtState: ctxt === 'pending' || ctxt === 'running' ? 'failed' : ctxt,
    lastUpdate: num(v.last_update, 0) * 1000,
    createdAt: num(v.creation_date, now / 1000) * 1000,
  };
  if (typeof v.id === 'string' && v.id !== '') vm.providerId = v.id;
  const requested = v.requested_radl_json ?? undefined;
  if (requested !== undefined || typeof v.requested_radl === 'string') {
    const r = radlJson(requested, v.requested_radl, `VM ${vmId} requested RADL`);
    if (r !== '[]') vm.requestedRadl = r;
  }
  if (typeof v.error_msg === 'string' && v.error_msg) vm.errorMsg = v.error_msg;
  if (isObj(v.cloud_data)) vm.cloudData = v.cloud_data;
  if (typeof v.launch_attempts === 'number') vm.launchAttempts = v.launch_attempts;
  return { vm, log: str(v.cont_out) ?? '' };
}

export async function importInfrastructure(services: Services, auth: AuthItem[], data: string): Promise<string> {
  requireWriteMode(services);
  const caller = await authenticate(services, auth);
  const now = services.now();
  let inf: InfraRecord;
  let vms: { vm: VmRecord; log: string }[];
  let contOut: string;
  try {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch (e) {
      throw new IncorrectData((e as Error).message);
    }
    if (!isObj(parsed)) throw new IncorrectData('a JSON object is expected');
    const id = str(parsed.id);
    // IM's ids are UUIDs (uuid1): anything else (`..`, paths, long strings) is refused.
    if (!id || !UUID_RE.test(id)) throw new IncorrectData('missing or invalid id (an infrastructure id is a UUID)');
    const radl = radlJson(parsed.radl_json, parsed.radl, 'the infrastructure RADL');
    vms = (Array.isArray(parsed.vm_list) ? parsed.vm_list : []).map((v) => importVm(id, v, now));
    contOut = str(parsed.cont_out) ?? '';
    const maxId = vms.reduce((m, { vm }) => Math.max(m, vm.vmId + 1), 0);
    const extra = isObj(parsed.extra_info) ? { ...parsed.extra_info } : {};
    const tosca = str(extra.TOSCA);
    delete extra.TOSCA;
    const owners = await ownerRecords(caller);
    const createdAt = num(parsed.creation_date, now / 1000) * 1000;
    inf = {
      id,
      version: 1,
      owners,
      ownerKeys: [...new Set(owners.map((o) => ownerKey(o.username)))],
      status: parsed.deleted === true ? 'deleted' : 'active',
      createdAt,
      updatedAt: now,
      radl,
      vmCounter: Math.max(maxId, num(parsed.vm_id, 0)),
      addingOps: [],
      privateNetworks: isObj(parsed.private_networks) ? (parsed.private_networks as Record<string, string>) : {},
      snapshots: Array.isArray(parsed.snapshots) ? parsed.snapshots.filter((s): s is string => typeof s === 'string') : [],
      cloudAuth: sealCloudAuth(services, caller.items),
    };
    if (parsed.deleted === true) {
      inf.deletedAt = now;
      inf.expiresAt = deletedExpiry(services);
    }
    if (typeof parsed.vm_master === 'number') inf.vmMaster = parsed.vm_master;
    if (typeof parsed.configured === 'boolean') inf.configured = parsed.configured;
    if (tosca) inf.tosca = tosca;
    if (Object.keys(extra).length > 0) inf.extra = extra;
  } catch (e) {
    if (e instanceof IncorrectData) throw errors.badRequest(`Error importing the infrastructure, incorrect data: ${e.message}`);
    throw e;
  }
  try {
    await services.store.createInfrastructure(inf);
  } catch (e) {
    if (!(e instanceof VersionConflictError)) throw e;
    if (!(await replaceableDeleted(services, inf.id))) {
      throw errors.badRequest(`Error importing the infrastructure: an infrastructure with ID ${inf.id} already exists.`);
    }
    await services.store.deleteInfrastructureData(inf.id);
    try {
      await services.store.createInfrastructure(inf);
    } catch (again) {
      if (again instanceof VersionConflictError) throw errors.badRequest(`Error importing the infrastructure: an infrastructure with ID ${inf.id} already exists.`);
      throw again;
    }
  }
  await putVmRecords(services, vms.map((v) => v.vm));
  const store = services.store;
  await Promise.all([
    contOut ? store.appendLog(inf.id, 'inf', contOut) : undefined,
    ...vms.filter((v) => v.log).map((v) => store.appendLog(inf.id, v.vm.vmId, v.log)),
  ]);
  return inf.id;
}

/**
 * An existing record may be replaced by an import only when it is deleted, whoever owned it: as in IM, a
 * deleted infrastructure's id is free again. The answer then does not depend on who owns the id (an
 * import of another user's id reads as one of the caller's own), and an active one is "already
 * exists" for everybody.
 */
async function replaceableDeleted(services: Services, infId: string): Promise<boolean> {
  const existing = await services.store.getInfrastructure(infId);
  if (!existing) return true; // purged or expired meanwhile
  return existing.status === 'deleted';
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
