/**
 * What an endpoint gets: the request, its path parameters, the parsed auth items, query flag
 * parsing, Accept negotiation and absolute URIs. `run()` marks the use-case call so that its
 * errors get the endpoint's message prefix (rest-api.md §6).
 */
import { ImError, toImError } from '#core/errors';
import type { AuthItem, Services } from '#core/types';
import { parseAuthHeader } from '#core/auth';
import { bodyFormat, negotiate, type Output } from '#api/rest/media';
import type { RadlInput } from '#core/usecases/common';
import type { RestRequest } from '#api/rest/types';

/** An error raised by the use case of an endpoint (gets the endpoint prefix). */
export class OperationError extends Error {
  constructor(readonly inner: ImError) {
    super(inner.message, { cause: inner });
    this.name = 'OperationError';
  }
}

const TRUE = new Set(['yes', 'true', '1']);
const FALSE = new Set(['no', 'false', '0']);

/** Boolean query flag: yes/no/true/false/1/0 (any case); else 400 `Incorrect value in <name> parameter`. */
export function parseFlag(query: Record<string, string>, name: string, def: boolean): boolean {
  const raw = query[name];
  if (raw === undefined) return def;
  const v = raw.trim().toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new ImError('BAD_REQUEST', `Incorrect value in ${name} parameter`);
}

export class RestContext {
  private authItems?: AuthItem[];

  constructor(
    readonly services: Services,
    readonly req: RestRequest,
    readonly params: Record<string, string>,
  ) {}

  /** The auth items of the Authorization header (401 when missing or unusable). */
  auth(): AuthItem[] {
    this.authItems ??= parseAuthHeader(this.req.headers.authorization, this.services.config);
    return this.authItems;
  }

  flag(name: string, def: boolean): boolean {
    return parseFlag(this.req.query, name, def);
  }

  query(name: string): string | undefined {
    return this.req.query[name];
  }

  /** Negotiates the response type now (415 before any work is done). */
  output(defaultType: string, opts?: { jsonOnly?: boolean }): Output {
    return negotiate(this.req.headers.accept, defaultType, opts);
  }

  bodyText(): string {
    return this.req.body.toString('utf8');
  }

  /** The body as a RADL input (415 for an unsupported Content-Type). */
  radlBody(): RadlInput {
    return { text: this.bodyText(), format: bodyFormat(this.req.headers['content-type']) };
  }

  /** Absolute URI under the API root: uri('infrastructures', id). */
  uri(...segments: (string | number)[]): string {
    return `${this.req.baseUrl}/${segments.map((s) => encodeURIComponent(String(s))).join('/')}`;
  }

  /** Runs the use case; its errors become OperationErrors (prefixed by the router). */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new OperationError(toImError(err));
    }
  }

  /** {@link run} for a synchronous use case `fn(arg)`: its value now, its errors as OperationErrors. */
  runSync<A, T>(fn: (arg: A) => T, arg: A): T {
    try {
      return fn(arg);
    } catch (err) {
      throw new OperationError(toImError(err));
    }
  }
}
