/**
 * Local mode as `npm start` runs it, for the throughput benchmarks: lambdas/local/main.ts in a
 * child process (the same program: one process),
 * DynamoDB Local in memory, REST and XML-RPC on free ports. Nothing of it runs in the benchmark's
 * own process, so the load generator and the server compete for the CPUs as they would with a
 * user's `npm start` and `wrk`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface LocalProcess {
  restUrl: string;
  xmlrpcUrl: string;
  stop(): Promise<void>;
}

export interface LocalProcessOptions {
  /** More IM options. */
  env?: Record<string, string>;
}

export async function startLocalProcess(opts: LocalProcessOptions = {}): Promise<LocalProcess> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    REST_ADDRESS: '127.0.0.1',
    XMLRCP_ADDRESS: '127.0.0.1',
    XMLRCP_PORT: '0',
    LOG_LEVEL: 'ERROR',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(opts.env ?? {}),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'lambdas/local/main.ts', '--in-memory', '--port', '0'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const started = await new Promise<{ rest: string; xmlrpc: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`local mode did not start:\n${output}`)), 120_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const rest = /IM REST API listening on (\S+)/.exec(output)?.[1];
      const xmlrpc = /IM XML-RPC API listening on (\S+)/.exec(output)?.[1];
      if (rest && xmlrpc && output.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve({ rest, xmlrpc });
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`local mode exited (${code}):\n${output}`));
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    restUrl: started.rest,
    xmlrpcUrl: started.xmlrpc,
    stop: () =>
      (stopping ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGINT');
      })),
  };
}
