/**
 * Wall time to create (sync) and then destroy (sync) infrastructures of 1, 10 and 50 Dummy VMs
 * with `contextualize ()` over REST on local mode (startLocal as `npm start`, DynamoDB Local in
 * memory, in-process Step Functions). Reference: the Python IM creates them in 0.032 / 0.122 /
 * 0.419 s; the goal is ≥ 20× faster.
 *
 * Also counted: the DynamoDB requests of each create (a middleware on the store's client), and the
 * same-run baseline of one DynamoDB Local round trip (GetItem and a conditional UpdateItem), which
 * bounds what local mode can reach: a create needs a few sequential writes plus one per VM.
 *
 *   npx tsx bench/create.ts [--rounds 5] [--warmup 200] [--jvm throughput|startup]
 *   INF_CACHE_TIME=0 npx tsx bench/create.ts      (without the record cache)
 */
import { pathToFileURL } from 'node:url';
import { startLocal } from '#local/local-mode';
import { STARTUP_JVM_OPTIONS, THROUGHPUT_JVM_OPTIONS } from '#local/dynamodb-local';

const IM_SECONDS: Record<number, number> = { 1: 0.032, 10: 0.122, 50: 0.419 };
/** The Python IM's destroy of 50 Dummy VMs (the reference figure of the developers' guide). */
const IM_DESTROY_SECONDS: Record<number, number> = { 50: 0.06 };
const AUTH = 'type = InfrastructureManager; username = bench; password = bench-pass\\nid = one; type = Dummy';
const radl = (n: number) =>
  `network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ncontextualize ()\ndeploy node ${n}\n`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

export interface CreateBenchOptions {
  rounds?: number;
  sizes?: number[];
  /**
   * Creates (1 and 2 VMs) before measuring (default 200, ~10 s): the JIT of Node and of DynamoDB
   * Local (its C2 code), the owner's scrypt hash — a server that has run a while.
   */
  warmup?: number;
  /** Extra IM options (e.g. INF_CACHE_TIME=0). */
  env?: Record<string, string>;
  /** DynamoDB Local's JVM: `throughput` (as npm start, default) or `startup` (as the tests). */
  jvm?: 'throughput' | 'startup';
}

export async function run(opts: CreateBenchOptions = {}): Promise<{ name: string; lines: string[] }> {
  const rounds = opts.rounds ?? 5;
  const sizes = opts.sizes ?? [1, 10, 50];
  const warmup = opts.warmup ?? 200;
  const lines: string[] = [];
  const local = await startLocal({
    env: { LOG_LEVEL: 'SILENT', REST_PORT: '0', REST_ADDRESS: '127.0.0.1', TABLE_NAME: 'im-bench', MAX_SIMULTANEOUS_LAUNCHES: '20', ...(opts.env ?? {}) },
    inMemory: true,
    dynamoJvmOptions: opts.jvm === 'startup' ? STARTUP_JVM_OPTIONS : THROUGHPUT_JVM_OPTIONS,
  });
  // DynamoDB requests made while counting (every request of the store goes through this client).
  let counting = false;
  let requests = 0;
  local.dynamoClient.middlewareStack.add(
    (next) => async (args) => {
      if (counting) requests++;
      return next(args);
    },
    { step: 'initialize', name: 'benchRoundTripCounter' },
  );
  try {
    const base = local.restUrl;
    const once = async (n: number) => {
      requests = 0;
      counting = true;
      const t0 = performance.now();
      const c = await fetch(`${base}/infrastructures`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'text/plain' }, body: radl(n) });
      const uri = (await c.text()).trim();
      const t1 = performance.now();
      counting = false;
      const roundTrips = requests;
      if (c.status !== 200) throw new Error(`create failed: ${c.status} ${uri}`);
      const d = await fetch(uri, { method: 'DELETE', headers: { Authorization: AUTH } });
      await d.text();
      const t2 = performance.now();
      if (d.status !== 200) throw new Error(`destroy failed: ${d.status}`);
      return { create: (t1 - t0) / 1000, destroy: (t2 - t1) / 1000, roundTrips };
    };
    for (let i = 0; i < warmup; i++) await once(1 + (i % 2));
    // Baseline: one DynamoDB Local round trip (through the store under the record cache, if any).
    const store = local.services.store as typeof local.services.store & { readonly inner?: typeof local.services.store };
    const raw = store.inner ?? store;
    const probeId = `bench-probe-${Date.now()}`;
    const now = Date.now();
    await raw.createInfrastructure({
      id: probeId, version: 1, owners: [], ownerKeys: [], status: 'active', createdAt: now, updatedAt: now,
      radl: '[]', vmCounter: 0, addingOps: [], privateNetworks: {}, snapshots: [],
    });
    const reads: number[] = [];
    const writes: number[] = [];
    let version = 1;
    for (let i = 0; i < 50; i++) {
      let t = performance.now();
      await raw.getInfrastructure(probeId);
      reads.push(performance.now() - t);
      t = performance.now();
      version = (await raw.updateInfrastructure(probeId, version, { addingOps: i % 2 ? ['x'] : [] })).version;
      writes.push(performance.now() - t);
    }
    await raw.deleteInfrastructureData(probeId);
    const readMs = median(reads);
    const writeMs = median(writes);
    const cache = local.config.INF_CACHE_TIME;
    lines.push(`baseline: one DynamoDB Local round trip, median GetItem ${readMs.toFixed(2)} ms, conditional UpdateItem ${writeMs.toFixed(2)} ms`);
    lines.push(
      `record cache: INF_CACHE_TIME=${cache === undefined ? 'unset (local default: unlimited)' : cache}; DynamoDB Local JVM: ${opts.jvm ?? 'throughput'}; ${warmup} warm-up creates, ${rounds} rounds, medians`,
    );
    lines.push(`${'VMs'.padStart(4)} ${'create s'.padStart(9)} ${'destroy s'.padStart(10)} ${'IM s'.padStart(7)} ${'vs IM'.padStart(7)} ${'IM del s'.padStart(9)} ${'del vs IM'.padStart(10)} ${'requests'.padStart(9)} ${'in writes'.padStart(10)}`);
    for (const n of sizes) {
      const results = [];
      for (let r = 0; r < rounds; r++) results.push(await once(n));
      const create = median(results.map((x) => x.create));
      const destroy = median(results.map((x) => x.destroy));
      const trips = median(results.map((x) => x.roundTrips));
      const im = IM_SECONDS[n];
      const imDel = IM_DESTROY_SECONDS[n];
      lines.push(
        `${String(n).padStart(4)} ${create.toFixed(3).padStart(9)} ${destroy.toFixed(3).padStart(10)} ${im ? im.toFixed(3).padStart(7) : '      -'} ${im ? `${(im / create).toFixed(2)}×`.padStart(7) : '      -'} ${imDel ? imDel.toFixed(3).padStart(9) : '        -'} ${imDel ? `${(imDel / destroy).toFixed(2)}×`.padStart(10) : '         -'} ${String(trips).padStart(9)} ${((create * 1000) / writeMs).toFixed(1).padStart(10)}`,
      );
    }
    lines.push('vs IM = IM create time / our create time (> 1 is faster; goals: 50-VM create ≥ 5×, beyond that 20×; 50-VM destroy ≥ 2×).');
    lines.push('IM s: the fastest Python IM figures (50 VMs: 0.419 s; the developers\' guide gives 0.42–0.81 s); requests = DynamoDB requests per create;');
    lines.push('in writes = create time in units of one DynamoDB Local conditional write (the floor of each sequential step).');
  } finally {
    await local.stop();
  }
  return { name: 'create', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const env: Record<string, string> = {};
  if (process.env.INF_CACHE_TIME !== undefined) env.INF_CACHE_TIME = process.env.INF_CACHE_TIME;
  const jvm = process.argv.includes('--jvm') ? (process.argv[process.argv.indexOf('--jvm') + 1] as 'throughput' | 'startup') : undefined;
  const r = await run({ rounds: arg('--rounds'), warmup: arg('--warmup'), env, jvm });
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
