/**
 * Wall time to create (sync) and then destroy (sync) infrastructures of 1, 10 and 50 Dummy VMs
 * with `contextualize ()` over REST on local mode (DynamoDB Local, in-process Step Functions).
 * Reference: the Python IM creates them in 0.032 / 0.122 / 0.419 s; the goal is ≥ 20× faster.
 * Same-run baseline: the latency of one DynamoDB Local read (every create needs a few dozen store
 * round trips, so it bounds what local mode can reach).
 *
 *   npx tsx bench/create.ts [--rounds 5]
 */
import { pathToFileURL } from 'node:url';
import { startLocal } from '#local/server';

const IM_SECONDS: Record<number, number> = { 1: 0.032, 10: 0.122, 50: 0.419 };
const AUTH = 'type = InfrastructureManager; username = bench; password = bench-pass\\nid = one; type = Dummy';
const radl = (n: number) =>
  `network pub (outbound = 'yes')\nsystem node ( cpu.count >= 1 and memory.size >= 512m and net_interface.0.connection = 'pub' )\ncontextualize ()\ndeploy node ${n}\n`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

export async function run(opts: { rounds?: number; sizes?: number[] } = {}): Promise<{ name: string; lines: string[] }> {
  const rounds = opts.rounds ?? 5;
  const sizes = opts.sizes ?? [1, 10, 50];
  const lines: string[] = [];
  const local = await startLocal({
    env: { LOG_LEVEL: 'SILENT', REST_PORT: '0', REST_ADDRESS: '127.0.0.1', TABLE_NAME: 'im-bench', MAX_SIMULTANEOUS_LAUNCHES: '20' },
    inMemory: true,
  });
  try {
    const base = local.restUrl;
    const once = async (n: number) => {
      const t0 = performance.now();
      const c = await fetch(`${base}/infrastructures`, { method: 'POST', headers: { Authorization: AUTH, 'Content-Type': 'text/plain' }, body: radl(n) });
      const uri = (await c.text()).trim();
      const t1 = performance.now();
      if (c.status !== 200) throw new Error(`create failed: ${c.status} ${uri}`);
      const d = await fetch(uri, { method: 'DELETE', headers: { Authorization: AUTH } });
      await d.text();
      const t2 = performance.now();
      if (d.status !== 200) throw new Error(`destroy failed: ${d.status}`);
      return { create: (t1 - t0) / 1000, destroy: (t2 - t1) / 1000 };
    };
    // Warm-up (JIT, scrypt hash of the owner, connections).
    await once(1);
    await once(2);
    // Baseline: one DynamoDB Local read.
    const reads: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t = performance.now();
      await local.services.store.getInfrastructure('does-not-exist');
      reads.push(performance.now() - t);
    }
    const readMs = median(reads);
    lines.push(`baseline: one DynamoDB Local GetItem, median ${readMs.toFixed(2)} ms`);
    lines.push(`${'VMs'.padStart(4)} ${'create s'.padStart(9)} ${'destroy s'.padStart(10)} ${'IM s'.padStart(7)} ${'vs IM'.padStart(7)} ${'GetItems'.padStart(9)}`);
    for (const n of sizes) {
      const results = [];
      for (let r = 0; r < rounds; r++) results.push(await once(n));
      const create = median(results.map((x) => x.create));
      const destroy = median(results.map((x) => x.destroy));
      const im = IM_SECONDS[n];
      lines.push(
        `${String(n).padStart(4)} ${create.toFixed(3).padStart(9)} ${destroy.toFixed(3).padStart(10)} ${im ? im.toFixed(3).padStart(7) : '      -'} ${im ? `${(im / create).toFixed(2)}×`.padStart(7) : '      -'} ${(create * 1000 / readMs).toFixed(0).padStart(9)}`,
      );
    }
    lines.push('vs IM = IM create time / our create time (> 1 is faster; goal ≥ 20×). GetItems = create time in units of one store read.');
  } finally {
    await local.stop();
  }
  return { name: 'create', lines };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const i = process.argv.indexOf('--rounds');
  const r = await run({ rounds: i > 0 ? Number(process.argv[i + 1]) : undefined });
  console.log(`# ${r.name} (node ${process.version})`);
  for (const l of r.lines) console.log(l);
}
