/**
 * The whole local mode for integration tests: DynamoDB Local in memory, REST and XML-RPC on free
 * ports, short timeouts and fast workflow waits. One per test file (beforeAll): DynamoDB Local takes
 * a second or two to start.
 *
 *   let srv: TestServer;
 *   beforeAll(async () => { srv = await startTestServer(); });
 *   afterAll(async () => { await srv?.stop(); });
 */
import type { CloudConnector } from '#core/types';
import { startLocal, type LocalInstance } from '#local/local-mode';
import { STARTUP_JVM_OPTIONS } from '#local/dynamodb-local';
import type { SshProbe } from '#orchestration/ssh-probe';

export interface TestServerOptions {
  /** IM options on top of the test defaults. */
  env?: Record<string, string>;
  connectors?: CloudConnector[];
  /** Wait-state scale of the workflows (default 0.01). */
  waitTimeScale?: number;
  sshProbe?: SshProbe;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  baseUrl: string;
  /** `http://127.0.0.1:<port>` of the XML-RPC server (it answers on `/` and `/RPC2`). */
  xmlrpcUrl: string;
  instance: LocalInstance;
  stop(): Promise<void>;
}

/** Test defaults: quiet logs, short waits. */
export const TEST_ENV: Record<string, string> = {
  REST_ADDRESS: '127.0.0.1',
  REST_PORT: '0',
  XMLRCP_ADDRESS: '127.0.0.1',
  XMLRCP_PORT: '0',
  LOG_LEVEL: 'SILENT',
  TABLE_NAME: 'im-test',
  WAIT_SSH_ACCCESS_TIMEOUT: '2',
  WAIT_RUNNING_VM_TIMEOUT: '10',
  WAIT_PUBLIC_IP_TIMEOUT: '2',
  VM_INFO_UPDATE_FREQUENCY: '1',
  DELAY_BETWEEN_VM_RETRIES: '0',
  MAX_SIMULTANEOUS_LAUNCHES: '10',
  SYNC_WAIT_SECONDS: '20',
};

export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const instance = await startLocal({
    env: { ...TEST_ENV, ...(opts.env ?? {}) },
    inMemory: true,
    // Short sessions: the quicker-starting C1-only JVM (npm start uses the throughput options).
    dynamoJvmOptions: STARTUP_JVM_OPTIONS,
    waitTimeScale: opts.waitTimeScale ?? 0.01,
    ...(opts.connectors ? { connectors: opts.connectors } : {}),
    ...(opts.sshProbe ? { sshProbe: opts.sshProbe } : {}),
  });
  return { baseUrl: instance.restUrl, xmlrpcUrl: instance.xmlrpcUrl, instance, stop: () => instance.stop() };
}
