/**
 * The XML-RPC method table (xmlrpc-api.md §3): the 29 methods IM 1.19 registered, each with its
 * positional parameters, the use case it calls (the same one REST calls: no business logic here)
 * and how its result is put on the wire.
 *
 * Every entry is `{params, run, result?, logLike?}`:
 *   - params: the positional parameters in the spec's order (optional ones last);
 *   - run: calls exactly one use case with the decoded arguments;
 *   - result: maps the use case's value to the wire shape of the spec's table (default: as is);
 *   - logLike: the result is log text, whose characters XML 1.0 cannot carry are replaced by U+FFFD.
 */
import type { Config } from '#core/config';
import { errors } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { authItemsFromObjects } from '#core/auth';
import { isRadlJson, radlToJsonString, radlToText, type Features, type Radl } from '#radl/index';
import type { XmlRpcValue } from '#api/xmlrpc/codec';
import { optional, p, type Param } from '#api/xmlrpc/params';
import type { RadlInput } from '#core/usecases/common';
import { getVersion } from '#core/usecases/version';
import { getInfrastructureList } from '#core/usecases/list';
import { createInfrastructure } from '#core/usecases/create-infrastructure';
import { getInfrastructureInfo } from '#core/usecases/get-infrastructure-info';
import { getInfrastructureContMsg } from '#core/usecases/get-infrastructure-contmsg';
import { getInfrastructureState } from '#core/usecases/get-infrastructure-state';
import { getInfrastructureRadl } from '#core/usecases/get-infrastructure-radl';
import { getVmInfo } from '#core/usecases/get-vm-info';
import { getVmProperty, type VmPropertyValue } from '#core/usecases/get-vm-property';
import { getVmContMsg } from '#core/usecases/get-vm-contmsg';
import { alterVm } from '#core/usecases/alter-vm';
import { destroyInfrastructure } from '#core/usecases/destroy-infrastructure';
import { addResource } from '#core/usecases/add-resource';
import { removeResource } from '#core/usecases/remove-resource';
import { startInfrastructure, stopInfrastructure } from '#core/usecases/infra-op';
import { rebootVm, startVm, stopVm } from '#core/usecases/vm-op';
import { parseVmList, reconfigure } from '#core/usecases/reconfigure';
import { exportInfrastructure } from '#core/usecases/export-infrastructure';
import { importInfrastructure } from '#core/usecases/import-infrastructure';
import { createDiskSnapshot } from '#core/usecases/create-snapshot';
import { getCloudImageList, parseFilters } from '#core/usecases/cloud-images';
import { getCloudQuotas } from '#core/usecases/cloud-quotas';
import { changeInfrastructureAuth } from '#core/usecases/change-auth';
import { getInfrastructureOwners } from '#core/usecases/get-infrastructure-owners';
import { estimateResources } from '#core/usecases/estimate';
import { getStats, parseStatsDate } from '#core/usecases/stats';

/** What a method runs with. */
export interface MethodContext {
  config: Config;
  services: Services;
}

type ArgsOf<P extends readonly Param<unknown>[]> = { -readonly [K in keyof P]: P[K] extends Param<infer T> ? T : never };

export interface MethodDef {
  params: readonly Param<unknown>[];
  /** The use case's value, or a promise of it (GetVersion answers at once); may throw. */
  run(ctx: MethodContext, args: unknown[]): unknown;
  result(value: unknown, ctx: MethodContext): XmlRpcValue;
  logLike: boolean;
}

/** Builds a table entry with the argument types inferred from the params. */
function method<const P extends readonly Param<unknown>[], R>(def: {
  params: P;
  run: (ctx: MethodContext, args: ArgsOf<P>) => Promise<R> | R;
  result?: (value: R, ctx: MethodContext) => XmlRpcValue;
  logLike?: boolean;
}): MethodDef {
  return {
    params: def.params,
    run: def.run as MethodDef['run'],
    result: (def.result as MethodDef['result'] | undefined) ?? wire, // default: as is
    logLike: def.logLike ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Argument and result helpers (wire shapes only)
// ---------------------------------------------------------------------------------------------

/** Auth structs → auth items, through the auth module (id check and generated ids; bad id → `[false, …]`). */
const items = (raw: Record<string, string>[]): AuthItem[] => authItemsFromObjects(raw);

/**
 * XML-RPC radl parameters are RADL text in the spec; RADL-JSON text (first non-blank character
 * `[` or `{`) is accepted as well, as REST does with `Content-Type: application/json`. No TOSCA here.
 */
const radlInput = (text: string): RadlInput => ({ text, format: isRadlJson(text) ? 'json' : 'radl' });

/** Values the encoder checks itself (it refuses anything unrepresentable with a fault). */
const wire = (v: unknown): XmlRpcValue => v as XmlRpcValue;

/** A `contains` feature set as a struct (nested sets as arrays of structs), like its RADL-JSON form. */
function featuresStruct(fs: Features): XmlRpcValue {
  const out: Record<string, XmlRpcValue> = {};
  for (const prop of fs.props()) {
    const contains = fs.getContains(prop);
    const v = contains.length > 0 ? contains.map(featuresStruct) : fs.getValue(prop);
    if (v !== undefined) out[prop] = v;
  }
  return out;
}

function propertyValue(v: VmPropertyValue): XmlRpcValue {
  return typeof v === 'object' && !Array.isArray(v) ? v.contains.map(featuresStruct) : v;
}

const vmRadlText = (radl: Radl, ctx: MethodContext): string => (ctx.config.VMINFO_JSON ? radlToJsonString(radl) : radlToText(radl));

const stats = (name: string, text: string): number | undefined => (text.trim() === '' ? undefined : parseStatsDate(name, text));

// Parameters that recur.
const infId = p.string('infId');
const vmId = p.vmId('vmId');
const auth = p.authList('auth');
const radl = p.string('radl');

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

export const METHODS: Readonly<Record<string, MethodDef>> = Object.freeze({
  GetVersion: method({
    params: [],
    run: (ctx) => getVersion({ config: ctx.config }),
  }),

  GetInfrastructureList: method({
    params: [auth, optional(p.string('filter'))],
    run: async (ctx, [a, filter]) => getInfrastructureList(ctx.services, items(a), filter),
  }),

  CreateInfrastructure: method({
    params: [radl, auth, optional(p.bool('async'))],
    run: async (ctx, [r, a, async]) => createInfrastructure(ctx.services, items(a), radlInput(r), { async: async ?? false }),
  }),

  GetInfrastructureInfo: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => getInfrastructureInfo(ctx.services, items(a), id),
    result: (vmIds) => vmIds.map(String),
  }),

  GetInfrastructureContMsg: method({
    params: [infId, auth, optional(p.bool('headeronly'))],
    run: async (ctx, [id, a, headeronly]) => getInfrastructureContMsg(ctx.services, items(a), id, headeronly ?? false),
    logLike: true,
  }),

  GetInfrastructureState: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => getInfrastructureState(ctx.services, items(a), id),
    result: (s) => ({ state: s.state, vm_states: { ...s.vm_states } }),
  }),

  GetInfrastructureRADL: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => getInfrastructureRadl(ctx.services, items(a), id),
  }),

  GetVMInfo: method({
    params: [infId, vmId, auth],
    run: async (ctx, [id, vm, a]) => getVmInfo(ctx.services, items(a), id, vm),
    result: vmRadlText,
  }),

  GetVMProperty: method({
    params: [infId, vmId, p.string('property_name'), auth],
    run: async (ctx, [id, vm, prop, a]) => {
      const value = await getVmProperty(ctx.services, items(a), id, vm, prop);
      // IM answered a fault (None cannot be marshalled); we answer REST's message instead.
      if (value === undefined) throw errors.badRequest(`Incorrect property ${prop} for VM ID ${String(vm)}`);
      return value;
    },
    result: propertyValue,
  }),

  GetVMContMsg: method({
    params: [infId, vmId, auth],
    run: async (ctx, [id, vm, a]) => getVmContMsg(ctx.services, items(a), id, vm),
    logLike: true,
  }),

  AlterVM: method({
    params: [infId, vmId, radl, auth],
    run: async (ctx, [id, vm, r, a]) => alterVm(ctx.services, items(a), id, vm, radlInput(r)),
    result: (altered) => radlToText(altered),
  }),

  DestroyInfrastructure: method({
    params: [infId, auth, optional(p.bool('force')), optional(p.bool('async'))],
    run: async (ctx, [id, a, force, async]) => {
      await destroyInfrastructure(ctx.services, items(a), id, { force: force ?? false, async: async ?? false });
      return '';
    },
  }),

  AddResource: method({
    params: [infId, radl, auth, optional(p.bool('context'))],
    run: async (ctx, [id, r, a, context]) => addResource(ctx.services, items(a), id, radlInput(r), { context: context ?? true }),
  }),

  RemoveResource: method({
    params: [infId, p.vmIdList('vmIds'), auth, optional(p.bool('context'))],
    run: async (ctx, [id, vms, a, context]) => removeResource(ctx.services, items(a), id, vms, { context: context ?? true }),
  }),

  StopInfrastructure: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => stopInfrastructure(ctx.services, items(a), id),
  }),

  StartInfrastructure: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => startInfrastructure(ctx.services, items(a), id),
  }),

  StopVM: method({
    params: [infId, vmId, auth],
    run: async (ctx, [id, vm, a]) => stopVm(ctx.services, items(a), id, vm),
  }),

  StartVM: method({
    params: [infId, vmId, auth],
    run: async (ctx, [id, vm, a]) => startVm(ctx.services, items(a), id, vm),
  }),

  RebootVM: method({
    params: [infId, vmId, auth],
    run: async (ctx, [id, vm, a]) => rebootVm(ctx.services, items(a), id, vm),
  }),

  Reconfigure: method({
    params: [infId, radl, auth, optional(p.intList('vm_list'))],
    run: async (ctx, [id, r, a, vmList]) =>
      reconfigure(ctx.services, items(a), id, radlInput(r), typeof vmList === 'string' ? parseVmList(vmList) : vmList),
  }),

  ExportInfrastructure: method({
    params: [infId, p.bool('delete'), auth],
    run: async (ctx, [id, del, a]) => exportInfrastructure(ctx.services, items(a), id, del),
  }),

  ImportInfrastructure: method({
    params: [p.string('strInf'), auth],
    run: async (ctx, [data, a]) => importInfrastructure(ctx.services, items(a), data),
  }),

  CreateDiskSnapshot: method({
    params: [infId, vmId, p.int('diskNum'), p.string('imageName'), p.bool('autoDelete'), auth],
    run: async (ctx, [id, vm, disk, name, autoDelete, a]) => createDiskSnapshot(ctx.services, items(a), id, vm, disk, name, autoDelete),
  }),

  GetCloudImageList: method({
    params: [p.string('cloudId'), auth, optional(p.stringMapOrText('filters'))],
    run: async (ctx, [cloudId, a, filters]) =>
      getCloudImageList(ctx.services, items(a), cloudId, typeof filters === 'string' ? parseFilters(filters) : filters),
    result: (images) => images.map((i) => ({ uri: i.uri, name: i.name })),
  }),

  GetCloudQuotas: method({
    params: [p.string('cloudId'), auth],
    run: async (ctx, [cloudId, a]) => getCloudQuotas(ctx.services, items(a), cloudId),
    result: wire,
  }),

  ChangeInfrastructureAuth: method({
    params: [infId, p.authList('newAuth'), p.bool('overwrite'), auth],
    run: async (ctx, [id, newAuth, overwrite, a]) => changeInfrastructureAuth(ctx.services, items(a), id, items(newAuth), overwrite),
  }),

  GetInfrastructureOwners: method({
    params: [infId, auth],
    run: async (ctx, [id, a]) => getInfrastructureOwners(ctx.services, items(a), id),
  }),

  EstimateResources: method({
    params: [radl, auth],
    run: async (ctx, [r, a]) => estimateResources(ctx.services, items(a), radlInput(r)),
    result: wire,
  }),

  GetStats: method({
    params: [p.string('init_date'), p.string('end_date'), auth],
    run: async (ctx, [init, end, a]) => getStats(ctx.services, items(a), stats('init_date', init), stats('end_date', end)),
    result: wire,
  }),
});

/** The method of that name; only own entries (never `toString`, `__proto__`…). */
export function findMethod(name: string): MethodDef | undefined {
  return Object.prototype.hasOwnProperty.call(METHODS, name) ? METHODS[name] : undefined;
}
