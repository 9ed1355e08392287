/**
 * Infrastructure endpoints (rest-api.md §6.2-6.11): HTTP ↔ use case mapping only.
 */
import { ImError, errors } from '#core/errors';
import { authItemsFromObjects, IM_AUTH_TYPE } from '#core/auth';
import { getInfrastructureList } from '#core/usecases/list';
import { createInfrastructure } from '#core/usecases/create-infrastructure';
import { estimateResources } from '#core/usecases/estimate';
import { importInfrastructure } from '#core/usecases/import-infrastructure';
import { getInfrastructureInfo } from '#core/usecases/get-infrastructure-info';
import { addResource } from '#core/usecases/add-resource';
import { destroyInfrastructure } from '#core/usecases/destroy-infrastructure';
import { getInfrastructureContMsg } from '#core/usecases/get-infrastructure-contmsg';
import { getInfrastructureRadl } from '#core/usecases/get-infrastructure-radl';
import { getInfrastructureOutputs, getInfrastructureTosca } from '#core/usecases/get-infrastructure-tosca';
import { getInfrastructureState } from '#core/usecases/get-infrastructure-state';
import { exportInfrastructure } from '#core/usecases/export-infrastructure';
import { getInfrastructureOwners } from '#core/usecases/get-infrastructure-owners';
import { changeInfrastructureAuth } from '#core/usecases/change-auth';
import { parseVmList, reconfigure } from '#core/usecases/reconfigure';
import { startInfrastructure, stopInfrastructure } from '#core/usecases/infra-op';
import type { RestContext } from '#api/rest/context';
import { emptyResponse, requireJsonBody } from '#api/rest/media';
import type { RestResponse } from '#api/rest/types';

export async function listInfrastructures(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const out = ctx.output('text/uri-list');
  const ids = await ctx.run(() => getInfrastructureList(ctx.services, auth, ctx.query('filter')));
  return out.list(
    ids.map((id) => ctx.uri('infrastructures', id)),
    'uri-list',
    'uri',
  );
}

export async function createInfrastructureEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const async = ctx.flag('async', false);
  const dryRun = ctx.flag('dry_run', false);
  const input = ctx.radlBody();
  if (dryRun) {
    const out = ctx.output('application/json');
    const estimate = await ctx.run(() => estimateResources(ctx.services, auth, input));
    return out.value({ text: JSON.stringify(estimate), json: estimate });
  }
  const out = ctx.output('text/uri-list');
  const id = await ctx.run(() => createInfrastructure(ctx.services, auth, input, { async }));
  const uri = ctx.uri('infrastructures', id);
  return out.value({ text: uri, json: uri }, 'uri', { InfID: id });
}

export async function importInfrastructureEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  requireJsonBody(ctx.req.headers['content-type']);
  const out = ctx.output('text/uri-list');
  const id = await ctx.run(() => importInfrastructure(ctx.services, auth, ctx.bodyText()));
  const uri = ctx.uri('infrastructures', id);
  return out.value({ text: uri, json: uri }, 'uri');
}

export async function infrastructureInfo(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const out = ctx.output('text/uri-list');
  const { infId } = ctx.params;
  const vmIds = await ctx.run(() => getInfrastructureInfo(ctx.services, auth, infId));
  return out.list(
    vmIds.map((vm) => ctx.uri('infrastructures', infId, 'vms', vm)),
    'uri-list',
    'uri',
  );
}

export async function addResourceEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const context = ctx.flag('context', true);
  const input = ctx.radlBody();
  const out = ctx.output('text/uri-list');
  const { infId } = ctx.params;
  const vmIds = await ctx.run(() => addResource(ctx.services, auth, infId, input, { context }));
  return out.list(
    vmIds.map((vm) => ctx.uri('infrastructures', infId, 'vms', vm)),
    'uri-list',
    'uri',
    context ? { InfID: infId } : {},
  );
}

export async function destroyInfrastructureEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const force = ctx.flag('force', false);
  const async = ctx.flag('async', false);
  await ctx.run(() => destroyInfrastructure(ctx.services, auth, ctx.params.infId, { force, async }));
  return emptyResponse();
}

export const INFRA_PROPS = ['contmsg', 'radl', 'tosca', 'state', 'outputs', 'data', 'authorization'] as const;

export async function infrastructureProperty(ctx: RestContext): Promise<RestResponse> {
  const { infId, prop } = ctx.params;
  const auth = ctx.auth();
  if (!(INFRA_PROPS as readonly string[]).includes(prop)) throw new ImError('ROUTE_NOT_FOUND', 'Incorrect infrastructure property');
  const s = ctx.services;
  switch (prop) {
    case 'contmsg': {
      const headeronly = ctx.flag('headeronly', false);
      const out = ctx.output('text/plain');
      const msg = await ctx.run(() => getInfrastructureContMsg(s, auth, infId, headeronly));
      return out.value({ text: msg, json: msg }, 'contmsg');
    }
    case 'radl': {
      const out = ctx.output('text/plain');
      const radl = await ctx.run(() => getInfrastructureRadl(s, auth, infId));
      return out.value({ text: radl, json: radl }, 'radl');
    }
    case 'tosca': {
      const out = ctx.output('text/plain');
      const tosca = await ctx.run(() => getInfrastructureTosca(s, auth, infId));
      return out.value({ text: tosca, json: tosca }, 'tosca');
    }
    case 'state': {
      const out = ctx.output('application/json', { jsonOnly: true });
      const state = await ctx.run(() => getInfrastructureState(s, auth, infId));
      return out.value({ text: '', json: state }, 'state');
    }
    case 'outputs': {
      const out = ctx.output('application/json', { jsonOnly: true });
      const outputs = await ctx.run(() => getInfrastructureOutputs(s, auth, infId));
      return out.value({ text: '', json: outputs }, 'outputs');
    }
    case 'data': {
      const out = ctx.output('application/json', { jsonOnly: true });
      const del = ctx.flag('delete', false);
      const data = await ctx.run(() => exportInfrastructure(s, auth, infId, del));
      return out.value({ text: data, json: data }, 'data');
    }
    default: {
      const out = ctx.output('text/plain');
      const owners = await ctx.run(() => getInfrastructureOwners(s, auth, infId));
      return out.value({ text: owners, json: owners }, 'authorization');
    }
  }
}

function parseAuthBody(text: string) {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw errors.badRequest(`Error parsing auth data: ${(e as Error).message}`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw errors.badRequest('Error parsing auth data: a JSON object is expected');
  const item = { type: IM_AUTH_TYPE, ...(obj as Record<string, unknown>) };
  try {
    return authItemsFromObjects([item]);
  } catch (e) {
    throw errors.badRequest(`Error parsing auth data: ${(e as Error).message}`);
  }
}

export async function changeAuthEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const overwrite = ctx.flag('overwrite', false);
  requireJsonBody(ctx.req.headers['content-type']);
  await ctx.run(() => changeInfrastructureAuth(ctx.services, auth, ctx.params.infId, parseAuthBody(ctx.bodyText()), overwrite));
  return emptyResponse();
}

export async function reconfigureEndpoint(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const rawList = ctx.query('vm_list');
  const vmList = rawList === undefined ? undefined : parseVmList(rawList);
  const input = ctx.req.body.length > 0 ? ctx.radlBody() : undefined;
  const { infId } = ctx.params;
  await ctx.run(() => reconfigure(ctx.services, auth, infId, input, vmList));
  return emptyResponse({ InfID: infId });
}

export async function infrastructureOperation(ctx: RestContext): Promise<RestResponse> {
  const { infId, op } = ctx.params;
  const auth = ctx.auth();
  if (op !== 'start' && op !== 'stop') throw new ImError('ROUTE_NOT_FOUND', 'Incorrect infrastructure operation');
  await ctx.run(() => (op === 'start' ? startInfrastructure : stopInfrastructure)(ctx.services, auth, infId));
  return emptyResponse();
}
