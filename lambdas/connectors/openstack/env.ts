/** What every part of the OpenStack connector shares: transport, caches, locks, config, logger, timing. */
import type { Config } from '#core/config';
import type { AuthItem, Logger } from '#core/types';
import type { HttpTransport } from '#connectors/openstack/http';
import { parseAuthItem } from '#connectors/openstack/auth-item';
import { OstSession, TokenCache } from '#connectors/openstack/session';
import { FlavorCache } from '#connectors/openstack/flavors';
import type { KeyedLock } from '#connectors/openstack/util';

/** Waits of the connector (tests shorten them). */
export interface OstTiming {
  /** Between polls of a volume (IM: 2 s) … */
  volumePollMs: number;
  /** … for at most (IM: 60 s). */
  volumeWaitMs: number;
  /** Between attempts to delete a security group still in use (IM: 10 s) … */
  sgRetryMs: number;
  /** … for at most (IM: 180 s). */
  sgWaitMs: number;
  /** Between polls of a server being deleted or resized (IM: 3 s). */
  serverPollMs: number;
  /** Longest wait for a deleted server to disappear at the last finalize. */
  serverGoneWaitMs: number;
  /** Longest wait inside alter for a resize to reach VERIFY_RESIZE (it runs in a 29-s API call; a refresh confirms later). */
  resizeWaitMs: number;
  /** Between retries of a rollback step after a failed launch. */
  rollbackRetryMs: number;
}

export const DEFAULT_TIMING: OstTiming = {
  volumePollMs: 2000,
  volumeWaitMs: 60_000,
  sgRetryMs: 10_000,
  sgWaitMs: 180_000,
  serverPollMs: 3000,
  serverGoneWaitMs: 60_000,
  resizeWaitMs: 18_000,
  rollbackRetryMs: 1000,
};

export interface OstEnv {
  http: HttpTransport;
  tokens: TokenCache;
  flavors: FlavorCache;
  lock: KeyedLock;
  config: Pick<Config, 'PRIVATE_NET_MASKS'>;
  logger: Logger;
  timing: OstTiming;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/** A session for the item (validated). */
export function sessionFor(env: OstEnv, auth: AuthItem): OstSession {
  return new OstSession(env.http, parseAuthItem(auth), env.tokens, env.now);
}
