/**
 * Errors of the OpenStack connector (openstack.md §7): the text of an API failure
 * (`<status> <reason phrase> <message>`), Keystone's texts, and the mapping to ImError codes. Every text that
 * leaves this module is scrubbed of the auth item's secrets and of the Keystone tokens in use.
 */
import { ImError } from '#core/errors';
import { HttpTransportError } from '#connectors/openstack/http';

/** An OpenStack API answered with a non-2xx status. */
export class OpenStackApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** The message(s) of the error body (or the raw body). */
  readonly detail: string;
  /** Neutron's `NeutronError.type`, Nova's top-level key (`itemNotFound`, `overLimit`…). */
  readonly kind: string;

  constructor(status: number, reason: string, detail: string, kind = '') {
    super(`${status} ${reason} ${detail}`.trim());
    this.name = 'OpenStackApiError';
    this.status = status;
    this.reason = reason;
    this.detail = detail;
    this.kind = kind;
  }
}

/** Keystone refused or could not be used (§1.3, §1.4 texts). */
export class OpenStackAuthError extends Error {
  /** 401: the credentials were rejected; otherwise Keystone / catalog trouble. */
  readonly rejected: boolean;
  /** True when Keystone answered 5xx / could not be reached (worth another attempt). */
  readonly transient: boolean;
  constructor(message: string, opts: { rejected?: boolean; transient?: boolean } = {}) {
    super(message);
    this.name = 'OpenStackAuthError';
    this.rejected = opts.rejected ?? false;
    this.transient = opts.transient ?? false;
  }
}

/** The message of an OpenStack error body (§7.1): every top-level object's `message`, joined by `;`. */
export function errorBodyText(body: string): { detail: string; kind: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { detail: body.trim().slice(0, 2000), kind: '' };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { detail: body.trim().slice(0, 2000), kind: '' };
  const messages: string[] = [];
  let kind = '';
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.message === 'string') messages.push(o.message);
      if (!kind) kind = typeof o.type === 'string' ? o.type : k;
    } else if (k === 'message' && typeof v === 'string') {
      messages.push(v);
    }
  }
  return messages.length ? { detail: messages.join(';'), kind } : { detail: body.trim().slice(0, 2000), kind };
}

export function isNotFound(err: unknown): boolean {
  return err instanceof OpenStackApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof OpenStackApiError && err.status === 409;
}

/** The text of any error, without secrets. */
export function errorText(err: unknown, secrets: readonly string[]): string {
  const raw = err instanceof ImError || err instanceof Error ? err.message : String(err);
  return scrubSecrets(raw, secrets);
}

/** Replaces every occurrence of the given secrets (≥ 4 characters) in a text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out;
}

/** Transient: worth another attempt later (5xx, 429, 409 on a busy resource, network trouble). */
export function isTransient(err: unknown): boolean {
  if (err instanceof HttpTransportError) return true;
  if (err instanceof OpenStackAuthError) return err.transient;
  if (err instanceof OpenStackApiError) return err.status >= 500 || err.status === 429 || err.status === 409 || err.status === 413;
  if (err instanceof ImError) return err.code === 'CLOUD_RETRYABLE';
  return false;
}

/**
 * Any error → ImError with `text` as message (already IM's wording). `mode`:
 *  - `launch`: every failure is CLOUD_RETRYABLE (IM retries any launch failure, §7.2);
 *  - `op`: transient → CLOUD_RETRYABLE, the rest (refusals, rejected credentials) → BAD_REQUEST.
 */
export function toImError(err: unknown, text: string, mode: 'launch' | 'op'): ImError {
  if (mode === 'launch') return new ImError('CLOUD_RETRYABLE', text);
  if (err instanceof ImError && err.message === text) return err;
  return new ImError(isTransient(err) ? 'CLOUD_RETRYABLE' : 'BAD_REQUEST', text);
}

/** A connection-level failure as IM words it. */
export function connectionText(err: unknown): string | undefined {
  return err instanceof HttpTransportError ? `Error connecting with OpenStack server: ${err.message}` : undefined;
}
