/**
 * Local mode on several processes (LOCAL_WORKERS, default one per CPU): `npm start` becomes a
 * primary process and N worker processes (node:cluster).
 *
 *  - The primary starts DynamoDB Local (one Java process, as in single-process mode), creates the
 *    table, reads or generates the secret key, picks the ports, forks the workers and waits until
 *    each one serves. It answers no request itself: node:cluster hands each new connection on the
 *    REST and XML-RPC ports to a worker in turn.
 *  - Each worker is a whole local mode (lambdas/local/server.ts startLocal): the same handlers, its
 *    own services, DynamoDB client, in-process Step Functions and record cache, on the primary's
 *    DynamoDB Local. A workflow runs in the worker whose request started it.
 *  - Coherence: every write a worker's record cache makes is relayed by the primary to the other
 *    workers, which drop what it changed and acknowledge; the write resolves only after every
 *    acknowledgement (CachePeers in lambdas/store/cached-store.ts). So an answer sent after a write
 *    is never followed by an older read from another worker. The same goes for the "another process
 *    writes this infrastructure" marks of the contextualization runner (`external`).
 *  - Life cycle: Ctrl-C / SIGTERM reach the primary, which tells each worker to stop (servers,
 *    then running workflows, bounded), waits for them and stops DynamoDB Local. Workers ignore
 *    SIGINT (a terminal sends it to the whole group: the primary orders the stop) and exit on their
 *    own if the primary goes away. A worker that dies while serving is replaced.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { createTable } from '#store/dynamodb-store';
import type { CachedInfrastructureStore, CachePeers } from '#store/cached-store';
import type { Config } from '#core/config';
import { THROUGHPUT_JVM_OPTIONS, createLocalDynamoClient, probePort, startDynamoLocal, type DynamoLocalInstance } from '#local/dynamodb-local';
import { localSecretKey, startLocal, type FrontEnd, type FrontEndContext, type LocalInstance } from '#local/server';

/** LOCAL_WORKERS → the number of worker processes (0 = one per CPU, at most 8). */
export function workerCount(config: Pick<Config, 'LOCAL_WORKERS'>): number {
  return config.LOCAL_WORKERS > 0 ? config.LOCAL_WORKERS : Math.max(1, Math.min(availableParallelism(), 8));
}

/** A change a worker's cache made, for the other workers' caches. */
type Change = { kind: 'changed'; infId?: string; lists: boolean } | { kind: 'external'; infId: string; on: boolean };

/** What a worker is told to start with. */
interface StartMessage {
  im: 'start';
  env: Record<string, string>;
  inMemory: boolean;
  dynamoEndpoint: string;
  /** Infrastructures other workers mark as written by another process right now (with their counts). */
  externals: [string, number][];
}

type ToWorker = StartMessage | { im: 'apply'; ref: number; change: Change } | { im: 'done'; id: number } | { im: 'stop' };
type ToPrimary =
  | { im: 'hello' }
  | { im: 'ready'; urls: Record<string, string> }
  | { im: 'failed'; error: string }
  | { im: 'cache'; id: number; change: Change }
  | { im: 'ack'; ref: number };

const isMessage = (m: unknown): m is { im: string } => typeof m === 'object' && m !== null && typeof (m as { im?: unknown }).im === 'string';

/** Sends on an IPC channel; a closed channel is ignored (the other side's exit is handled elsewhere). */
function send(target: { send?(msg: unknown): unknown }, msg: ToWorker | ToPrimary): void {
  try {
    target.send?.(msg);
  } catch {
    // The channel is closed: the other side is gone.
  }
}

// ---------------------------------------------------------------------------------------------
// Worker side
// ---------------------------------------------------------------------------------------------

/** The worker's end of the cache relay. */
class IpcPeers implements CachePeers {
  store?: CachedInfrastructureStore;
  private seq = 0;
  private readonly waiting = new Map<number, () => void>();

  changed(infId: string | undefined, lists: boolean): Promise<void> {
    return this.relay(infId === undefined ? { kind: 'changed', lists } : { kind: 'changed', infId, lists });
  }

  external(infId: string, on: boolean): Promise<void> {
    return this.relay({ kind: 'external', infId, on });
  }

  private relay(change: Change): Promise<void> {
    if (!process.connected) return Promise.resolve();
    const id = ++this.seq;
    return new Promise<void>((done) => {
      this.waiting.set(id, done);
      send(process, { im: 'cache', id, change });
    });
  }

  /** A change from another worker: applied, then acknowledged. */
  apply(ref: number, change: Change): void {
    const store = this.store;
    if (store) {
      if (change.kind === 'changed') store.peerChanged(change.infId, change.lists);
      else store.peerExternal(change.infId, change.on);
    }
    send(process, { im: 'ack', ref });
  }

  done(id: number): void {
    const done = this.waiting.get(id);
    if (done) {
      this.waiting.delete(id);
      done();
    }
  }

  /** The primary is gone: nobody is left to tell. */
  releaseAll(): void {
    for (const done of this.waiting.values()) done();
    this.waiting.clear();
  }
}

export interface WorkerOptions {
  /** Extra front ends (the XML-RPC server), as in startLocal. */
  frontEnds?: ((ctx: FrontEndContext) => Promise<FrontEnd>)[];
}

/** Runs this process as a worker: waits for the primary's start message, serves until told to stop. */
export function runWorker(opts: WorkerOptions = {}): void {
  const peers = new IpcPeers();
  let instance: LocalInstance | undefined;
  let starting: Promise<void> | undefined;
  let stopping = false;
  const stop = (code: number) => {
    if (stopping) return;
    stopping = true;
    peers.releaseAll();
    void (async () => {
      await starting?.catch(() => undefined);
      await instance?.stop().catch(() => undefined);
      process.exit(code);
    })();
  };
  // The terminal's Ctrl-C reaches every process of the group: the primary orders the stop.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => stop(0));
  process.on('disconnect', () => stop(0));
  process.on('message', (msg: unknown) => {
    if (!isMessage(msg)) return;
    const m = msg as ToWorker;
    if (m.im === 'apply') peers.apply(m.ref, m.change);
    else if (m.im === 'done') peers.done(m.id);
    else if (m.im === 'stop') stop(0);
    else if (m.im === 'start' && !starting) {
      starting = (async () => {
        try {
          instance = await startLocal({
            env: m.env,
            inMemory: m.inMemory,
            dynamoEndpoint: m.dynamoEndpoint,
            cachePeers: peers,
            frontEnds: opts.frontEnds ?? [],
          });
          const store = instance.services.store as CachedInfrastructureStore;
          for (const [infId, n] of m.externals) for (let i = 0; i < n; i++) store.peerExternal(infId, true);
          peers.store = store;
          send(process, { im: 'ready', urls: instance.urls });
        } catch (err) {
          send(process, { im: 'failed', error: err instanceof Error ? err.message : String(err) });
          stop(1);
        }
      })();
    }
  });
  // Listening now (a message sent before would have been lost): ask for the start message.
  send(process, { im: 'hello' });
}

// ---------------------------------------------------------------------------------------------
// Primary side
// ---------------------------------------------------------------------------------------------

export interface PrimaryOptions {
  /** The validated options (REST_PORT, XMLRCP_PORT, IM_DATA_DIR, … with the command-line overrides). */
  config: Config;
  /** The environment the options came from (with the overrides): passed on to the workers. */
  env: Record<string, string | undefined>;
  inMemory: boolean;
  workers: number;
  /** Workers that die within this many ms of their start are not replaced (a crash loop). Default 10 000. */
  minLifetimeMs?: number;
  /** Where problems are reported (default console.error). */
  log?: (line: string) => void;
}

export interface PrimaryInstance {
  /** URL of every front end by name (`rest` included), as the workers serve them. */
  urls: Record<string, string>;
  workers: number;
  dynamo: DynamoLocalInstance;
  /** Stops the workers (each stops its servers and workflows), then DynamoDB Local. Idempotent. */
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 15_000;

/** Starts DynamoDB Local and `workers` worker processes (cluster.fork of this same program). */
export async function startPrimary(opts: PrimaryOptions): Promise<PrimaryInstance> {
  const { config } = opts;
  const log = opts.log ?? ((line: string) => console.error(line));
  const minLifetime = opts.minLifetimeMs ?? 10_000;
  const dataDir = opts.inMemory ? undefined : resolve(config.IM_DATA_DIR);
  const dynamo = await startDynamoLocal({
    dataDir: dataDir ? join(dataDir, 'dynamodb') : undefined,
    jvmOptions: THROUGHPUT_JVM_OPTIONS,
  });
  const workers = new Map<number, { worker: Worker; startedAt: number; ready: boolean }>();
  let stopping: Promise<void> | undefined;
  try {
    const client = createLocalDynamoClient(dynamo.endpoint);
    try {
      await createTable(client, config.TABLE_NAME);
    } finally {
      client.destroy();
    }
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
    // Every worker seals and opens the stored cloud credentials with the same key.
    env.SECRET_KEY = localSecretKey(config, dataDir);
    // Fixed ports, checked free now (a port in use fails here, clearly); 0 → a free one, the same for
    // every worker (two listen(0) in a cluster worker would share one port).
    const restPort = await probePort(config.REST_PORT);
    let xmlrpcPort = await probePort(config.XMLRCP_PORT);
    while (config.XMLRCP_PORT === 0 && xmlrpcPort === restPort) xmlrpcPort = await probePort(0);
    env.REST_PORT = String(restPort);
    env.XMLRCP_PORT = String(xmlrpcPort);
    env.IM_DATA_DIR = config.IM_DATA_DIR;

    // Cache relay: a change of one worker → the others; its origin hears back once all applied it.
    let refs = 0;
    const pending = new Map<number, { origin: Worker; id: number; left: Set<number> }>();
    const externals = new Map<string, number>();
    const settle = (ref: number, workerId: number) => {
      const p = pending.get(ref);
      if (!p) return;
      p.left.delete(workerId);
      if (p.left.size === 0) {
        pending.delete(ref);
        send(p.origin, { im: 'done', id: p.id });
      }
    };
    const relay = (origin: Worker, id: number, change: Change) => {
      if (change.kind === 'external') {
        const n = (externals.get(change.infId) ?? 0) + (change.on ? 1 : -1);
        if (n <= 0) externals.delete(change.infId);
        else externals.set(change.infId, n);
      }
      const others = [...workers.values()].filter((w) => w.worker !== origin && w.worker.isConnected());
      if (others.length === 0) return send(origin, { im: 'done', id });
      const ref = ++refs;
      pending.set(ref, { origin, id, left: new Set(others.map((w) => w.worker.id)) });
      for (const w of others) send(w.worker, { im: 'apply', ref, change });
    };

    let readyWaiters: { resolve: () => void; reject: (e: Error) => void } | undefined;
    const urls: Record<string, string> = {};
    const fork = (): Worker => {
      const worker = cluster.fork();
      const slot = { worker, startedAt: Date.now(), ready: false };
      workers.set(worker.id, slot);
      worker.on('message', (msg: unknown) => {
        if (!isMessage(msg)) return;
        const m = msg as ToPrimary;
        if (m.im === 'cache') relay(worker, m.id, m.change);
        else if (m.im === 'hello') send(worker, { im: 'start', env, inMemory: opts.inMemory, dynamoEndpoint: dynamo.endpoint, externals: [...externals] });
        else if (m.im === 'ack') settle(m.ref, worker.id);
        else if (m.im === 'ready') {
          slot.ready = true;
          Object.assign(urls, m.urls);
          if ([...workers.values()].every((w) => w.ready)) readyWaiters?.resolve();
        } else if (m.im === 'failed') {
          readyWaiters?.reject(new Error(`a worker could not start: ${m.error}`));
        }
      });
      worker.on('exit', (code, signal) => {
        workers.delete(worker.id);
        for (const [ref, p] of pending) {
          if (p.origin === worker) pending.delete(ref);
          else settle(ref, worker.id);
        }
        if (stopping) return;
        if (!slot.ready) {
          readyWaiters?.reject(new Error(`a worker exited while starting (${signal ?? `code ${code}`})`));
          return;
        }
        if (Date.now() - slot.startedAt < minLifetime) {
          log(`Local mode: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}) soon after its start; not replaced (${workers.size} left).`);
          return;
        }
        log(`Local mode: worker ${worker.process.pid} exited (${signal ?? `code ${code}`}); starting another one.`);
        fork();
      });
      return worker;
    };

    const allReady = new Promise<void>((resolveReady, rejectReady) => {
      readyWaiters = { resolve: resolveReady, reject: rejectReady };
    });
    for (let i = 0; i < opts.workers; i++) fork();
    await allReady;
    readyWaiters = undefined;

    const stopAll = async () => {
      const exits = [...workers.values()].map(
        ({ worker }) =>
          new Promise<void>((done) => {
            if (worker.isDead()) return done();
            const timer = setTimeout(() => worker.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
            worker.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            send(worker, { im: 'stop' });
          }),
      );
      await Promise.all(exits);
      await dynamo.stop();
    };
    return {
      urls,
      workers: opts.workers,
      dynamo,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (err) {
    stopping ??= (async () => {
      for (const { worker } of workers.values()) if (!worker.isDead()) worker.process.kill('SIGKILL');
      await dynamo.stop();
    })();
    await stopping;
    throw err;
  }
}

/** True in a worker process forked by {@link startPrimary}. */
export const isLocalWorker = (): boolean => cluster.isWorker;
