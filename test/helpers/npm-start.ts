/**
 * A real `npm start` (npm → tsx → node lambdas/local/main.ts, with its DynamoDB Local and runner
 * children) in a process group of its own, for the tests that kill it as a power loss would and start
 * it again on the same data folder.
 *
 *   const srv = await startNpm({ dataDir, env: { WAIT_SSH_ACCCESS_TIMEOUT: '5' } });
 *   …
 *   await srv.kill('SIGKILL');          // every process of the group at once
 *   const again = await startNpm({ dataDir });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface NpmStart {
  restUrl: string;
  xmlrpcUrl: string;
  /** Process group id (= pid of npm). */
  pgid: number;
  /** Everything the process printed so far. */
  output(): string;
  /** Sends a signal to the whole process group and waits until npm is gone. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Ctrl-C (SIGINT to the group), then SIGKILL after 20 s. */
  stop(): Promise<void>;
}

export interface NpmStartOptions {
  /** IM_DATA_DIR (omit for --in-memory). */
  dataDir?: string;
  env?: Record<string, string>;
  /** Milliseconds to wait for the "listening" lines (default 120 000). */
  timeoutMs?: number;
}

export const NPM_TEST_ENV: Record<string, string> = {
  REST_ADDRESS: '127.0.0.1',
  REST_PORT: '0',
  XMLRCP_ADDRESS: '127.0.0.1',
  XMLRCP_PORT: '0',
  LOG_LEVEL: 'INFO',
  TABLE_NAME: 'im-npm-test',
};

/** Pids of every process in a process group (from /proc). */
export function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) === pgid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

export async function startNpm(opts: NpmStartOptions = {}): Promise<NpmStart> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...NPM_TEST_ENV, ...(opts.env ?? {}) };
  const args = ['start', '--'];
  if (opts.dataDir) env.IM_DATA_DIR = opts.dataDir;
  else args.push('--in-memory');
  const child: ChildProcess = spawn('npm', args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pgid = child.pid!;
  let output = '';
  const urls = await new Promise<{ rest: string; xmlrpc: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not start:\n${output}`)), opts.timeoutMs ?? 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const rest = /IM REST API listening on (\S+)/.exec(output)?.[1];
      const xmlrpc = /IM XML-RPC API listening on (\S+)/.exec(output)?.[1];
      if (rest && xmlrpc && output.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve({ rest, xmlrpc });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited (${code}):\n${output}`));
    });
  });
  const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-pgid, signal);
    } catch {
      // the group is gone
    }
  };
  let stopping: Promise<void> | undefined;
  return {
    restUrl: urls.rest,
    xmlrpcUrl: urls.xmlrpc,
    pgid,
    output: () => output,
    async kill(signal) {
      signalGroup(signal);
      await exited;
    },
    stop: () =>
      (stopping ??= (async () => {
        const timer = setTimeout(() => signalGroup('SIGKILL'), 20_000);
        signalGroup('SIGINT');
        await exited;
        clearTimeout(timer);
        // npm is gone; make sure nothing of the group stays behind.
        for (let i = 0; i < 50 && groupPids(pgid).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
        signalGroup('SIGKILL');
      })()),
  };
}
