/**
 * Content negotiation (rest-api.md §3): request body types and the Accept algorithm with a
 * per-endpoint default type, plus the JSON wrappers of the responses.
 */
import { ImError } from '#core/errors';
import type { RestResponse } from '#api/rest/types';

const YAML_TYPES = new Set(['text/yaml', 'text/x-yaml', 'application/yaml']);

/**
 * A media-type header as a list: split on `,`, parameters after `;` dropped (q-values ignored),
 * YAML aliases normalised to `text/yaml`. Empty/absent → [].
 */
export function parseMediaTypes(header: string | undefined): string[] {
  if (!header) return [];
  const out: string[] = [];
  for (const part of header.split(',')) {
    const t = part.split(';')[0].trim().toLowerCase();
    if (t === '') continue;
    out.push(YAML_TYPES.has(t) ? 'text/yaml' : t);
  }
  return out;
}

export type BodyFormat = 'radl' | 'json' | 'tosca';

/** Body of create/add/alter/reconfigure: RADL text, RADL-JSON or TOSCA YAML, else 415. */
export function bodyFormat(contentType: string | undefined): BodyFormat {
  const types = parseMediaTypes(contentType);
  if (types.length === 0) return 'radl';
  if (types.includes('application/json')) return 'json';
  if (types.includes('text/yaml')) return 'tosca';
  if (types.some((t) => t === 'text/plain' || t === '*/*' || t === 'text/*')) return 'radl';
  throw new ImError('UNSUPPORTED_MEDIA_TYPE', `Unsupported Media Type ${types.join(',')}`);
}

/** Bodies that must be JSON (import, authorization): Content-Type absent or application/json, else 415. */
export function requireJsonBody(contentType: string | undefined): void {
  const types = parseMediaTypes(contentType);
  if (types.length > 0 && !types.includes('application/json')) {
    throw new ImError('UNSUPPORTED_MEDIA_TYPE', `Unsupported Media Type ${types.join(',')}`);
  }
}

const unsupportedAccept = (types: string[]) =>
  new ImError('UNSUPPORTED_MEDIA_TYPE', `Unsupported Accept Media Types: ${types.join(',')}`);

export type TextValue = string | number | boolean | string[] | number[];

/** What one endpoint returns once negotiated: the D rendering and the JSON rendering. */
export interface OutputValue {
  /** D rendering when D is not JSON: lists are joined with `\n`, scalars as text. */
  text: TextValue | (() => string);
  /** JSON value (wrapped as `{field: json}` or `{field: [{listField: item}]}`). */
  json: unknown;
}

/** The result of the Accept negotiation for one response: renders a value with the chosen type. */
export class Output {
  constructor(
    readonly contentType: string,
    private readonly asJson: boolean,
  ) {}

  /** `{field: value}` in JSON, the text rendering otherwise. */
  value(v: OutputValue, field?: string, headers?: Record<string, string>): RestResponse {
    if (this.asJson) return jsonResponse(field === undefined ? v.json : { [field]: v.json }, headers);
    return textResponse(this.contentType, renderText(v.text), headers);
  }

  /** A list: `{field: [{listField: item}, …]}` in JSON, one item per line otherwise. */
  list(items: string[], field: string, listField: string, headers?: Record<string, string>): RestResponse {
    return this.value({ text: items, json: items.map((i) => ({ [listField]: i })) }, field, headers);
  }
}

/** Output is immutable: the JSON one is shared. */
const JSON_OUTPUT = new Output('application/json', true);

function renderText(t: OutputValue['text']): string {
  if (typeof t === 'string') return t;
  if (typeof t === 'function') return t();
  if (Array.isArray(t)) return t.map(String).join('\n');
  return String(t);
}

/** `Content-Type` first, then the extra headers (none: no copy). */
function withContentType(contentType: string, headers: Record<string, string> | undefined): Record<string, string> {
  return headers === undefined ? { 'Content-Type': contentType } : { 'Content-Type': contentType, ...headers };
}

export function jsonResponse(value: unknown, headers?: Record<string, string>, statusCode = 200): RestResponse {
  return { statusCode, headers: withContentType('application/json', headers), body: JSON.stringify(value) };
}

export function textResponse(contentType: string, body: string, headers?: Record<string, string>, statusCode = 200): RestResponse {
  return { statusCode, headers: withContentType(contentType, headers), body };
}

/** 200 with an empty text/plain body (operations without a result). */
export function emptyResponse(headers?: Record<string, string>): RestResponse {
  return textResponse('text/plain', '', headers);
}

/** The Output for media type `t` of the list, when it matches (JSON, or the default type D). */
function matching(t: string, defaultType: string): Output | undefined {
  if (t === 'application/json' || t === 'application/*') return JSON_OUTPUT;
  if (t === defaultType || t === '*/*' || t === 'text/*') return defaultType === 'application/json' ? JSON_OUTPUT : new Output(defaultType, false);
  return undefined;
}

/**
 * The Accept algorithm (§3.2): absent → [D]; walk in order; `application/json` or `application/*`
 * → JSON; D, `*\/*` or `text/*` → D; no match → 415 `Unsupported Accept Media Types: …`.
 * `jsonOnly` endpoints (state, outputs, data) need `application/json`, `application/*` or `*\/*`
 * anywhere in the list (absent Accept is fine) and always answer JSON.
 */
export function negotiate(accept: string | undefined, defaultType: string, opts?: { jsonOnly?: boolean }): Output {
  const types = parseMediaTypes(accept);
  if (opts?.jsonOnly) {
    if (types.length > 0 && !types.some((t) => t === 'application/json' || t === 'application/*' || t === '*/*')) {
      throw unsupportedAccept(types);
    }
    return JSON_OUTPUT;
  }
  if (types.length === 0) return matching(defaultType, defaultType) as Output;
  for (const t of types) {
    const out = matching(t, defaultType);
    if (out) return out;
  }
  throw unsupportedAccept(types);
}

// ---------------------------------------------------------------------------------------------
// Error bodies (§4)
// ---------------------------------------------------------------------------------------------

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** Error body chosen by Accept membership: JSON `{message, code}`, an HTML page, or plain text. */
export function errorResponse(statusCode: number, message: string, accept: string | undefined, headers: Record<string, string> = {}): RestResponse {
  const types = parseMediaTypes(accept);
  if (types.includes('application/json')) return jsonResponse({ message, code: statusCode }, headers, statusCode);
  if (types.includes('text/html')) {
    const m = escapeHtml(message);
    const html =
      '<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html>\n    <head>\n' +
      `        <title>Error ${statusCode}.</title>\n    </head>\n    <body>\n` +
      `        <h1>Code: ${statusCode}.</h1>\n        <h1>Message: ${m}</h1>\n    </body>\n</html>\n`;
    return textResponse('text/html', html, headers, statusCode);
  }
  return textResponse('text/plain', message, headers, statusCode);
}
