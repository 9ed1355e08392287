/**
 * VM endpoints (rest-api.md §6.12-6.17): HTTP ↔ use case mapping only.
 */
import { ImError, errors } from '#core/errors';
import { Radl, System, radlToJson, radlToText, type Features } from '#radl/index';
import { getVmInfo } from '#core/usecases/get-vm-info';
import { alterVm } from '#core/usecases/alter-vm';
import { removeResource } from '#core/usecases/remove-resource';
import { getVmContMsg } from '#core/usecases/get-vm-contmsg';
import { getVmProperty, type VmPropertyValue } from '#core/usecases/get-vm-property';
import { getVmCommand } from '#core/usecases/vm-command';
import { rebootVm, startVm, stopVm } from '#core/usecases/vm-op';
import { createDiskSnapshot } from '#core/usecases/create-snapshot';
import type { RestContext } from '#api/rest/context';
import { emptyResponse, textResponse, type OutputValue } from '#api/rest/media';
import type { RestResponse } from '#api/rest/types';

/** A VM RADL: RADL text, or in JSON the array of RADL-JSON objects. */
function radlValue(radl: Radl): OutputValue {
  return { text: () => radlToText(radl), json: radlToJson(radl) };
}

export async function vmInfo(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const out = ctx.output('text/plain');
  const { infId, vmId } = ctx.params;
  const radl = await ctx.run(() => getVmInfo(ctx.services, auth, infId, vmId));
  return out.value(radlValue(radl), 'radl');
}

export async function alterVmEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const input = ctx.radlBody();
  const out = ctx.output('text/plain');
  const { infId, vmId } = ctx.params;
  const radl = await ctx.run(() => alterVm(ctx.services, auth, infId, vmId, input));
  return out.value(radlValue(radl), 'radl');
}

export async function removeVmsEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const context = ctx.flag('context', true);
  const { infId, vmId } = ctx.params;
  await ctx.run(() => removeResource(ctx.services, auth, infId, vmId, { context }));
  return emptyResponse();
}

/** `contains` feature sets as RADL-JSON objects (JSON) or RADL text (text). */
function containsValue(prop: string, sets: Features[]): OutputValue {
  const sys = new System('vm');
  for (const set of sets) sys.addContains(prop, set.clone());
  const radl = new Radl();
  radl.systems.push(sys);
  const json = radlToJson(radl)[0][prop];
  return { text: () => sys.featuresToText(' and\n', false), json };
}

function propertyValue(prop: string, v: VmPropertyValue): OutputValue {
  if (typeof v === 'object' && !Array.isArray(v)) return containsValue(prop, v.contains);
  return { text: v, json: v };
}

export async function vmProperty(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const { infId, vmId, prop } = ctx.params;
  const s = ctx.services;
  const notFound = () => new ImError('ROUTE_NOT_FOUND', `Incorrect property ${prop} for VM ID ${vmId}`);
  if (prop === 'contmsg') {
    const out = ctx.output('text/plain');
    const msg = await ctx.run(() => getVmContMsg(s, auth, infId, vmId));
    return out.value({ text: msg, json: msg }, 'contmsg');
  }
  if (prop === 'command') {
    const rawStep = ctx.query('step') ?? '1';
    if (!/^\d+$/.test(rawStep.trim())) throw errors.badRequest('Incorrect value in step parameter');
    const out = ctx.output('text/plain');
    const command = await ctx.run(() => getVmCommand(s, auth, infId, vmId, Number(rawStep), ctx.req.baseUrl));
    if (command === undefined) throw notFound();
    return out.value({ text: command, json: command }, 'command');
  }
  const out = ctx.output('text/plain');
  const value = await ctx.run(() => getVmProperty(s, auth, infId, vmId, prop));
  if (value === undefined) throw notFound();
  return out.value(propertyValue(prop, value), prop);
}

const VM_OPS = { start: startVm, stop: stopVm, reboot: rebootVm } as const;

export async function vmOperation(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const { infId, vmId, op } = ctx.params;
  if (!Object.prototype.hasOwnProperty.call(VM_OPS, op)) throw new ImError('ROUTE_NOT_FOUND', 'Incorrect VM operation');
  const fn = VM_OPS[op as keyof typeof VM_OPS];
  await ctx.run(() => fn(ctx.services, auth, infId, vmId));
  return emptyResponse();
}

export async function snapshotEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const { infId, vmId, diskNum } = ctx.params;
  const imageName = ctx.query('image_name');
  if (imageName === undefined || imageName === '') throw errors.badRequest('Parameter image_name required.');
  const autoDelete = ctx.flag('auto_delete', false);
  if (!/^\d+$/.test(diskNum)) throw errors.badRequest(`Incorrect value in diskNum parameter: ${diskNum}`);
  const url = await ctx.run(() => createDiskSnapshot(ctx.services, auth, infId, vmId, Number(diskNum), imageName, autoDelete));
  return textResponse('text/plain', url);
}
