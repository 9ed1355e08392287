/**
 * The DynamoDB client of the service (Lambda, local mode, the runner): bounded time per request, so
 * that a store that does not answer turns into a 503 within the request timeout instead of a hang.
 *
 *  - `connectTimeoutMs` for the connection, `requestTimeoutMs` for each attempt's answer, and
 *    `maxAttempts` attempts in all (the SDK's standard retry: throttling, 5xx, timeouts);
 *  - `socketPath`: local mode's private DynamoDB Local is reached through a Unix socket (the database
 *    listens only inside its own network namespace, lambdas/local/dynamodb-local.ts); the endpoint
 *    URL then only names the host in the signature;
 *  - `credentials`: given for DynamoDB Local (any value works there); in AWS the default chain.
 */
import { Agent } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Config } from '#core/config';

export interface DynamoClientOptions {
  region: string;
  endpoint?: string;
  socketPath?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
}

/** An HTTP agent whose connections all go to one Unix socket (kept alive, pooled as usual). */
export class UnixSocketAgent extends Agent {
  constructor(private readonly socketPath: string) {
    super({ keepAlive: true, maxSockets: 64 });
  }

  override createConnection(_options: unknown, callback?: (err: Error | null, socket: Socket) => void): Socket {
    const socket = createConnection(this.socketPath);
    if (callback) {
      socket.once('connect', () => callback(null, socket));
      socket.once('error', (err) => callback(err, socket));
    }
    return socket;
  }
}

export function createDynamoClient(opts: DynamoClientOptions): DynamoDBClient {
  const config: DynamoDBClientConfig = {
    region: opts.region,
    maxAttempts: opts.maxAttempts,
    requestHandler: {
      connectionTimeout: opts.connectTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      // Without it a timeout is only a warning and the request goes on waiting (a paused store hung calls).
      throwOnRequestTimeout: true,
      ...(opts.socketPath ? { httpAgent: new UnixSocketAgent(opts.socketPath) } : {}),
    },
  };
  if (opts.endpoint) config.endpoint = opts.endpoint;
  else if (opts.socketPath) config.endpoint = 'http://dynamodb.local';
  if (opts.credentials) config.credentials = opts.credentials;
  return new DynamoDBClient(config);
}

/** Dummy credentials for DynamoDB Local (it accepts any; static ones keep the credential chain out). */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The store's client from the options: AWS_REGION, DYNAMODB_ENDPOINT or DYNAMODB_SOCKET (local
 * mode; dummy credentials then), STORE_CONNECT_TIMEOUT / STORE_REQUEST_TIMEOUT / STORE_MAX_ATTEMPTS.
 */
export function storeClient(
  config: Pick<Config, 'AWS_REGION' | 'DYNAMODB_ENDPOINT' | 'DYNAMODB_SOCKET' | 'STORE_CONNECT_TIMEOUT' | 'STORE_REQUEST_TIMEOUT' | 'STORE_MAX_ATTEMPTS'>,
): DynamoDBClient {
  const local = config.DYNAMODB_SOCKET !== undefined || /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(config.DYNAMODB_ENDPOINT ?? '');
  return createDynamoClient({
    region: config.AWS_REGION,
    ...(config.DYNAMODB_ENDPOINT ? { endpoint: config.DYNAMODB_ENDPOINT } : {}),
    ...(config.DYNAMODB_SOCKET ? { socketPath: config.DYNAMODB_SOCKET } : {}),
    ...(local ? { credentials: LOCAL_CREDENTIALS } : {}),
    connectTimeoutMs: config.STORE_CONNECT_TIMEOUT * 1000,
    requestTimeoutMs: config.STORE_REQUEST_TIMEOUT * 1000,
    maxAttempts: config.STORE_MAX_ATTEMPTS,
  });
}
