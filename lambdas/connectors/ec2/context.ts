/**
 * What every part of the EC2 connector works with: the caller's config and logger, the poll settings, and
 * the SDK clients built from the auth item's keys (nothing from the environment or the Lambda's role).
 */
import { EC2Client } from '@aws-sdk/client-ec2';
import { ServiceQuotasClient } from '@aws-sdk/client-service-quotas';
import type { Config } from '#core/config';
import { ImError } from '#core/errors';
import type { AuthItem, Logger } from '#core/types';
import { errorCode } from '#connectors/ec2/errors';

/** Builds the EC2 client of a region for an auth item. */
export type Ec2ClientFactory = (region: string, auth: AuthItem) => EC2Client;
/** Builds the Service Quotas client of a region for an auth item. */
export type QuotasClientFactory = (region: string, auth: AuthItem) => ServiceQuotasClient;

/** The connector's settings, shared by its parts. */
export interface Ec2Context {
  readonly config: Config;
  readonly logger: Logger;
  readonly sleep: (ms: number) => Promise<void>;
  /** Poll interval while waiting for an instance state or a resource to be free. */
  readonly pollIntervalMs: number;
  /** Maximum polls while waiting for termination / stop. */
  readonly maxPolls: number;
  /** Attempts to delete a security group that is still in use (DependencyViolation). */
  readonly sgDeleteAttempts: number;
  /** How alterVm treats a running VM. */
  readonly alterRunning: 'refuse' | 'restart';
  /** The EC2 client of a region (checks that the auth item has keys). */
  client(region: string, auth: AuthItem): EC2Client;
  /** The Service Quotas client of a region. */
  quotasClient(region: string, auth: AuthItem): ServiceQuotasClient;
}

/** BAD_REQUEST unless the auth item has an access key id and a secret key. */
export function requireCredentials(auth: AuthItem): void {
  if (!auth.username || !auth.password) {
    throw new ImError('BAD_REQUEST', 'The EC2 auth item needs username (access key id) and password (secret access key)');
  }
}

/** The SDK credentials of an auth item: username / password / token. */
export function credentialsOf(auth: AuthItem) {
  return { accessKeyId: auth.username, secretAccessKey: auth.password, ...(auth.token ? { sessionToken: auth.token } : {}) };
}

/** Default EC2 client: the auth item's keys, nothing from the environment. */
export const defaultClientFactory: Ec2ClientFactory = (region, auth) => new EC2Client({ region, credentials: credentialsOf(auth) });

/** Default Service Quotas client: the auth item's keys. */
export const defaultQuotasFactory: QuotasClientFactory = (region, auth) => new ServiceQuotasClient({ region, credentials: credentialsOf(auth) });

/** Runs fn, retrying (with the poll interval) while it fails with one of `codes`. */
export async function retrying<T>(ctx: Ec2Context, fn: () => Promise<T>, codes: string[], attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !codes.includes(errorCode(err))) throw err;
      await ctx.sleep(ctx.pollIntervalMs);
    }
  }
}
