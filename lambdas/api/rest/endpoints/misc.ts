/**
 * Version, clouds, stats, OAI-PMH, static files and the API index (rest-api.md §6.1, §6.18-6.22).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { ImError, errors } from '#core/errors';
import { getVersion } from '#core/usecases/version';
import { getHealth } from '#core/usecases/health';
import { getCloudImageList, parseFilters } from '#core/usecases/cloud-images';
import { getCloudQuotas } from '#core/usecases/cloud-quotas';
import { getStats, parseStatsDate, statsToCsv } from '#core/usecases/stats';
import type { RestContext } from '#api/rest/context';
import { jsonResponse, parseMediaTypes, textResponse } from '#api/rest/media';
import type { RestResponse } from '#api/rest/types';

/** Synchronous: nothing to wait for (the hot path of GET /version). */
export function version(ctx: RestContext): RestResponse {
  const out = ctx.output('text/plain');
  const v = ctx.runSync(getVersion, ctx.services);
  return out.value({ text: v, json: v }, 'version');
}

/** Always JSON: `{status, store[, message]}`, 200 when the store answers, else 503. */
export async function health(ctx: RestContext): Promise<RestResponse> {
  const report = await ctx.run(() => getHealth(ctx.services));
  return jsonResponse(report, undefined, report.status === 'ok' ? 200 : 503);
}

export async function cloudInfo(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const { cloudId, param } = ctx.params;
  if (param === 'images') {
    const raw = ctx.query('filters');
    const filters = raw === undefined ? {} : parseFilters(raw);
    const out = ctx.output('application/json');
    const images = await ctx.run(() => getCloudImageList(ctx.services, auth, cloudId, filters));
    return out.value({ text: '', json: images }, 'images');
  }
  if (param === 'quotas') {
    const out = ctx.output('application/json');
    const quotas = await ctx.run(() => getCloudQuotas(ctx.services, auth, cloudId));
    return out.value({ text: '', json: quotas }, 'quotas');
  }
  throw new ImError('ROUTE_NOT_FOUND', 'Incorrect cloud property');
}

/** JSON for absent/application/json/application/*\/*\/*, CSV for text/csv or text/*, else 415. */
function statsType(accept: string | undefined): 'json' | 'csv' {
  const types = parseMediaTypes(accept);
  if (types.length === 0) return 'json';
  for (const t of types) {
    if (t === 'application/json' || t === 'application/*' || t === '*/*') return 'json';
    if (t === 'text/csv' || t === 'text/*') return 'csv';
  }
  throw new ImError('UNSUPPORTED_MEDIA_TYPE', `Unsupported Accept Media Types: ${types.join(',')}`);
}

export async function stats(ctx: RestContext): Promise<RestResponse> {
  const auth = ctx.auth();
  const init = ctx.query('init_date');
  const end = ctx.query('end_date');
  const initDate = init === undefined ? undefined : parseStatsDate('init_date', init);
  const endDate = end === undefined ? undefined : parseStatsDate('end_date', end);
  const type = statsType(ctx.req.headers.accept);
  const items = await ctx.run(() => getStats(ctx.services, auth, initDate, endDate));
  return type === 'json' ? jsonResponse({ stats: items }) : textResponse('text/csv', statsToCsv(items));
}

export async function oai(): Promise<RestResponse> {
  // OAI-PMH needs OAIPMH_REPO_* options that this service does not offer (yet).
  throw errors.badRequest('OAI-PMH not enabled.');
}

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.htm': 'text/html',
  '.css': 'text/css',
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.yaml': 'text/yaml',
  '.yml': 'text/yaml',
  '.txt': 'text/plain',
  '.radl': 'text/plain',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** Serves one file of STATIC_FILES_DIR: no sub-folders, no dot-dot, no hidden files, regular files only. */
export async function staticFile(ctx: RestContext): Promise<RestResponse> {
  const dir = ctx.services.config.STATIC_FILES_DIR;
  if (!dir) throw new ImError('ROUTE_NOT_FOUND', 'Static files not enabled.');
  const name = ctx.params.filename;
  const notFound = () => new ImError('ROUTE_NOT_FOUND', 'File not found');
  if (!name || name.startsWith('.') || /[/\\\0]/.test(name)) throw notFound();
  const root = resolve(dir);
  const path = resolve(root, name);
  if (!path.startsWith(root + sep)) throw notFound();
  try {
    const st = await stat(path);
    if (!st.isFile()) throw notFound();
    const body = await readFile(path);
    return { statusCode: 200, headers: { 'Content-Type': MIME[extname(name).toLowerCase()] ?? 'application/octet-stream' }, body };
  } catch (err) {
    if (err instanceof ImError) throw err;
    throw notFound();
  }
}

/** `GET /`: a small description of the API (the reference serves its Swagger document here). */
export async function index(ctx: RestContext): Promise<RestResponse> {
  return jsonResponse({
    name: 'Infrastructure Manager REST API',
    version: ctx.services.config.IM_VERSION,
    servers: [{ url: `${ctx.req.baseUrl}/` }],
    paths: [
      '/version',
      '/infrastructures',
      '/infrastructures/{infId}',
      '/infrastructures/{infId}/{contmsg|radl|tosca|state|outputs|data|authorization}',
      '/infrastructures/{infId}/{reconfigure|start|stop}',
      '/infrastructures/{infId}/vms/{vmId}',
      '/infrastructures/{infId}/vms/{vmId}/{property|contmsg|command}',
      '/infrastructures/{infId}/vms/{vmId}/{start|stop|reboot}',
      '/infrastructures/{infId}/vms/{vmId}/disks/{diskNum}/snapshot',
      '/clouds/{cloudId}/{images|quotas}',
      '/stats',
    ],
  });
}
