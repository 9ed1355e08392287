/**
 * EC2 errors → ImError (docs/CONNECTORS.md "Errors"): transient codes become CLOUD_RETRYABLE, refused
 * credentials a BAD_REQUEST that names only the code, everything else a BAD_REQUEST with EC2's message.
 * The auth item's values are scrubbed from every message.
 */
import { ImError } from '#core/errors';

/** Transient EC2 errors: the launch flow retries them (MAX_VM_FAILS). */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'InsufficientInstanceCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientAddressCapacity',
  'InstanceLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  'SpotMaxPriceTooLow',
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'Unavailable',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalError',
  'InternalFailure',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'DependencyViolation',
  'IncorrectInstanceState',
]);

/** The credentials (or their permissions) were refused. */
export const AUTH_CODES: ReadonlySet<string> = new Set([
  'AuthFailure',
  'UnauthorizedOperation',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'ExpiredToken',
  'ExpiredTokenException',
  'RequestExpired',
  'AccessDenied',
  'AccessDeniedException',
  'OptInRequired',
  'CredentialsProviderError',
]);

/** The error code of an AWS SDK error (`name`, or `Code`/`code` for odd shapes). */
export function errorCode(err: unknown): string {
  if (!err || typeof err !== 'object') return 'Unknown';
  const e = err as { name?: unknown; Code?: unknown; code?: unknown };
  for (const c of [e.Code, e.name, e.code]) if (typeof c === 'string' && c && c !== 'Error') return c;
  return 'Unknown';
}

/** NotFound-style codes: the resource is already gone. */
export function isNotFound(err: unknown): boolean {
  const c = errorCode(err);
  return c.endsWith('.NotFound') || c.endsWith('NotFound') || c === 'InvalidAMIID.Unavailable';
}

/** Resolves to undefined when the call fails with a NotFound code. */
export async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** Replaces every occurrence of the given secrets in a text. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[REDACTED]');
  return out;
}

/** The secret values of an EC2 auth item (never to be logged or shown). */
export function authSecrets(auth: Record<string, string | undefined>): string[] {
  return [auth.password, auth.token, auth.username].filter((s): s is string => typeof s === 'string' && s !== '');
}

/**
 * Any error → ImError. Transient codes → CLOUD_RETRYABLE; refused credentials → BAD_REQUEST
 * `EC2 credentials rejected: <code>`; other EC2 errors → BAD_REQUEST with EC2's message. Secrets of the auth
 * item are scrubbed from every message.
 */
export function mapEc2Error(err: unknown, context: string, secrets: readonly string[] = []): ImError {
  if (err instanceof ImError) return err;
  const code = errorCode(err);
  if (AUTH_CODES.has(code)) return new ImError('BAD_REQUEST', `EC2 credentials rejected: ${code}`);
  const raw = err instanceof Error ? err.message : String(err);
  const msg = scrubSecrets(raw || code, secrets).split('\n')[0].slice(0, 500);
  const text = `${context}: ${msg}${code !== 'Unknown' && !msg.includes(code) ? ` (${code})` : ''}`;
  return new ImError(RETRYABLE_CODES.has(code) ? 'CLOUD_RETRYABLE' : 'BAD_REQUEST', text);
}
